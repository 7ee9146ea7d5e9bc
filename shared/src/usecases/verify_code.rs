use super::attempt::InlineKey;
use super::guards::{check_payer, count_failure, payer_keys, reset_failures, MAX_PAYER_FAILURES, PAYER_LOCK_SECS};
use super::lifecycle::{finish_capture, lock_out_payer, outcome_of, release_hold};
use super::send_code::code_context;
use super::{Attempt, Caller, Services, UseCaseError};
use crate::domain::{CodeCheck, Payment, PaymentId, PaymentStatus, VerificationCode};
use crate::ports::{
    BusinessEvent, Guard, OrderChange, PayerChange, Refusal, StoreError, WriteAlso, KEY_RETENTION_SECS,
};

/// Version-checked writes that lose a race are retried from a fresh read this many times.
pub(crate) const MAX_RACE_RETRIES: usize = 8;

/// Checks the code; on a match, claims the order and captures (a repeat payment is authorised
/// first), saving the card when asked. Every outcome that changes the payment is stored with a
/// version-checked write, so of two concurrent right codes exactly one moves it to capture.
pub async fn verify_code(
    svc: &Services,
    caller: &Caller,
    id: &PaymentId,
    code: &VerificationCode,
    attempt: Option<&Attempt>,
) -> Result<Payment, UseCaseError> {
    let recovering = Attempt::is_recovering(attempt);
    let key = Attempt::inline_key(attempt);
    // The fast way first: decide from the payment alone, with the payer's lock and the order
    // as conditions of the write. A write they refuse is decided again the careful way.
    let mut careful = false;
    for _ in 0..MAX_RACE_RETRIES {
        match try_once(svc, caller, id, code, Mode { recovering, careful, key }).await {
            Err(Raced) => {}
            Err(TakeCare) => careful = true,
            Ok(outcome) => return outcome,
        }
    }
    Err(UseCaseError::Contention)
}

/// Why an attempt is tried again: its write lost a race (read again), or a condition of the
/// fast write refused it (read again, with the order and the payer's guards).
enum Retry {
    Raced,
    TakeCare,
}
use Retry::{Raced, TakeCare};

/// How an attempt goes: taking over from a dead one (`recovering`), the careful way, and with a
/// new Idempotency-Key its writes claim and answer (`key`).
#[derive(Clone, Copy)]
struct Mode<'a> {
    recovering: bool,
    careful: bool,
    key: Option<&'a InlineKey>,
}

