//! The work of a run in flight: a queue per region, drained by at most
//! `region_concurrency` workers in that region and `concurrency` in all,
//! with DescribeTable paced per region. Work is only spawned when a worker
//! is free, so memory follows the concurrency, not the number of probes; a
//! region that does not answer holds its own workers only. Replica
//! discovery pushes the regions it finds onto the same queues.

use crate::config::{ProbeKind, Region};
use crate::plan::{Placement, Unit};
use crate::report::ProbeResult;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One piece of work: a unit's chain in one of its regions, or the
/// discovery of a replica unit's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// The chain of unit `unit` in its region number `region`.
    Chain {
        /// Index of the unit.
        unit: usize,
        /// Index into the unit's regions.
        region: usize,
    },
    /// DescribeTable in the home region of replica unit `unit`.
    Discover {
        /// Index of the unit.
        unit: usize,
    },
}

/// What a unit has found so far.
#[derive(Debug, Default)]
pub struct UnitState {
    /// Its regions, once known (at once for one region, after discovery for
    /// replicas).
    pub regions: Option<Vec<Region>>,
    /// The results of each region's chain, in the order of `regions`.
    pub done: Vec<Option<Vec<ProbeResult>>>,
}

/// How the pool is limited.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Chains in flight over all regions.
    pub concurrency: usize,
    /// Chains in flight in one region.
    pub region_concurrency: usize,
    /// DescribeTable calls per second in one region.
    pub describe_per_second: u32,
}

/// Spaces calls out to at most `rate` in any one second: a burst of a
/// sixteenth of the rate goes at once, the rest at the rate less the burst
/// (a cell-rate reservation, GCRA), released in batches on ticks of
/// [`Pacer::TICK`] shared by every region of the run. Each caller reserves
/// the next free slot and sleeps until it. The burst lets a small run send
/// all of its DescribeTable calls in one round trip; the ticks wake the
/// process 32 times a second instead of once per call (each wake-up cost
/// about as much CPU as the call it released). Below 32 per second there is
/// neither burst nor tick: calls are evenly spaced.
#[derive(Debug)]
pub struct Pacer {
    /// Time between slots once the burst is spent.
    interval: Duration,
    /// How far ahead of its theoretical time a slot may be booked: the
    /// burst less one, in intervals.
    tolerance: Duration,
    /// Where the ticks are counted from (zero: no ticks).
    epoch: Instant,
    tick: Duration,
    /// The theoretical time of the next slot.
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// The batches a paced region's calls go in, from rates of 32 per
    /// second. A call waits at most one tick past its slot; the burst is
    /// large enough that no second holds more than the rate
    /// (`burst ≥ rate × tick / (1 + tick)`).
    pub const TICK: Duration = Duration::from_micros(31_250);

    /// A pacer of `per_second` calls (at least 1), its ticks counted from
    /// `epoch`.
    pub fn new(per_second: u32, epoch: Instant) -> Pacer {
        let rate = per_second.max(1);
        let burst = Pacer::burst(rate);
        // burst + (rate - burst) per second: never more than `rate` calls
        // in any one second.
        let steady = if burst > 1 { rate - burst } else { rate };
        let interval = Duration::from_secs(1) / steady;
        Pacer {
            interval,
            tolerance: interval * (burst - 1),
            epoch,
            tick: if burst > 1 {
                Pacer::TICK
            } else {
                Duration::ZERO
            },
            next: Mutex::new(None),
        }
    }

    /// The calls that may go at once at `per_second`.
    pub fn burst(per_second: u32) -> u32 {
        (per_second / 16).max(1)
    }

