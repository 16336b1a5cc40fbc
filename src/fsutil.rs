//! Atomic file writes: a temp file, then a rename. New files honour the umask, as files the
//! editor's own tools write do; files with subscribers' addresses are the owner's alone (0600).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;

/// The largest config or issue file read: far above any real one, and a wrong file (a video
/// named `.md`) is an error rather than gigabytes of memory.
pub const MAX_TEXT_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Reads a UTF-8 text file the editor wrote, at most [`MAX_TEXT_FILE_BYTES`]; errors name the
/// file and, for bytes that are not UTF-8, the line and column.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_TEXT_FILE_BYTES {
        anyhow::bail!(
            "{} is larger than {} MB: dispatch reads config and issue files up to that size",
            path.display(),
            MAX_TEXT_FILE_BYTES / (1024 * 1024)
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
        anyhow::anyhow!(
            "{}:{line}: column {column} is not UTF-8 text: save the file as UTF-8",
            path.display()
        )
    })
}

/// Who may read a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// As the umask allows (0644 under the usual 022): pages a web server running as another
    /// user serves, templates, issues.
    Umask,
    /// The owner alone (0600): files with subscribers' addresses.
    Private,
}

/// Writes `contents` to `path` so that readers see the old file or the new one, never a part.
/// Leaves the file untouched when it already holds exactly these bytes.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    write_with(path, contents, Access::Umask)
}

/// [`write_atomic`] for a file only its owner may read (0600).
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    write_with(path, contents, Access::Private)
}

fn write_with(path: &Path, contents: &[u8], access: Access) -> anyhow::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut staged = Staged::beside(access);
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

