//! The canary's own credentials: resolved once before any call (their
//! provider's failure, or their expiry), and the problems that the SDK's
//! provider chain hides but that every other SDK on the host would stop at:
//! access keys set only in part, and a selected profile that does not exist.
//! Found before any request, so every run reports them the same way
//! (`credentials_error`, naming what is wrong).

use crate::classify::{Class, Failure};
use crate::env::env_var;
use aws_config::profile::ProfileSet;

/// Why the profile provider had nothing: the selected profile does not exist.
/// The provider itself flattens aws-config's `ProfileFileError` into a
/// message (`CredentialsError::not_loaded(format!(..))`), so the typed
/// answer comes from reading the profile files the way it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileAbsence {
    /// The config and credentials files define no profile at all
    /// (aws-config's `ProfileFileError::NoProfilesDefined`).
    NoProfilesDefined,
    /// Profiles exist, but not the selected one
    /// (aws-config's `ProfileFileError::MissingProfile` for the root profile).
    MissingProfile,
}

pub async fn profile_absence(profile: &str) -> Option<ProfileAbsence> {
    use aws_types::os_shim_internal::{Env, Fs};
    let set = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &Default::default(),
        Some(profile.to_string().into()),
    )
    .await
    .ok()?;
    absence_in(&set, profile)
}

fn absence_in(set: &ProfileSet, profile: &str) -> Option<ProfileAbsence> {
    if set.is_empty() {
        Some(ProfileAbsence::NoProfilesDefined)
    } else if set.get_profile(profile).is_none() {
        Some(ProfileAbsence::MissingProfile)
    } else {
        None
    }
}

/// The config and credentials files the SDK reads, as it names them.
pub fn profile_files() -> (String, String) {
    (
        env_var("AWS_CONFIG_FILE").unwrap_or_else(|| "~/.aws/config".into()),
        env_var("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| "~/.aws/credentials".into()),
    )
}

/// Only one of the two access-key variables is set: botocore and the AWS
/// CLI stop with "partial credentials"; the Rust SDK would quietly use the
/// next provider, so the canary would check credentials nobody else uses.
pub fn partial_environment() -> Option<Failure> {
    let key = env_var("AWS_ACCESS_KEY_ID").is_some();
    let secret = env_var("AWS_SECRET_ACCESS_KEY").is_some();
    let (set, missing) = match (key, secret) {
        (true, false) => ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        (false, true) => ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
        _ => return None,
    };
    Some(Failure::new(
        Class::CredentialsError,
        format!("{set} is set but {missing} is not: botocore and the AWS CLI stop here (partial credentials), while the Rust SDK would skip to the next provider; set both, or neither"),
    ))
}

/// The selected profile (`--profile`, else `AWS_PROFILE`) does not exist,
/// and no environment keys come before it in the chain.
pub async fn missing_profile(flag: Option<&str>) -> Option<Failure> {
    let profile = flag
        .map(str::to_string)
        .or_else(|| env_var("AWS_PROFILE"))?;
    if flag.is_none() && env_var("AWS_ACCESS_KEY_ID").is_some() {
        return None;
    }
    let absence = profile_absence(&profile).await?;
    let (config, credentials) = profile_files();
    let why = match absence {
        ProfileAbsence::NoProfilesDefined => "neither file defines any profile",
        ProfileAbsence::MissingProfile => "neither file defines it",
    };
    Some(Failure::new(
        Class::CredentialsError,
        format!(
            "profile \"{profile}\" does not exist: searched {config} and {credentials}, and {why}"
        ),
    ))
}

/// The first credential problem of the environment, if any.
pub async fn problem(profile_flag: Option<&str>) -> Option<Failure> {
    match partial_environment() {
        Some(f) => Some(f),
        None => missing_profile(profile_flag).await,
    }
}

/// Resolves the canary's own credentials once, within `timeout`, before
/// any call: a provider that fails (a container endpoint that refuses, a
/// web identity token file that is missing) fails every call of the run
/// alike, with the provider's own error rather than a call's timeout.
/// Returns the seconds before they expire, when known: from the provider
/// (SSO, assumed roles, containers) or, for keys from the environment,
/// from `AWS_CREDENTIAL_EXPIRATION`.
pub async fn resolve(
    sdk: &aws_config::SdkConfig,
    timeout: std::time::Duration,
) -> Result<Option<i64>, Failure> {
    use crate::classify::classify_credentials_error;
    use aws_credential_types::provider::ProvideCredentials;
    let Some(provider) = sdk.credentials_provider() else {
        return Ok(None);
    };
    // Name the source the SDK's own error leaves out.
    let container = missing_web_identity_token().or_else(|| {
        env_var("AWS_CONTAINER_CREDENTIALS_FULL_URI").map(|u| {
            format!("the container credentials endpoint {u} (AWS_CONTAINER_CREDENTIALS_FULL_URI)")
        })
    });
    let creds = match tokio::time::timeout(timeout, provider.provide_credentials()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            let mut f = classify_credentials_error(&e);
            if let (Some(c), Class::CredentialsError) = (&container, f.class) {
                f.message = format!("{c}: {}", f.message);
            }
            return Err(f);
        }
        Err(_) => {
            let source = container.unwrap_or_else(|| "the credential provider chain".into());
            return Err(Failure::new(
                Class::CredentialsError,
                format!(
                    "{source} supplied no credentials within {} ms",
                    timeout.as_millis()
                ),
            ));
        }
    };
    let expiry = creds.expiry().or_else(|| {
        let text = env_var("AWS_CREDENTIAL_EXPIRATION")?;
        let dt = aws_smithy_types::DateTime::from_str(
            &text,
            aws_smithy_types::date_time::Format::DateTime,
        )
        .ok()?;
        std::time::SystemTime::try_from(dt).ok()
    });
    Ok(expiry.map(crate::clock::seconds_from_now))
}

/// `AWS_WEB_IDENTITY_TOKEN_FILE` names a file that does not exist.
pub fn missing_web_identity_token() -> Option<String> {
    let path = env_var("AWS_WEB_IDENTITY_TOKEN_FILE")?;
    (!std::path::Path::new(&path).exists())
        .then(|| format!("AWS_WEB_IDENTITY_TOKEN_FILE names {path}, which does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_types::os_shim_internal::{Env, Fs};

    async fn set(files: &[(&str, &str)], profile: &str) -> ProfileSet {
        let env = Env::from_slice(&[
            ("AWS_CONFIG_FILE", "/c/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/c/credentials"),
        ]);
        aws_config::profile::load(
            &Fs::from_slice(files),
            &env,
            &Default::default(),
            Some(profile.to_string().into()),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn absent_profiles_are_told_apart() {
        let none = set(&[], "ops").await;
        assert_eq!(
            absence_in(&none, "ops"),
            Some(ProfileAbsence::NoProfilesDefined)
        );
        let files = [
            ("/c/config", "[profile real]\nregion = us-east-1\n"),
            ("/c/credentials", "[ops]\naws_access_key_id = AKIAX\n"),
        ];
        let other = set(&files, "prod-typo").await;
        assert_eq!(
            absence_in(&other, "prod-typo"),
            Some(ProfileAbsence::MissingProfile)
        );
        assert_eq!(absence_in(&other, "real"), None);
        // A profile only in the credentials file exists too.
        assert_eq!(absence_in(&other, "ops"), None);
    }
}
