//! Refunds of a captured payment (issue 23). A refund is part of its payment: it is added
//! `pending` by one conditional write whose condition is the state machine's rule (refunds that
//! have not failed never exceed what was captured; at most `MAX_REFUNDS`; within the refund
//! window), then the acquirer is asked with the refund id as its idempotency key, then its answer
//! is stored. A refund the acquirer could not answer, or answered `pending`, stays `pending`; the
//! sweeper finishes it ([`finish_refunds`]). A failed refund's amount is refundable again.

use super::commit::{commit, store, Raced, Step};
use super::error::MoneyError;
use super::lifecycle::unavailable;
use super::{payment_status, Caller, Ports, UseCaseError};
use crate::domain::{
    Command, Money, Payment, PaymentId, Refund, RefundId, RefundMetadata, RefundReason, RefundRefusal,
    RefundSettlement, RefundStatus, Refusal,
};
use crate::ports::{ConditionalWrite, NewRefund, RefundOutcome, RefundRequest};

/// What the merchant asks for.
#[derive(Debug, Clone)]
pub struct RefundAsk {
    /// Minor units; `None`: all that is left.
    pub amount: Option<u64>,
    pub reason: Option<RefundReason>,
    pub metadata: RefundMetadata,
}

/// Refunds `ask` of the caller's captured payment `id`: the payment as it then stands, and the
/// refund's id. `seed` (a keyed request's) gives a retry the same refund id, so a retry after a
/// crash finishes the refund its first try created instead of creating another.
pub async fn create_refund(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    ask: &RefundAsk,
    seed: Option<&str>,
) -> Result<(Payment, RefundId), UseCaseError> {
    let refund_id = RefundId::for_payment(id, seed);
    let payment = commit(|_: Option<Raced>| add_refund(svc, caller, id, &refund_id, ask)).await?;
    let payment = match payment.refund(&refund_id) {
        Some(r) if r.status == RefundStatus::Pending => send_refund(svc, payment.clone(), r.clone(), false).await?,
        // A retry of a refund already answered.
        Some(_) => payment,
        None => return Err(unavailable("a written refund is not in its payment")),
    };
    Ok((payment, refund_id))
}

async fn add_refund(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    refund_id: &RefundId,
    ask: &RefundAsk,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    let now = svc.clock.now();
    let window_secs = svc.settings.refund_window.secs();
    let amount = match ask.amount {
        Some(amount) => amount,
        // All that is left, as read now; the write's condition still decides.
        None => {
            let p = payment_status(svc, caller, id).await?;
            if p.refund(refund_id).is_some() {
                return Ok(Step::Done(p));
            }
            match p.amount_refundable().unwrap_or(0) {
                // Nothing left (or not captured): the state machine says why, nothing is written.
                0 => {
                    let refund = Refund::pending(refund_id.clone(), 0, ask.reason, ask.metadata.clone(), now);
                    return explain(svc, p, refund, window_secs, now).await;
                }
                left => left,
            }
        }
    };
    let refund = Refund::pending(refund_id.clone(), amount, ask.reason, ask.metadata.clone(), now);
    let new = NewRefund { payment_id: id, merchant_id: caller.merchant(), refund: &refund, window_secs, now };
    let found = match svc.payments.add_refund(&new).await? {
        ConditionalWrite::Written(p) => {
            tracing::info!(payment_id = %id, refund_id = %refund_id, amount, "refund requested by the merchant");
            return Ok(Step::Done(*p));
        }
        ConditionalWrite::Refused(found) => found.filter(|p| caller.may_see(p)).ok_or(UseCaseError::PaymentNotFound)?,
    };
    explain(svc, *found, refund, window_secs, now).await
}

/// Why `refund` is refused, as the state machine says, from the payment as found.
async fn explain(
    svc: &Ports,
    mut found: Payment,
    refund: Refund,
    window_secs: i64,
    now: i64,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    match found.decide(Command::RefundPayment { refund, window_secs }, now) {
        // A retry whose first try wrote it (or a write whose answer was lost).
        Err(Refusal::Refund(RefundRefusal::Exists)) => Ok(Step::Done(found)),
        Err(Refusal::Refund(refusal)) => Err(refused(refusal, found)),
        Err(
            Refusal::NotPending
            | Refusal::CodeExpired
            | Refusal::TooSoon { .. }
            | Refusal::SendLimitReached
            | Refusal::NotAllowed { .. }
            | Refusal::AmountNotCapturable { .. },
        ) => Err(MoneyError::NotCaptured(Box::new(found)).into()),
        // The rules allow it, the condition did not: a payment stored before refunds were kept
        // (without what the condition reads). Written again as it is now, then tried again.
        Ok(_) => match store(svc, &mut found, &[]).await {
            Ok(()) | Err(crate::ports::StoreError::Conflict) => Ok(Step::Again(Raced)),
            Err(e) => Err(e.into()),
        },
    }
}

