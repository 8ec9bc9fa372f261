//! Who denied it: the policy layer an AWS access-denied message names
//! (`... because no <type> allows ...` for an implicit deny, `... with an
//! explicit deny in a <type>` for an explicit one), whether the deny was
//! explicit, and the denying policy's ARN when AWS appends it. Older
//! messages name no layer: `unknown`.

use serde::{Deserialize, Serialize};

/// The policy layers AWS names in its access-denied messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The principal's own (identity-based) policies.
    IdentityPolicy,
    /// A permissions boundary on the principal.
    PermissionsBoundary,
    /// A session policy passed when the session was created.
    SessionPolicy,
    /// An AWS Organizations service control policy.
    Scp,
    /// An AWS Organizations resource control policy.
    Rcp,
    /// The VPC endpoint's policy.
    VpcEndpointPolicy,
    /// The resource's own policy (a table's resource-based policy).
    ResourcePolicy,
    /// A role's trust policy (AssumeRole).
    TrustPolicy,
    /// The message names no layer.
    Unknown,
}

impl Layer {
    /// The name used in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::IdentityPolicy => "identity_policy",
            Layer::PermissionsBoundary => "permissions_boundary",
            Layer::SessionPolicy => "session_policy",
            Layer::Scp => "scp",
            Layer::Rcp => "rcp",
            Layer::VpcEndpointPolicy => "vpc_endpoint_policy",
            Layer::ResourcePolicy => "resource_policy",
            Layer::TrustPolicy => "trust_policy",
            Layer::Unknown => "unknown",
        }
    }

    /// Who can change it, and what to look at: the first line of a page.
    pub fn hint(self, explicit: bool) -> &'static str {
        match (self, explicit) {
            (Layer::IdentityPolicy, false) => "no policy of the role allows this action on this table: add it to the role's policy (for a deployed canary, redeploy with deploy-params)",
            (Layer::IdentityPolicy, true) => "a Deny statement in one of the role's own policies refuses this action: find it in the role's inline and attached policies",
            (Layer::PermissionsBoundary, _) => "the role's permissions boundary does not allow this action: whoever set the boundary (often a platform or security team) must widen it",
            (Layer::SessionPolicy, _) => "the session policy passed when the session was created limits it: change what the assuming code passes (AssumeRole Policy/PolicyArns) or the SSO permission set",
            (Layer::Scp, _) => "an AWS Organizations service control policy refuses it: only the organization's administrators can change SCPs",
            (Layer::Rcp, _) => "an AWS Organizations resource control policy refuses it: only the organization's administrators can change RCPs",
            (Layer::VpcEndpointPolicy, _) => "the VPC endpoint's policy refuses it: the endpoint's owner (the network or platform team) must allow this table and action",
            (Layer::ResourcePolicy, _) => "the table's resource-based policy refuses it: the table's owner must change its resource policy",
            (Layer::TrustPolicy, _) => "the role's trust policy does not accept this caller (or the external id): the role's owner must trust the canary's role",
            (Layer::Unknown, _) => "IAM refused this action: add the action on this table's ARN to the role's policy, and check permission boundaries, SCPs, VPC endpoint and resource policies",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which policy layer denied a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedBy {
    /// The layer.
    pub layer: Layer,
    /// An explicit Deny, rather than no Allow.
    pub explicit: bool,
    /// The denying policy's ARN, when AWS names it.
    pub policy_arn: Option<String>,
}

impl DeniedBy {
    /// One line for people: `explicit deny in an SCP (arn:...)`.
    pub fn describe(&self) -> String {
        let kind = if self.explicit {
            "explicit deny in"
        } else {
            "no allow in"
        };
        let what = match self.layer {
            Layer::Unknown => return "no policy layer named by AWS".to_string(),
            l => l.as_str(),
        };
        match &self.policy_arn {
            Some(arn) => format!("{kind} {what} ({arn})"),
            None => format!("{kind} {what}"),
        }
    }
}

/// The phrases AWS uses for each layer, longest first where one contains
/// another ("VPC endpoint policy transitively through a service control
/// policy" is the VPC endpoint's policy).
const PHRASES: &[(&str, Layer)] = &[
    ("vpc endpoint policy", Layer::VpcEndpointPolicy),
    ("identity-based policy", Layer::IdentityPolicy),
    ("permissions boundary", Layer::PermissionsBoundary),
    ("sessions policy", Layer::SessionPolicy),
    ("session policy", Layer::SessionPolicy),
    ("service control policy", Layer::Scp),
    ("resource control policy", Layer::Rcp),
    ("resource-based policy", Layer::ResourcePolicy),
    ("role trust policy", Layer::TrustPolicy),
    ("trust policy", Layer::TrustPolicy),
];

/// Reads the layer from an access-denied message; `Unknown` when the
/// message has no reason clause.
pub fn denied_by(message: &str) -> DeniedBy {
    let lower = message.to_ascii_lowercase();
    let clause = [("with an explicit deny in ", true), ("because no ", false)]
        .iter()
        .find_map(|(marker, explicit)| lower.find(marker).map(|i| (i + marker.len(), *explicit)));
    let Some((start, explicit)) = clause else {
        return DeniedBy {
            layer: Layer::Unknown,
            explicit: false,
            policy_arn: None,
        };
    };
    let rest = &lower[start..];
    let layer = PHRASES
        .iter()
        .filter_map(|(phrase, layer)| rest.find(phrase).map(|at| (at, *layer)))
        .min_by_key(|(at, _)| *at)
        .map_or(Layer::Unknown, |(_, l)| l);
    // The ARN follows the layer after a colon; take it from the original
    // text (ARNs are case-sensitive).
    let policy_arn = message[start..]
        .find(": arn:")
        .map(|i| &message[start + i + 2..])
        .map(|arn| {
            arn.split(|c: char| c.is_whitespace() || c == ',' || c == ')' || c == '"')
                .next()
                .unwrap_or(arn)
                .trim_end_matches('.')
                .to_string()
        });
    DeniedBy {
        layer,
        explicit,
        policy_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "User: arn:aws:sts::123456789012:assumed-role/CanaryRole/canary is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders";

    #[test]
    fn every_layer_explicit_and_implicit_with_and_without_arn() {
        let cases = [
            ("identity-based policy", Layer::IdentityPolicy),
            ("permissions boundary", Layer::PermissionsBoundary),
            ("session policy", Layer::SessionPolicy),
            ("sessions policy", Layer::SessionPolicy),
            ("service control policy", Layer::Scp),
            ("resource control policy", Layer::Rcp),
            ("VPC endpoint policy", Layer::VpcEndpointPolicy),
            (
                "VPC endpoint policy transitively through a service control policy",
                Layer::VpcEndpointPolicy,
            ),
            ("resource-based policy", Layer::ResourcePolicy),
            ("role trust policy", Layer::TrustPolicy),
        ];
        let arn = "arn:aws:organizations::111122223333:policy/o-abcd1234/service_control_policy/p-abcd1234";
        for (phrase, layer) in cases {
            let implicit = format!("{HEAD} because no {phrase} allows the dynamodb:GetItem action");
            assert_eq!(
                denied_by(&implicit),
                DeniedBy {
                    layer,
                    explicit: false,
                    policy_arn: None
                },
                "{implicit}"
            );
            let explicit = format!("{HEAD} with an explicit deny in a {phrase}");
            assert_eq!(
                denied_by(&explicit),
                DeniedBy {
                    layer,
                    explicit: true,
                    policy_arn: None
                },
                "{explicit}"
            );
            let with_arn = format!("{HEAD} with an explicit deny in a {phrase}: {arn}");
            assert_eq!(
                denied_by(&with_arn),
                DeniedBy {
                    layer,
                    explicit: true,
                    policy_arn: Some(arn.into())
                },
                "{with_arn}"
            );
            let implicit_arn =
                format!("{HEAD} because no {phrase} allows the dynamodb:GetItem action: {arn}.");
            assert_eq!(denied_by(&implicit_arn).policy_arn.as_deref(), Some(arn));
        }
    }

    #[test]
    fn no_reason_clause_is_unknown() {
        let d = denied_by(HEAD);
        assert_eq!(d.layer, Layer::Unknown);
        assert!(!d.explicit);
        assert_eq!(d.describe(), "no policy layer named by AWS");
        // The table's ARN in the head is not taken for a policy ARN.
        assert!(denied_by(&format!(
            "{HEAD} because no identity-based policy allows the dynamodb:GetItem action"
        ))
        .policy_arn
        .is_none());
    }

    /// The ARN of the denying policy ends where the message's punctuation
    /// does; an ARN before the reason clause is never taken for it, even
    /// right before it; the layer prints as its name.
    #[test]
    fn policy_arns_end_at_punctuation_and_start_after_the_clause() {
        let deny = "with an explicit deny in a service control policy: ";
        let arn = "arn:aws:organizations::123456789012:policy/o-a1/service_control_policy/p-1";
        for end in [" and more", ", then", ") x", "\" x", "."] {
            let d = denied_by(&format!("User: u is not authorized {deny}{arn}{end}"));
            assert_eq!(d.policy_arn.as_deref(), Some(arn), "{end:?}");
            assert_eq!(d.layer, Layer::Scp);
        }
        let d = denied_by("U: arn:u because no identity-based policy allows it");
        assert_eq!(d.layer, Layer::IdentityPolicy);
        assert_eq!(d.policy_arn, None);
        assert_eq!(Layer::Scp.to_string(), "scp");
        assert_eq!(Layer::TrustPolicy.to_string(), Layer::TrustPolicy.as_str());
    }

    #[test]
    fn hints_name_who_can_fix_it() {
        assert!(Layer::Scp
            .hint(true)
            .contains("organization's administrators"));
        assert!(Layer::VpcEndpointPolicy
            .hint(false)
            .contains("endpoint's owner"));
        assert!(Layer::PermissionsBoundary
            .hint(false)
            .contains("whoever set the boundary"));
        for l in [
            Layer::IdentityPolicy,
            Layer::SessionPolicy,
            Layer::Rcp,
            Layer::ResourcePolicy,
            Layer::TrustPolicy,
            Layer::Unknown,
        ] {
            assert!(l.hint(false).len() > 40);
        }
        let d = DeniedBy {
            layer: Layer::Scp,
            explicit: true,
            policy_arn: Some("arn:x".into()),
        };
        assert_eq!(d.describe(), "explicit deny in scp (arn:x)");
    }
}
