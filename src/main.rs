//! The binary: a Lambda function when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise a command line. Sets up logging, builds clients once, hands over.

use clap::Parser;
use dynamodb_auth_canary::config::load::Source;
use dynamodb_auth_canary::settings::Deployment;
use dynamodb_auth_canary::{cli, clients, lambda, run};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // One thread: the work is waiting on the network, and a 128 MB Lambda
    // has a fraction of a vCPU; work-stealing threads cost CPU per probe in
    // wake-ups and hand-offs (measured in the README's benchmark section).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    // Orphans of a credential_process come back to this process, which
    // kills them when the run ends (reaper.rs).
    dynamodb_auth_canary::reaper::adopt_orphans();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        runtime.block_on(serve_lambda())
    } else {
        let parsed = cli::Cli::parse();
        init_cli_logging();
        // EMF lines go to stderr as the run produces them; stdout stays the report.
        let (fire, interrupt) = run::Interrupt::channel();
        let surroundings = cli::Surroundings {
            emf_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            interrupt,
        };
        let out = runtime.block_on(async {
            tokio::spawn(forward_signals(fire));
            cli::run_to(parsed, &mut std::io::stderr(), &surroundings).await
        });
        dynamodb_auth_canary::reaper::kill_descendants();
        ExitCode::from(write_out(&out))
    }
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
    dynamodb_auth_canary::reaper::kill_descendants();
    std::process::exit(128 + second);
}

/// Writes a command's output; returns the exit code. A closed stdout (a
/// pipe into `head`) is not an error of the command.
fn write_out(out: &cli::CommandOutput) -> u8 {
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
            cli::EXIT_USAGE
        }
    }
}

async fn serve_lambda() -> ExitCode {
    // JSON logs with the request id, honouring AWS_LAMBDA_LOG_FORMAT/LEVEL,
    // scrubbed of key ids and tokens like the command line's (the SDK's own
    // debug lines print the access key id).
    lambda_runtime::tracing::init_default_subscriber_with_writer(|| {
        dynamodb_auth_canary::redact::ScrubbingWriter(std::io::stdout())
    });
    // The deployment's own settings: without them nothing can be published
    // under the right name, so an invalid one fails the init (and the
    // heartbeat pages).
    let deployment = match Deployment::from_env(None) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "the deployment's environment is invalid");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    let source = Source::find(None);
    let clients = match clients::AwsClients::load(&clients::ClientOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build AWS clients");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    match lambda::serve(run::Canary::new(clients), deployment, source).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

fn init_cli_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANARY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every log line is scrubbed of key ids and tokens, the SDK's own
        // debug lines included.
        .with_writer(|| dynamodb_auth_canary::redact::ScrubbingWriter(std::io::stderr()))
        .with_ansi(false)
        .with_target(false)
        .init();
}
