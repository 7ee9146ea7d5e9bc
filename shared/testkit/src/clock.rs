use std::sync::atomic::{AtomicI64, Ordering};

use shared::adapters::clock::SystemClock;
use shared::ports::Clock;

/// A clock tests move by hand (code expiry, resend cooldown, hourly and daily windows).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

/// Where a [`ManualClock`] starts inside the current UTC day.
pub const START_OF_DAY_OFFSET: i64 = 600;

impl ManualClock {
    /// Ten minutes past the start of today's UTC day, not the wall clock's second: the limits
    /// count in fixed hourly and daily windows, and a test that moves the clock by 30 s must not
    /// cross into the next window because the suite happened to run at 07:59:45 (it did once,
    /// in CI). Within the day, so a test's `advance` of less than 50 minutes stays in the hour
    /// and one of less than 23 h stays in the day.
    pub fn starting_now() -> Self {
        let now = SystemClock.now();
        Self(AtomicI64::new(now - now.rem_euclid(86_400) + START_OF_DAY_OFFSET))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