    /// Reserves the next slot at or after `now` and returns it.
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut next = lock(&self.next);
        let tat = next.map_or(now, |n| n.max(now));
        let slot = tat.checked_sub(self.tolerance).map_or(now, |s| s.max(now));
        *next = Some(tat.max(slot) + self.interval);
        if slot > now && !self.tick.is_zero() {
            // The next tick at or after the slot.
            let since = slot.saturating_duration_since(self.epoch).as_nanos();
            let tick = self.tick.as_nanos();
            let ticks = since.div_ceil(tick);
            let at = u64::try_from(ticks * tick).unwrap_or(u64::MAX);
            return self.epoch + Duration::from_nanos(at);
        }
        slot
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        let slot = self.reserve(Instant::now());
        if slot > Instant::now() {
            tokio::time::sleep_until(slot).await;
        }
    }
}

#[derive(Debug)]
struct RegionQueue {
    work: VecDeque<Work>,
    workers: usize,
    pacer: Arc<Pacer>,
}

/// Runs a piece of work; the pool calls it from its workers.
pub trait Runner: Send + Sync + 'static {
    /// Runs `work` in `region` and records what it found in `pool`.
    fn run(
        self: &Arc<Self>,
        pool: &Arc<Pool>,
        work: Work,
        region: Region,
    ) -> impl std::future::Future<Output = ()> + Send;
}

/// The queues, the workers and what they found.
#[derive(Debug)]
pub struct Pool {
    /// The units of the run.
    pub units: Vec<Unit>,
    limits: Limits,
    permits: Semaphore,
    queues: Mutex<HashMap<Region, RegionQueue>>,
    state: Mutex<Vec<UnitState>>,
    outstanding: AtomicUsize,
    idle: Notify,
    tasks: Mutex<JoinSet<()>>,
    /// Where the pacers count their ticks from: the regions' batches go
    /// together.
    epoch: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts a piece of work as finished when dropped, also when its task
/// unwinds, so that the run never waits for work that cannot end.
struct Finished<'a>(&'a Pool);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        if self.0.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_one();
        }
    }
}

impl Pool {
    /// A pool for `units`, nothing started yet.
    pub fn new(units: Vec<Unit>, limits: Limits) -> Arc<Pool> {
        let state = units
            .iter()
            .map(|u| match &u.placement {
                Placement::Region(r) => UnitState {
                    regions: Some(vec![r.clone()]),
                    done: vec![None],
                },
                Placement::Replicas { .. } => UnitState::default(),
            })
            .collect();
        Arc::new(Pool {
            units,
            limits,
            permits: Semaphore::new(limits.concurrency.max(1)),
            queues: Mutex::new(HashMap::new()),
            state: Mutex::new(state),
            outstanding: AtomicUsize::new(0),
            idle: Notify::new(),
            tasks: Mutex::new(JoinSet::new()),
            epoch: Instant::now(),
        })
    }