/// A new temporary file in `dir` with the permissions `access` asks for.
fn temp_file(dir: &Path, access: Access) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    if access == Access::Umask {
        // Created with 0666, which the kernel masks with the umask; tempfile's default is 0600.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

/// The name every temporary file starts with.
pub const TEMP_PREFIX: &str = ".dispatch-";

/// The permission bits the umask gives a new file, found once by creating one in `dir` (the
/// umask cannot be read without changing it).
fn umask_mode(dir: &Path) -> Option<u32> {
    static UMASK_MODE: OnceLock<Option<u32>> = OnceLock::new();
    *UMASK_MODE.get_or_init(|| {
        let probe = temp_file(dir, Access::Umask).ok()?;
        Some(probe.as_file().metadata().ok()?.permissions().mode() & 0o777)
    })
}

/// Files written to temporary names (beside their destinations or in a staging folder), renamed
/// into place together by [`Staged::commit`]. Dropped without a commit, the temporary files are
/// removed: a failure half-way leaves every destination as it was.
pub struct Staged {
    files: Vec<(tempfile::TempPath, PathBuf)>,
    /// Where the temporary files wait; `None`: beside each destination.
    dir: Option<PathBuf>,
    access: Access,
}

impl Staged {
    /// Temporary files beside their destinations.
    pub fn beside(access: Access) -> Staged {
        Staged {
            files: Vec::new(),
            dir: None,
            access,
        }
    }

    /// Temporary files in `dir`, which must be on the destinations' file system.
    pub fn in_dir(dir: &Path) -> Staged {
        Staged {
            files: Vec::new(),
            dir: Some(dir.to_path_buf()),
            access: Access::Umask,
        }
    }

    /// Stages `contents` for `path` (whose folder must exist); nothing is staged when the file
    /// already holds exactly these bytes. Permissions: a private file is always 0600; a build
    /// output follows the umask (an unchanged page an older dispatch wrote 0600 is opened up);
    /// a file of the editor's that is replaced keeps its mode.
    pub fn stage(&mut self, path: PathBuf, contents: &[u8]) -> anyhow::Result<()> {
        let dir = self.dir.as_deref().unwrap_or_else(|| parent(&path));
        let is_output = self.dir.is_some();
        if unchanged(&path, contents) {
            return match self.access {
                Access::Private => set_mode(&path, Some(0o600)),
                Access::Umask if is_output => set_mode(&path, umask_mode(dir)),
                Access::Umask => Ok(()),
            };
        }
        let mut tmp = temp_file(dir, self.access)?;
        if self.access == Access::Umask
            && !is_output
            && let Ok(existing) = std::fs::metadata(&path)
        {
            tmp.as_file()
                .set_permissions(existing.permissions())
                .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
        }
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

fn set_mode(path: &Path, mode: Option<u32>) -> anyhow::Result<()> {
    let Some(mode) = mode else { return Ok(()) };
    let current = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if current & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    }
    Ok(())
}

/// The folder inside a build's output where its files wait until all of them are written,
/// held under a lock that keeps two builds of one output folder apart. A build killed half-way
/// leaves its temporary files there; the next build empties the folder before it starts.
pub struct Staging {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Staging {
    /// The staging folder's name inside the output folder.
    pub const DIR: &str = ".staging";
    /// The lock file's name inside the output folder.
    pub const LOCK: &str = ".lock";

    /// Creates `output`, waits for any other build of it, and clears what an interrupted
    /// build left in the staging folder.
    pub fn open(output: &Path) -> anyhow::Result<Staging> {
        std::fs::create_dir_all(output)
            .with_context(|| format!("cannot create {}", output.display()))?;
        let lock_path = output.join(Self::LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let dir = output.join(Self::DIR);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot empty {}", dir.display()));
            }
            _ => {}
        }
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Staging { dir, _lock: lock })
    }

    /// A set of files staged here.
    pub fn staged(&self) -> Staged {
        Staged::in_dir(&self.dir)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Empty after a commit; after a failure, whatever remains goes with it.
        let _ = std::fs::remove_dir_all(&self.dir);
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
        let mut staged = Staged::beside(Access::Umask);
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
        let mut staged = Staged::beside(Access::Umask);
        staged.stage(a.clone(), b"new").unwrap();
        staged.stage(dir.path().join("b.txt"), b"b").unwrap();
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        let mut unchanged = Staged::beside(Access::Umask);
        unchanged.stage(a, b"new").unwrap();
        assert!(unchanged.is_empty());
    }

    #[test]
    fn read_text_names_the_line_of_bad_bytes_and_refuses_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1n1.md");
        std::fs::write(&path, b"---\nvolume: 1\ntitle: caf\xe9\n").unwrap();
        let err = read_text(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("v1n1.md:3: column 11 is not UTF-8 text: save the file as UTF-8"),
            "{err}"
        );
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_TEXT_FILE_BYTES + 1).unwrap();
        let err = read_text(&path).unwrap_err().to_string();
        assert!(err.contains("larger than 5 MB"), "{err}");
        file.set_len(MAX_TEXT_FILE_BYTES).unwrap();
        assert!(read_text(&path).is_ok());
    }

    #[test]
    fn staging_clears_what_an_interrupted_build_left_and_removes_itself() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("build");
        let leftover = out.join(Staging::DIR).join(".dispatch-abc123");
        std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
        std::fs::write(&leftover, b"half a page").unwrap();
        let staging = Staging::open(&out).unwrap();
        assert!(!leftover.exists(), "the leftover is removed before staging");
        let mut staged = staging.staged();
        staged.stage(out.join("page.html"), b"page").unwrap();
        assert_eq!(
            std::fs::read_dir(out.join(Staging::DIR)).unwrap().count(),
            1
        );
        staged.commit().unwrap();
        drop(staging);
        assert_eq!(std::fs::read(out.join("page.html")).unwrap(), b"page");
        assert!(!out.join(Staging::DIR).exists());
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_a_private_one_is_always_0600() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("v1n1.md");
        std::fs::write(&own, b"old").unwrap();
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&own, b"new").unwrap();
        write_atomic(&own, b"new").unwrap();
        assert_eq!(
            std::fs::metadata(&own).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let export = dir.path().join("export.csv");
        std::fs::write(&export, b"a").unwrap();
        std::fs::set_permissions(&export, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&export, b"a").unwrap();
        assert_eq!(
            std::fs::metadata(&export).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write_private(&export, b"b").unwrap();
        assert_eq!(
            std::fs::metadata(&export).unwrap().permissions().mode() & 0o777,
            0o600
        );
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
