//! The acquirer's side of a payment: authorise (with the CVC, on a first payment), capture
//! once the right code claimed the order, void whatever an ended payment still holds.

use super::commit::{commit, store, transition, Raced, Step};
use super::guards::{count_decline, lockable};
use super::idempotency::{InlineKey, KeyProgress};
use super::{Ports, Services, UseCaseError};
use crate::domain::{
    CancellationReason, CaptureMethod, CardNumber, Command, Cvc, DeclineReason, Failure, FailureAnswer, Payment,
    PaymentStatus, PhoneOrigin, VerificationCode,
};
use crate::ports::{
    Authorization, AuthorizationRequest, BusinessEvent, Capture, DueCursor, Rider, SavedMethod, StoreError,
    StoredCredential,
};
use crate::secrets::CodeContext;

/// The card as the shopper typed it, for the first payment's authorisation only: never stored.
pub struct PresentCard {
    pub card: CardNumber,
    pub cvc: Cvc,
}

impl std::fmt::Debug for PresentCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentCard").field("card", &self.card).field("cvc", &self.cvc).finish()
    }
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> UseCaseError {
    UseCaseError::Unavailable(e.to_string())
}

/// Authorises a stored `authorizing` first payment with the card and CVC in hand. Approved: the
/// payment as it is to be stored awaiting `code` (whose hash it now carries), not yet written
/// (it is stored before its code goes out: [`super::open_payment`]). Declined: stored failed, the decline
/// counted, `Declined`. The acquirer unreachable: the payment stays `authorizing`.
pub(crate) async fn authorize_first(
    svc: &Services,
    payment: Payment,
    present: &PresentCard,
    code: &VerificationCode,
) -> Result<Payment, UseCaseError> {
    let customer = payment.customer();
    let request = AuthorizationRequest {
        payment_id: &payment.id,
        customer: &customer,
        session_id: payment.session_id.as_ref(),
        money: &payment.money,
        card: &present.card,
        expiry: payment.method.expiry,
        cvc: Some(&present.cvc),
        credential: if payment.save_card { StoredCredential::Initial } else { StoredCredential::None },
        three_ds: None,
    };
    let decision = svc.acquirer.authorize(&request).await.map_err(unavailable)?;
    after_authorization(svc, payment, decision, code).await
}

/// What a first payment's authorisation answered, applied (not yet stored, unless declined):
/// approved, it awaits `code`; declined, it is stored failed and the decline counted; an action
/// asked (3-D Secure), it awaits the page's.
pub(crate) async fn after_authorization(
    svc: &Services,
    mut payment: Payment,
    decision: Authorization,
    code: &VerificationCode,
) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    match decision {
        // Stays `authorizing` (stored so): its notification finishes it.
        Authorization::Pending => {
            tracing::info!(payment_id = %payment.id, "the acquirer answers the authorisation later");
            Ok(payment)
        }
        Authorization::ActionRequired { action } => {
            transition(&mut payment, Command::RequireAction { action }, now)?;
            tracing::info!(payment_id = %payment.id, "the acquirer asks the shopper to authenticate first");
            Ok(payment)
        }
        Authorization::Declined(reason) => {
            transition(&mut payment, Command::Fail(Failure::Declined(reason)), now)?;
            store(svc, &mut payment, &[]).await?;
            count_decline(svc, &payment, now).await;
            svc.metrics.record(BusinessEvent::PaymentFailed { code: reason.code().into() });
            tracing::info!(payment_id = %payment.id, "first payment declined: no code sent");
            Err(UseCaseError::Declined(Box::new(payment)))
        }
        Authorization::Approved { authorization_id, network_reference } => {
            let ctx = CodeContext {
                payment_id: &payment.id,
                money: &payment.money,
                merchant_id: &payment.merchant_id,
                send_seq: 1,
            };
            let code_hash = svc.hasher().hash(&ctx, code);
            transition(
                &mut payment,
                Command::RecordAuthorization { authorization_id, network_reference, code_hash },
                now,
            )?;
            Ok(payment)
        }
    }
}

