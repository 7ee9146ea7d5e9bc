//! The counters that guard payers and limit declines: their keys, their caps, and what a
//! decision does with them. Read in the same round trip as the order (`PaymentStore::admission`).

use super::{Services, UseCaseError};
use crate::domain::{Payment, PaymentStatus, PhoneOrigin};
use crate::ports::{BusinessEvent, Guard, Scrutiny, KEY_RETENTION_SECS};
/// The payer's lock, a rider's rule: beside its type in the ports.
pub use crate::ports::{MAX_PAYER_FAILURES, PAYER_LOCK_SECS};
/// Declines a checkout session may see; the next card is refused before the acquirer.
pub const MAX_SESSION_DECLINES: u32 = 3;
/// Declines per merchant per hour (by default; `AttemptLimits::merchant_declines_hourly`): past
/// it, card testing is likely; an alarm watches it, and new cards get stricter velocity limits
/// ([`Scrutiny::Strict`]) until the hour ends. It never refuses a payment: a counter that
/// strangers fill must not shut a merchant's shoppers out.
pub use crate::ports::MAX_MERCHANT_DECLINES_PER_HOUR;

/// The payment's phone's lookup digests: under every key where its number is at hand (during
/// a key rotation, each is checked and each is counted, so a rotation resets nothing), else
/// the one it was stored with.
pub(crate) fn phone_keys(svc: &Services, payment: &Payment) -> Vec<String> {
    match payment.phone.number() {
        Some(phone) => svc.hasher().phone_keys(phone),
        None => vec![payment.phone.key.clone()],
    }
}

/// A payer: by the merchant's user, then by the phone codes go to (a guard per digest of it).
/// Any one locked locks the payer.
pub(crate) fn payer_keys(svc: &Services, payment: &Payment) -> Vec<String> {
    let phones = phone_keys(svc, payment);
    std::iter::once(format!("PAYER#{}#USER#{}", payment.merchant_id, payment.user_id))
        .chain(phones.iter().map(|key| format!("PAYER#{}#PHONE#{key}", payment.merchant_id)))
        .collect()
}

/// How many of the payer's guards (the first of [`payer_keys`], of `all`) a wrong code counts
/// against: the user's always, the phone's only where the phone was proven (a saved card's).
/// Naming a victim's phone in a payment of one's own and entering wrong codes locks out only
/// oneself. (Any guard locked still refuses: a lock protects whoever it was counted for.)
pub(crate) fn counted_payers(payment: &Payment, all: usize) -> usize {
    match payment.phone_origin {
        PhoneOrigin::Request => 1.min(all),
        PhoneOrigin::SavedCard => all,
    }
}

/// What a decline counter does at its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtCap {
    /// The session's: its next card is refused before the acquirer.
    Refuse,
    /// The merchant's: new cards get stricter velocity limits; nothing is refused.
    Scrutinise,
}

/// The decline counters a payment is checked against, with their caps, what their cap does and
/// the end of their window. (A card's own declines are counted as attempts, approved or not,
/// across users and merchants: [`crate::ports::AttemptLimit::Card`].)
pub(crate) fn decline_limits(svc: &Services, payment: &Payment, now: i64) -> Vec<(String, u32, AtCap, i64)> {
    let hour = now.div_euclid(3_600);
    let mut limits = vec![(
        format!("DECLINES#MERCHANT#{}#H{hour}", payment.merchant_id),
        svc.attempt_limits.merchant_declines_hourly,
        AtCap::Scrutinise,
        (hour + 1) * 3_600,
    )];
    if let Some(session) = &payment.session_id {
        // No window: the session's lifetime (at most an hour) bounds it.
        limits.push((
            format!("DECLINES#SESSION#{session}"),
            MAX_SESSION_DECLINES,
            AtCap::Refuse,
            now + PAYER_LOCK_SECS,
        ));
    }
    limits
}

