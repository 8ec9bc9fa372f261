//! Cross-account targets: STS AssumeRole for a target's `role_arn`, with the
//! credentials cached across probes and warm invocations and refreshed
//! before they expire; a refused AssumeRole is classified `assume_role_denied`.

use crate::aws::call::bounded;
use crate::aws::clients::AwsClients;
use crate::classify::{Class, Failure};
use crate::plan::RoleSpec;
use aws_credential_types::Credentials;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Credentials are re-assumed when fewer than this many seconds remain.
pub const REFRESH_BEFORE_SECONDS: u64 = 300;

/// An assumed role, with a DynamoDB client per region signing as it.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    /// The assumed-role ARN (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`).
    pub arn: String,
    /// When the credentials expire.
    pub expires_at: SystemTime,
    credentials: Credentials,
    clients: HashMap<String, aws_sdk_dynamodb::Client>,
}

impl AssumedRole {
    /// Seconds left before expiry (negative once expired).
    pub fn seconds_to_expiry(&self) -> i64 {
        crate::clock::seconds_from_now(self.expires_at)
    }
}

/// The cache of assumed roles of one process.
#[derive(Debug, Default)]
pub struct RoleCache {
    roles: Mutex<HashMap<RoleSpec, AssumedRole>>,
}

impl RoleCache {
    /// A DynamoDB client for `region` signing as the role, assuming it (or
    /// re-assuming it near expiry) when needed.
    pub async fn client_for(
        &self,
        clients: &AwsClients,
        key: &RoleSpec,
        region: &str,
        timeout: Duration,
    ) -> Result<(aws_sdk_dynamodb::Client, AssumedRole), Failure> {
        let cached = self.lock().get(key).cloned();
        let mut role = match cached {
            Some(r) if r.seconds_to_expiry() > REFRESH_BEFORE_SECONDS as i64 => r,
            _ => assume(clients, key, timeout).await?,
        };
        let client = role
            .clients
            .entry(region.to_string())
            .or_insert_with(|| clients.dynamodb_as(region, role.credentials.clone()))
            .clone();
        self.lock().insert(key.clone(), role.clone());
        Ok((client, role))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoleSpec, AssumedRole>> {
        self.roles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn assume(
    clients: &AwsClients,
    key: &RoleSpec,
    timeout: Duration,
) -> Result<AssumedRole, Failure> {
    let call = clients
        .sts()
        .assume_role()
        .role_arn(key.role_arn.as_str())
        .role_session_name(key.session_name.as_str())
        .set_external_id(key.external_id.as_ref().map(|e| e.as_str().to_string()))
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_sts, timeout))
        .send();
    let out = bounded("AssumeRole", timeout, call)
        .await
        .map_err(|f| assume_failure(f, key.role_arn.as_str()))?;
    let c = out
        .credentials()
        .ok_or_else(|| Failure::new(Class::Other, "AssumeRole returned no credentials"))?;
    let expires_at = SystemTime::try_from(*c.expiration()).unwrap_or_else(|_| SystemTime::now());
    let credentials = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        Some(expires_at),
        "AssumeRole",
    );
    Ok(AssumedRole {
        arn: out
            .assumed_role_user()
            .map(|u| u.arn().to_string())
            .unwrap_or_default(),
        expires_at,
        credentials,
        clients: HashMap::new(),
    })
}

/// Turns an AssumeRole access denial into `assume_role_denied`, telling the
/// caller's missing permission apart from the role's trust policy where the
/// message allows.
pub fn assume_failure(mut f: Failure, role_arn: &str) -> Failure {
    if f.class != Class::AccessDenied {
        return f;
    }
    use crate::classify::explain::Layer;
    let why = match f.denied_by.as_ref().map(|d| d.layer) {
        Some(Layer::IdentityPolicy) => {
            "the caller's own policies do not allow sts:AssumeRole on this role"
        }
        Some(Layer::TrustPolicy) | Some(Layer::ResourcePolicy) => {
            "the role's trust policy does not accept this caller (or the external id)"
        }
        Some(Layer::Scp) | Some(Layer::Rcp) | Some(Layer::PermissionsBoundary) | Some(Layer::SessionPolicy) | Some(Layer::VpcEndpointPolicy) => {
            "a policy above the caller and the role refuses it (see denied_by)"
        }
        Some(Layer::Unknown) | None => {
            "either the caller lacks sts:AssumeRole on this role, or the role's trust policy (or external id) does not accept the caller"
        }
    };
    // A resource-based denial of AssumeRole is the trust policy.
    if let Some(d) = f.denied_by.as_mut() {
        if d.layer == Layer::ResourcePolicy {
            d.layer = Layer::TrustPolicy;
        }
    }
    f.class = Class::AssumeRoleDenied;
    f.message = format!(
        "AssumeRole {role_arn} refused: {why}. AWS said: {}",
        f.message
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_reasons_are_told_apart() {
        let d = |m: &str| Failure {
            denied_by: Some(Box::new(crate::classify::explain::denied_by(m))),
            ..Failure::new(Class::AccessDenied, m)
        };
        let f = assume_failure(d("User: u is not authorized to perform: sts:AssumeRole on resource: r because no identity-based policy allows the sts:AssumeRole action"), "r");
        assert_eq!(f.class, Class::AssumeRoleDenied);
        assert!(f.message.contains("caller's own policies"), "{}", f.message);
        let f = assume_failure(d("User: u is not authorized to perform: sts:AssumeRole on resource: r because no resource-based policy allows the sts:AssumeRole action"), "r");
        assert!(f.message.contains("trust policy"), "{}", f.message);
        assert_eq!(
            f.denied_by.unwrap().layer,
            crate::classify::explain::Layer::TrustPolicy
        );
        let f = assume_failure(
            d("User: u is not authorized to perform: sts:AssumeRole"),
            "r",
        );
        assert!(f.message.contains("either"), "{}", f.message);
        let f = assume_failure(Failure::new(Class::Timeout, "slow"), "r");
        assert_eq!(f.class, Class::Timeout);
    }
}
