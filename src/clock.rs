//! Time arithmetic shared by every module: latencies in milliseconds,
//! seconds until an expiry, and the epoch clock used in metrics and items.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since `start`, rounded to 0.1 ms.
pub fn elapsed_ms(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
}

/// Whole seconds from `now` until `t`: negative once `t` has passed.
pub fn seconds_until(t: SystemTime, now: SystemTime) -> i64 {
    match t.duration_since(now) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Seconds from now until `t`.
pub fn seconds_from_now(t: SystemTime) -> i64 {
    seconds_until(t, SystemTime::now())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn epoch_seconds() -> u64 {
    epoch_ms() / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn seconds_until_is_signed() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(seconds_until(now + Duration::from_secs(90), now), 90);
        assert_eq!(seconds_until(now - Duration::from_secs(30), now), -30);
        assert_eq!(seconds_until(now, now), 0);
    }

    #[test]
    fn epoch_clock_is_recent() {
        assert!(epoch_seconds() > 1_700_000_000);
        assert_eq!(epoch_ms() / 1_000 / 10, epoch_seconds() / 10);
    }
}
