//! The SDK's floor: N DescribeTable calls spread over four regions, made with
//! a bare `aws-sdk-dynamodb` client (one `SdkConfig`, one client per region,
//! at most 32 calls in flight per region and 128 in all, one runtime thread),
//! the way `check` makes them but with nothing of the canary around them.
//!
//! Usage: sdk-floor --endpoint-url URL [--probes 4096] [--override]
//! `--override` adds the per-call timeout and retry override that `check`
//! sets on every call (`customize().config_override(..)`).
//! Prints one JSON line: the calls, the failures, the process's CPU (user +
//! system, from getrusage) for the calls alone and for the whole process,
//! each per call in µs. Credentials come from the environment.

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn op_override() -> aws_sdk_dynamodb::config::Builder {
    // The canary's limits for its default 2,000 ms probe timeout (src/aws/call.rs).
    let budget = Duration::from_millis(2_000);
    aws_sdk_dynamodb::config::Builder::default()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(budget / 2)
                .operation_attempt_timeout(budget.mul_f64(0.6))
                .operation_timeout(budget)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(budget / 20)
                .with_max_backoff(budget / 8),
        )
}

fn main() -> std::process::ExitCode {
    let mut endpoint = None;
    let mut probes: usize = 4096;
    let mut with_override = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--endpoint-url" => endpoint = args.next(),
            "--probes" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => probes = n,
                None => return usage("--probes needs a number"),
            },
            "--override" => with_override = true,
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let Some(endpoint) = endpoint else {
        return usage("--endpoint-url is required");
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the runtime: {e}")),
    };
    rt.block_on(run(endpoint, probes, with_override))
}

fn usage(why: &str) -> std::process::ExitCode {
    eprintln!("sdk-floor: {why}\nusage: sdk-floor --endpoint-url URL [--probes N] [--override]");
    std::process::ExitCode::from(2)
}

async fn run(endpoint: String, probes: usize, with_override: bool) -> std::process::ExitCode {
    let sdk = aws_config::from_env()
        .region(aws_config::Region::new(REGIONS[0]))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let clients: Vec<aws_sdk_dynamodb::Client> = REGIONS
        .iter()
        .map(|r| {
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .region(aws_config::Region::new(*r))
                    .build(),
            )
        })
        .collect();
    let all = Arc::new(Semaphore::new(128));
    let per_region: Vec<Arc<Semaphore>> = (0..REGIONS.len()).map(|_| Arc::new(Semaphore::new(32))).collect();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..probes {
        let r = i % REGIONS.len();
        let client = clients[r].clone();
        let (all, mine) = (Arc::clone(&all), Arc::clone(&per_region[r]));
        let table = format!("bench-{:04}", i / REGIONS.len());
        tasks.spawn(async move {
            let _a = all.acquire_owned().await;
            let _m = mine.acquire_owned().await;
            let call = client.describe_table().table_name(table);
            let out = if with_override {
                call.customize().config_override(op_override()).send().await
            } else {
                call.send().await
            };
            out.map(|o| o.table.is_some()).unwrap_or(false)
        });
    }
    let mut ok = 0usize;
    while let Some(r) = tasks.join_next().await {
        if matches!(r, Ok(true)) {
            ok += 1;
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let calls_cpu = cpu_seconds() - cpu0;
    let total_cpu = cpu_seconds();
    println!(
        "{{\"probes\":{probes},\"ok\":{ok},\"override\":{with_override},\"wall_s\":{wall:.3},\"calls_cpu_us_per_probe\":{:.1},\"process_cpu_us_per_probe\":{:.1}}}",
        calls_cpu / probes as f64 * 1e6,
        total_cpu / probes as f64 * 1e6
    );
    if ok == probes {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
