//! Shared test helpers: the local AWS (moto with IAM enforced, dynalite),
//! header-mangling proxies, fixed-answer HTTP servers, and running the binary
//! with an explicit, isolated environment (never instance metadata).

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dynamodb-auth-canary");

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    free_port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port} within 60 s");
}

/// The shared moto server, with an admin user created in its
/// unauthenticated allowance; every later request is authenticated.
pub struct Moto {
    pub url: String,
    pub admin_key: String,
    pub admin_secret: String,
    _child: Mutex<Child>,
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = free_port();
        let mut child = Command::new(python())
            .arg(root().join("scripts/localaws/moto_server.py"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--exit-with-parent",
            ])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto (run `make setup` first)");
        wait_for_port(port, &mut child, "moto");
        let url = format!("http://127.0.0.1:{port}");
        let admin = localaws(&["bootstrap", "--endpoint", &url], None);
        Moto {
            url,
            admin_key: admin["access_key_id"].as_str().unwrap().to_string(),
            admin_secret: admin["secret_access_key"].as_str().unwrap().to_string(),
            _child: Mutex::new(child),
        }
    })
}

fn localaws(args: &[&str], stdin: Option<&str>) -> Value {
    let mut child = Command::new(python())
        .arg(root().join("scripts/localaws/localaws.py"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run localaws.py");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "localaws.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("localaws.py prints JSON")
}

impl Moto {
    /// Creates users, roles and tables (see scripts/localaws/localaws.py).
    pub fn apply(&self, spec: Value) -> Value {
        localaws(
            &[
                "apply",
                "--endpoint",
                &self.url,
                "--admin-key",
                &self.admin_key,
                "--admin-secret",
                &self.admin_secret,
                "--spec",
                "-",
            ],
            Some(&spec.to_string()),
        )
    }

    /// AssumeRole with a user's keys; returns temporary credentials.
    pub fn assume(&self, user: &Creds, role_arn: &str, session: &str) -> Creds {
        let v = localaws(
            &[
                "assume",
                "--endpoint",
                &self.url,
                "--key",
                &user.key,
                "--secret",
                &user.secret,
                "--role-arn",
                role_arn,
                "--session-name",
                session,
            ],
            None,
        );
        Creds {
            key: v["access_key_id"].as_str().unwrap().into(),
            secret: v["secret_access_key"].as_str().unwrap().into(),
            token: v["session_token"].as_str().map(str::to_string),
        }
    }

    /// A user with a policy allowing `actions` on `resources` (plus STS).
    pub fn user(&self, actions: &[&str], resources: &[String]) -> (String, Creds) {
        let name = unique("user");
        let mut spec = json!({"users": [{"name": name}]});
        if !actions.is_empty() {
            spec["users"][0]["policy"] = json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": resources}
            ]});
        }
        let out = self.apply(spec);
        let u = &out["users"][&name];
        (
            u["arn"].as_str().unwrap().to_string(),
            Creds {
                key: u["access_key_id"].as_str().unwrap().into(),
                secret: u["secret_access_key"].as_str().unwrap().into(),
                token: None,
            },
        )
    }

    /// Creates a table with a string partition key `pk` (and optional
    /// numeric sort key `sk`) in each region.
    pub fn table(&self, regions: &[&str], composite: bool) -> String {
        let name = unique("tbl");
        let mut key = vec![json!({"name": "pk", "type": "S"})];
        if composite {
            key.push(json!({"name": "sk", "type": "N"}));
        }
        self.apply(json!({"tables": [{"name": name, "regions": regions, "key": key}]}));
        name
    }
}

pub fn table_arn(region: &str, table: &str) -> String {
    format!("arn:aws:dynamodb:{region}:123456789012:table/{table}")
}