/// Finishes a stored `capturing` payment: a repeat payment is authorised first (stored
/// credential, no funds were held before the code); then the capture, whose key is the payment
/// id, so finishing twice captures once. Run by the verify that won the code, by a retry, by a
/// status read, or by the sweeper. With `key` (a new Idempotency-Key the verification's write
/// claimed), the succeeded write keeps the request's answer too (`Answered`).
pub(crate) async fn finish_capture(
    svc: &Services,
    payment: Payment,
    key: Option<&InlineKey>,
) -> (Result<Payment, UseCaseError>, KeyProgress) {
    match capture_held(svc, payment).await {
        Ok(Captured::Yes(payment, now)) => record_capture(svc, payment, key, now).await,
        Ok(Captured::No(result)) => (result, KeyProgress::Untouched),
        Err(e) => (Err(e), KeyProgress::Untouched),
    }
}

/// How a capture went: captured (to be recorded, at the time it answered), or the payment's
/// answer without one.
pub(crate) enum Captured {
    Yes(Payment, i64),
    No(Result<Payment, UseCaseError>),
}

/// Authorises a repeat payment (its funds were not held before its code), then captures; a
/// manual-capture repeat payment's funds stay held for the merchant instead.
async fn capture_held(svc: &Services, mut payment: Payment) -> Result<Captured, UseCaseError> {
    let authorization_id = match payment.hold.as_ref().map(|h| h.authorization_id.clone()) {
        Some(id) => id,
        None => match authorize_repeat(svc, &mut payment).await? {
            Authorization::Approved { authorization_id, .. } => authorization_id,
            Authorization::Declined(reason) => return Ok(Captured::No(repeat_declined(svc, payment, reason).await)),
            // A repeat payment cannot authenticate at the issuer here: declined, as an issuer
            // that requires authentication declines.
            // Not answered yet: the payment stays capturing; the capture's retry (the sweeper's,
            // after the grace) authorises again under the same key and gets the answer.
            Authorization::Pending => return Err(unavailable("the acquirer answers the authorisation later")),
            Authorization::ActionRequired { .. } => {
                tracing::warn!(payment_id = %payment.id, "the acquirer asked a repeat payment for 3-D Secure");
                let declined = repeat_declined(svc, payment, DeclineReason::CardDeclined).await;
                return Ok(Captured::No(declined));
            }
        },
    };
    if payment.capture_method == CaptureMethod::Manual && payment.amount_to_capture.is_none() {
        return Ok(Captured::No(confirm_hold(svc, payment).await));
    }
    capture_authorized(svc, payment, &authorization_id).await
}

/// A manual-capture repeat payment just authorised: stored `requires_capture` until its
/// `capture_before`.
async fn confirm_hold(svc: &Ports, mut payment: Payment) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    let capture_before = svc.settings.capture_window.capture_before(now);
    transition(&mut payment, Command::ConfirmHold { capture_before }, now)?;
    match store(svc, &mut payment, &[]).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, "funds held for the merchant's capture");
            Ok(payment)
        }
        Err(StoreError::Conflict) => reread(svc, &payment).await.and_then(outcome_of),
        Err(e) => Err(e.into()),
    }
}

/// Captures an authorised payment (what it asks: all of it, or a manual capture's amount; the
/// acquirer releases the rest), storing a refused capture as failed with its order given back.
pub(crate) async fn capture_authorized(
    svc: &Ports,
    mut payment: Payment,
    authorization_id: &str,
) -> Result<Captured, UseCaseError> {
    let money = payment.capture_money();
    let captured = svc.acquirer.capture(&payment.id, authorization_id, &money).await.map_err(unavailable)?;
    let now = svc.clock.now();
    Ok(Captured::No(match captured {
        Capture::Captured => return Ok(Captured::Yes(payment, now)),
        // Stored `capturing` already (the claim that started it): the notification finishes it.
        // Read again: the notification may have come before this answer.
        // Stored as it is (a repeat payment's hold, just authorised, with it); the notification
        // finishes it. One that came before this answer has changed it: read again.
        Capture::Pending => {
            tracing::info!(payment_id = %payment.id, "capture taken; its result comes by notification");
            match store(svc, &mut payment, &[]).await {
                Ok(()) => Ok(payment),
                Err(StoreError::Conflict) => reread(svc, &payment).await.and_then(|p| match p.status {
                    PaymentStatus::Capturing => Ok(p),
                    _ => outcome_of(p),
                }),
                Err(e) => Err(e.into()),
            }
        }
        Capture::Failed(reason) => {
            tracing::warn!(payment_id = %payment.id, %reason, "capture failed");
            transition(&mut payment, Command::Fail(Failure::CaptureFailed), now)?;
            match end_capturing(svc, payment).await? {
                Ok(p) => {
                    let p = release_hold(svc, p).await;
                    Err(UseCaseError::Declined(Box::new(p)))
                }
                Err(current) => outcome_of(current),
            }
        }
    }))
}

