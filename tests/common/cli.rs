//! Running the real binary on newsletter folders made by `dispatch init`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test, for a wrapper that starts it (`sh -c 'ulimit …; exec "$0" "$@"'`).
pub const BIN: &str = env!("CARGO_BIN_EXE_dispatch");

/// The time limit the tests give each HTTP request (see `web::SLOW`).
pub const TIMEOUT: &str = "500ms";

/// `dispatch ARGS…`, or `dispatch --dir DIR ARGS…` when `dir` is given, not started yet: the
/// one place the tests build a command line for the binary. Add environment with `.env`.
pub fn command(dir: Option<&Path>, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    if let Some(dir) = dir {
        command.arg("--dir").arg(dir);
    }
    command.args(args);
    command
}

/// [`command`] started through `sh -c "SETUP && exec dispatch …"`, so that it runs under what the
/// shell `setup` sets (`umask 077`, `ulimit -n 64`).
pub fn command_under(setup: &str, dir: Option<&Path>, args: &[&str]) -> Command {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("{setup} && exec \"$0\" \"$@\""))
        .arg(BIN);
    if let Some(dir) = dir {
        shell.arg("--dir").arg(dir);
    }
    shell.args(args);
    shell
}

/// Runs `command` to its end with `input` on its standard input; returns what it printed.
pub fn output(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dispatch starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // Written from a thread so that a child that prints before reading cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("dispatch runs");
    let _ = writer.join();
    out
}

/// `command.run()` runs a command made by [`command`] to its end with nothing on its standard
/// input, `command.run_with(input)` with `input`: the same as [`output`], written in a chain.
pub trait RunToEnd {
    fn run(&mut self) -> Output;
    fn run_with(&mut self, input: &[u8]) -> Output;
}

impl RunToEnd for Command {
    fn run(&mut self) -> Output {
        output(self, b"")
    }

    fn run_with(&mut self, input: &[u8]) -> Output {
        output(self, input)
    }
}

/// Starts `command` as a long-running child (`serve`, `send`, `replies import`): standard input
/// closed, standard output and error piped for the test to read.
pub fn spawn(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dispatch starts")
}

/// Sends `signal` (`TERM`, `INT`, …) to a running child.
pub fn signal(child: &Child, signal: &str) {
    signal_pid(child.id(), signal);
}

/// Sends `signal` (`TERM`, `KILL`, …) to process `pid`.
pub fn signal_pid(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Runs `dispatch --dir DIR ARGS…` with the test time limit.
pub fn dispatch(dir: &Path, args: &[&str]) -> Output {
    output(
        command(Some(dir), args).env("DISPATCH_HTTP_TIMEOUT", TIMEOUT),
        b"",
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs dispatch and insists that it succeeds; returns its standard output.
pub fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = dispatch(dir, args);
    assert!(
        out.status.success(),
        "dispatch {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Runs dispatch and insists that it fails with status 1.
pub fn fails(dir: &Path, args: &[&str]) -> Output {
    let out = dispatch(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "dispatch {args:?} should fail\n--- stdout\n{}\n--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A newsletter folder made by `dispatch init`, as it comes.
pub fn init() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("news");
    let out = output(command(None, &["init"]).arg(&dir), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    (tmp, dir)
}

/// A newsletter folder made by `dispatch init`, with `config` as its config.yaml.
pub fn newsletter(config: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = init();
    std::fs::write(dir.join("config.yaml"), config).expect("config written");
    (tmp, dir)
}

/// A config.yaml with the given `feeds:` entries.
pub fn config(feeds: &[String]) -> String {
    let mut config = String::from(
        "newsletter:\n  title: The Test Bench\n  url: https://news.example.com/\n  from: \"Ed Itor <ed@news.example.com>\"\n  reply_to: ed@news.example.com\n  unsubscribe_url: https://news.example.com/unsubscribe\n",
    );
    if !feeds.is_empty() {
        config.push_str("feeds:\n");
        for feed in feeds {
            config.push_str(&format!("  - {feed}\n"));
        }
    }
    config
}

pub fn write_issue(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join("issues").join(name);
    std::fs::write(&path, text).expect("issue written");
    path
}

/// What one run of the binary printed, with the fixture's temporary folder written `[DIR]`.
#[derive(Debug)]
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Insists that the run succeeded; returns its standard output.
    pub fn ok(self, args: &[&str]) -> String {
        assert_eq!(
            self.status,
            Some(0),
            "dispatch {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self.stdout
    }
}

/// A copy of a fixture newsletter (`tests/fixtures/NAME/`) in a temporary folder, so that runs
/// of the binary may write its database and build output.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    /// Copies `tests/fixtures/NAME` into a fresh temporary folder.
    pub fn copy(name: &str) -> Fixture {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        assert!(source.is_dir(), "no fixture {}", source.display());
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let dir = tmp.path().join(name);
        copy_tree(&source, &dir);
        Fixture { _tmp: tmp, dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `dispatch --dir DIR ARGS…` in the fixture's folder. The environment is the same on
    /// every machine: no `DISPATCH_*` variable, help wrapped at 100 columns.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = output(
            command(Some(&self.dir), args)
                .env_remove("DISPATCH_HTTP_TIMEOUT")
                .env("COLUMNS", "100")
                .current_dir(&self.dir),
            b"",
        );
        Run {
            status: out.status.code(),
            stdout: self.redact(&stdout(&out)),
            stderr: self.redact(&stderr(&out)),
        }
    }

    /// A file of the fixture's folder (e.g. `build/email/v1n2.html`), its path redacted.
    pub fn read(&self, relative: &str) -> String {
        let path = self.dir.join(relative);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        self.redact(&text)
    }

    /// `text` with the fixture's folder (as given and canonical) written `[DIR]`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        let canonical = self.dir.canonicalize().unwrap_or_else(|_| self.dir.clone());
        for dir in [canonical, self.dir.clone()] {
            text = text.replace(&*dir.to_string_lossy(), "[DIR]");
        }
        text
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a fixture folder");
    for entry in std::fs::read_dir(from).expect("a readable fixture") {
        let entry = entry.expect("a fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a fixture file copied");
        }
    }
}

/// Every file under `dir` (none when it does not exist), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.expect("a folder entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}
