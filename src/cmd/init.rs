use std::path::Path;

use anyhow::Context as _;

use dispatch::fsutil::write_atomic;
use dispatch::issue::IssueId;
use dispatch::render::DEFAULT_TEMPLATES;

const CONFIG: &str = r#"newsletter:
  title: My Newsletter
  tagline: notes from the editor's desk
  url: https://newsletter.example.com/
  from: "Editor <editor@example.com>"
  # reply_to: editor@example.com
  # unsubscribe_url: https://newsletter.example.com/unsubscribe
# smtp:
#   host: smtp.example.com
#   port: 587
#   security: starttls
#   username: editor@example.com
#   password_env: DISPATCH_SMTP_PASSWORD
#   connections: 4
#   rate: 0
# imap:
#   host: imap.example.com
#   port: 993
#   security: tls
#   username: editor@example.com
#   password_env: DISPATCH_IMAP_PASSWORD
#   mailbox: INBOX
# host:                      # `dispatch host`: signups and one-click unsubscribe (docs/hosting.md)
#   url: https://newsletter.example.com/
#   listen: 127.0.0.1:8080
#   trusted_proxies: [127.0.0.1]
# feeds:
#   - https://example.com/bookmarks.atom
"#;

const GITIGNORE: &str = "build/\nsubscribers.db\nsubscribers.db-*\n";

pub fn run(path: &Path) -> anyhow::Result<()> {
    if path.exists()
        && path
            .read_dir()
            .with_context(|| format!("cannot read {}", path.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} is not empty: dispatch init creates a new newsletter folder and will not overwrite files",
            path.display()
        );
    }
    write_atomic(&path.join("config.yaml"), CONFIG.as_bytes())?;
    write_atomic(&path.join(".gitignore"), GITIGNORE.as_bytes())?;
    for (name, source) in DEFAULT_TEMPLATES {
        write_atomic(&path.join("templates").join(name), source.as_bytes())?;
    }
    let id = IssueId::new(1, 1);
    let today = chrono::Local::now().date_naive();
    let first = format!(
        "---\nvolume: 1\nnumber: 1\ntitle: Hello, world\ndate: {}\npreheader: The first issue, and what to expect from the next ones.\nquestion: What would you like to read about here?\n---\nHi friend,\n\nThis is the first issue. Write it in Markdown, then run `dispatch build` and open\n`build/email/v1n1.html` in a browser.\n",
        today.format("%Y-%m-%d")
    );
    write_atomic(
        &path
            .join("issues")
            .join(dispatch::issue::file_name(id, "Hello, world")),
        first.as_bytes(),
    )?;
    let first = Path::new("issues").join(dispatch::issue::file_name(id, "Hello, world"));
    println!(
        "created the newsletter folder {}: config.yaml, .gitignore, templates/ and the first issue, {}",
        path.display(),
        first.display()
    );
    println!(
        "next: set newsletter.title, url and from in {}, then run `dispatch --dir {} build` (or `serve` to preview it in a browser)",
        path.join("config.yaml").display(),
        path.display()
    );
    Ok(())
}