fn refused(refusal: RefundRefusal, found: Payment) -> UseCaseError {
    match refusal {
        RefundRefusal::NotCaptured => MoneyError::NotCaptured(Box::new(found)).into(),
        RefundRefusal::AmountNotRefundable { refundable } => MoneyError::AmountNotRefundable { refundable }.into(),
        RefundRefusal::WindowClosed => MoneyError::RefundWindowClosed.into(),
        RefundRefusal::TooMany => MoneyError::TooManyRefunds.into(),
        // Not a refusal of a new refund (`Exists` is answered before; `NotPending` is a
        // settlement's).
        RefundRefusal::Exists | RefundRefusal::NotPending => UseCaseError::Contention,
    }
}

/// Asks the acquirer for `refund` (again, if `again`: the sweeper's, when its request's answer
/// is unknown) and stores a final answer; a `pending` one, or none, leaves it pending.
async fn send_refund(svc: &Ports, payment: Payment, refund: Refund, again: bool) -> Result<Payment, UseCaseError> {
    let Some(authorization_id) = payment.hold.as_ref().map(|h| h.authorization_id.clone()) else {
        return Err(unavailable("a captured payment without its authorisation"));
    };
    let money = Money { minor: refund.amount, ..payment.money };
    let request = RefundRequest {
        refund_id: &refund.id,
        payment_id: &payment.id,
        authorization_id: &authorization_id,
        money: &money,
    };
    let mut outcome = svc.acquirer.refund(&request).await;
    if again && matches!(outcome, Ok(RefundOutcome::Pending)) {
        outcome = svc.acquirer.refund_status(&request).await;
    }
    let settlement = match outcome {
        Ok(RefundOutcome::Succeeded) => RefundSettlement::Succeeded,
        Ok(RefundOutcome::Failed(reason)) => RefundSettlement::Failed(reason),
        Ok(RefundOutcome::Pending) => {
            tracing::info!(refund_id = %refund.id, "refund pending at the acquirer; the sweeper asks again");
            return Ok(payment);
        }
        Err(e) => {
            tracing::warn!(refund_id = %refund.id, error = %e, "refund not answered; the sweeper asks again");
            return Ok(payment);
        }
    };
    match settle(svc, payment.clone(), &refund.id, settlement).await {
        Ok(p) => Ok(p),
        // The answer could not be stored: the refund stays pending (the acquirer has it; its
        // repeated ask, by the sweeper or a keyed retry, refunds once).
        Err(e) => {
            tracing::warn!(refund_id = %refund.id, error = %e, "refund's answer not stored; the sweeper asks again");
            Ok(payment)
        }
    }
}

/// Stores a pending refund's final answer: the payment as it then stands.
pub(crate) async fn settle(
    svc: &Ports,
    mut payment: Payment,
    id: &RefundId,
    settlement: RefundSettlement,
) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    let payment_id = payment.id.clone();
    if payment.execute(Command::SettleRefund { id: id.clone(), outcome: settlement }, now).is_err() {
        return Ok(payment);
    }
    let settled = payment.refund(id).cloned().ok_or_else(|| unavailable("a settled refund is not in its payment"))?;
    if svc.payments.settle_refund(&payment_id, &settled).await? {
        tracing::info!(refund_id = %id, status = settled.status.as_str(), "refund settled");
        // The payment as this request knows it, its refund settled, at the version the
        // settlement wrote (unless another refund was written since: a write of it back then
        // loses the version race, and is decided again from a fresh read).
        payment.version += 1;
        return Ok(payment);
    }
    // Settled by someone else first: as it now stands.
    svc.payments.get(&payment_id).await?.ok_or(UseCaseError::PaymentNotFound)
}

/// The sweeper's part: every refund of `payment` left pending past its request's grace is asked
/// again (the refund id makes a repeated ask refund once) and its answer stored. The payment as
/// it then stands, and how many were settled.
pub(crate) async fn finish_refunds(svc: &Ports, mut payment: Payment) -> Result<(Payment, usize), UseCaseError> {
    let now = svc.clock.now();
    let due: Vec<Refund> = payment
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Pending && now >= r.updated_at + crate::domain::REFUND_GRACE_SECS)
        .cloned()
        .collect();
    let mut settled = 0;
    for refund in due {
        let next = send_refund(svc, payment.clone(), refund.clone(), true).await?;
        settled += usize::from(next.refund(&refund.id).is_some_and(|r| r.status != RefundStatus::Pending));
        payment = next;
    }
    Ok((payment, settled))
}

/// One of the caller's refunds, with its payment: another merchant's is not found.
pub async fn get_refund(svc: &Ports, caller: &Caller, id: &RefundId) -> Result<(Payment, Refund), UseCaseError> {
    let payment_id = id.payment_id().ok_or(MoneyError::RefundNotFound)?;
    let payment =
        svc.payments.get(&payment_id).await?.filter(|p| caller.may_see(p)).ok_or(MoneyError::RefundNotFound)?;
    let refund = payment.refund(id).cloned().ok_or(MoneyError::RefundNotFound)?;
    Ok((payment, refund))
}
