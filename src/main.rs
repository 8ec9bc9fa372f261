//! The binary: a Lambda function when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise a command line. Starts the runtime and hands over to a face.

use dynamodb_auth_canary::{aws::reaper, cli, lambda};
use std::process::ExitCode;

fn main() -> ExitCode {
    // One thread: the work is waiting on the network, and a 128 MB Lambda
    // has a fraction of a vCPU; work-stealing threads cost CPU per probe in
    // wake-ups and hand-offs (docs/measurements.md, the benchmark).
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
    // kills them when the run ends (aws/reaper.rs).
    reaper::adopt_orphans();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        runtime.block_on(lambda::serve_from_env())
    } else {
        cli::process::main(&runtime)
    }
}
