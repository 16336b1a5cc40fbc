use std::process::ExitCode;

use clap::Parser as _;

mod cli;
mod cmd;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let (cli::Command::Init { path, .. }, Some(_)) = (&cli.command, &cli.dir) {
        // `dispatch --dir A init B` would silently ignore A.
        use clap::CommandFactory as _;
        cli::Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "`init` takes the new folder as its argument, not --dir: run `dispatch init {}`",
                    path.display()
                ),
            )
            .exit();
    }
    cmd::log::init(cli.verbose);
    dispatch::install_crypto_provider();
    // One runtime for the whole run, on this thread: dispatch waits on the network, and one
    // thread saves the wake-ups between threads (a send measured a quarter less CPU per
    // message than on tokio's multi-threaded runtime).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cmd::run(cli, &runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(stopped) = err.downcast_ref::<dispatch::send::StoppedAtOnce>() {
                // The second Ctrl-C or SIGTERM: quit now, leaving the messages in flight.
                std::process::exit(stopped.signal.exit_code());
            }
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err}");
            // Many errors repeat their cause in their own message: print each text once.
            let mut said = err.to_string();
            for cause in err.chain().skip(1) {
                let text = cause.to_string();
                if !said.contains(&text) {
                    eprintln!("caused by: {text}");
                }
                said = text;
            }
            exit_code(&err)
        }
    }
}

/// 1 for an error; 130 or 143 for a command that Ctrl-C or SIGTERM stopped early (128 + the
/// signal's number, as a shell reports a process the signal ended). Usage errors exit with
/// 2 from clap, before a command runs.
fn exit_code(err: &anyhow::Error) -> ExitCode {
    let interrupted = err
        .chain()
        .find_map(|c| c.downcast_ref::<dispatch::signal::Interrupted>());
    match interrupted.map(|i| u8::try_from(i.signal.exit_code())) {
        Some(Ok(code)) => ExitCode::from(code),
        _ => ExitCode::FAILURE,
    }
}

/// A closed pipe (`dispatch … | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