/// One attempt. The fast way (`careful == false`) reads the payment only (with the request's
/// new key, if any): a wrong code counts against the payer's guards only while neither is
/// locked and the count stays below the lock; a right code resets them only while neither is
/// locked, and claims the order. The careful way reads the order and the guards first and
/// writes the guards back at their versions: the failure that locks the payer, a locked payer,
/// a paid order. The attempt's write claims the new key; the capture's write keeps its answer.
async fn try_once(
    svc: &Services,
    caller: &Caller,
    id: &PaymentId,
    code: &VerificationCode,
    mode: Mode<'_>,
) -> Result<Result<Payment, UseCaseError>, Retry> {
    let Mode { recovering, careful, key } = mode;
    let read = match key {
        Some(k) => svc.payments.get_with_key(id, k.key()).await,
        None => svc.payments.get(id).await.map(|p| (p, None)),
    };
    let (stored, seen) = match read {
        Ok(read) => read,
        Err(e) => return Ok(Err(e.into())),
    };
    // The key was used before (or is being used now): the way of a retry.
    if let (Some(k), Some(found)) = (key, seen) {
        return Ok(Err(k.seen(Some(found))));
    }
    let mut payment = match stored {
        Some(p) if caller.may_see(&p) => p,
        // Another merchant's payment is answered as if it did not exist.
        _ => return Ok(Err(UseCaseError::PaymentNotFound)),
    };
    let now = svc.clock.now();
    let ctx = code_context(&payment, payment.verification.sends);
    let matches = match svc.hasher() {
        Ok(hasher) => hasher.matches(&ctx, code, &payment.verification.code_hash),
        Err(e) => return Ok(Err(e)),
    };
    // The right code again on a payment it already moved to capture, from a retry (its verify
    // died, or lost the acquirer): finish the capture, under the same capture key. A request
    // racing the one that is capturing is answered as the loser it is.
    if matches && (payment.is_stale_capture(now) || (recovering && payment.status == PaymentStatus::Capturing)) {
        return Ok(finish_capture(svc, payment, None).await);
    }

    let keys = payer_keys(&payment);
    // The careful way: one read of the order's holder and the payer's lock-out guards.
    let mut order_holder = None;
    let mut payers: Vec<Guard> = Vec::new();
    if careful {
        let admission = match svc.payments.admission(&payment.merchant_id, &payment.order_id, &keys, None).await {
            Ok(a) => a,
            Err(e) => return Ok(Err(e.into())),
        };
        // A locked-out payer's codes are not even checked (a finished payment still answers
        // as it stands).
        if payment.status != PaymentStatus::Succeeded {
            if let Err(e) = check_payer(&admission.guards, now) {
                return Ok(Err(e));
            }
        }
        order_holder = admission.order_holder;
        payers = admission.guards;
    }
    let mut also = WriteAlso::default();
    let mut locked_payer = false;
    let check = payment.check_code(matches, now);
    let decided_by_code = matches!(check, CodeCheck::Accepted | CodeCheck::Incorrect { .. } | CodeCheck::LockedOut);
    if !careful && !decided_by_code && payment.status != PaymentStatus::Succeeded {
        // An ended or expired payment answers as it stands, unless its payer is locked out:
        // only the careful way reads that (these answers are rare, the extra read is too).
        return Err(TakeCare);
    }
    let result: Result<(), UseCaseError> = match check {
        // A retry of a verify that died after completing the payment with this very code:
        // answer what that attempt would have answered.
        CodeCheck::NotPending if recovering && matches => return Ok(outcome_of(payment)),
        CodeCheck::NotPending => return Ok(Err(UseCaseError::NotPending(Box::new(payment)))),
        CodeCheck::CodeExpired => return Ok(Err(UseCaseError::CodeExpired)),
        CodeCheck::PaymentExpired => Err(UseCaseError::NotPending(Box::new(payment.clone()))),
        // A wrong code counts against the payer too, in the same transaction: the 5th in a
        // row, across payments, locks them out.
        check @ (CodeCheck::LockedOut | CodeCheck::Incorrect { .. }) => {
            if careful {
                locked_payer = count_failure(&mut payers, now);
            } else {
                let expires_at = now + KEY_RETENTION_SECS;
                also.payer = PayerChange::Count { keys: &keys, now, below: MAX_PAYER_FAILURES - 1, expires_at };
            }
            match check {
                // The payment's own last attempt: it has failed, as it always did.
                CodeCheck::LockedOut => Err(UseCaseError::TooManyAttempts(Box::new(payment.clone()))),
                _ if locked_payer => {
                    payment.lock_out(now);
                    Err(UseCaseError::TooManyFailures { retry_after_secs: PAYER_LOCK_SECS })
                }
                CodeCheck::Incorrect { attempts_remaining } => Err(UseCaseError::IncorrectCode { attempts_remaining }),
                _ => Err(UseCaseError::TooManyAttempts(Box::new(payment.clone()))),
            }
        }
        CodeCheck::Accepted => match order_holder.take() {
            // The order is checked before anything is captured: a paid order fails this payment.
            Some(holder) if holder != payment.id => {
                payment.lose_order(now);
                Err(UseCaseError::OrderAlreadyPaid(None))
            }
            _ => {
                // One write: the code is spent, the order claimed for this payment, the
                // payer's count of wrong codes starts again. (A repeat payment's decline caps
                // were checked when it was opened.)
                payment.start_capture(now);
                if careful {
                    payers = reset_failures(&payers);
                } else {
                    also.payer = PayerChange::Reset { keys: &keys, now, expires_at: now + KEY_RETENTION_SECS };
                }
                also.order = OrderChange::Claim;
                Ok(())
            }
        },
    };
    also.guards = &payers;
    let claim = key.map(InlineKey::claim);
    also.key = claim.as_ref();

    match svc.payments.update(&payment, also).await {
        // Another request with this key got there first: the way of a retry.
        Err(StoreError::Refused(Refusal::Key)) => Ok(Err(key.map_or(UseCaseError::Contention, |k| k.seen(None)))),
        Err(StoreError::Conflict) => Err(Raced),
        // Locked payer, the failure that locks, or a paid order: decide with them read.
        Err(StoreError::Refused(_)) => Err(TakeCare),
        Err(e) => {
            if let (Some(k), StoreError::Unavailable(_)) = (key, &e) {
                k.unsure();
            }
            Ok(Err(e.into()))
        }
        Ok(()) => {
            if let (Some(k), Some(claim)) = (key, &claim) {
                k.written(claim);
            }
            payment.version += 1;
            tracing::info!(payment_id = %payment.id, status = payment.status.as_str(),
                failure_code = payment.failure_code.as_deref().unwrap_or(""), "verification stored");
            count_outcome(svc, &payment, &result);
            if locked_payer {
                tracing::warn!(payment_id = %payment.id, "payer locked out after consecutive wrong codes");
                lock_out_payer(svc, &payment).await;
            }
            Ok(match result {
                Ok(()) => finish_capture(svc, payment, key).await,
                Err(e) => {
                    // Whatever an ended payment holds is released now (or by the sweeper).
                    let payment = release_hold(svc, payment).await;
                    Err(match e {
                        UseCaseError::OrderAlreadyPaid(_) => UseCaseError::OrderAlreadyPaid(Some(Box::new(payment))),
                        UseCaseError::TooManyAttempts(_) => UseCaseError::TooManyAttempts(Box::new(payment)),
                        UseCaseError::NotPending(_) => UseCaseError::NotPending(Box::new(payment)),
                        e => e,
                    })
                }
            })
        }
    }
}

/// The business events of a stored verification: a wrong code, and a payment ended by it.
fn count_outcome(svc: &Services, payment: &Payment, result: &Result<(), UseCaseError>) {
    if matches!(
        result,
        Err(UseCaseError::IncorrectCode { .. }
            | UseCaseError::TooManyAttempts(_)
            | UseCaseError::TooManyFailures { .. })
    ) {
        svc.metrics.record(BusinessEvent::VerificationFailed);
    }
    if payment.status == PaymentStatus::Failed {
        svc.metrics.record(BusinessEvent::PaymentFailed {
            code: payment.failure_code.clone().unwrap_or_else(|| "failed".into()),
        });
    }
}