/// A repeat payment's authorisation, after its code, on the stored credential. Approved: its
/// funds are held in `payment` (not stored on its own: a retry authorises again under the same
/// payment id and gets the same authorisation back).
async fn authorize_repeat(svc: &Services, payment: &mut Payment) -> Result<Authorization, UseCaseError> {
    let sealed = payment.sealed_card.clone().ok_or_else(|| unavailable("capturing payment without its card"))?;
    let card = svc.vault().open(&payment.customer(), &sealed).map_err(unavailable)?;
    let customer = payment.customer();
    let request = AuthorizationRequest {
        payment_id: &payment.id,
        customer: &customer,
        session_id: payment.session_id.as_ref(),
        money: &payment.money,
        card: &card,
        expiry: payment.method.expiry,
        cvc: None,
        credential: StoredCredential::Subsequent { network_reference: payment.network_reference.as_deref() },
        three_ds: None,
    };
    let decision = svc.acquirer.authorize(&request).await.map_err(unavailable)?;
    if let Authorization::Approved { authorization_id, .. } = &decision {
        let held = Command::HoldFunds { authorization_id: authorization_id.clone() };
        transition(payment, held, svc.clock.now())?;
    }
    Ok(decision)
}

/// A repeat payment declined after its code: it fails, giving its order up, and the decline
/// counts.
async fn repeat_declined(svc: &Services, mut payment: Payment, reason: DeclineReason) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    transition(&mut payment, Command::Fail(Failure::Declined(reason)), now)?;
    match end_capturing(svc, payment).await? {
        Ok(p) => {
            count_decline(svc, &p, now).await;
            Err(UseCaseError::Declined(Box::new(p)))
        }
        Err(current) => outcome_of(current),
    }
}

/// Stores a captured payment succeeded, with its card saved when asked and, with `key` (a new
/// Idempotency-Key the verification's write claimed), the request's answer.
pub(crate) async fn record_capture(
    svc: &Ports,
    mut payment: Payment,
    key: Option<&InlineKey>,
    now: i64,
) -> (Result<Payment, UseCaseError>, KeyProgress) {
    let save = match saved_method(&payment, now) {
        Ok(save) => save,
        Err(e) => return (Err(e), KeyProgress::Untouched),
    };
    if let Err(e) = transition(&mut payment, Command::RecordCapture, now) {
        return (Err(e), KeyProgress::Untouched);
    }
    let answer = key.map(|k| k.answer(&payment));
    let riders: Vec<Rider> =
        save.as_ref().map(Rider::SaveCard).into_iter().chain(answer.as_ref().map(Rider::Key)).collect();
    match store(svc, &mut payment, &riders).await {
        Ok(()) => {
            svc.metrics.record(BusinessEvent::PaymentSucceeded);
            tracing::info!(payment_id = %payment.id, "payment captured");
            if payment.phone_origin == PhoneOrigin::SavedCard {
                // When the card was last used, for the merchant's list of saved cards.
                if let Err(e) = svc.payments.touch_method(&payment.customer(), &payment.method.id, now).await {
                    tracing::warn!(payment_id = %payment.id, error = %e, "saved card's last use not recorded");
                }
            }
            let answered = if answer.is_some() { KeyProgress::Answered } else { KeyProgress::Untouched };
            (Ok(payment), answered)
        }
        // Another finisher stored it first: answer what is stored.
        Err(StoreError::Conflict) => (reread(svc, &payment).await.and_then(outcome_of), KeyProgress::Untouched),
        Err(e) => (Err(e.into()), KeyProgress::Untouched),
    }
}

