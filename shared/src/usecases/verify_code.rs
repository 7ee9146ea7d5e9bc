use super::guards::{admission_keys, check_declines, check_payer, count_failure, reset_failures, PAYER_LOCK_SECS};
use super::lifecycle::{finish_capture, lock_out_payer, outcome_of, release_hold};
use super::send_code::code_context;
use super::{Attempt, Caller, Services, UseCaseError};
use crate::domain::{CodeCheck, Payment, PaymentId, PaymentStatus, VerificationCode};
use crate::ports::{BusinessEvent, Guard, OrderChange, StoreError, WriteAlso};

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
    for _ in 0..MAX_RACE_RETRIES {
        match try_once(svc, caller, id, code, recovering).await {
            Err(Raced) => continue,
            Ok(outcome) => return outcome,
        }
    }
    Err(UseCaseError::Contention)
}

struct Raced;

async fn try_once(
    svc: &Services,
    caller: &Caller,
    id: &PaymentId,
    code: &VerificationCode,
    recovering: bool,
) -> Result<Result<Payment, UseCaseError>, Raced> {
    let mut payment = match svc.payments.get(id).await {
        Ok(Some(p)) if caller.may_see(&p) => p,
        // Another merchant's payment is answered as if it did not exist.
        Ok(_) => return Ok(Err(UseCaseError::PaymentNotFound)),
        Err(e) => return Ok(Err(e.into())),
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
        return Ok(finish_capture(svc, payment).await);
    }

    // One read: the order's holder, the payer's lock-out guards and the decline caps.
    let keys = admission_keys(&payment, now);
    let mut admission = match svc.payments.admission(&payment.merchant_id, &payment.order_id, &keys).await {
        Ok(a) => a,
        Err(e) => return Ok(Err(e.into())),
    };
    // A locked-out payer's codes are not even checked (a finished payment still answers as
    // it stands).
    if payment.status != PaymentStatus::Succeeded {
        if let Err(e) = check_payer(&admission.guards, now) {
            return Ok(Err(e));
        }
    }

    let mut payers: Vec<Guard> = admission.guards.iter().take(2).cloned().collect();
    let mut also = WriteAlso::default();
    let mut locked_payer = false;
    let result: Result<(), UseCaseError> = match payment.check_code(matches, now) {
        // A retry of a verify that died after completing the payment with this very code:
        // answer what that attempt would have answered.
        CodeCheck::NotPending if recovering && matches => return Ok(outcome_of(payment)),
        CodeCheck::NotPending => return Ok(Err(UseCaseError::NotPending(Box::new(payment)))),
        CodeCheck::CodeExpired => return Ok(Err(UseCaseError::CodeExpired)),
        CodeCheck::PaymentExpired => Err(UseCaseError::NotPending(Box::new(payment.clone()))),
        // A wrong code counts against the payer too, in the same transaction: the 5th in a
        // row, across payments, locks them out.
        check @ (CodeCheck::LockedOut | CodeCheck::Incorrect { .. }) => {
            locked_payer = count_failure(&mut payers, now);
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
        CodeCheck::Accepted => match admission.order_holder.take() {
            // The order is checked before anything is captured: a paid order fails this payment.
            Some(holder) if holder != payment.id => {
                payment.lose_order(now);
                Err(UseCaseError::OrderAlreadyPaid(None))
            }
            _ => {
                if payment.hold.is_none() {
                    // A repeat payment is authorised after this write: its caps come first.
                    if let Err(e) = check_declines(svc, &payment, &admission.guards, now) {
                        return Ok(Err(e));
                    }
                }
                // One write: the code is spent, the order claimed for this payment, the
                // payer's count of wrong codes starts again.
                payment.start_capture(now);
                payers = reset_failures(&payers);
                also.order = OrderChange::Claim;
                Ok(())
            }
        },
    };
    also.guards = &payers;

    match svc.payments.update(&payment, also).await {
        Err(StoreError::Conflict) => Err(Raced),
        Err(e) => Ok(Err(e.into())),
        Ok(()) => {
            payment.version += 1;
            tracing::info!(payment_id = %payment.id, status = payment.status.as_str(),
                failure_code = payment.failure_code.as_deref().unwrap_or(""), "verification stored");
            count_outcome(svc, &payment, &result);
            if locked_payer {
                tracing::warn!(payment_id = %payment.id, "payer locked out after consecutive wrong codes");
                lock_out_payer(svc, &payment).await;
            }
            Ok(match result {
                Ok(()) => finish_capture(svc, payment).await,
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
