//! What each SDK family's default client would do on this host: the
//! credentials it picks, its region and where from, the endpoint overrides
//! and trust roots it honours, and where it would stop and why. One table
//! per family ([`table::Table`], rows with their sources), read by
//! [`predict`]; the Rust family is the canary's own walk, built by `doctor`.

mod dotnet;
mod go;
mod host;
mod java;
mod js;
mod python;
mod rust;
mod table;

pub use host::Host;
pub use table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

use crate::redact::mask_key_id;
use serde::Serialize;

/// Every family's table, in [`Sdk::ALL`] order.
pub const TABLES: [&Table; 6] = [
    &rust::TABLE,
    &python::TABLE,
    &js::TABLE,
    &go::TABLE,
    &java::TABLE,
    &dotnet::TABLE,
];

/// The table of `sdk`.
pub fn table(sdk: Sdk) -> &'static Table {
    TABLES
        .iter()
        .find(|t| t.sdk == sdk)
        .copied()
        .unwrap_or(&rust::TABLE)
}

/// Where the credentials of a default client come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// Keys in the profile.
    Profile,
    /// A role the profile assumes.
    AssumeRole,
    /// The profile's `credential_process`.
    CredentialProcess,
    /// A web identity token (environment or profile).
    WebIdentity,
    /// The profile's SSO settings.
    Sso,
    /// The container endpoint.
    Container,
    /// Instance metadata.
    InstanceMetadata,
}

/// The credentials a family would use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialView {
    /// Where they come from.
    pub source: CredentialSource,
    /// The profile, when they come from one.
    pub profile: Option<String>,
    /// The access key id, masked, when it is known before the call.
    pub access_key_id: Option<String>,
    /// The role assumed, for roles and web identity.
    pub role_arn: Option<String>,
    /// The masked key of the source profile a role is assumed with.
    pub source_access_key_id: Option<String>,
}

impl CredentialView {
    /// One line for people and findings.
    pub fn describe(&self) -> String {
        let mut s = match self.source {
            CredentialSource::Environment => "the environment's keys".to_string(),
            CredentialSource::Profile => "the keys of profile".to_string(),
            CredentialSource::AssumeRole => "a role assumed by profile".to_string(),
            CredentialSource::CredentialProcess => "the credential_process of profile".to_string(),
            CredentialSource::WebIdentity => "a web identity token".to_string(),
            CredentialSource::Sso => "the SSO login of profile".to_string(),
            CredentialSource::Container => "the container endpoint".to_string(),
            CredentialSource::InstanceMetadata => "instance metadata".to_string(),
        };
        if let Some(p) = &self.profile {
            s.push_str(&format!(" \"{p}\""));
        }
        if let Some(k) = &self.access_key_id {
            s.push_str(&format!(" ({k})"));
        }
        if let Some(r) = &self.role_arn {
            s.push_str(&format!(" as {r}"));
        }
        s
    }

    /// What two families must share to run as the same identity.
    pub fn identity(&self) -> String {
        match (&self.role_arn, &self.access_key_id) {
            (Some(role), _) => format!("role {role}"),
            (None, Some(key)) => format!("key {key}"),
            (None, None) => self.describe(),
        }
    }
}

/// The region a family would use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionView {
    /// The region.
    pub region: String,
    /// The variable, or `profile "x"` in a file.
    pub source: String,
}

/// Which check a client stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopAt {
    /// Resolving credentials.
    Credentials,
    /// Finding the region.
    Region,
}

/// Where a default client would stop, why, and the one fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stop {
    /// The check it stops at.
    pub at: StopAt,
    /// What the SDK says (its own message, or the part of it that is fixed).
    pub sdk_says: String,
    /// Why, on this host.
    pub why: String,
    /// The one fix.
    pub fix: String,
}

/// A variable or profile key the family reads, as set on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The variable or `profile "x" key k`.
    pub name: String,
    /// Its value (URLs and paths).
    pub value: String,
}

