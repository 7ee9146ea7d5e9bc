//! What first and repeat payments share: mint the payment, store it with its code's hash,
//! then send the code.

use super::attempt::InlineKey;
use super::commit::{commit, store, stored_with, transition, Raced, Step};
use super::guards::{admission_keys, check_declines, check_payer};
use super::lifecycle::{authorize_first, outcome_of, release_hold, PresentCard};
use super::send_code::{reissue_code, sms_text, write_charged};
use super::{Attempt, Services, UseCaseError};
use crate::domain::{
    Command, Failure, Identifier, MethodSummary, Money, PayerPhone, Payment, PaymentId, PaymentStatus, Verification,
    VerificationCode, MAX_SENDS, PAYMENT_TTL_SECS,
};
use crate::ports::{BusinessEvent, Rider, RiderRefusal, SendError, SessionMove, StoreError};
use crate::secrets::CodeContext;

/// A payment about to be opened: who pays whom, with which (sealed) card, codes to which phone.
pub struct PaymentDraft {
    pub user_id: Identifier,
    pub merchant_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    pub method: MethodSummary,
    pub phone: PayerPhone,
    pub sealed_card: String,
    pub fingerprint: String,
    pub save_card: bool,
    /// A first payment's card and CVC, for its authorisation at creation; `None` for a repeat
    /// payment (authorised after the code, on the stored credential).
    pub present: Option<PresentCard>,
    /// The stored credential's network reference (repeat payments).
    pub network_reference: Option<String>,
    /// Opened in a checkout session: the payment becomes the session's latest.
    pub session: Option<SessionMove>,
}

/// Whether a request can be retried into a payment it opened: under an Idempotency-Key a
/// retry resumes it; without one nobody can ever reach it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retries {
    Keyed,
    Unkeyed,
}

/// What the admission read let a new payment do.
enum Admitted {
    Open,
    /// A retry of this very request: its payment exists (it holds the order, or was stored).
    Resume,
}

pub async fn open_payment(
    svc: &Services,
    draft: PaymentDraft,
    attempt: Option<&Attempt>,
) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    let code = VerificationCode::generate();
    let (payment, present, session) = mint(svc, draft, Attempt::payment_id(attempt), &code, now)?;
    let inline = Attempt::inline_key(attempt);
    let admitted = match admit(svc, &payment, inline, now).await? {
        Admitted::Open => store_opened(svc, &payment, session.as_ref(), attempt, now).await?,
        Admitted::Resume => Admitted::Resume,
    };
    if let Admitted::Resume = admitted {
        return resume(svc, &payment.id, present.as_ref()).await;
    }
    if let Some(canceled) = session.and_then(|l| l.cancel) {
        tracing::info!(payment_id = %canceled.id, "payment canceled: its session started another");
        release_hold(svc, stored_with(canceled)).await;
    }
    svc.metrics.record(BusinessEvent::PaymentCreated);
    let retries = if attempt.is_some() { Retries::Keyed } else { Retries::Unkeyed };
    let Some(present) = &present else {
        // A repeat payment holds nothing until its code: the code goes out now.
        return send_first_code(svc, payment, &code, retries).await;
    };
    let approved = match authorize_first(svc, payment.clone(), present, &code).await {
        Err(UseCaseError::Unavailable(e)) if retries == Retries::Unkeyed => {
            // Nobody could ever resume it: close it; the sweeper voids whatever the acquirer
            // may have authorised.
            let mut failed = payment;
            transition(&mut failed, Command::Fail(Failure::AcquirerUnavailable), svc.clock.now())?;
            if let Err(e) = store(svc, &mut failed, &[]).await {
                tracing::warn!(payment_id = %failed.id, error = %e, "could not close unauthorised payment");
            }
            return Err(UseCaseError::Unavailable(e));
        }
        other => other?,
    };
    send_then_store(svc, approved, &code, retries, inline).await
}

