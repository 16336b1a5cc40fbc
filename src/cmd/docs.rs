//! What is generated from the command line's clap definitions: shell completions, manual pages
//! and the Markdown reference in docs/commands.md (kept current by a test below).

use std::io::Write as _;
use std::path::Path;

use clap::CommandFactory as _;

use crate::cli::Cli;

/// `dispatch completions SHELL`: the completion script on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    // Made whole first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dispatch", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// `dispatch man`: the page of `dispatch` on standard output, or every command's page in `out`.
pub fn man(out: Option<&Path>) -> anyhow::Result<()> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let Some(folder) = out else {
        let mut stdout = std::io::stdout().lock();
        clap_mangen::Man::new(command).render(&mut stdout)?;
        stdout.flush()?;
        return Ok(());
    };
    let mut written = 0;
    write_pages(&command, folder, &mut written)?;
    println!("wrote {written} manual pages to {}", folder.display());
    Ok(())
}

fn write_pages(command: &clap::Command, folder: &Path, written: &mut usize) -> anyhow::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, folder, written)?;
    }
    let page = clap_mangen::Man::new(command.clone());
    let mut roff = Vec::new();
    page.render(&mut roff)?;
    dispatch::fsutil::write_atomic(&folder.join(page.get_filename()), &roff)?;
    *written += 1;
    Ok(())
}

/// docs/commands.md, made from the clap definitions by the test that keeps it current.
#[cfg(test)]
mod reference {
    use std::fmt::Write as _;

    use clap::CommandFactory as _;

    use crate::cli::Cli;

    /// How docs/commands.md says it is made; its first lines.
    const REFERENCE_HEADER: &str = concat!(
        "# Command reference\n",
        "\n",
        "<!-- Generated from src/cli.rs: do not edit by hand. After changing a command, regenerate\n",
        "     it with `UPDATE_REFERENCE=1 cargo test --bin dispatch commands_md`; the same test,\n",
        "     run without UPDATE_REFERENCE, fails while this file is stale. -->\n",
        "\n",
        "Every command and option of `dispatch`, as `dispatch COMMAND --help` prints them.\n",
    );

    /// docs/commands.md: every command's usage, description, arguments and options, in Markdown.
    pub fn reference_markdown() -> String {
        let mut command = Cli::command().disable_help_subcommand(true);
        command.build();
        let mut md = String::from(REFERENCE_HEADER);
        let globals: Vec<&clap::Arg> = command
            .get_arguments()
            .filter(|a| a.is_global_set() && !a.is_hide_set())
            .collect();
        md.push_str("\n## Options of every command\n\n");
        for arg in &globals {
            push_arg(&mut md, arg);
        }
        push_command(&mut md, &command, "dispatch");
        md
    }

    fn push_command(md: &mut String, command: &clap::Command, path: &str) {
        let _ = write!(md, "\n## `{path}`\n\n");
        let about = command
            .get_long_about()
            .or(command.get_about())
            .map(|s| s.to_string())
            .unwrap_or_default();
        if !about.is_empty() {
            let _ = write!(md, "{}\n\n", about.trim_end());
        }
        let usage = command.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage:").trim();
        let _ = write!(md, "```\n{usage}\n```\n");
        let args: Vec<&clap::Arg> = command
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        if !args.is_empty() {
            md.push('\n');
        }
        for arg in args {
            push_arg(md, arg);
        }
        let subs: Vec<&clap::Command> = command
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .collect();
        if !subs.is_empty() {
            md.push_str("\nCommands:\n\n");
            for sub in &subs {
                let about = sub.get_about().map(|s| s.to_string()).unwrap_or_default();
                let anchor = format!("{path} {}", sub.get_name())
                    .replace(' ', "-")
                    .to_lowercase();
                let _ = writeln!(md, "- [`{}`](#{anchor}): {about}", sub.get_name());
            }
        }
        for sub in subs {
            push_command(md, sub, &format!("{path} {}", sub.get_name()));
        }
    }