/// What a default client of one family would do here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SdkView {
    /// The family.
    pub sdk: Sdk,
    /// Its name for people.
    pub name: &'static str,
    /// The versions its rules were read from.
    pub version: &'static str,
    /// How `doctor` knows.
    pub basis: Basis,
    /// The credentials it would use, if it finds any.
    pub credentials: Option<CredentialView>,
    /// The region it would use, if it finds one.
    pub region: Option<RegionView>,
    /// The endpoint overrides in effect that it honours.
    pub endpoint_overrides: Vec<Setting>,
    /// The trust-root settings in effect that it honours.
    pub trust_roots: Vec<Setting>,
    /// Trust-root settings in effect that it ignores.
    pub trust_roots_ignored: Vec<Setting>,
    /// Where it would stop, if it would.
    pub stop: Option<Stop>,
}

/// Trust-root variables any family reads (the union of the tables).
const TRUST_VARIABLES: &[&str] = &[
    "AWS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
];

/// Endpoint variables `doctor` reports (the services the canary calls).
const ENDPOINT_VARIABLES: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_DYNAMODB",
];

/// What `table`'s family would do on `host`. `process_key` is the masked
/// key a profile's `credential_process` gives, when `doctor` knows it.
pub fn predict(t: &Table, host: &Host, process_key: Option<&str>) -> SdkView {
    let credentials = credentials(t, host, process_key);
    let region = region(t, host);
    // Finding no credentials at all fails some clients only at the call.
    let first = match &credentials {
        Err(s) if s.sdk_says == t.no_credentials() && t.no_credentials_at_call() => First::Region,
        _ => t.first_stop(),
    };
    let stop = match (first, &credentials, &region) {
        (First::Credentials, Err(s), _) | (First::Region, Ok(_), Err(s)) => Some(s.clone()),
        (First::Region, Err(c), r) => Some(r.as_ref().err().unwrap_or(c).clone()),
        (First::Credentials, Ok(_), Err(s)) => Some(s.clone()),
        (_, Ok(_), Ok(_)) => None,
    };
    let (trust_roots, trust_roots_ignored) = trust(t, host);
    SdkView {
        sdk: t.sdk,
        name: t.name,
        version: t.version,
        basis: t.basis,
        credentials: credentials.ok(),
        region: region.ok(),
        endpoint_overrides: endpoints(t, host),
        trust_roots,
        trust_roots_ignored,
        stop,
    }
}

fn fill(message: &str, host: &Host, missing: &str) -> String {
    message
        .replace("{profile}", host.profile_name())
        .replace("{missing}", missing)
        .replace(
            "{path}",
            host.var("AWS_WEB_IDENTITY_TOKEN_FILE").unwrap_or_default(),
        )
}

