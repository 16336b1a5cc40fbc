#!/usr/bin/env bash
# The peer for bench/build.sh: Hugo (Debian's package) building the web pages alone of the same
# generated archive, on the same disk. Not part of the tests.
# usage: bench/hugo.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
command -v hugo >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hugo >/dev/null
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_archive.py "$work/news" "$n"
site=$work/site
mkdir -p "$site/content/issues" "$site/layouts/_default"
printf 'baseURL = "https://bench.example.org/"\ntitle = "Bench"\ndisableKinds = ["taxonomy", "term", "sitemap"]\n' > "$site/hugo.toml"
for f in "$work"/news/issues/*.md; do
  # Hugo keeps its own front matter keys; ours go under params.
  sed -E 's/^(volume|number|question):/params_\1:/' "$f" > "$site/content/issues/$(basename "$f")"
done
printf '<!DOCTYPE html><html><head><title>{{ .Title }}</title></head><body><h1>{{ .Title }}</h1>{{ .Content }}</body></html>\n' > "$site/layouts/_default/single.html"
printf '<!DOCTYPE html><html><body><ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul></body></html>\n' > "$site/layouts/_default/list.html"
hugo version
for i in 1 2 3 4 5; do
  [ -d "$site/public" ] && mv "$site/public" "$work/old-public-$i"
  /usr/bin/time -f "%e s wall, %M KiB peak" hugo --quiet --source "$site" 2>&1 | tail -1
done