    /// One argument as a list item: its name, then its help indented below it.
    fn push_arg(md: &mut String, arg: &clap::Arg) {
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|s| s.to_string())
            .unwrap_or_default();
        let _ = write!(md, "- `{}`", arg_name(arg));
        for (i, line) in help.trim_end().lines().enumerate() {
            match (i, line.is_empty()) {
                (0, _) => {
                    let _ = writeln!(md, ": {line}");
                }
                (_, true) => md.push('\n'),
                (_, false) => {
                    let _ = writeln!(md, "  {line}");
                }
            }
        }
        if help.trim().is_empty() {
            md.push('\n');
        }
        let mut facts = Vec::new();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() && arg.get_num_args().is_none_or(|n| n.takes_values()) {
            facts.push(format!("default: `{}`", defaults.join(",")));
        }
        if let Some(env) = arg.get_env() {
            facts.push(format!("environment: `{}`", env.to_string_lossy()));
        }
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| format!("`{}`", v.get_name()))
            .collect();
        if !values.is_empty() && arg.get_action().takes_values() {
            facts.push(format!("one of {}", values.join(", ")));
        }
        if !facts.is_empty() {
            let _ = writeln!(md, "  ({})", facts.join("; "));
        }
    }

    /// `--port <PORT>`, `-v, --verbose`, `<ISSUE>...`, `[FILE.csv]`.
    fn arg_name(arg: &clap::Arg) -> String {
        let value = || {
            let names: Vec<String> = arg
                .get_value_names()
                .map(|n| n.iter().map(|s| s.to_string()).collect())
                .unwrap_or_else(|| vec![arg.get_id().as_str().to_uppercase()]);
            names.join(" ")
        };
        if arg.is_positional() {
            let name = value();
            let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
            let dots = if many { "..." } else { "" };
            return if arg.is_required_set() {
                format!("<{name}>{dots}")
            } else {
                format!("[{name}]{dots}")
            };
        }
        let mut name = String::new();
        if let Some(short) = arg.get_short() {
            let _ = write!(name, "-{short}, ");
        }
        if let Some(long) = arg.get_long() {
            let _ = write!(name, "--{long}");
        }
        if arg.get_action().takes_values() {
            let _ = write!(name, " <{}>", value());
        }
        name
    }

    mod tests {
        use super::reference_markdown;
        use std::path::PathBuf;

        /// docs/commands.md is what the clap definitions make; `UPDATE_REFERENCE=1` rewrites it.
        #[test]
        fn commands_md_is_current() {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/commands.md");
            let made = reference_markdown();
            if std::env::var_os("UPDATE_REFERENCE").is_some() {
                std::fs::write(&path, &made).expect("docs/commands.md is written");
                return;
            }
            let stored = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                stored == made,
                "docs/commands.md is stale: regenerate it with `UPDATE_REFERENCE=1 cargo test --bin dispatch commands_md`"
            );
        }

        #[test]
        fn reference_names_every_command_and_option() {
            let md = reference_markdown();
            for needle in [
                "## `dispatch subscribers show`",
                "- `<EMAIL|ID>`",
                "- `--port <PORT>`",
                "(default: `8000`)",
                "- `--dir <DIR>`: ",
                "environment: `DISPATCH_HTTP_TIMEOUT`",
                "one of `bash`",
                "`created_at`",
            ] {
                assert!(md.contains(needle), "{needle:?} missing:\n{md}");
            }
            assert!(
                !md.contains("## `dispatch help`"),
                "the help command is not a command of the reference"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn completions_know_every_command() {
        use clap::CommandFactory as _;
        for (shell, marker) in [
            (clap_complete::Shell::Bash, "_dispatch()"),
            (clap_complete::Shell::Zsh, "#compdef dispatch"),
            (clap_complete::Shell::Fish, "complete -c dispatch"),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut crate::cli::Cli::command(),
                "dispatch",
                &mut script,
            );
            let script = String::from_utf8(script).unwrap();
            assert!(script.contains(marker), "{shell}: {script}");
            for word in ["subscribers", "unsubscribe", "dry-run", "completions"] {
                assert!(script.contains(word), "{shell} lacks {word}");
            }
        }
    }

    #[test]
    fn man_out_writes_a_page_per_command() {
        use clap::CommandFactory as _;
        let folder = tempfile::tempdir().unwrap();
        let mut command = crate::cli::Cli::command().disable_help_subcommand(true);
        command.build();
        let mut written = 0;
        super::write_pages(&command, folder.path(), &mut written).unwrap();
        for page in [
            "dispatch.1",
            "dispatch-send.1",
            "dispatch-subscribers-show.1",
        ] {
            let roff = std::fs::read_to_string(folder.path().join(page)).unwrap();
            assert!(roff.contains(".TH dispatch"), "{page}: {roff}");
        }
        assert_eq!(written, std::fs::read_dir(folder.path()).unwrap().count());
    }

    #[test]
    fn man_pages_render() {
        use clap::CommandFactory as _;
        let mut command = crate::cli::Cli::command().disable_help_subcommand(true);
        command.build();
        let mut roff = Vec::new();
        clap_mangen::Man::new(command).render(&mut roff).unwrap();
        let roff = String::from_utf8(roff).unwrap();
        assert!(roff.contains(".TH dispatch 1"), "{roff}");
        assert!(roff.contains("subscribers"), "{roff}");
    }
}