fn credentials(t: &Table, host: &Host, process_key: Option<&str>) -> Result<CredentialView, Stop> {
    let profile = host.profile_name().to_string();
    if let (Some(named), OnBad::Stop(says)) = (host.var("AWS_PROFILE"), t.missing_profile()) {
        if !host.profile_exists(named) {
            return Err(Stop {
                at: StopAt::Credentials,
                sdk_says: fill(says, host, ""),
                why: format!("AWS_PROFILE names profile \"{named}\", which is in neither the config nor the credentials file"),
                fix: "fix AWS_PROFILE, or add the profile to ~/.aws/config".into(),
            });
        }
    }
    let mut skipped_env = false;
    for source in t.chain() {
        match source {
            Source::Environment => {
                if t.profile_skips_environment() && host.var("AWS_PROFILE").is_some() {
                    skipped_env = true;
                    continue;
                }
                let key = host.var("AWS_ACCESS_KEY_ID");
                let secret = host.var("AWS_SECRET_ACCESS_KEY");
                match (key, secret) {
                    (Some(k), Some(_)) => {
                        return Ok(CredentialView {
                            source: CredentialSource::Environment,
                            profile: None,
                            access_key_id: Some(mask_key_id(k)),
                            role_arn: None,
                            source_access_key_id: None,
                        })
                    }
                    (None, None) => {}
                    (k, _) => {
                        let (set, missing) = if k.is_some() {
                            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
                        } else {
                            ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
                        };
                        let rule = if k.is_some() {
                            t.partial_keys()
                        } else {
                            t.secret_without_key()
                        };
                        if let OnBad::Stop(says) = rule {
                            return Err(Stop {
                                at: StopAt::Credentials,
                                sdk_says: fill(says, host, missing),
                                why: format!("{set} is set but {missing} is not"),
                                fix: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the same credentials, or unset both".into(),
                            });
                        }
                    }
                }
            }
            Source::AssumeRoleProfile => {
                if host.key(&profile, "role_arn").is_some() {
                    if let Ok(view) = from_profile(host, &profile, process_key) {
                        return Ok(view);
                    }
                }
            }
            Source::WebIdentityEnv => {
                if let (Some(file), Some(role)) = (
                    host.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
                    host.var("AWS_ROLE_ARN"),
                ) {
                    if !Host::file_exists(file) {
                        if let OnBad::Stop(says) = t.missing_token_file() {
                            return Err(Stop {
                                at: StopAt::Credentials,
                                sdk_says: fill(says, host, ""),
                                why: format!("AWS_WEB_IDENTITY_TOKEN_FILE names {file}, which does not exist"),
                                fix: "check the projected service account token volume (EKS IRSA) or the CI's OIDC token step, or unset AWS_WEB_IDENTITY_TOKEN_FILE".into(),
                            });
                        }
                        continue;
                    }
                    return Ok(CredentialView {
                        source: CredentialSource::WebIdentity,
                        profile: None,
                        access_key_id: None,
                        role_arn: Some(role.to_string()),
                        source_access_key_id: None,
                    });
                }
            }
            Source::Profile => {
                if let Ok(view) = from_profile(host, &profile, process_key) {
                    return Ok(view);
                }
            }
            Source::Container => {
                if host.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
                    || host.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
                {
                    return Ok(bare(CredentialSource::Container));
                }
            }
            Source::InstanceMetadata => {
                let disabled = host
                    .var("AWS_EC2_METADATA_DISABLED")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                if !disabled {
                    return Ok(bare(CredentialSource::InstanceMetadata));
                }
            }
        }
    }
    let why = if skipped_env && host.var("AWS_ACCESS_KEY_ID").is_some() {
        format!("AWS_PROFILE=\"{profile}\" is set, so this SDK skips the environment's keys, and the profile supplies none")
    } else if host.var("AWS_PROFILE").is_some() && !host.profile_exists(&profile) {
        format!("profile \"{profile}\" (AWS_PROFILE) is in neither file, and no other source supplies credentials")
    } else {
        "no source in its chain supplies credentials (instance metadata is disabled or absent)"
            .to_string()
    };
    let fix = if skipped_env {
        "unset AWS_PROFILE to use the environment's keys, or give the profile credentials".into()
    } else {
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile with credentials".into()
    };
    Err(Stop {
        at: StopAt::Credentials,
        sdk_says: t.no_credentials().to_string(),
        why,
        fix,
    })
}

/// Credentials from `source` with nothing more known.
pub fn bare(source: CredentialSource) -> CredentialView {
    CredentialView {
        source,
        profile: None,
        access_key_id: None,
        role_arn: None,
        source_access_key_id: None,
    }
}

