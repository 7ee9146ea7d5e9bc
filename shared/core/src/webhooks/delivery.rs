//! When a delivery is tried again, decided alone: at least once, on Standard Webhooks' schedule
//! (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure, ±10 % jitter so a recovering
//! endpoint is not hit by every retry at once), a `Retry-After` on 429 or 503 honoured, `410
//! Gone` disabling the endpoint at once, and an endpoint that failed every attempt for five days
//! disabled.

/// How long an attempt may take: a 2xx after it is not a delivery.
pub const ATTEMPT_TIMEOUT_SECS: u64 = 10;
/// The waits after each failed attempt: the first retry 5 s after the first attempt, …
pub const RETRY_DELAYS_SECS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// An endpoint failing every attempt for this long is disabled.
pub const DISABLE_AFTER_SECS: i64 = 5 * 86_400;
/// At most this fraction of a wait is added or taken away.
pub const JITTER: f64 = 0.10;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempted {
    /// A 2xx in time.
    Delivered,
    /// Anything else: another status (with its `Retry-After`, in seconds, where it gave one), a
    /// timeout, a refused connection (`None`).
    Failed { status: Option<u16>, retry_after_secs: Option<i64> },
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Done,
    /// Try again at this time (epoch seconds).
    RetryAt(i64),
    /// Every scheduled attempt failed: the event stays undelivered (`POST /events/{id}/redeliver`
    /// sends it again).
    GiveUp,
    /// `410 Gone`, or failing for five days: the endpoint is disabled (a
    /// `webhook_endpoint.disabled` event is recorded).
    DisableEndpoint,
}

/// What follows attempt number `attempt` (1 for the first) of a delivery that ended `at` as
/// `outcome`, for an endpoint whose attempts all failed since `failing_since` (`None`: the last
/// one to it succeeded). `jitter` is a draw in [-1, 1].
pub fn next_attempt(attempt: usize, outcome: Attempted, at: i64, failing_since: Option<i64>, jitter: f64) -> Next {
    let Attempted::Failed { status, retry_after_secs } = outcome else { return Next::Done };
    if status == Some(410) || failing_since.is_some_and(|since| at - since >= DISABLE_AFTER_SECS) {
        return Next::DisableEndpoint;
    }
    let Some(wait) = attempt.checked_sub(1).and_then(|i| RETRY_DELAYS_SECS.get(i)) else { return Next::GiveUp };
    let jittered = (*wait as f64 * (1.0 + JITTER * jitter.clamp(-1.0, 1.0))).round() as i64;
    let asked = match status {
        Some(429 | 503) => retry_after_secs.filter(|s| *s > 0).unwrap_or(0),
        _ => 0,
    };
    Next::RetryAt(at + jittered.max(asked).max(1))
}

/// A `Retry-After` header in seconds (an HTTP date is read as no wish: the schedule decides).
pub fn retry_after_secs(header: Option<&str>) -> Option<i64> {
    header?.trim().parse::<i64>().ok().filter(|s| *s >= 0)
}
