//! `doctor`: the provider chain, findings, and what it must never contact.

use crate::support::{canary, closed_port, moto};
use serde_json::Value;

fn doctor(args: &[&str], env: &[(String, String)]) -> (i32, Value, String) {
    let mut a = vec!["doctor", "--output", "json"];
    a.extend_from_slice(args);
    if !args.contains(&"--endpoint-url") {
        // Nothing is called without credentials; should anything be, it
        // meets a refused loopback port.
        a.extend_from_slice(&["--endpoint-url", crate::support::REFUSED]);
    }
    let r = canary(&a, env);
    let j: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    (r.code, j, r.stderr)
}

fn step<'a>(j: &'a Value, provider: &str) -> &'a Value {
    j["chain"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"] == provider)
        .unwrap()
}

fn finding_ids(j: &Value) -> Vec<String> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn credentials_from_the_environment() {
    let m = moto();
    let (arn, creds) = m.user(&[], &[]);
    let (code, j, _) = doctor(&["--endpoint-url", &m.url], &creds.env());
    assert_eq!(code, 0, "{j}");
    assert_eq!(step(&j, "Environment")["status"], "supplied");
    assert_eq!(step(&j, "Profile")["status"], "not_tried");
    assert_eq!(j["credentials"]["provider"], "Environment");
    let masked = j["credentials"]["access_key_id"].as_str().unwrap();
    assert!(
        masked.contains("****") && masked.starts_with(&creds.key[..4]) && masked != creds.key,
        "{masked}"
    );
    assert_eq!(j["credentials"]["temporary"], false);
    assert_eq!(j["identity"]["arn"], arn.as_str());
    assert_eq!(j["region"]["source"], "AWS_REGION");
    assert!(j["clock_skew_seconds"].as_i64().unwrap().abs() < 5);
    assert_eq!(j["endpoint_overrides"][0]["source"], "--endpoint-url");
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["severity"] == "note"));
}

#[test]
fn credentials_from_a_profile_in_temporary_files() {
    let m = moto();
    let (arn, creds) = m.user(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "[profile ops]\nregion = eu-west-1\n").unwrap();
    std::fs::write(
        &credentials,
        format!(
            "[ops]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            creds.key, creds.secret
        ),
    )
    .unwrap();
    let env = vec![
        ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_string(),
            credentials.display().to_string(),
        ),
        ("AWS_PROFILE".to_string(), "ops".to_string()),
        ("AWS_REGION".to_string(), String::new()),
    ];
    let (code, j, _) = doctor(&["--endpoint-url", &m.url], &env);
    assert_eq!(step(&j, "Environment")["status"], "not_configured", "{j}");
    assert_eq!(step(&j, "Profile")["status"], "supplied");
    assert_eq!(j["profile"], "ops");
    assert_eq!(j["identity"]["arn"], arn.as_str());
    assert_eq!(j["region"]["region"], "eu-west-1");
    assert_eq!(j["region"]["source"], "profile");
    // Only the --endpoint-url finding remains, and it is a note.
    assert_eq!(finding_ids(&j), ["endpoint_override"]);
    assert_eq!(j["findings"][0]["severity"], "note");
    assert_eq!(code, 0);
}

#[test]
fn aws_profile_naming_a_missing_profile_is_the_first_finding() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile real]\nregion = us-east-1\n").unwrap();
    let env = vec![
        ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
        ("AWS_PROFILE".to_string(), "prod-typo".to_string()),
    ];
    let (code, j, _) = doctor(&[], &env);
    assert_eq!(code, 1);
    let ids = finding_ids(&j);
    assert_eq!(ids[0], "profile_missing", "{j}");
    assert!(j["findings"][0]["problem"]
        .as_str()
        .unwrap()
        .contains("prod-typo"));
}

#[test]
fn no_credentials_anywhere_lists_each_provider_and_never_contacts_metadata() {
    // Point instance metadata at a loopback listener: were the disabled
    // provider contacted anyway, the listener would see the request.
    let imds = crate::support::FixedServer::start(|_| Some((404, vec![], Vec::new())));
    let env = vec![(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_string(),
        imds.url.clone(),
    )];
    let (code, j, _) = doctor(&[], &env);
    assert!(
        imds.requests().is_empty(),
        "instance metadata was contacted: {:?}",
        imds.requests()
    );
    assert_eq!(code, 1);
    for p in ["Environment", "Profile", "WebIdentityToken", "EcsContainer"] {
        let s = step(&j, p);
        assert_eq!(s["status"], "not_configured", "{p}: {s}");
        assert!(!s["detail"].as_str().unwrap().is_empty());
    }
    let step_imds = step(&j, "Ec2InstanceMetadata");
    assert_eq!(step_imds["status"], "disabled");
    assert!(step_imds["detail"]
        .as_str()
        .unwrap()
        .contains("not contacted"));
    assert!(j["credentials"].is_null());
    assert!(finding_ids(&j).contains(&"no_credentials".to_string()));
}

#[test]
fn endpoint_override_to_a_closed_port_is_named_first() {
    let creds = crate::support::dummy_creds();
    let mut env = creds.env();
    let url = format!("http://127.0.0.1:{}", closed_port());
    env.push(("AWS_ENDPOINT_URL".to_string(), url.clone()));
    let (code, j, _) = doctor(&["--table", "orders"], &env);
    assert_eq!(code, 1);
    assert_eq!(j["identity"]["class"], "endpoint_unreachable");
    assert_eq!(j["findings"][0]["id"], "endpoint_override", "{j}");
    assert!(j["findings"][0]["problem"].as_str().unwrap().contains(&url));
    assert_eq!(j["table_probe"]["class"], "endpoint_unreachable");
}

