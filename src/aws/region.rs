//! The canary's own region and where it came from (`--region`,
//! `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile), parsed into a
//! [`Region`](crate::config::Region) or refused by the name of its source.

use crate::config::Region as CanaryRegion;
use crate::env::env_var;
use crate::error::ConfigError;
use aws_config::SdkConfig;

/// Where the region came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegionSource {
    /// The region.
    pub region: CanaryRegion,
    /// `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION` or `profile`.
    pub source: String,
}

pub(crate) fn resolve(flag_given: bool, sdk: &SdkConfig) -> Result<RegionSource, ConfigError> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            let blank = ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find(|v| std::env::var(v).is_ok_and(|x| x.trim().is_empty()));
            match blank {
                Some(var) => ConfigError::Flag {
                    flag: var.into(),
                    message: "is set but empty (and nothing else names a region): set it to a region such as us-east-1, or unset it".into(),
                },
                None => ConfigError::NoRegion,
            }
        })?;
    let source = if flag_given {
        "--region"
    } else if env_var("AWS_REGION").as_deref() == Some(region.as_str()) {
        "AWS_REGION"
    } else if env_var("AWS_DEFAULT_REGION").as_deref() == Some(region.as_str()) {
        "AWS_DEFAULT_REGION"
    } else {
        "profile"
    };
    let region = CanaryRegion::parse(region).map_err(|message| ConfigError::Flag {
        flag: source.to_string(),
        message,
    })?;
    Ok(RegionSource {
        region,
        source: source.to_string(),
    })
}
