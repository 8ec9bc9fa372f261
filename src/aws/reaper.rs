//! Processes started on the canary's behalf end with its run. The SDK runs
//! a profile's `credential_process` itself (`sh -c ...`); when the run's
//! deadline drops the call, the SDK leaves the shell running, and with it
//! whatever the shell started. The canary makes itself the subreaper of its
//! descendants (orphans come back to it, not to init) and, when a run ends,
//! freezes and kills every descendant it has. Linux only (the Lambda
//! runtime and CI); elsewhere both calls do nothing.

/// Orphaned descendants are re-parented to this process, so that
/// [`kill_descendants`] still finds them after their parent died.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer and touches
    // no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Stops, then kills, every descendant of this process; returns how many.
/// Stopping first keeps a process from starting a child after its own
/// children were read.
pub fn kill_descendants() -> usize {
    #[cfg(target_os = "linux")]
    {
        let mut stopped = std::collections::BTreeSet::new();
        for _ in 0..8 {
            let new: Vec<u32> = descendants(std::process::id())
                .into_iter()
                .filter(|p| !stopped.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            for p in new {
                signal(p, libc::SIGSTOP);
                stopped.insert(p);
            }
        }
        for &p in &stopped {
            signal(p, libc::SIGKILL);
        }
        // A kill is delivered, not awaited: give them a moment to be gone,
        // so that nothing of theirs runs after the canary has returned.
        wait_gone(&stopped, KILL_WAIT, running);
        stopped.len()
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// How long [`kill_descendants`] waits for killed processes to be gone.
#[cfg(target_os = "linux")]
const KILL_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Polls `running` until none of `pids` runs or `within` has passed;
/// returns whether they are all gone.
#[cfg(target_os = "linux")]
pub fn wait_gone(
    pids: &std::collections::BTreeSet<u32>,
    within: std::time::Duration,
    running: impl Fn(u32) -> bool,
) -> bool {
    let until = std::time::Instant::now() + within;
    loop {
        let gone = !pids.iter().any(|&p| running(p));
        if gone || std::time::Instant::now() >= until {
            return gone;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[cfg(target_os = "linux")]
fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill takes two integers; a pid that has gone is ESRCH.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Whether `pid` exists and is not a zombie (`/proc/<pid>/stat`).
#[cfg(target_os = "linux")]
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().and_then(|r| r.trim().chars().next()))
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

/// The direct children of `pid`, from each of its threads' `children` file.
#[cfg(target_os = "linux")]
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Every descendant of `pid`, parents before children.
#[cfg(target_os = "linux")]
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut next = children(pid);
    while let Some(p) = next.pop() {
        if !out.contains(&p) {
            out.push(p);
            next.extend(children(p));
        }
    }
    out
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The tests that start processes take turns: one of them kills every
    /// descendant of the test process.
    static PROCESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        PROCESSES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[test]
    fn a_process_runs_until_it_is_a_zombie() {
        let _turn = one_at_a_time();
        let mut child = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(running(pid), "a sleeping child runs");
        assert!(running(std::process::id()), "this process runs");
        signal(pid, libc::SIGKILL);
        // Killed, not yet reaped: a zombie, which no longer runs.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while running(pid) {
            assert!(std::time::Instant::now() < deadline, "never died");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(child.try_wait().unwrap().is_some(), "it was a zombie");
        assert!(!running(pid), "reaped: gone");
    }

    #[test]
    fn the_wait_for_kills_ends_when_all_are_gone_or_at_its_limit() {
        use std::time::{Duration, Instant};
        let pids: std::collections::BTreeSet<u32> = [10, 11].into();
        // Gone already: no wait at all, however long the limit.
        let t = Instant::now();
        assert!(wait_gone(&pids, Duration::from_secs(30), |_| false));
        assert!(t.elapsed() < Duration::from_secs(5));
        // Never gone: the limit, not less.
        let t = Instant::now();
        assert!(!wait_gone(&pids, Duration::from_millis(60), |_| true));
        assert!(t.elapsed() >= Duration::from_millis(60));
        assert!(t.elapsed() < Duration::from_secs(5));
        // Gone after a few looks: it keeps looking until then.
        let looks = std::cell::Cell::new(0);
        let running = |p: u32| {
            if p == 10 {
                looks.set(looks.get() + 1);
            }
            looks.get() < 5
        };
        assert!(wait_gone(&pids, Duration::from_secs(30), running));
        assert_eq!(looks.get(), 5);
    }

    #[test]
    fn a_shell_and_what_it_started_are_found_and_killed() {
        let _turn = one_at_a_time();
        adopt_orphans();
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 300 & sleep 300 & wait"])
            .spawn()
            .unwrap();
        let sh_pid = sh.id();
        // Wait until the shell has started both sleeps.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while children(sh_pid).len() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the shell never forked"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let tree = descendants(std::process::id());
        assert!(tree.contains(&sh_pid), "{tree:?}");
        let grandchildren = children(sh_pid);
        assert!(grandchildren.iter().all(|p| tree.contains(p)));
        assert!(kill_descendants() >= 3);
        assert!(!sh.wait().unwrap().success(), "the shell was killed");
        // The sleeps were adopted by this process when the shell died: reap them.
        for p in grandchildren {
            let mut status = 0;
            // SAFETY: waitpid on a child pid with a valid status pointer.
            let r = unsafe { libc::waitpid(p as i32, &mut status, 0) };
            assert_eq!(r, p as i32, "sleep {p} was not our (adopted) child");
            assert!(libc::WIFSIGNALED(status), "sleep {p} ended by a signal");
        }
    }
}
