//! Atomic file writes: a temp file in the same folder, then a rename.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Writes `contents` to `path` so that readers see the old file or the new one, never a part.
/// Leaves the file untouched when it already holds exactly these bytes.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut staged = Staged::default();
    staged.stage(path.to_path_buf(), contents)?;
    staged.commit()
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether `path` already holds exactly `contents` (checked by size before reading).
fn unchanged(path: &Path, contents: &[u8]) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == contents.len() as u64 => {
            std::fs::read(path).is_ok_and(|existing| existing == contents)
        }
        _ => false,
    }
}

/// Files written to temporary names beside their destinations, renamed into place together by
/// [`Staged::commit`]. Dropped without a commit, the temporary files are removed: a failure
/// half-way leaves every destination as it was.
#[derive(Default)]
pub struct Staged {
    files: Vec<(tempfile::TempPath, PathBuf)>,
}

impl Staged {
    /// Stages `contents` for `path` (whose folder must exist); nothing is staged when the file
    /// already holds exactly these bytes.
    pub fn stage(&mut self, path: PathBuf, contents: &[u8]) -> anyhow::Result<()> {
        if unchanged(&path, contents) {
            return Ok(());
        }
        let dir = parent(&path);
        let mut tmp = tempfile::Builder::new()
            .prefix(".dispatch-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        tmp.write_all(contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.files.push((tmp.into_temp_path(), path));
        Ok(())
    }

    pub fn extend(&mut self, other: Staged) {
        self.files.extend(other.files);
    }

    /// How many files changed.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Renames every staged file into place.
    pub fn commit(self) -> anyhow::Result<()> {
        for (tmp, path) in self.files {
            tmp.persist(&path)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        std::fs::write(&a, b"old").unwrap();
        let mut staged = Staged::default();
        staged.stage(a.clone(), b"new").unwrap();
        staged.stage(dir.path().join("b.txt"), b"b").unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        drop(staged);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            b"old",
            "dropped: nothing changes"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp files removed"
        );
        let mut staged = Staged::default();
        staged.stage(a.clone(), b"new").unwrap();
        staged.stage(dir.path().join("b.txt"), b"b").unwrap();
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        let mut unchanged = Staged::default();
        unchanged.stage(a, b"new").unwrap();
        assert!(unchanged.is_empty());
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let leftovers = std::fs::read_dir(dir.path().join("a")).unwrap().count();
        assert_eq!(leftovers, 1, "no temp files left behind");
    }
}