/// Each decline counter of `payment` that refuses at its cap, with the cap, as a write's
/// conditions check them.
pub(crate) fn decline_caps(svc: &Services, payment: &Payment, now: i64) -> Vec<(String, u32)> {
    decline_limits(svc, payment, now)
        .into_iter()
        .filter(|(_, _, at_cap, _)| *at_cap == AtCap::Refuse)
        .map(|(key, cap, _, _)| (key, cap))
        .collect()
}

/// The keys read before a decision on `payment`: its payer's, then its decline counters; and
/// how many are the payer's.
pub(crate) fn admission_keys(svc: &Services, payment: &Payment, now: i64) -> (Vec<String>, usize) {
    let mut keys = payer_keys(svc, payment);
    let payers = keys.len();
    keys.extend(decline_limits(svc, payment, now).into_iter().map(|(k, _, _, _)| k));
    (keys, payers)
}

/// Refuses a payer who is locked out (`guards`: the payer's, as read).
pub(crate) fn check_payer(guards: &[Guard], now: i64) -> Result<(), UseCaseError> {
    match guards.iter().filter_map(|g| g.is_locked(now)).max() {
        Some(retry_after_secs) => Err(UseCaseError::TooManyFailures { retry_after_secs }),
        None => Ok(()),
    }
}

/// Checks the decline counters (`guards`: as read, in [`decline_limits`]' order) before the
/// acquirer: the session's at its cap refuses; the merchant's at its cap makes new cards'
/// velocity limits strict. Under concurrency a cap can be passed by the authorisations already
/// in flight when it is reached (the counters are read, then bumped after each decline).
pub(crate) fn check_declines(
    svc: &Services,
    payment: &Payment,
    guards: &[Guard],
    now: i64,
) -> Result<Scrutiny, UseCaseError> {
    let mut scrutiny = Scrutiny::Normal;
    for ((key, cap, at_cap, window_end), guard) in decline_limits(svc, payment, now).iter().zip(guards) {
        if guard.count < *cap {
            continue;
        }
        let limit = key.split('#').nth(1).unwrap_or("");
        svc.metrics.record(BusinessEvent::DeclineCapReached);
        match at_cap {
            AtCap::Refuse => {
                tracing::warn!(payment_id = %payment.id, limit, cap, "decline cap reached: authorisation refused");
                return Err(UseCaseError::TooManyDeclines { retry_after_secs: (window_end - now).max(1) });
            }
            AtCap::Scrutinise => {
                tracing::warn!(payment_id = %payment.id, limit, cap, "decline cap reached: new cards under strict limits");
                scrutiny = Scrutiny::Strict;
            }
        }
    }
    Ok(scrutiny)
}

/// Counts a decline against every decline counter of `payment` (plain counter updates: they
/// never conflict).
pub(crate) async fn count_decline(svc: &Services, payment: &Payment, now: i64) {
    let keys: Vec<String> = decline_limits(svc, payment, now).into_iter().map(|(k, _, _, _)| k).collect();
    if let Err(e) = svc.payments.bump(&keys, now + 2 * 86_400).await {
        tracing::warn!(payment_id = %payment.id, error = %e, "decline not counted");
    }
}

/// The payer's guards after a wrong code: one more consecutive failure each; the 5th locks the
/// payer (and starts the count again). Returns whether this failure locked the payer.
pub(crate) fn count_failure(guards: &mut [Guard], now: i64) -> bool {
    let mut locked = false;
    for g in guards.iter_mut() {
        locked |= g.count_failure(now, now + KEY_RETENTION_SECS);
    }
    locked
}

/// The payer's guards after a right code: the consecutive count starts again. Only guards
/// that counted something are written.
pub(crate) fn reset_failures(guards: &[Guard]) -> Vec<Guard> {
    guards.iter().filter(|g| g.count > 0).map(|g| Guard { count: 0, ..g.clone() }).collect()
}

/// Whether a payment may be locked out by its payer's lock (it is open and not yet capturing).
pub(crate) fn lockable(p: &Payment) -> bool {
    matches!(p.status, PaymentStatus::Authorizing | PaymentStatus::RequiresVerification)
}