/// The credentials `profile` gives, as every SDK reads a profile: a role
/// (`role_arn` with `source_profile` or `credential_source`), keys, a web
/// identity token file, `credential_process`, SSO.
fn from_profile(
    host: &Host,
    profile: &str,
    process_key: Option<&str>,
) -> Result<CredentialView, ()> {
    let named = |source| CredentialView {
        source,
        profile: Some(profile.to_string()),
        access_key_id: None,
        role_arn: None,
        source_access_key_id: None,
    };
    if let Some(role) = host.key(profile, "role_arn") {
        let source_key = match (
            host.key(profile, "source_profile"),
            host.key(profile, "credential_source"),
        ) {
            (Some(src), _) => host.key(src, "aws_access_key_id").map(mask_key_id),
            (None, Some("Environment")) => host.var("AWS_ACCESS_KEY_ID").map(mask_key_id),
            _ => None,
        };
        if host.key(profile, "web_identity_token_file").is_some() {
            return Ok(CredentialView {
                role_arn: Some(role.to_string()),
                ..named(CredentialSource::WebIdentity)
            });
        }
        return Ok(CredentialView {
            role_arn: Some(role.to_string()),
            source_access_key_id: source_key,
            ..named(CredentialSource::AssumeRole)
        });
    }
    if let (Some(key), Some(_)) = (
        host.key(profile, "aws_access_key_id"),
        host.key(profile, "aws_secret_access_key"),
    ) {
        return Ok(CredentialView {
            access_key_id: Some(mask_key_id(key)),
            ..named(CredentialSource::Profile)
        });
    }
    if host.key(profile, "credential_process").is_some() {
        return Ok(CredentialView {
            access_key_id: process_key.map(str::to_string),
            ..named(CredentialSource::CredentialProcess)
        });
    }
    if host.key(profile, "sso_session").is_some() || host.key(profile, "sso_start_url").is_some() {
        return Ok(named(CredentialSource::Sso));
    }
    Err(())
}

fn region(t: &Table, host: &Host) -> Result<RegionView, Stop> {
    for var in t.region_variables() {
        if let Some(r) = host.var(var) {
            return Ok(RegionView {
                region: r.to_string(),
                source: (*var).to_string(),
            });
        }
    }
    let profile = host.profile_name();
    let in_config = host
        .config_section(profile)
        .and_then(|s| s.get("region"))
        .filter(|r| !r.is_empty());
    let in_credentials = host
        .credentials_section(profile)
        .and_then(|s| s.get("region"))
        .filter(|r| !r.is_empty());
    let config = in_config.map(|r| (r, "config"));
    let credentials = in_credentials.map(|r| (r, "credentials"));
    let found = match t.region_files() {
        RegionFiles::ConfigOnly => config,
        RegionFiles::CredentialsFirst => credentials.or(config),
        RegionFiles::ConfigFirst => config.or(credentials),
    };
    if let Some((r, file)) = found {
        return Ok(RegionView {
            region: r.clone(),
            source: format!("profile \"{profile}\" in the {file} file"),
        });
    }
    let reads = t.region_variables().join(" or ");
    let unread: Vec<String> = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter(|v| !t.region_variables().contains(v))
        .filter_map(|v| host.var(v).map(|x| format!("{v}={x}")))
        .collect();
    let ignored_file = match (t.region_files(), in_credentials) {
        (RegionFiles::ConfigOnly, Some(r)) => Some(r),
        _ => None,
    };
    let (why, fix) = if let Some(first) = unread.first() {
        let value = first.split_once('=').map_or("", |(_, v)| v);
        (
            format!("only {} is set, which this SDK does not read (it reads {reads} and the profile's region)", unread.join(", ")),
            format!("set {}={value} too", t.region_variables().first().unwrap_or(&"AWS_REGION")),
        )
    } else if let Some(r) = ignored_file {
        (
            format!("profile \"{profile}\" sets region = {r} in the credentials file, which this SDK reads keys from, not the region"),
            format!("move region = {r} to the profile in ~/.aws/config"),
        )
    } else {
        (
            format!("no region: {reads} is unset and profile \"{profile}\" sets none"),
            format!(
                "set {} or region in the profile in ~/.aws/config",
                t.region_variables().first().unwrap_or(&"AWS_REGION")
            ),
        )
    };
    Err(Stop {
        at: StopAt::Region,
        sdk_says: t.no_region().to_string(),
        why,
        fix,
    })
}