    /// Queues every unit's first piece of work and runs until all work,
    /// including what discovery adds, is finished. Dropping the future
    /// leaves the workers running: call [`Pool::stop`].
    pub async fn run_all<R: Runner>(self: &Arc<Self>, runner: &Arc<R>) {
        for (i, u) in self.units.iter().enumerate() {
            match &u.placement {
                Placement::Region(r) => {
                    self.push(runner, r.clone(), Work::Chain { unit: i, region: 0 })
                }
                Placement::Replicas { home } => {
                    self.push(runner, home.clone(), Work::Discover { unit: i })
                }
            }
        }
        loop {
            let idle = self.idle.notified();
            if self.outstanding.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Stops every worker (their calls are dropped where they are).
    pub fn stop(&self) {
        lock(&self.tasks).abort_all();
    }

    /// Queues `work` in `region`, starting a worker there if the region has
    /// fewer than its limit.
    pub fn push<R: Runner>(self: &Arc<Self>, runner: &Arc<R>, region: Region, work: Work) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        let mut queues = lock(&self.queues);
        let per_second = self.limits.describe_per_second;
        let epoch = self.epoch;
        let q = queues.entry(region.clone()).or_insert_with(|| RegionQueue {
            work: VecDeque::new(),
            workers: 0,
            pacer: Arc::new(Pacer::new(per_second, epoch)),
        });
        q.work.push_back(work);
        if q.workers < self.limits.region_concurrency.max(1) {
            q.workers += 1;
            let pool = Arc::clone(self);
            let runner = Arc::clone(runner);
            lock(&self.tasks).spawn(async move { pool.worker(&runner, region).await });
        }
    }

    /// The next piece of work of `region`, or `None` (and one worker fewer)
    /// when its queue is empty.
    fn pop(&self, region: &Region) -> Option<Work> {
        let mut queues = lock(&self.queues);
        let q = queues.get_mut(region)?;
        let w = q.work.pop_front();
        if w.is_none() {
            q.workers -= 1;
        }
        w
    }

    /// The DescribeTable pacer of `region`.
    pub fn pacer(&self, region: &Region) -> Option<Arc<Pacer>> {
        lock(&self.queues).get(region).map(|q| Arc::clone(&q.pacer))
    }

    async fn worker<R: Runner>(self: &Arc<Self>, runner: &Arc<R>, region: Region) {
        while let Some(work) = self.pop(&region) {
            let _finished = Finished(self);
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            if self.paced(work) {
                if let Some(p) = self.pacer(&region) {
                    p.wait().await;
                }
            }
            runner.run(self, work, region.clone()).await;
        }
    }

    /// Whether `work` starts with a DescribeTable.
    fn paced(&self, work: Work) -> bool {
        match work {
            Work::Discover { .. } => true,
            Work::Chain { unit, .. } => {
                self.units[unit].probes.kinds().first() == Some(&ProbeKind::Describe)
            }
        }
    }

    /// Records the results of `unit`'s chain in its region number `region`.
    pub fn record(&self, unit: usize, region: usize, results: Vec<ProbeResult>) {
        if let Some(slot) = lock(&self.state)
            .get_mut(unit)
            .and_then(|s| s.done.get_mut(region))
        {
            *slot = Some(results);
        }
    }

    /// Sets the regions a replica unit was found in (the home region first)
    /// and queues a chain in each.
    pub fn discovered<R: Runner>(
        self: &Arc<Self>,
        runner: &Arc<R>,
        unit: usize,
        regions: Vec<Region>,
    ) {
        {
            let mut state = lock(&self.state);
            let Some(s) = state.get_mut(unit) else {
                return;
            };
            s.done = vec![None; regions.len()];
            s.regions = Some(regions.clone());
        }
        for (j, r) in regions.into_iter().enumerate() {
            self.push(runner, r, Work::Chain { unit, region: j });
        }
    }

    /// Records the results that end a replica unit whose discovery failed.
    pub fn discovery_failed(&self, unit: usize, home: Region, results: Vec<ProbeResult>) {
        if let Some(s) = lock(&self.state).get_mut(unit) {
            s.regions = Some(vec![home]);
            s.done = vec![Some(results)];
        }
    }

    /// Takes what every unit found, in unit order.
    pub fn take(&self) -> Vec<UnitState> {
        std::mem::take(&mut *lock(&self.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::report::Outcome;

    /// Sleeps a little per piece of work and counts how many run at once,
    /// overall and per region; discovery finds two more regions.
    #[derive(Default)]
    struct Counting {
        now: Mutex<(usize, HashMap<Region, usize>)>,
        peak: Mutex<(usize, HashMap<Region, usize>)>,
        ran: Mutex<Vec<(Work, Region)>>,
    }

    impl Runner for Counting {
        async fn run(self: &Arc<Self>, pool: &Arc<Pool>, work: Work, region: Region) {
            {
                let mut now = lock(&self.now);
                now.0 += 1;
                *now.1.entry(region.clone()).or_default() += 1;
                let mut peak = lock(&self.peak);
                peak.0 = peak.0.max(now.0);
                let r = peak.1.entry(region.clone()).or_default();
                *r = (*r).max(now.1[&region]);
            }
            // Discovery takes longer than a chain, so that the regions it
            // finds may have no worker left when it pushes to them.
            let took = match work {
                Work::Discover { .. } => 20,
                Work::Chain { .. } => 5,
            };
            tokio::time::sleep(Duration::from_millis(took)).await;
            {
                let mut now = lock(&self.now);
                now.0 -= 1;
                *now.1.get_mut(&region).unwrap() -= 1;
            }
            lock(&self.ran).push((work, region.clone()));
            match work {
                Work::Chain { unit, region: j } => {
                    let ids = pool.units[unit].ids_in(&region);
                    let results = ids
                        .into_iter()
                        .map(|id| {
                            ProbeResult::from_failure(
                                id,
                                Outcome::NotRun,
                                crate::classify::Failure::new(crate::classify::Class::Other, "x"),
                                0.0,
                            )
                        })
                        .collect();
                    pool.record(unit, j, results);
                }
                Work::Discover { unit } => {
                    let found = ["eu-west-1", "ap-south-1"].map(|r| Region::parse(r).unwrap());
                    let mut regions = vec![region];
                    regions.extend(found);
                    pool.discovered(self, unit, regions);
                }
            }
        }
    }

    fn limits(concurrency: usize, region_concurrency: usize, describe_per_second: u32) -> Limits {
        Limits {
            concurrency,
            region_concurrency,
            describe_per_second,
        }
    }

    fn units(json: &str) -> Vec<Unit> {
        let c = Config::from_json_str(json, "t").unwrap();
        crate::plan::plan(&c, &Region::parse("us-east-1").unwrap())
    }

    fn forty_tables_and_a_global_one() -> Vec<Unit> {
        let tables: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"table":"t{i:03}","regions":["us-east-1","us-west-2"]}}"#))
            .collect();
        units(&format!(
            r#"{{"targets":[{},{{"table":"global","regions":"replicas","home_region":"us-west-2"}}]}}"#,
            tables.join(",")
        ))
    }

    async fn run_with(concurrency: usize, region_concurrency: usize) -> (Arc<Pool>, Arc<Counting>) {
        let pool = Pool::new(
            forty_tables_and_a_global_one(),
            limits(concurrency, region_concurrency, 2_500),
        );
        let runner = Arc::new(Counting::default());
        tokio::time::timeout(Duration::from_secs(10), pool.run_all(&runner))
            .await
            .expect("the pool finishes");
        (pool, runner)
    }

    #[tokio::test]
    async fn every_unit_runs_once_and_discovery_adds_regions() {
        let (pool, runner) = run_with(6, 4).await;
        let ran = lock(&runner.ran).clone();
        // 80 chains, one discovery, then the replica unit's three regions.
        assert_eq!(ran.len(), 80 + 1 + 3);
        assert_eq!(
            ran.iter()
                .filter(|(w, _)| matches!(w, Work::Discover { .. }))
                .count(),
            1
        );
        let states = pool.take();
        assert_eq!(
            states.len(),
            81,
            "a unit per (table, region), one for the global table"
        );
        assert!(states
            .iter()
            .all(|s| s.regions.is_some() && s.done.iter().all(Option::is_some)));
        let global = states.last().unwrap();
        let names: Vec<&str> = global
            .regions
            .as_ref()
            .unwrap()
            .iter()
            .map(Region::as_str)
            .collect();
        assert_eq!(names, ["us-west-2", "eu-west-1", "ap-south-1"]);
        assert!(global.done.iter().flatten().all(|r| r.len() == 1));
    }

    #[tokio::test]
    async fn the_overall_limit_holds_across_regions() {
        let (_, runner) = run_with(6, 4).await;
        let peak = lock(&runner.peak).clone();
        assert_eq!(peak.0, 6, "reached and never passed");
        assert!(peak.1.values().all(|&n| n <= 4), "{:?}", peak.1);
    }

    #[tokio::test]
    async fn the_region_limit_holds_in_each_region() {
        let (_, runner) = run_with(100, 4).await;
        let peak = lock(&runner.peak).clone();
        assert_eq!(peak.0, 8, "two busy regions of four each");
        for r in ["us-east-1", "us-west-2"] {
            assert_eq!(peak.1[&Region::parse(r).unwrap()], 4, "{r}");
        }
    }

    /// A region whose workers all left (its queue ran dry) gets a worker
    /// again when discovery later queues work there.
    #[tokio::test]
    async fn a_region_whose_workers_left_starts_one_for_new_work() {
        let pool = Pool::new(
            units(
                r#"{"targets":[{"table":"aaa","regions":["eu-west-1"]},
                    {"table":"global","regions":"replicas","home_region":"us-west-2"}]}"#,
            ),
            limits(8, 1, 2_500),
        );
        let runner = Arc::new(Counting::default());
        tokio::time::timeout(Duration::from_secs(10), pool.run_all(&runner))
            .await
            .expect("the pool finishes");
        let ran = lock(&runner.ran).clone();
        let eu = Region::parse("eu-west-1").unwrap();
        // aaa's chain (done at 5 ms), then the global table's (queued at 20).
        assert_eq!(ran.iter().filter(|(_, r)| *r == eu).count(), 2, "{ran:?}");
        assert!(lock(&pool.queues).values().all(|q| q.workers == 0));
    }

