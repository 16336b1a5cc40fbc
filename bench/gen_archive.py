#!/usr/bin/env python3
"""Writes a newsletter folder with N issues of about 12 KB of Markdown each (deterministic)."""
import os
import random
import sys

out, count = sys.argv[1], int(sys.argv[2])
random.seed(7)
words = ("build release team review deploy queue schema latency budget incident "
         "pager migration cache index query rollout feature branch merge runbook "
         "design estimate risk owner handover alert metric trace replica backup").split()

def sentence():
    n = random.randint(8, 18)
    s = " ".join(random.choice(words) for _ in range(n))
    return s[0].upper() + s[1:] + "."

def paragraph():
    return " ".join(sentence() for _ in range(random.randint(3, 6)))

def issue(i):
    volume, number = divmod(i, 26)
    parts = []
    for section in range(6):
        parts.append(f"## Section {section + 1}: {random.choice(words)}\n")
        parts.append(paragraph() + f" See [the notes](https://example.org/{i}/{section}).\n")
        parts.append("\n".join(f"- {sentence()}\n  - `{random.choice(words)}` {sentence()}" for _ in range(3)) + "\n")
        parts.append("> " + sentence() + "\n")
        parts.append("| name | value |\n|---|---:|\n" + "\n".join(f"| {random.choice(words)} | {random.randint(1, 999)} |" for _ in range(4)) + "\n")
        parts.append(paragraph() + "\n")
    body = "\n".join(parts)
    return (f"---\nvolume: {volume + 1}\nnumber: {number + 1}\ntitle: Issue {i} about {random.choice(words)}\n"
            f"date: {2000 + i // 300}-{(i // 26) % 12 + 1:02d}-{i % 26 + 1:02d}\n"
            f"question: What is your favourite {random.choice(words)}?\n---\nHi friend,\n\n{body}")

os.makedirs(os.path.join(out, "issues"), exist_ok=True)
with open(os.path.join(out, "config.yaml"), "w") as f:
    f.write("newsletter:\n  title: Bench Weekly\n  tagline: many issues\n"
            "  url: https://bench.example.org/\n  from: \"Bench <bench@example.org>\"\n")
for i in range(count):
    with open(os.path.join(out, "issues", f"issue-{i:05d}.md"), "w") as f:
        f.write(issue(i))