/// The card a succeeding payment saves for repeat payments, if it was asked to.
pub(crate) fn saved_method(payment: &Payment, now: i64) -> Result<Option<SavedMethod>, UseCaseError> {
    match (payment.save_card, payment.sealed_card.clone(), payment.phone.number().cloned()) {
        (false, _, _) => Ok(None),
        (true, Some(sealed_card), Some(phone)) => Ok(Some(SavedMethod {
            id: payment.method.id.clone(),
            customer: payment.customer(),
            brand: payment.method.brand,
            last4: payment.method.last4.clone(),
            expiry: payment.method.expiry,
            fingerprint: payment.fingerprint.clone(),
            sealed_card,
            phone,
            network_reference: payment.network_reference.clone(),
            saved_at: now,
        })),
        // Read without the key to its phone: a function that holds it finishes this (the
        // captured funds are not lost: the capture key is the payment id).
        (true, _, _) => Err(unavailable("the card to save cannot be read here")),
    }
}

/// Stores a capturing payment's failure, giving its order up in the same write. `Err` holds
/// the payment as stored when another finisher got there first.
pub(crate) async fn end_capturing(svc: &Ports, mut payment: Payment) -> Result<Result<Payment, Payment>, UseCaseError> {
    match store(svc, &mut payment, &[Rider::ReleaseOrder]).await {
        Ok(()) => {
            svc.metrics
                .record(BusinessEvent::PaymentFailed { code: payment.failure_code().unwrap_or("failed").into() });
            Ok(Ok(payment))
        }
        Err(StoreError::Conflict) => Ok(Err(reread(svc, &payment).await?)),
        Err(e) => Err(e.into()),
    }
}

async fn reread(svc: &Ports, payment: &Payment) -> Result<Payment, UseCaseError> {
    svc.payments.get(&payment.id).await?.ok_or(UseCaseError::Contention)
}

/// What a payment's stored state answers to the request that would have finished it: the
/// answer each failure gets is the domain's ([`Failure::answer`]).
pub(crate) fn outcome_of(payment: Payment) -> Result<Payment, UseCaseError> {
    // Paid, or (a manual capture) its funds held for the merchant.
    if matches!(payment.status, PaymentStatus::Succeeded | PaymentStatus::RequiresCapture) {
        return Ok(payment);
    }
    match payment.ending().map(|f| f.answer()) {
        Some(FailureAnswer::Declined) => Err(UseCaseError::Declined(Box::new(payment))),
        Some(FailureAnswer::OrderAlreadyPaid) => Err(UseCaseError::OrderAlreadyPaid(Some(Box::new(payment)))),
        Some(FailureAnswer::NotPending) | None => Err(UseCaseError::NotPending(Box::new(payment))),
    }
}

/// Voids what an ended payment still holds and stores it voided. Best effort: whatever is left
/// held stays due for the sweeper. Returns the payment as it now stands.
///
/// An authorisation in doubt is voided only once its grace has passed (before, the request
/// whose acquirer call was in flight voids it by its id, or the sweeper does at the grace).
pub(crate) async fn release_hold(svc: &Ports, mut payment: Payment) -> Payment {
    if !payment.void_due(svc.clock.now()) {
        return payment;
    }
    let id = payment.hold.as_ref().map(|h| h.authorization_id.clone()).unwrap_or_default();
    if let Err(e) = svc.acquirer.void(&payment.id, &id).await {
        tracing::warn!(payment_id = %payment.id, error = %e, "void failed; the sweeper retries");
        return payment;
    }
    let before = payment.clone();
    if transition(&mut payment, Command::RecordVoid, svc.clock.now()).is_err() {
        return before;
    }
    // A canceled hold's order is given back with its void's record.
    let riders = if payment.gives_order_back_with_void() { vec![Rider::ReleaseOrder] } else { Vec::new() };
    match store(svc, &mut payment, &riders).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, "authorisation voided");
            payment
        }
        Err(e) => {
            tracing::warn!(payment_id = %payment.id, error = %e, "voided, not yet recorded; the sweeper retries");
            before
        }
    }
}