/// The payment a draft opens, with its first code's hash, not yet stored; the card to
/// authorise (a first payment's) and the session link go on beside it.
fn mint(
    svc: &Services,
    draft: PaymentDraft,
    id: PaymentId,
    code: &VerificationCode,
    now: i64,
) -> Result<(Payment, Option<PresentCard>, Option<SessionMove>), UseCaseError> {
    let ctx = CodeContext { payment_id: &id, money: &draft.money, merchant_id: &draft.merchant_id, send_seq: 1 };
    let code_hash = svc.hasher().hash(&ctx, code);
    // No payment outlives its session.
    let expires_at =
        draft.session.as_ref().map_or(now + PAYMENT_TTL_SECS, |l| (now + PAYMENT_TTL_SECS).min(l.session.ends_at()));
    let payment = Payment {
        id,
        // A first payment is authorised (with its CVC) before any code goes out; a repeat
        // payment holds nothing until the shopper's code.
        status: if draft.present.is_some() { PaymentStatus::Authorizing } else { PaymentStatus::RequiresVerification },
        user_id: draft.user_id,
        merchant_id: draft.merchant_id,
        order_id: draft.order_id,
        money: draft.money,
        session_id: draft.session.as_ref().map(|l| l.session.id.clone()),
        method: draft.method,
        phone: draft.phone,
        sealed_card: Some(draft.sealed_card),
        fingerprint: draft.fingerprint,
        save_card: draft.save_card,
        verification: Verification::first(code_hash, now),
        hold: None,
        network_reference: draft.network_reference,
        failure: None,
        created_at: now,
        updated_at: now,
        expires_at,
        version: 0,
    };
    Ok((payment, draft.present, draft.session))
}

/// One read: who holds the order, whether the payer is locked out, the decline caps, and
/// whether the request's Idempotency-Key (when its writes are to claim it) is new.
async fn admit(
    svc: &Services,
    payment: &Payment,
    inline: Option<&InlineKey>,
    now: i64,
) -> Result<Admitted, UseCaseError> {
    let keys = admission_keys(payment, now);
    let admission =
        svc.payments.admission(&payment.merchant_id, &payment.order_id, &keys, inline.map(InlineKey::key)).await?;
    if let (Some(key), Some(found)) = (inline, admission.key) {
        return Err(key.seen(Some(found)));
    }
    // An order that another payment has paid (or is capturing) is not paid again: no code, no
    // payment. (A retry of this very request may find its own payment holding the order.)
    match admission.order_holder {
        Some(holder) if holder != payment.id => return Err(UseCaseError::OrderAlreadyPaid(None)),
        Some(_) => return Ok(Admitted::Resume),
        None => {}
    }
    check_payer(&admission.guards, now)?;
    // Every payment's decline caps are checked here, a repeat payment's too: it is authorised
    // after its code, by a verification that reads no counters.
    check_declines(svc, payment, &admission.guards, now)?;
    Ok(Admitted::Open)
}

/// Stores the new payment before the acquirer or the SMS, with its first code's SMS counted in
/// the same write (a refused SMS opens no payment): a retry (same Idempotency-Key, same id)
/// finds it. A new Idempotency-Key is claimed in that write too (its answer is kept once the
/// code went out: with a first payment's authorised write, or on its own).
async fn store_opened(
    svc: &Services,
    payment: &Payment,
    session: Option<&SessionMove>,
    attempt: Option<&Attempt>,
    now: i64,
) -> Result<Admitted, UseCaseError> {
    let inline = Attempt::inline_key(attempt);
    let key_write = inline.map(InlineKey::claim);
    let stored = write_charged(svc, payment, now, |charge| {
        let (payments, key) = (&svc.payments, key_write.as_ref());
        async move {
            let riders: Vec<Rider> = session
                .map(Rider::Session)
                .into_iter()
                .chain(key.map(Rider::Key))
                .chain([Rider::Sms(&charge)])
                .collect();
            payments.insert(payment, &riders).await
        }
    })
    .await?;
    match (stored, inline) {
        (Ok(()), _) => {}
        // Another request with this key got there first: it goes the way of a retry.
        (Err(StoreError::Refused(RiderRefusal::Key)), Some(key)) => return Err(key.seen(None)),
        // Same Idempotency-Key, same id: an earlier attempt of this very request got this far.
        (Err(StoreError::Conflict), _) if attempt.is_some() => return Ok(Admitted::Resume),
        (Err(e @ StoreError::Unavailable(_)), Some(key)) => {
            key.unsure();
            return Err(e.into());
        }
        (Err(e), _) => return Err(e.into()),
    }
    if let (Some(key), Some(write)) = (inline, &key_write) {
        key.written(write);
    }
    Ok(Admitted::Open)
}