/// The shared dynalite server (answers DynamoDB's exact wire errors).
pub fn dynalite() -> &'static str {
    static DYNALITE: OnceLock<(String, Mutex<Child>)> = OnceLock::new();
    &DYNALITE
        .get_or_init(|| {
            let port = free_port();
            let mut child = Command::new(python())
                .arg(root().join("scripts/localaws/with_parent.py"))
                .arg(root().join("node_modules/.bin/dynalite"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start dynalite (run `make setup` first)");
            wait_for_port(port, &mut child, "dynalite");
            (format!("http://127.0.0.1:{port}"), Mutex::new(child))
        })
        .0
}

/// A proxy from scripts/localaws/proxy.py; killed on drop.
pub struct Proxy {
    pub url: String,
    child: Child,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn proxy(upstream: &str, mode: &str, delay_ms: u64) -> Proxy {
    let delay = delay_ms.to_string();
    let (child, url) = port_server(
        "scripts/localaws/proxy.py",
        &[
            "--upstream",
            upstream,
            "--listen-port",
            "0",
            "--mode",
            mode,
            "--delay-ms",
            &delay,
            "--exit-with-parent",
        ],
    );
    Proxy { url, child }
}

/// A Python server of the repository started with `args`; it prints
/// `PORT <n>` first. The child and its loopback URL.
fn port_server(script: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(python())
        .arg(root().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("{script} printed no PORT line: {line:?}"))
        .to_string();
    (child, format!("http://127.0.0.1:{port}"))
}

/// The local CloudTrail of scripts/localaws/cloudtrail.py; killed on drop.
pub struct CloudTrail {
    pub url: String,
    child: Child,
}

impl Drop for CloudTrail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a local CloudTrail with no events.
pub fn cloudtrail() -> CloudTrail {
    let (child, url) = port_server(
        "scripts/localaws/cloudtrail.py",
        &["--port", "0", "--exit-with-parent"],
    );
    CloudTrail { url, child }
}

impl CloudTrail {
    /// Adds CloudTrail records.
    pub fn seed(&self, events: Value) {
        self.post("/_seed", &json!({ "events": events }));
    }

    /// `ok`, `refuse`, `silent`, or `throttle` for the next `count` calls.
    pub fn mode(&self, mode: &str, count: u32) {
        self.post("/_mode", &json!({"mode": mode, "count": count}));
    }

    /// The LookupEvents requests received.
    pub fn calls(&self) -> Vec<Value> {
        let text = http(&self.url, "GET", "/_calls", "");
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn post(&self, path: &str, body: &Value) {
        http(&self.url, "POST", path, &body.to_string());
    }
}

/// One plain HTTP/1.1 request to a local server; the answer's body.
fn http(base: &str, method: &str, path: &str, body: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Credentials for a run.
#[derive(Debug, Clone)]
pub struct Creds {
    pub key: String,
    pub secret: String,
    pub token: Option<String>,
}

/// Well-formed keys that no server knows: for runs against fixed-answer
/// servers and for runs that fail before any request.
pub fn dummy_creds() -> Creds {
    Creds {
        key: "AKIDEXAMPLE".into(),
        secret: "secret".into(),
        token: None,
    }
}

impl Creds {
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), self.key.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), self.secret.clone()),
        ];
        if let Some(t) = &self.token {
            v.push(("AWS_SESSION_TOKEN".to_string(), t.clone()));
        }
        v
    }
}

/// The result of running the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// An empty HOME shared by runs, so no ~/.aws of the machine leaks in.
pub fn empty_home() -> PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("canary-it-home-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        p
    })
    .clone()
}