/// A payer just locked out: their open payments end and release what they hold.
pub(crate) async fn lock_out_payer(svc: &Services, payment: &Payment) {
    let open = match svc.payments.open_for_customer(&payment.customer()).await {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!(payment_id = %payment.id, error = %e, "could not list the locked payer's payments");
            return;
        }
    };
    for mut p in open.into_iter().filter(lockable) {
        if transition(&mut p, Command::Fail(Failure::PayerLocked), svc.clock.now()).is_err() {
            continue;
        }
        match store(svc, &mut p, &[]).await {
            Ok(()) => {
                tracing::info!(payment_id = %p.id, "payment failed: its payer is locked out");
                release_hold(svc, p).await;
            }
            Err(e) => tracing::warn!(payment_id = %p.id, error = %e, "could not end a locked payer's payment"),
        }
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub examined: usize,
    pub expired: usize,
    pub voided: usize,
    pub captured: usize,
    /// Refunds left pending that were settled.
    pub refunds: usize,
    pub failed: usize,
    /// Checkout sessions ended unpaid at their deadline.
    pub sessions_expired: usize,
}

/// Runs the sweeper once: every payment due at `now` (up to `limit` per page, until none is
/// left or `max_pages` pages were read) is finished, expired or voided with conditional writes.
pub async fn sweep(svc: &Services, limit: u8, max_pages: usize) -> Result<SweepReport, UseCaseError> {
    let mut report = SweepReport::default();
    let mut cursor = DueCursor::default();
    let now = svc.clock.now();
    for _ in 0..max_pages {
        let (due, next) = svc.payments.due(now, limit, &cursor).await?;
        if due.is_empty() {
            break;
        }
        for payment in due {
            report.examined += 1;
            match sweep_one(svc, payment).await {
                Ok(Some(Swept::Expired)) => report.expired += 1,
                Ok(Some(Swept::Voided)) => report.voided += 1,
                Ok(Some(Swept::Captured)) => report.captured += 1,
                Ok(Some(Swept::Refunds(n))) => report.refunds += n,
                Ok(None) => {}
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %e, "sweep of one payment failed; next run retries");
                }
            }
        }
        // On past what this page held, finished or not.
        cursor = next;
    }
    // After the payments: a session's payment ends no later than the session.
    report.sessions_expired = super::checkout::sweep_sessions(svc, limit, max_pages).await?;
    tracing::info!(
        examined = report.examined,
        expired = report.expired,
        voided = report.voided,
        captured = report.captured,
        refunds = report.refunds,
        failed = report.failed,
        sessions_expired = report.sessions_expired,
        "sweep done"
    );
    Ok(report)
}

/// A manual-capture payment the merchant neither captured nor canceled before its
/// `capture_before`: canceled (`authorization_expired`), its order given back, its funds voided.
async fn cancel_uncaptured(
    svc: &Services,
    mut payment: Payment,
    now: i64,
) -> Result<Step<Option<Swept>, Raced>, UseCaseError> {
    transition(&mut payment, Command::Cancel(CancellationReason::AuthorizationExpired), now)?;
    // Its order is given back with its void's record (`release_hold`), as a merchant's cancel's.
    match store(svc, &mut payment, &[]).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, "uncaptured payment canceled by the sweeper");
            release_hold(svc, payment).await;
            Ok(Step::Done(Some(Swept::Expired)))
        }
        Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
        Err(e) => Err(e.into()),
    }
}

enum Swept {
    Expired,
    Voided,
    Captured,
    Refunds(usize),
}

/// How long a finisher's lease on a payment's acquirer calls lasts: past the longest function
/// timeout (the sweeper's 60 s), so a lease outlives the invocation that took it.
pub const LEASE_SECS: i64 = 90;

/// Takes the lease on `payment`'s acquirer calls for `holder` (one invocation's): `false` while
/// another finisher holds it. The request whose own conditional write ended the payment, or
/// started its capture, needs none: that write is its claim, for the grace. Everyone after
/// (the sweeper, a retry finishing a capture) takes this before calling the acquirer.
pub(crate) async fn take_lease(svc: &Ports, payment: &Payment, holder: &str) -> Result<bool, UseCaseError> {
    let now = svc.clock.now();
    let taken = svc.payments.lease(&payment.id, holder, now, now + LEASE_SECS).await?;
    if !taken {
        tracing::info!(payment_id = %payment.id, "another finisher holds the payment's lease");
    }
    Ok(taken)
}

