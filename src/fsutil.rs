//! Atomic file writes: a temp file in the same folder, then a rename.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes `contents` to `path` so that readers see the old file or the new one, never a part.
/// Leaves the file untouched when it already holds exactly these bytes.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic_in_existing_dir(path, contents)
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

/// Writes many files atomically, creating each folder once and spreading the writes over a few
/// threads (file creation is bound by the file system's latency, not by the CPU).
pub fn write_all_atomic(files: &[(std::path::PathBuf, Vec<u8>)]) -> anyhow::Result<()> {
    let mut dirs: Vec<&Path> = files.iter().map(|(p, _)| parent(p)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let chunk = files.len().div_ceil(4).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .try_for_each(|(p, c)| write_atomic_in_existing_dir(p, c))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("writing files failed")))
        })
    })
}

fn write_atomic_in_existing_dir(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if unchanged(path, contents) {
        return Ok(());
    }
    let dir = parent(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".dispatch-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
