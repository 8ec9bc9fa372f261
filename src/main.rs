//! The binary: a Lambda function when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise a command line. Sets up logging, builds clients once, hands over.

use clap::Parser;
use dynamodb_auth_canary::{cli, clients, lambda, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        runtime.block_on(serve_lambda())
    } else {
        let parsed = cli::Cli::parse();
        init_cli_logging();
        runtime.block_on(cli::main(parsed))
    }
}

async fn serve_lambda() -> ExitCode {
    // JSON logs with the request id, honouring AWS_LAMBDA_LOG_FORMAT/LEVEL.
    lambda_runtime::tracing::init_default_subscriber();
    let base = cli::load_config(None);
    if let Err(e) = &base {
        tracing::error!(error = %e, "CANARY_CONFIG is invalid; only invocations carrying a config can run");
    }
    let clients = match clients::AwsClients::load(&clients::ClientOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build AWS clients");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    match lambda::serve(run::Canary::new(clients), base).await {
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
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