    /// Discovery fails in the home region: the unit ends there, with the
    /// failure's results.
    struct DiscoveryFails;

    impl Runner for DiscoveryFails {
        async fn run(self: &Arc<Self>, pool: &Arc<Pool>, work: Work, region: Region) {
            let result = |id| {
                ProbeResult::from_failure(
                    id,
                    Outcome::Fail,
                    crate::classify::Failure::new(crate::classify::Class::AccessDenied, "no"),
                    0.0,
                )
            };
            match work {
                Work::Discover { unit } => {
                    let ids = pool.units[unit].ids_in(&region);
                    pool.discovery_failed(unit, region, ids.into_iter().map(result).collect());
                }
                Work::Chain { .. } => unreachable!("no chain runs without regions"),
            }
        }
    }

    #[tokio::test]
    async fn a_failed_discovery_ends_the_unit_in_its_home_region() {
        let pool = Pool::new(
            units(
                r#"{"targets":[{"table":"global","regions":"replicas","home_region":"us-west-2"}]}"#,
            ),
            limits(8, 8, 2_500),
        );
        pool.run_all(&Arc::new(DiscoveryFails)).await;
        let states = pool.take();
        assert_eq!(states.len(), 1);
        let home = Region::parse("us-west-2").unwrap();
        assert_eq!(states[0].regions, Some(vec![home]));
        let done: Vec<&Vec<ProbeResult>> = states[0].done.iter().flatten().collect();
        assert_eq!(done.len(), 1);
        assert!(!done[0].is_empty());
        assert!(done[0].iter().all(|r| r.outcome == Outcome::Fail));
    }

