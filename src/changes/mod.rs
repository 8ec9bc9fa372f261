//! What changed: when a probe is denied, the CloudTrail management events
//! that changed what it depends on (its principal's policies, the policy
//! AWS named, the table's resource policy, its KMS key), found with
//! LookupEvents where each is recorded (IAM in its partition's one region,
//! DynamoDB and KMS in the resource's), ranked and attached to the probe.
//!
//! Bounded and never in the way: a healthy run asks nothing; one run makes
//! at most `what_changed.max_calls` calls whatever the number of denied
//! probes (look-ups are grouped by region and resource, and answers are
//! reused for a few minutes by a warm process); it fits inside the run's
//! deadline; a refused, throttled or silent CloudTrail leaves every result
//! as it was and says why in the report.

pub mod record;
pub mod rules;

use crate::aws::call::{bounded, op_config};
use crate::aws::AwsClients;
use crate::config::WhatChanged;
use crate::report::{Change, ChangesLookup, Report};
use record::Record;
use rules::Subject;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a warm process reuses an answer.
pub const CACHE_FOR: Duration = Duration::from_secs(300);
/// Changes shown per probe at most.
pub const MAX_PER_PROBE: usize = 3;
/// One call's budget at most (the SDK's retries of a throttled call inside).
const CALL_BUDGET: Duration = Duration::from_millis(3_000);
/// Below this much time before the deadline, no look-up is started.
const MIN_TIME: Duration = Duration::from_millis(300);
/// Pages of 50 events per resource at most.
const MAX_PAGES: u32 = 2;

/// (region, resource name).
type Query = (String, String);

/// Answers of earlier runs of this process.
#[derive(Debug, Default)]
pub struct Cache(Mutex<HashMap<Query, (Instant, Vec<Record>)>>);

impl Cache {
    fn get(&self, q: &Query) -> Option<Vec<Record>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(q)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, r)| r.clone())
    }

    fn put(&self, q: Query, records: Vec<Record>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
        map.insert(q, (Instant::now(), records));
    }
}

