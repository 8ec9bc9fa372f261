//! The command line as a process: parse the arguments, log to stderr
//! (scrubbed), turn SIGINT and SIGTERM into an interrupted run, write the
//! output and return the exit code. `main.rs` hands over here.

use super::{run_to, Cli, CommandOutput, Surroundings, EXIT_USAGE};
use crate::aws::reaper;
use crate::run::Interrupt;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// Runs one command on `runtime` and returns its exit code.
pub fn main(runtime: &tokio::runtime::Runtime) -> ExitCode {
    let parsed = Cli::parse();
    init_logging();
    // EMF lines go to stderr as the run produces them; stdout stays the report.
    let (fire, interrupt) = Interrupt::channel();
    let surroundings = Surroundings {
        emf_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        interrupt,
    };
    let out = runtime.block_on(async {
        tokio::spawn(forward_signals(fire));
        run_to(parsed, &mut std::io::stderr(), &surroundings).await
    });
    reaper::kill_descendants();
    ExitCode::from(write_out(&out))
}

/// SIGINT and SIGTERM interrupt the run (it then prints what finished);
/// a second signal ends the process at once.
async fn forward_signals(fire: tokio::sync::watch::Sender<Option<i32>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let first = tokio::select! {
        _ = int.recv() => 2,
        _ = term.recv() => 15,
    };
    let _ = fire.send(Some(first));
    let second = tokio::select! {
        _ = int.recv() => 2,
        _ = term.recv() => 15,
    };
    reaper::kill_descendants();
    std::process::exit(128 + second);
}

/// Writes a command's output; returns the exit code. A closed stdout (a
/// pipe into `head`) is not an error of the command.
fn write_out(out: &CommandOutput) -> u8 {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(out.stdout.as_bytes())
        .and_then(|()| stdout.flush());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    match written {
        Ok(()) => out.exit,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => out.exit,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
            EXIT_USAGE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANARY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every log line is scrubbed of key ids and tokens, the SDK's own
        // debug lines included.
        .with_writer(|| crate::redact::ScrubbingWriter(std::io::stderr()))
        .with_ansi(false)
        .with_target(false)
        .init();
}