fn endpoints(t: &Table, host: &Host) -> Vec<Setting> {
    let honours = t.endpoints();
    let ignore = host
        .var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && honours.contains(&"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if ignore {
        return Vec::new();
    }
    let mut out: Vec<Setting> = ENDPOINT_VARIABLES
        .iter()
        .filter(|v| {
            honours.contains(v)
                || (v.starts_with("AWS_ENDPOINT_URL_")
                    && honours.contains(&"AWS_ENDPOINT_URL_<SERVICE>"))
        })
        .filter_map(|v| {
            host.var(v).map(|x| Setting {
                name: (*v).to_string(),
                value: x.to_string(),
            })
        })
        .collect();
    if honours.contains(&"endpoint_url") {
        let profile = host.profile_name();
        if let Some(url) = host
            .config_section(profile)
            .and_then(|s| s.get("endpoint_url"))
        {
            out.push(Setting {
                name: format!("profile \"{profile}\" key endpoint_url"),
                value: url.clone(),
            });
        }
    }
    out
}

fn trust(t: &Table, host: &Host) -> (Vec<Setting>, Vec<Setting>) {
    let honours = t.trust_roots();
    let mut set: Vec<(String, String, bool)> = TRUST_VARIABLES
        .iter()
        .filter_map(|v| {
            host.var(v)
                .map(|x| (v.to_string(), x.to_string(), honours.contains(v)))
        })
        .collect();
    let profile = host.profile_name();
    if let Some(path) = host
        .config_section(profile)
        .and_then(|s| s.get("ca_bundle"))
    {
        set.push((
            format!("profile \"{profile}\" key ca_bundle"),
            path.clone(),
            honours.contains(&"ca_bundle"),
        ));
    }
    let (honoured, ignored): (Vec<_>, Vec<_>) = set.into_iter().partition(|(_, _, h)| *h);
    let to = |v: Vec<(String, String, bool)>| {
        v.into_iter()
            .map(|(name, value, _)| Setting { name, value })
            .collect()
    };
    (to(honoured), to(ignored))
}