#[test]
fn session_token_with_static_keys_that_the_service_rejects() {
    let m = moto();
    let (_, mut creds) = m.user(&[], &[]);
    creds.token = Some("IQoJb3JpZ2luX2VjEleftoverTokenFromAnotherSession".into());
    let (code, j, _) = doctor(&["--endpoint-url", &m.url], &creds.env());
    assert_eq!(code, 1);
    assert_eq!(j["credentials"]["temporary"], true);
    assert_eq!(j["identity"]["outcome"], "fail", "{j}");
    let ids = finding_ids(&j);
    assert!(
        ids.contains(&"token_with_long_term_key".to_string()),
        "{ids:?}"
    );
    assert!(
        ids.contains(&j["identity"]["class"].as_str().unwrap().to_string()),
        "{ids:?}"
    );
}

#[test]
fn human_doctor_output_ends_with_findings() {
    let r = canary(&["doctor", "--endpoint-url", crate::support::REFUSED], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("Credential provider chain"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Findings, most likely first:"));
    assert!(r.stdout.contains("do: "));
}

#[test]
fn an_override_that_is_not_aws_is_a_problem_named_first() {
    // A local development server that knows nothing of AWS.
    let server = crate::support::FixedServer::start(|_| {
        Some((501, vec![], b"Unsupported method ('POST')".to_vec()))
    });
    let creds = crate::support::dummy_creds();
    let (code, j, _) = doctor(&["--endpoint-url", &server.url], &creds.env());
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["identity"]["class"], "not_aws", "{j}");
    assert_eq!(j["findings"][0]["id"], "endpoint_override", "{j}");
    assert_eq!(j["findings"][0]["severity"], "problem", "{j}");
}

#[test]
fn half_set_keys_are_named_with_what_the_sdk_would_use_instead() {
    let env = vec![(
        "AWS_SECRET_ACCESS_KEY".to_string(),
        "secret-without-its-key".to_string(),
    )];
    let (code, j, _) = doctor(&[], &env);
    assert_eq!(code, 1, "{j}");
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "partial_credentials")
        .unwrap_or_else(|| panic!("{j}"));
    let p = f["problem"].as_str().unwrap();
    assert!(
        p.contains("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
        "{p}"
    );
    assert!(!j.to_string().contains("secret-without-its-key"));
}

#[test]
fn every_sdk_family_is_shown_and_sdk_narrows_to_one() {
    let creds = crate::support::dummy_creds();
    let mut env = creds.env();
    env.push(("AWS_DEFAULT_REGION".to_string(), "eu-west-1".to_string()));
    env.retain(|(k, _)| k != "AWS_REGION");
    // Blank counts as unset for every SDK (the harness sets a default).
    env.push(("AWS_REGION".to_string(), String::new()));
    let (_, j, _) = doctor(&[], &env);
    let names: Vec<&str> = j["sdks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sdk"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["rust", "python", "js", "go", "java", "dotnet"],
        "{j}"
    );
    assert_eq!(j["sdks"][3]["basis"], "documentation");
    // Only AWS_DEFAULT_REGION: JS v3 stops with its own message, and says why.
    let js = &j["sdks"][2];
    assert_eq!(js["stop"]["sdk_says"], "Region is missing", "{js}");
    assert_eq!(js["stop"]["fix"], "set AWS_REGION=eu-west-1 too");
    assert!(finding_ids(&j).contains(&"sdk_stops_js".to_string()), "{j}");
    let (_, one, _) = doctor(&["--sdk", "js"], &env);
    assert_eq!(one["sdks"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["sdks"][0]["sdk"], "js");
    let r = canary(
        &[
            "doctor",
            "--sdk",
            "cobol",
            "--endpoint-url",
            crate::support::REFUSED,
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("valid names are rust, python, js, go, java, dotnet"),
        "{}",
        r.stderr
    );
}

#[test]
fn aws_profile_with_environment_keys_names_node_as_the_odd_one() {
    let creds = crate::support::dummy_creds();
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[prod]\naws_access_key_id = AKIAPRODEXAMPLE00002\naws_secret_access_key = s\n",
    )
    .unwrap();
    let mut env = creds.env();
    env.push(("AWS_PROFILE".to_string(), "prod".to_string()));
    env.push((
        "AWS_SHARED_CREDENTIALS_FILE".to_string(),
        credentials.display().to_string(),
    ));
    let (code, j, _) = doctor(&[], &env);
    assert_eq!(code, 1);
    assert_eq!(j["sdks"][2]["credentials"]["source"], "profile", "{j}");
    assert_eq!(j["sdks"][1]["credentials"]["source"], "environment");
    let split = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "sdks_disagree_on_identity")
        .unwrap_or_else(|| panic!("{j}"));
    assert!(split["problem"].as_str().unwrap().contains(
        "your Node services (AWS SDK for JavaScript v3) run as the keys of profile \"prod\""
    ));
    let env_wins = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "env_overrides_profile")
        .unwrap();
    assert!(env_wins["problem"]
        .as_str()
        .unwrap()
        .contains("while Node services (AWS SDK for JavaScript v3) use the profile"));
}