    /// Never finishes; counts how many of its calls were dropped.
    #[derive(Default)]
    struct Stuck {
        dropped: Arc<AtomicUsize>,
    }

    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Runner for Stuck {
        async fn run(self: &Arc<Self>, _: &Arc<Pool>, _: Work, _: Region) {
            let _guard = CountDrop(Arc::clone(&self.dropped));
            std::future::pending::<()>().await;
        }
    }

    /// Past the deadline the run stops its workers: nothing keeps calling
    /// AWS after the report (in Lambda, into the next invocation).
    #[tokio::test]
    async fn stop_ends_the_workers_where_they_are() {
        let pool = Pool::new(
            units(r#"{"targets":[{"table":"aaa","regions":["us-east-1","eu-west-1"]}]}"#),
            limits(8, 8, 2_500),
        );
        let runner = Arc::new(Stuck::default());
        let ran = tokio::time::timeout(Duration::from_millis(50), pool.run_all(&runner)).await;
        assert!(ran.is_err(), "stuck work never finishes");
        assert_eq!(runner.dropped.load(Ordering::SeqCst), 0);
        pool.stop();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            runner.dropped.load(Ordering::SeqCst),
            2,
            "both calls dropped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn describe_is_paced_per_region() {
        let json = r#"{"targets":[{"table":"aaa","regions":["us-east-1","eu-west-1"]},
                                   {"table":"bbb","regions":["us-east-1","eu-west-1"]},
                                   {"table":"ccc","regions":["us-east-1","eu-west-1"]}]}"#;
        let pool = Pool::new(units(json), limits(64, 64, 20));
        let started = Instant::now();
        pool.run_all(&Arc::new(Counting::default())).await;
        // Three describes per region at 20 per second: the third starts at
        // 100 ms and runs 5; the regions do not wait for each other (one
        // pacer for both would start the sixth at 250 ms). The clock is
        // tokio's paused one: exact, whatever the machine's load.
        assert_eq!(started.elapsed(), Duration::from_millis(105));
    }

    #[tokio::test(start_paused = true)]
    async fn chains_without_a_describe_are_not_paced() {
        let target = |t: &str| {
            format!(r#"{{"table":"{t}","regions":["us-east-1"],"key":{{"pk":{{"S":"k"}}}}}}"#)
        };
        let json = format!(
            r#"{{"defaults":{{"probes":["read"]}},"targets":[{},{},{}]}}"#,
            target("aaa"),
            target("bbb"),
            target("ccc")
        );
        let pool = Pool::new(units(&json), limits(64, 64, 1));
        let started = Instant::now();
        pool.run_all(&Arc::new(Counting::default())).await;
        // Paced at one a second, the third would start at 2 s.
        assert_eq!(started.elapsed(), Duration::from_millis(5));
    }

    #[test]
    fn the_pacer_spaces_slots_and_never_books_the_past() {
        // Below 32 per second there is no burst and no tick: evenly spaced.
        let t0 = Instant::now();
        let p = Pacer::new(20, t0);
        assert_eq!(p.reserve(t0), t0);
        assert_eq!(p.reserve(t0), t0 + Duration::from_millis(50));
        assert_eq!(p.reserve(t0), t0 + Duration::from_millis(100));
        // Idle for a while: the next call goes at once, not at a stale slot.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(p.reserve(later), later);
        assert_eq!(p.reserve(later), later + Duration::from_millis(50));
    }

    #[test]
    fn the_pacer_lets_a_burst_go_then_keeps_any_second_under_the_rate() {
        assert_eq!(Pacer::burst(500), 31);
        assert_eq!(Pacer::burst(31), 1);
        let t0 = Instant::now();
        let p = Pacer::new(500, t0);
        let slots: Vec<Instant> = (0..2_000).map(|_| p.reserve(t0)).collect();
        // The burst goes at once, the next calls on the first tick.
        assert!(slots[..31].iter().all(|s| *s == t0));
        assert_eq!(slots[31], t0 + Pacer::TICK);
        // Only ticks: one wake-up per tick, not per call.
        let mut times = slots.clone();
        times.dedup();
        assert!(times
            .iter()
            .all(|s| (s.duration_since(t0).as_nanos() % Pacer::TICK.as_nanos()) == 0));
        // In every window of one second from any slot: at most 500 calls.
        for (i, s) in slots.iter().enumerate() {
            let within = slots[i..]
                .iter()
                .take_while(|t| **t < *s + Duration::from_secs(1))
                .count();
            assert!(within <= 500, "{within} calls in the second from slot {i}");
        }
        // The steady rate is the rate less the burst.
        let steady = slots
            .iter()
            .filter(|t| **t >= t0 + Duration::from_secs(1) && **t < t0 + Duration::from_secs(2))
            .count();
        assert!((468..=470).contains(&steady), "{steady} a second");
        // Idle for a while: the burst is back.
        let later = *slots.last().unwrap() + Duration::from_secs(5);
        assert!((0..31).all(|_| p.reserve(later) == later));
        assert!(p.reserve(later) > later);
    }
}