/// The families side by side, rule by rule, as the Markdown table of
/// docs/doctor.md ("Why does my app fail when the CLI works?"); a test
/// checks that the docs hold exactly this.
pub fn rules_markdown() -> String {
    let cell = |t: &Table, rule: &str| -> String {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let on = |o: OnBad| match o {
            OnBad::Stop(m) => format!("stops: \"{m}\""),
            OnBad::Skip => "moves on".to_string(),
        };
        match rule {
            "chain" => t
                .chain()
                .iter()
                .map(|s| match s {
                    Source::Environment => "env",
                    Source::AssumeRoleProfile => "role profile",
                    Source::WebIdentityEnv => "web identity",
                    Source::Profile => "profile",
                    Source::Container => "container",
                    Source::InstanceMetadata => "IMDS",
                })
                .collect::<Vec<_>>()
                .join(" → "),
            "region" => list(t.region_variables()),
            "region file" => match t.region_files() {
                RegionFiles::ConfigOnly => "config".into(),
                RegionFiles::CredentialsFirst => "credentials, then config".into(),
                RegionFiles::ConfigFirst => "config, then credentials".into(),
            },
            "no region" => format!("\"{}\"", t.no_region()),
            "profile" => {
                if t.profile_skips_environment() {
                    "**skips the env keys**".into()
                } else {
                    "env keys win".into()
                }
            }
            "partial" => on(t.partial_keys()),
            "secret" => on(t.secret_without_key()),
            "missing profile" => on(t.missing_profile()),
            "token" => on(t.missing_token_file()),
            "trust" => list(t.trust_roots()),
            _ => String::new(),
        }
    };
    let rows = [
        ("credential chain", "chain"),
        ("region variables", "region"),
        ("profile's `region` from", "region file"),
        ("no region", "no region"),
        ("`AWS_PROFILE` with env keys", "profile"),
        ("`AWS_ACCESS_KEY_ID` without secret", "partial"),
        ("secret without `AWS_ACCESS_KEY_ID`", "secret"),
        ("`AWS_PROFILE` names no profile", "missing profile"),
        ("web identity token file missing", "token"),
        ("trusted roots from", "trust"),
    ];
    let mut out = String::from("| | ");
    out.push_str(
        &TABLES
            .iter()
            .map(|t| t.sdk.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(TABLES.len()));
    out.push('\n');
    for (label, rule) in rows {
        out.push_str(&format!("| {label} | "));
        out.push_str(
            &TABLES
                .iter()
                .map(|t| cell(t, rule))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        out.push_str(" |\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(env: &[(&str, &str)], config: &str, credentials: &str) -> Host {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string())])
            .collect();
        Host::from_parts(&env, config, credentials)
    }

    fn view(sdk: Sdk, h: &Host) -> SdkView {
        predict(table(sdk), h, None)
    }

    const KEYS: &[(&str, &str)] = &[
        ("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE000001"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ];
    const PROD: &str =
        "[prod]\naws_access_key_id = AKIAPRODEXAMPLE00002\naws_secret_access_key = s\n";

    #[test]
    fn every_family_has_a_table_with_sources() {
        for (sdk, t) in Sdk::ALL.iter().zip(TABLES) {
            assert_eq!(t.sdk, *sdk);
            assert!(!t.chain().is_empty(), "{sdk}");
            assert!(t.rows.iter().all(|r| !r.source.is_empty()), "{sdk}");
            assert_eq!(Sdk::parse(sdk.as_str()), Ok(*sdk));
        }
        let e = Sdk::parse("cobol").unwrap_err();
        assert!(
            e.contains("cobol") && e.contains("rust, python, js, go, java, dotnet"),
            "{e}"
        );
    }

    #[test]
    fn aws_profile_with_environment_keys_splits_js_from_the_rest() {
        let mut env = KEYS.to_vec();
        env.push(("AWS_PROFILE", "prod"));
        let h = host(&env, "", PROD);
        let js = view(Sdk::Js, &h);
        let c = js.credentials.unwrap();
        assert_eq!(c.source, CredentialSource::Profile);
        assert_eq!(c.access_key_id.as_deref(), Some("AKIA************0002"));
        for sdk in [Sdk::Python, Sdk::Go, Sdk::Java, Sdk::Dotnet] {
            let c = view(sdk, &h).credentials.unwrap();
            assert_eq!(c.source, CredentialSource::Environment, "{sdk}");
        }
    }

    #[test]
    fn only_aws_default_region_stops_js_with_region_is_missing() {
        let h = host(KEYS, "", "");
        let js = view(Sdk::Js, &h);
        let stop = js.stop.unwrap();
        assert_eq!(stop.at, StopAt::Region);
        assert_eq!(stop.sdk_says, "Region is missing");
        assert!(
            stop.why
                .contains("only AWS_DEFAULT_REGION=us-east-1 is set"),
            "{}",
            stop.why
        );
        assert_eq!(stop.fix, "set AWS_REGION=us-east-1 too");
        let py = view(Sdk::Python, &h);
        assert_eq!(py.stop, None);
        assert_eq!(py.region.unwrap().source, "AWS_DEFAULT_REGION");
        assert!(view(Sdk::Java, &h).stop.is_some());
        assert!(view(Sdk::Go, &h).stop.is_none());
    }

    #[test]
    fn partial_keys_stop_python_only() {
        let h = host(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAPARTEXAMPLE00003"),
                ("AWS_REGION", "eu-west-1"),
            ],
            "",
            PROD.replace("[prod]", "[default]").as_str(),
        );
        let py = view(Sdk::Python, &h).stop.unwrap();
        assert_eq!(
            py.sdk_says,
            "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY"
        );
        // A lone secret is ignored by botocore: the profile is used.
        let secret_only = host(
            &[
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
            ],
            "",
            PROD.replace("[prod]", "[default]").as_str(),
        );
        assert_eq!(view(Sdk::Python, &secret_only).stop, None);
        // No credentials at all: botocore names the region first.
        let none = host(&[("AWS_REGION", "eu-west-1")], "", "");
        assert_eq!(
            view(Sdk::Python, &none).stop.unwrap().sdk_says,
            "You must specify a region."
        );
        let js = view(Sdk::Js, &h);
        assert_eq!(js.stop, None);
        assert_eq!(js.credentials.unwrap().source, CredentialSource::Profile);
    }

    #[test]
    fn region_in_the_credentials_file_is_read_by_js_not_python() {
        let creds = "[default]\naws_access_key_id = AKIAPRODEXAMPLE00002\naws_secret_access_key = s\nregion = ap-south-1\n";
        let h = host(&[], "", creds);
        assert_eq!(view(Sdk::Js, &h).region.unwrap().region, "ap-south-1");
        // botocore merges the credentials file's profile over the config
        // file's: the conformance test found it reads the region there too.
        assert_eq!(view(Sdk::Python, &h).region.unwrap().region, "ap-south-1");
    }

    #[test]
    fn roles_processes_and_missing_files() {
        let config = "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/App\nsource_profile = base\nregion = eu-west-1\n[profile proc]\ncredential_process = /bin/creds\n";
        let creds = "[base]\naws_access_key_id = AKIABASEXAMPLE000004\naws_secret_access_key = s\n";
        let h = host(&[("AWS_PROFILE", "app")], config, creds);
        let c = view(Sdk::Js, &h).credentials.unwrap();
        assert_eq!(c.source, CredentialSource::AssumeRole);
        assert_eq!(
            c.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/App")
        );
        assert_eq!(
            c.source_access_key_id.as_deref(),
            Some("AKIA************0004")
        );
        let h = host(
            &[("AWS_PROFILE", "proc"), ("AWS_REGION", "eu-west-1")],
            config,
            creds,
        );
        let c = predict(table(Sdk::Python), &h, Some("AKIA****X"))
            .credentials
            .unwrap();
        assert_eq!(c.source, CredentialSource::CredentialProcess);
        assert_eq!(c.access_key_id.as_deref(), Some("AKIA****X"));
        let h = host(
            &[("AWS_PROFILE", "nope"), ("AWS_REGION", "eu-west-1")],
            config,
            creds,
        );
        assert_eq!(
            view(Sdk::Python, &h).stop.unwrap().sdk_says,
            "The config profile (nope) could not be found"
        );
        assert_eq!(
            view(Sdk::Js, &h).stop.unwrap().sdk_says,
            "Could not load credentials from any providers"
        );
        let h = host(
            &[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
                ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/W"),
                ("AWS_REGION", "eu-west-1"),
            ],
            "",
            "",
        );
        assert!(view(Sdk::Js, &h).stop.unwrap().sdk_says.contains("ENOENT"));
        assert!(view(Sdk::Java, &h)
            .stop
            .unwrap()
            .sdk_says
            .contains("Unable to load credentials"));
    }

    #[test]
    fn trust_roots_each_family_honours() {
        let h = host(
            &[("AWS_CA_BUNDLE", "/ca.pem"), ("SSL_CERT_FILE", "/ssl.pem")],
            "",
            "",
        );
        let names = |v: &[Setting]| v.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let js = view(Sdk::Js, &h);
        assert!(js.trust_roots.is_empty());
        assert_eq!(
            names(&js.trust_roots_ignored),
            ["AWS_CA_BUNDLE", "SSL_CERT_FILE"]
        );
        let py = view(Sdk::Python, &h);
        assert_eq!(names(&py.trust_roots), ["AWS_CA_BUNDLE"]);
        assert_eq!(names(&py.trust_roots_ignored), ["SSL_CERT_FILE"]);
    }

    #[test]
    fn the_docs_table_is_the_tables() {
        let docs = include_str!("../../../docs/doctor.md");
        let start = "<!-- sdk-rules: rules_markdown() in src/doctor/sdks/mod.rs -->\n";
        let from = docs.find(start).expect("the docs' rules table marker") + start.len();
        let to = from + docs[from..].find("<!-- /sdk-rules -->").expect("its end");
        assert_eq!(
            &docs[from..to],
            rules_markdown(),
            "docs/doctor.md's rules table differs from the tables: paste rules_markdown()"
        );
    }
}
