//! What a configuration asks for, as units of work: one per (target,
//! region) for listed regions, so that a slow region cannot hide the others
//! when the deadline passes, and one per replica target, whose regions are
//! known only after discovery. The run, the cost estimate and anything that
//! derives permissions read the configuration through this one plan.

use crate::config::{
    AttributeName, Config, Expectation, ExternalId, ProbeKind, Probes, Region, Regions, RoleArn,
    SentinelKey, SessionName, TableRef,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The role a cross-account target is probed as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleSpec {
    /// The role to assume.
    pub role_arn: RoleArn,
    /// The external id, if any.
    pub external_id: Option<ExternalId>,
    /// The session name.
    pub session_name: SessionName,
}

/// Where a unit runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// One known region.
    Region(Region),
    /// A global table: DescribeTable in `home`, then every replica region.
    Replicas {
        /// Where the replicas are discovered.
        home: Region,
    },
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Index of the target in the configuration.
    pub target: usize,
    /// The table.
    pub table: TableRef,
    /// The probes, in run order.
    pub probes: Probes,
    /// allow or deny.
    pub expect: Expectation,
    /// The configured sentinel key, if any (else derived from the schema).
    pub key: Option<SentinelKey>,
    /// TTL attribute of the sentinel item.
    pub ttl_attribute: AttributeName,
    /// Per-probe timeout.
    pub timeout: Duration,
    /// The role to probe as, for cross-account targets.
    pub role: Option<RoleSpec>,
    /// Where it runs.
    pub placement: Placement,
}

impl Unit {
    /// The region the unit starts in (its only region, or the replicas' home).
    pub fn first_region(&self) -> &Region {
        match &self.placement {
            Placement::Region(r) | Placement::Replicas { home: r } => r,
        }
    }

    /// The probe ids a unit reports if it cannot run: each probe in its
    /// region, or for replica targets the home region's (nothing else is
    /// known before discovery).
    pub fn planned(&self) -> Vec<ProbeId> {
        self.ids_in(self.first_region())
    }

    /// The probe ids of the unit's probes in `region`.
    pub fn ids_in(&self, region: &Region) -> Vec<ProbeId> {
        self.probes
            .kinds()
            .iter()
            .map(|k| self.id(region, *k))
            .collect()
    }

    /// The id of one probe.
    pub fn id(&self, region: &Region, probe: ProbeKind) -> ProbeId {
        ProbeId {
            table: self.table.clone(),
            region: region.clone(),
            probe,
            expect: self.expect,
        }
    }
}

/// The units of a configuration. `own_region` is the canary's region, used
/// by targets when neither they nor `defaults` name regions.
pub fn plan(config: &Config, own_region: &Region) -> Vec<Unit> {
    let home = config.defaults.regions.first().unwrap_or(own_region);
    let mut units = Vec::new();
    for (i, t) in config.targets.iter().enumerate() {
        let unit = |placement: Placement| Unit {
            target: i,
            table: t.table.clone(),
            probes: config.probes_for(t).clone(),
            expect: t.expect,
            key: t.key.clone(),
            ttl_attribute: t.ttl_attribute.clone().unwrap_or_default(),
            timeout: config.timeout_for(t).duration(),
            role: t.role_arn.as_ref().map(|arn| RoleSpec {
                role_arn: arn.clone(),
                external_id: t.external_id.clone(),
                session_name: t.session_name.clone().unwrap_or_default(),
            }),
            placement,
        };
        let regions: &[Region] = match &t.regions {
            Some(Regions::Replicas) => {
                let home = t.home_region.as_ref().unwrap_or(home).clone();
                units.push(unit(Placement::Replicas { home }));
                continue;
            }
            Some(Regions::List(l)) => l,
            None if config.defaults.regions.is_empty() => std::slice::from_ref(own_region),
            None => &config.defaults.regions,
        };
        units.extend(regions.iter().map(|r| unit(Placement::Region(r.clone()))));
    }
    units
}

/// Which probe a result is about: the table, region, probe and expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeId {
    /// Table name (or ARN, as configured).
    pub table: TableRef,
    /// Region probed.
    pub region: Region,
    /// describe, read or write.
    pub probe: ProbeKind,
    /// allow or deny.
    pub expect: Expectation,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(r: &str) -> Region {
        Region::parse(r).unwrap()
    }

    #[test]
    fn plan_expands_defaults_and_keeps_replicas_for_discovery() {
        let c = Config::from_json_str(
            r#"{"defaults":{"regions":["eu-west-1","us-west-2"]},
                "targets":[{"table":"aaa"},{"table":"bbb","regions":"replicas"},
                           {"table":"ccc","regions":["ap-south-1"],"home_region":"ap-south-1"},
                           {"table":"ddd","regions":"replicas","home_region":"sa-east-1","probes":["describe","read"]}]}"#,
            "t",
        )
        .unwrap();
        let units = plan(&c, &region("us-east-1"));
        let placements: Vec<&Placement> = units.iter().map(|u| &u.placement).collect();
        assert_eq!(
            placements,
            [
                &Placement::Region(region("eu-west-1")),
                &Placement::Region(region("us-west-2")),
                &Placement::Replicas {
                    home: region("eu-west-1")
                },
                &Placement::Region(region("ap-south-1")),
                &Placement::Replicas {
                    home: region("sa-east-1")
                },
            ]
        );
        assert_eq!(
            units.iter().map(|u| u.target).collect::<Vec<_>>(),
            [0, 0, 1, 2, 3]
        );
        let planned = units[4].planned();
        assert_eq!(planned.len(), 2);
        assert!(planned.iter().all(|p| p.region == region("sa-east-1")));
        assert_eq!(planned[1].probe, ProbeKind::Read);
    }

    #[test]
    fn own_region_is_used_when_nothing_names_one() {
        let c = Config::from_json_str(
            r#"{"targets":[{"table":"aaa","timeout_ms":75,"role_arn":"arn:aws:iam::210987654321:role/R"}]}"#,
            "t",
        )
        .unwrap();
        let units = plan(&c, &region("ca-central-1"));
        assert_eq!(units.len(), 1);
        assert_eq!(
            units[0].placement,
            Placement::Region(region("ca-central-1"))
        );
        assert_eq!(units[0].timeout, Duration::from_millis(75));
        assert_eq!(units[0].ttl_attribute.as_str(), "expires_at");
        let role = units[0].role.as_ref().unwrap();
        assert_eq!(role.session_name.as_str(), "dynamodb-auth-canary");
        assert_eq!(role.role_arn.name(), "R");
    }
}