/// Looks for the changes behind the report's denials and attaches them.
pub async fn look_up(
    clients: &AwsClients,
    cache: &Cache,
    settings: &WhatChanged,
    report: &mut Report,
    deadline: Instant,
) {
    if !settings.enabled {
        return;
    }
    let own = report.identity.arn.clone();
    let needs: Vec<(usize, rules::Needs)> = report
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| rules::is_denial(p))
        .map(|(i, p)| (i, rules::needs(p, own.as_deref())))
        .collect();
    if needs.is_empty() {
        return;
    }
    let mut queries: Vec<Query> = Vec::new();
    for (_, n) in &needs {
        for (region, s) in &n.subjects {
            let q = (region.clone(), s.resource_name().to_string());
            if !queries.contains(&q) {
                queries.push(q);
            }
        }
    }
    let lookback = i64::from(settings.lookback_hours.get()) * 3_600;
    let end = crate::clock::epoch_seconds() as i64;
    let window = (end - lookback, end);
    let mut lookup = ChangesLookup::default();
    let mut answers: HashMap<Query, Result<Vec<Record>, String>> = HashMap::new();
    for q in queries {
        if let Some(hit) = cache.get(&q) {
            lookup.cached += 1;
            answers.insert(q, Ok(hit));
            continue;
        }
        let why_not = if lookup.calls >= settings.max_calls.get() {
            Some(format!(
                "the run's limit of {} LookupEvents calls was reached",
                settings.max_calls.get()
            ))
        } else if deadline.saturating_duration_since(Instant::now()) < MIN_TIME {
            Some("no time was left before the run's deadline".to_string())
        } else {
            None
        };
        if let Some(why) = why_not {
            lookup
                .problem
                .get_or_insert_with(|| format!("not all looked up: {why}"));
            answers.insert(q, Err(why));
            continue;
        }
        match fetch(clients, &q, window, settings, &mut lookup.calls, deadline).await {
            Ok(records) => {
                cache.put(q.clone(), records.clone());
                answers.insert(q, Ok(records));
            }
            Err(why) => {
                lookup.problem.get_or_insert_with(|| why.clone());
                answers.insert(q, Err(why));
            }
        }
    }
    let hours = settings.lookback_hours.get();
    let own_principal = own.as_deref().and_then(rules::principal).map(|p| p.0);
    for (i, n) in needs {
        let (changes, failed) = attach(&n, &answers, own_principal.as_ref());
        let p = &mut report.probes[i];
        p.changes = changes;
        p.changes_note = match (&n.note, failed, p.changes.is_empty(), n.subjects.is_empty()) {
            (Some(note), _, _, _) => Some(note.clone()),
            (None, Some(why), _, _) => Some(format!("CloudTrail was not read: {why}")),
            (None, None, true, false) => Some(format!(
                "no change to {} in the last {hours} h of CloudTrail event history",
                n.subjects
                    .iter()
                    .map(|(_, s)| s.describe(false))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => None,
        };
    }
    report.what_changed = Some(lookup);
}

/// The changes that match a probe's needs, the denying layer's first and
/// the newest first within it, and the first failure of its look-ups.
fn attach(
    n: &rules::Needs,
    answers: &HashMap<Query, Result<Vec<Record>, String>>,
    own: Option<&Subject>,
) -> (Vec<Change>, Option<String>) {
    let mut found: Vec<(usize, i64, Change)> = Vec::new();
    let mut failed = None;
    for (rank, (region, subject)) in n.subjects.iter().enumerate() {
        match answers.get(&(region.clone(), subject.resource_name().to_string())) {
            Some(Ok(records)) => {
                for r in records.iter().filter(|r| subject.changed_by(r)) {
                    if found.iter().any(|(_, _, c)| c.event_id == r.event_id) {
                        continue;
                    }
                    found.push((
                        rank,
                        r.event_time,
                        change(r, region, subject, own == Some(subject)),
                    ));
                }
            }
            Some(Err(why)) => {
                failed.get_or_insert_with(|| why.clone());
            }
            None => {}
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let changes = found
        .into_iter()
        .take(MAX_PER_PROBE)
        .map(|(_, _, c)| c)
        .collect::<Vec<_>>();
    // A failure matters only when nothing could be said.
    let failed = if changes.is_empty() { failed } else { None };
    (changes, failed)
}

fn change(r: &Record, region: &str, subject: &Subject, own: bool) -> Change {
    Change {
        event_name: r.event_name.clone(),
        event_time: aws_smithy_types::DateTime::from_secs(r.event_time)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_else(|_| r.event_time.to_string()),
        who: r.who.clone(),
        session: r.session.clone(),
        source: r.source.clone(),
        event_id: r.event_id.clone(),
        region: region.to_string(),
        matched: subject.describe(own),
    }
}

/// Up to [`MAX_PAGES`] pages of the events of one resource, newest first,
/// counting each call against the run's limit.
async fn fetch(
    clients: &AwsClients,
    (region, name): &Query,
    (start, end): (i64, i64),
    settings: &WhatChanged,
    calls: &mut u32,
    deadline: Instant,
) -> Result<Vec<Record>, String> {
    use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
    let client = clients.cloudtrail(region);
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(name)
        .build()
        .map_err(|e| format!("LookupEvents request not built: {e}"))?;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        if *calls >= settings.max_calls.get() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_TIME {
            break;
        }
        let budget = left.min(CALL_BUDGET);
        *calls += 1;
        let answer = bounded(
            "CloudTrail LookupEvents",
            budget,
            client
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(aws_smithy_types::DateTime::from_secs(start))
                .end_time(aws_smithy_types::DateTime::from_secs(end))
                .max_results(50)
                .set_next_token(token.clone())
                .customize()
                .config_override(op_config!(aws_sdk_cloudtrail, budget))
                .send(),
        )
        .await
        .map_err(|f| {
            format!(
                "LookupEvents in {region} failed ({}): {}",
                f.class.as_str(),
                f.message
            )
        })?;
        out.extend(answer.events().iter().filter_map(Record::from_event));
        token = answer.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}