async fn sweep_one(svc: &Services, due: Payment) -> Result<Option<Swept>, UseCaseError> {
    let due = &due;
    let holder = &ulid::Ulid::new().to_string();
    commit(|again: Option<Raced>| async move {
        let payment = match again {
            None => due.clone(),
            Some(Raced) => svc.payments.get(&due.id).await?.ok_or(UseCaseError::Contention)?,
        };
        sweep_once(svc, payment, holder).await
    })
    .await
}

/// A captured payment's refunds left pending are asked again (under the lease) and settled; then
/// the payment is written back as it stands, which moves it on (or off) the due index.
async fn sweep_refunds(
    svc: &Services,
    payment: Payment,
    holder: &str,
) -> Result<Step<Option<Swept>, Raced>, UseCaseError> {
    let now = svc.clock.now();
    let asks = payment.refunds_due_from().is_some_and(|from| now >= from);
    if asks && !take_lease(svc, &payment, holder).await? {
        return Ok(Step::Done(None));
    }
    let (mut payment, settled) = super::refunds::finish_refunds(svc, payment).await?;
    match store(svc, &mut payment, &[]).await {
        Ok(()) => {}
        // A refund written since: the next sweep looks again.
        Err(StoreError::Conflict) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Step::Done((settled > 0).then_some(Swept::Refunds(settled))))
}

async fn sweep_once(
    svc: &Services,
    mut payment: Payment,
    holder: &str,
) -> Result<Step<Option<Swept>, Raced>, UseCaseError> {
    let now = svc.clock.now();
    if payment.status == PaymentStatus::Succeeded {
        return sweep_refunds(svc, payment, holder).await;
    }
    let calls_acquirer = payment.is_stale_capture(now)
        || payment.needs_void()
        || (payment.is_expired_at(now) && payment.status == PaymentStatus::Authorizing && payment.hold.is_none());
    // Whatever calls the acquirer is leased first: a finisher holding it is left alone (the
    // payment stays due; the next sweep looks again).
    if calls_acquirer && !take_lease(svc, &payment, holder).await? {
        return Ok(Step::Done(None));
    }
    if payment.status == PaymentStatus::Capturing {
        // The verify that started the capture may still be capturing: only a capture left for
        // the grace is the sweeper's (it stays due; the next sweep looks again).
        if !payment.is_stale_capture(now) {
            return Ok(Step::Done(None));
        }
        return match finish_capture(svc, payment, None).await.0 {
            Ok(_) => Ok(Step::Done(Some(Swept::Captured))),
            Err(UseCaseError::Unavailable(e)) => Err(UseCaseError::Unavailable(e)),
            Err(_) => Ok(Step::Done(Some(Swept::Voided))),
        };
    }
    if payment.needs_void() {
        let p = release_hold(svc, payment).await;
        return Ok(Step::Done((!p.needs_void()).then_some(Swept::Voided)));
    }
    if !payment.status.is_open() {
        // Nothing left to do: its index entry outlived its last change (a cancel's write puts it
        // there at once, for a void it may not need). Written back as it is: off the index.
        return match store(svc, &mut payment, &[]).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(Step::Done(None)),
            Err(e) => Err(e.into()),
        };
    }
    if !payment.is_expired_at(now) {
        return Ok(Step::Done(None));
    }
    if payment.status == PaymentStatus::RequiresCapture {
        return cancel_uncaptured(svc, payment, now).await;
    }
    expire(svc, payment, now).await
}

/// An open payment nobody completed in time: expired (what it may hold voided).
async fn expire(svc: &Services, mut payment: Payment, now: i64) -> Result<Step<Option<Swept>, Raced>, UseCaseError> {
    let in_doubt = payment.status == PaymentStatus::Authorizing && payment.hold.is_none();
    if in_doubt {
        // The acquirer may have authorised before the invocation died (long ago: it expired):
        // void by payment id, and store the void with the expiry.
        svc.acquirer.void(&payment.id, "").await.map_err(unavailable)?;
    }
    transition(&mut payment, Command::Fail(Failure::Expired), now)?;
    if in_doubt {
        transition(&mut payment, Command::RecordVoid, now)?;
    }
    match store(svc, &mut payment, &[]).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, "payment expired by the sweeper");
            release_hold(svc, payment).await;
            Ok(Step::Done(Some(Swept::Expired)))
        }
        Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
        Err(e) => Err(e.into()),
    }
}