/// Sends an authorised first payment's code, then stores the payment authorised: with the
/// request's answer under its new Idempotency-Key (`key`) in that same write, which thus
/// comes after the SMS, so a kept answer always had its code sent. The code works from that
/// write on: an `authorizing` payment takes no code (`Payment::check_code`), and an SMS takes
/// far longer to arrive than the write. A code not sent: the hold is stored all the same, then
/// as [`send_first_code`] does.
async fn send_then_store(
    svc: &Services,
    mut payment: Payment,
    code: &VerificationCode,
    retries: Retries,
    key: Option<&InlineKey>,
) -> Result<Payment, UseCaseError> {
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, amount = payment.money.minor,
        currency = payment.money.currency.code(), "payment authorised, sending code");
    if let Err(e) = send(svc, &payment, code).await {
        store(svc, &mut payment, &[]).await?;
        return Err(code_not_sent(svc, payment, retries, e).await);
    }
    let answer = key.map(|k| k.answer(&payment));
    let riders: Vec<Rider> = answer.as_ref().map(Rider::Key).into_iter().collect();
    store(svc, &mut payment, &riders).await?;
    if let (Some(key), Some(answer)) = (key, &answer) {
        key.written(answer);
    }
    svc.metrics.record(BusinessEvent::CodeSent);
    Ok(payment)
}

/// Sends the code of a payment just opened (a repeat payment, stored as it stays).
async fn send_first_code(
    svc: &Services,
    payment: Payment,
    code: &VerificationCode,
    retries: Retries,
) -> Result<Payment, UseCaseError> {
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, amount = payment.money.minor,
        currency = payment.money.currency.code(), "payment created, sending code");
    if let Err(e) = send(svc, &payment, code).await {
        return Err(code_not_sent(svc, payment, retries, e).await);
    }
    svc.metrics.record(BusinessEvent::CodeSent);
    Ok(payment)
}

async fn send(svc: &Services, payment: &Payment, code: &VerificationCode) -> Result<(), SendError> {
    match payment.phone.number() {
        Some(number) => svc.sms.send(number, &sms_text(code, payment)).await,
        None => Err(SendError("the payment keeps no phone number".into())),
    }
}

/// A stored payment whose first code was not sent.
async fn code_not_sent(svc: &Services, payment: Payment, retries: Retries, e: SendError) -> UseCaseError {
    tracing::warn!(payment_id = %payment.id, error = %e, "code not sent");
    // Under an Idempotency-Key the retry resumes this payment with a fresh code. Without one
    // nobody could ever reach it: close it so it never lingers as pending (if even this write
    // fails, it expires on its own), and release what it holds.
    if retries == Retries::Unkeyed {
        let mut failed = payment.clone();
        let closed = transition(&mut failed, Command::Fail(Failure::CodeNotSent), svc.clock.now());
        match async {
            closed?;
            Ok::<_, UseCaseError>(store(svc, &mut failed, &[]).await?)
        }
        .await
        {
            Ok(()) => {
                svc.metrics.record(BusinessEvent::PaymentFailed { code: Failure::CodeNotSent.code().into() });
                release_hold(svc, failed).await;
            }
            Err(e) => tracing::warn!(payment_id = %payment.id, error = %e, "could not close unsent payment"),
        }
    }
    UseCaseError::Unavailable(format!("sms: {e}"))
}

/// Finishes what a crashed attempt started: its payment exists, but how far it got is
/// unknown. An `authorizing` one is authorised again (the acquirer's key is the payment id,
/// so it is not authorised twice) and gets its first code; a pending one gets a fresh code
/// (the old one stops working).
async fn resume(svc: &Services, id: &PaymentId, present: Option<&PresentCard>) -> Result<Payment, UseCaseError> {
    commit(|_: Option<Raced>| resume_once(svc, id, present)).await
}

async fn resume_once(
    svc: &Services,
    id: &PaymentId,
    present: Option<&PresentCard>,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    let payment = svc.payments.get(id).await?.ok_or(UseCaseError::Contention)?;
    if payment.status == PaymentStatus::Authorizing {
        let Some(present) = present else { return Ok(Step::Done(payment)) };
        tracing::info!(payment_id = %payment.id, "resuming an authorisation whose first attempt died");
        let code = VerificationCode::generate();
        return match authorize_first(svc, payment, present, &code).await {
            Err(UseCaseError::Contention) => Ok(Step::Again(Raced)),
            Ok(p) => send_then_store(svc, p, &code, Retries::Keyed, None).await.map(Step::Done),
            Err(e) => Err(e),
        };
    }
    if payment.status == PaymentStatus::Failed {
        // A decline stored by the attempt that died answers the same again.
        return outcome_of(payment).map(Step::Done);
    }
    if !payment.is_pending() || payment.verification.sends >= MAX_SENDS {
        return Ok(Step::Done(payment));
    }
    tracing::info!(payment_id = %payment.id, "resuming a payment whose first attempt died");
    reissue_code(svc, payment, svc.clock.now()).await
}
