//! Maildir folders: one message per file in `cur/` and `new/`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The message files of a Maildir, in a stable order (by name: delivery time first).
pub fn message_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.join("cur").is_dir() && !dir.join("new").is_dir() {
        anyhow::bail!(
            "{} is not a Maildir: it has neither cur/ nor new/",
            dir.display()
        );
    }
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        let path = dir.join(sub);
        if !path.is_dir() {
            continue;
        }
        for entry in
            std::fs::read_dir(&path).with_context(|| format!("cannot read {}", path.display()))?
        {
            let entry = entry.with_context(|| format!("cannot read {}", path.display()))?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type()?.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_cur_and_new_but_not_tmp() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("new/2.b"), "x").unwrap();
        std::fs::write(dir.path().join("cur/1.a:2,S"), "x").unwrap();
        std::fs::write(dir.path().join("cur/.hidden"), "x").unwrap();
        std::fs::write(dir.path().join("tmp/0.c"), "x").unwrap();
        let names: Vec<String> = message_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["1.a:2,S", "2.b"]);
        assert!(message_files(&dir.path().join("cur")).is_err());
    }
}
