use super::send_code::code_context;
use super::{Attempt, Caller, Services, UseCaseError};
use crate::domain::{CodeCheck, Payment, PaymentId, PaymentStatus, VerificationCode, ORDER_ALREADY_PAID};
use crate::ports::{Authorization, BusinessEvent, SavedMethod, StoreError};

/// Version-checked writes that lose a race are retried from a fresh read this many times.
pub(crate) const MAX_RACE_RETRIES: usize = 8;

/// Checks the code; on a match, authorizes with the acquirer and completes the payment
/// (saving the card when asked). Every outcome that changes the payment is stored with a
/// version-checked write, so of two concurrent right codes exactly one completes it.
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
    let matches = svc.hasher.matches(&ctx, code, &payment.verification.code_hash);

    let (save, result): (Option<SavedMethod>, Result<(), UseCaseError>) = match payment.check_code(matches, now) {
        // A retry of a verify that died after completing the payment with this very code:
        // answer what that attempt would have answered.
        CodeCheck::NotPending if recovering && matches => return Ok(outcome_of(payment)),
        CodeCheck::NotPending => return Ok(Err(UseCaseError::NotPending(Box::new(payment)))),
        CodeCheck::CodeExpired => return Ok(Err(UseCaseError::CodeExpired)),
        CodeCheck::PaymentExpired => (None, Err(UseCaseError::NotPending(Box::new(payment.clone())))),
        CodeCheck::LockedOut => (None, Err(UseCaseError::TooManyAttempts(Box::new(payment.clone())))),
        CodeCheck::Incorrect { attempts_remaining } => (None, Err(UseCaseError::IncorrectCode { attempts_remaining })),
        // The order is checked before the card is charged: a paid order fails this payment.
        // (The success write claims the order too, so of two payments racing for one order
        // only one can succeed; the loser reads again and ends here.)
        CodeCheck::Accepted => match svc.payments.order_paid_by(&payment.merchant_id, &payment.order_id).await {
            Err(e) => return Ok(Err(e.into())),
            Ok(Some(holder)) if holder != payment.id => {
                payment.lose_order(now);
                (None, Err(UseCaseError::OrderAlreadyPaid(None)))
            }
            Ok(_) => match authorize(svc, &mut payment, now).await {
                Ok(save) => (save, Ok(())),
                Err(e @ UseCaseError::Unavailable(_)) => return Ok(Err(e)),
                Err(e) => (None, Err(e)),
            },
        },
    };

    match svc.payments.update(&payment, save.as_ref()).await {
        Err(StoreError::Conflict) => Err(Raced),
        Err(e) => Ok(Err(e.into())),
        Ok(()) => {
            payment.version += 1;
            tracing::info!(payment_id = %payment.id, status = payment.status.as_str(),
                failure_code = payment.failure_code.as_deref().unwrap_or(""), "verification stored");
            count_outcome(svc, &payment, &result);
            Ok(match result {
                Ok(()) => Ok(payment),
                Err(UseCaseError::Declined(_)) => Err(UseCaseError::Declined(Box::new(payment))),
                Err(UseCaseError::OrderAlreadyPaid(_)) => Err(UseCaseError::OrderAlreadyPaid(Some(Box::new(payment)))),
                Err(e) => Err(e),
            })
        }
    }
}

/// The business events of a stored verification: a wrong code, and how the payment ended.
fn count_outcome(svc: &Services, payment: &Payment, result: &Result<(), UseCaseError>) {
    if matches!(result, Err(UseCaseError::IncorrectCode { .. } | UseCaseError::TooManyAttempts(_))) {
        svc.metrics.record(BusinessEvent::VerificationFailed);
    }
    match payment.status {
        PaymentStatus::Succeeded => svc.metrics.record(BusinessEvent::PaymentSucceeded),
        PaymentStatus::Failed => svc.metrics.record(BusinessEvent::PaymentFailed {
            code: payment.failure_code.clone().unwrap_or_else(|| "failed".into()),
        }),
        PaymentStatus::RequiresVerification | PaymentStatus::Expired | PaymentStatus::Canceled => {}
    }
}

fn outcome_of(payment: Payment) -> Result<Payment, UseCaseError> {
    match (payment.status, payment.failure_code.as_deref()) {
        (PaymentStatus::Succeeded, _) => Ok(payment),
        (PaymentStatus::Failed, Some(ORDER_ALREADY_PAID)) => {
            Err(UseCaseError::OrderAlreadyPaid(Some(Box::new(payment))))
        }
        (PaymentStatus::Failed, Some(reason)) if reason != "too_many_attempts" && reason != "code_not_sent" => {
            Err(UseCaseError::Declined(Box::new(payment)))
        }
        _ => Err(UseCaseError::NotPending(Box::new(payment))),
    }
}

/// Authorizes a payment whose code matched, and moves it to its final state in memory.
/// Returns the method to save with it, if the card is to be kept.
async fn authorize(svc: &Services, payment: &mut Payment, now: i64) -> Result<Option<SavedMethod>, UseCaseError> {
    let sealed = payment
        .sealed_card
        .clone()
        .ok_or_else(|| UseCaseError::Unavailable("pending payment without its card".into()))?;
    let card = svc.vault.open(&payment.customer(), &sealed).map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
    let auth = svc
        .acquirer
        .authorize(&payment.id, &payment.money, &card)
        .await
        .map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
    match auth {
        Authorization::Declined(reason) => {
            payment.decline(&reason, now);
            Err(UseCaseError::Declined(Box::new(payment.clone())))
        }
        Authorization::Approved => {
            let save = payment.save_card.then(|| SavedMethod {
                id: payment.method.id.clone(),
                customer: payment.customer(),
                brand: payment.method.brand,
                last4: payment.method.last4.clone(),
                expiry: payment.method.expiry,
                fingerprint: payment.fingerprint.clone(),
                sealed_card: sealed,
                phone: payment.phone.clone(),
                saved_at: now,
            });
            payment.succeed(now);
            Ok(save)
        }
    }
}