/// Runs the binary with a cleared environment: PATH, an empty HOME, no AWS
/// files, instance metadata disabled, AWS_REGION=us-east-1, plus `env`
/// (a value of "" removes a variable).
pub fn canary(args: &[&str], env: &[(String, String)]) -> Run {
    let out = command(args, env).output().expect("run the binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The binary started with [`canary`]'s environment, stdout and stderr
/// piped, for tests that signal it while it runs.
pub fn spawn_canary(args: &[&str], env: &[(String, String)]) -> Child {
    command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary")
}

fn command(args: &[&str], env: &[(String, String)]) -> Command {
    assert_loopback_only(args, env);
    let home = empty_home();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_REGION", "us-east-1");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd
}

/// An endpoint that refuses connections: for runs that must fail before (or
/// at) their first request, so that even those never leave loopback.
pub const REFUSED: &str = "http://127.0.0.1:9";

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses to run `check` or `doctor` unless every service the binary calls
/// (STS, DynamoDB, CloudWatch) has an endpoint override on loopback, from
/// `--endpoint-url` or the environment given to the run: no test may send
/// traffic to AWS's public endpoints.
pub fn assert_loopback_only(args: &[&str], env: &[(String, String)]) {
    let command = args.iter().find(|a| !a.starts_with('-'));
    if !matches!(command, Some(&"check") | Some(&"doctor"))
        || args.iter().any(|a| *a == "--help" || *a == "-h")
    {
        return;
    }
    let flag = args
        .windows(2)
        .find(|w| w[0] == "--endpoint-url")
        .map(|w| w[1].to_string())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--endpoint-url="))
                .map(str::to_string)
        });
    let var = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let ignored =
        var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    for service in ["STS", "DYNAMODB", "CLOUDWATCH", "CLOUDTRAIL"] {
        let url = flag.clone().or_else(|| {
            if ignored {
                return None;
            }
            var(&format!("AWS_ENDPOINT_URL_{service}"))
                .or_else(|| {
                    (service == "DYNAMODB")
                        .then(|| var("DYNAMODB_ENDPOINT"))
                        .flatten()
                })
                .or_else(|| var("AWS_ENDPOINT_URL"))
        });
        match url {
            Some(u) if is_loopback(&u) => {}
            other => panic!(
                "refusing to run {args:?}: {service} would be reached at {other:?}, not on loopback; give --endpoint-url (support::REFUSED for runs that fail early)"
            ),
        }
    }
}

/// `canary` with credentials and a config file written from `config`.
pub fn check(
    config: &Value,
    creds: &Creds,
    extra_args: &[&str],
    extra_env: &[(String, String)],
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut args = vec![
        "check",
        "--config",
        path.to_str().unwrap(),
        "--output",
        "json",
    ];
    args.extend_from_slice(extra_args);
    let mut env = creds.env();
    env.extend_from_slice(extra_env);
    canary(&args, &env)
}

/// `check --output json` of `config` with exactly `env` (no credentials
/// added) against [`REFUSED`]: for runs that must fail before any request.
pub fn check_refused(config: &Value, env: &[(String, String)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    canary(
        &[
            "check",
            "--config",
            path.to_str().unwrap(),
            "--endpoint-url",
            REFUSED,
            "--output",
            "json",
        ],
        env,
    )
}

/// A request seen by a [`FixedServer`].
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// The answer of a [`FixedServer`]: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// A tiny HTTP/1.1 server answering every request through a closure and
/// recording what it saw: recorded wire responses, CBOR capture, and
/// listeners that never answer.
pub struct FixedServer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FixedServer {
    pub fn start<F>(answer: F) -> FixedServer
    where
        F: Fn(&Seen) -> Option<Answer> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let seen2 = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answer = Arc::clone(&answer);
                let seen = Arc::clone(&seen2);
                std::thread::spawn(move || serve_conn(stream, &*answer, &seen));
            }
        });
        FixedServer { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_conn(
    stream: TcpStream,
    answer: &(dyn Fn(&Seen) -> Option<Answer> + Send + Sync),
    seen: &Mutex<Vec<Seen>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req = Seen {
            path,
            headers,
            body,
        };
        seen.lock().unwrap().push(req.clone());
        match answer(&req) {
            // None: hold the connection open and never answer.
            None => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Some((status, hdrs, body)) => {
                let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (k, v) in hdrs {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
                    return;
                }
            }
        }
    }
}

/// A DynamoDB-style JSON error answer.
pub fn json_error(status: u16, ty: &str, message: &str) -> Answer {
    (
        status,
        vec![
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-requestid".into(), "REQ-FIXED-1".into()),
        ],
        json!({"__type": ty, "message": message})
            .to_string()
            .into_bytes(),
    )
}

/// A successful STS GetCallerIdentity answer.
pub fn sts_ok() -> Answer {
    (
        200,
        vec![("content-type".into(), "text/xml".into())],
        b"<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/fixed</Arn><UserId>AIDAFIXED</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>".to_vec(),
    )
}
