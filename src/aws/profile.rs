//! The selected profile's settings as the SDK reads them: `--profile`,
//! else `AWS_PROFILE`, else `default`, from the config and credentials
//! files. Each value comes back with the words that name where it is.

use crate::env::env_var;

/// The profile that is selected: the flag, else `AWS_PROFILE`, else `default`.
pub fn selected(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| env_var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_string())
}

/// `key` of the selected profile, with its origin
/// (`profile "ops" key ca_bundle`), if the profile sets it.
pub async fn setting(flag: Option<&str>, key: &str) -> Option<(String, String)> {
    use aws_types::os_shim_internal::{Env, Fs};
    let selected = selected(flag);
    let set = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &Default::default(),
        Some(selected.clone().into()),
    )
    .await
    .ok()?;
    let value = set.get_profile(&selected)?.get(key)?.to_string();
    Some((format!("profile \"{selected}\" key {key}"), value))
}
