use std::sync::atomic::{AtomicI64, Ordering};

use shared::adapters::clock::SystemClock;
use shared::ports::Clock;

/// A clock tests move by hand (code expiry, resend cooldown).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn starting_now() -> Self {
        Self(AtomicI64::new(SystemClock.now()))
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
