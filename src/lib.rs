//! dispatch: a newsletter publishing pipeline. Markdown issues in; email, web archive and
//! readers' replies out.

pub mod address;
pub mod build;
pub mod check;
pub mod config;
pub mod fsutil;
pub mod host;
pub mod html;
pub mod issue;
pub mod links;
pub mod newsletter;
pub mod outgoing;
pub mod preflight;
pub mod render;
pub mod replies;
pub mod report;
pub mod send;
pub mod serve;
pub mod signal;
pub mod store;
pub mod subscriber_csv;
pub mod tls;

/// Installs rustls' ring provider as the process default. reqwest, lettre and the IMAP client
/// are built without a provider of their own, so one must be in place before any TLS
/// connection or HTTP client. Safe to call any number of times.
pub fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Err means another part of the program installed a provider first: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `docs/…` file that a string in src/ names (an error's "see docs/…", a help line).
    fn docs_named_in(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                docs_named_in(&path, found);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (number, line) in source.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (at, _) in line.match_indices("docs/") {
                    let name: String = line[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
                        .collect();
                    let name = name.trim_end_matches('.');
                    if name.len() > "docs/".len() {
                        let place = format!("{}:{}", path.display(), number + 1);
                        found.push((place, name.to_string()));
                    }
                }
            }
        }
    }

    #[test]
    fn every_docs_file_an_error_names_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut named = Vec::new();
        docs_named_in(&root.join("src"), &mut named);
        assert!(
            named.iter().any(|(_, name)| name == "docs/templates.md"),
            "the scan finds nothing: {named:?}"
        );
        let missing: Vec<String> = named
            .iter()
            .filter(|(_, name)| !root.join(name).is_file())
            .map(|(place, name)| format!("{place}: {name}"))
            .collect();
        assert!(
            missing.is_empty(),
            "files under docs/ that do not exist: {missing:?}"
        );
    }
}
