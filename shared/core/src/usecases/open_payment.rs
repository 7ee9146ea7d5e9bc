//! What first and repeat payments share: mint the payment, store it with its code's hash,
//! then send the code.

use super::commit::{commit, store, stored_with, transition, Raced, Step};
use super::guards::{admission_keys, check_declines, check_payer, decline_caps, payer_keys, phone_keys};
use super::idempotency::{InlineKey, KeyProgress, Keyed, KeyedResult};
use super::lifecycle::{authorize_first, outcome_of, release_hold, PresentCard};
use super::send_code::{reissue_code, sms_text, write_charged};
use super::{Attempt, Services, UseCaseError};
use crate::domain::{
    CaptureMethod, Command, Failure, HoldState, Identifier, Locale, MethodSummary, Money, PayerPhone, Payment,
    PaymentId, PaymentStatus, PhoneOrigin, SessionId, Verification, VerificationCode, MAX_SENDS, PAYMENT_TTL_SECS,
};
use crate::ports::{
    Admit, AttemptCharge, AttemptLimit, AttemptSources, BusinessEvent, KeyFound, Rider, RiderRefusal, Scrutiny,
    SendError, SessionMove, StoreError,
};
use crate::secrets::CodeContext;

/// A payment about to be opened: who pays whom, with which (sealed) card, codes to which phone.
pub struct PaymentDraft {
    pub user_id: Identifier,
    pub merchant_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    pub method: MethodSummary,
    pub phone: PayerPhone,
    pub phone_origin: PhoneOrigin,
    pub sealed_card: String,
    pub fingerprint: String,
    pub save_card: bool,
    /// The language its SMS speak.
    pub locale: Locale,
    /// When the verified payment's funds are captured (a session's payment: the session's).
    pub capture_method: CaptureMethod,
    /// A first payment's source address (a shopper's browser), as its velocity counter's keys
    /// (none for a merchant's server's request).
    pub source_ip_keys: Vec<String>,
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
pub(crate) enum Retries {
    Keyed,
    Unkeyed,
}

/// What the admission read let a new payment do.
enum Admitted {
    /// Open it, its card attempt (a first payment's) under these velocity limits.
    Open(Scrutiny),
    /// A retry of this very request: its payment exists (it holds the order, or was stored).
    Resume,
    /// The request's new Idempotency-Key has a record already (as read): the way of a retry.
    Seen(KeyFound),
}

/// How a new payment is admitted. `Careful` reads the order, the payer's guards, the decline
/// counters and the request's key first, then writes with its card attempt counted (a first
/// payment: its card is authorised right after, so the checks come first). `Fast` writes with
/// those checks as conditions of the write ([`Admit`]) and reads only where they refuse (a
/// repeat payment: nothing is authorised before its code; one call fewer).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Way {
    Fast,
    Careful(CardAttempt),
}

/// A first payment's card authorisation attempt, by its card's velocity counter keys
/// (digests, one per key during a rotation: the same for every user and merchant).
#[derive(Debug, Clone, PartialEq, Eq)]
struct CardAttempt {
    cards: Vec<String>,
}

/// A new payment being stored, with what its write carries beside it.
#[derive(Clone, Copy)]
struct Opening<'a> {
    payment: &'a Payment,
    /// Its session's move, opened in a checkout session.
    session: Option<&'a SessionMove>,
    /// The request's Idempotency-Key, if any.
    attempt: Option<&'a Attempt>,
    /// A shopper's route's source address digests (none for a merchant's server's request).
    source_ips: &'a [String],
}

/// What storing a new payment did.
enum Opened {
    /// Stored, with the request's new key claimed in the same write (`Claimed`), or no key.
    Written(KeyProgress),
    /// Same Idempotency-Key, same id: an earlier attempt of this very request got this far.
    Resume,
    /// The key has a record already (as read, where a read saw it): the way of a retry.
    Seen(Option<KeyFound>),
    /// The admission's conditions refused the write: read, and decide the careful way.
    Refused,
    Failed(UseCaseError, KeyProgress),
}

/// Opens a payment: admitted, stored, authorised (a first payment), its code sent. Under a new
/// Idempotency-Key, the payment's writes claim and answer it, as the [`KeyProgress`] says.
pub async fn open_payment(svc: &Services, draft: PaymentDraft, attempt: Option<&Attempt>) -> KeyedResult<Payment> {
    let now = svc.clock.now();
    let code = VerificationCode::generate();
    let source_ips = draft.source_ip_keys.clone();
    let (payment, present, session) = match mint(svc, draft, Attempt::payment_id(attempt), &code, now) {
        Ok(minted) => minted,
        Err(e) => return Err(e).into(),
    };
    // A card entered is an authorisation attempt, counted against the velocity limits; a
    // saved card's repeat payment is not.
    let way = match &present {
        Some(present) => Way::Careful(CardAttempt { cards: svc.hasher().card_digests(&present.card) }),
        None => Way::Fast,
    };
    let opening = Opening { payment: &payment, session: session.as_ref(), attempt, source_ips: &source_ips };
    let progress = match admit_and_store(svc, &opening, &way, now).await {
        Opened::Written(progress) => progress,
        Opened::Seen(found) => return Keyed::Seen(found),
        Opened::Resume => return resume(svc, &payment.id, present.as_ref()).await.into(),
        Opened::Refused => return Err(UseCaseError::Contention).into(),
        Opened::Failed(e, progress) => return Keyed::Ran(Err(e), progress),
    };
    let opened = Minted { payment, present, session, code };
    let (result, answered) = send_opened(svc, opened, attempt).await;
    Keyed::Ran(result, progress.then(answered))
}

/// A payment just stored, with what goes on beside it.
struct Minted {
    payment: Payment,
    present: Option<PresentCard>,
    session: Option<SessionMove>,
    code: VerificationCode,
}

/// A stored new payment goes on: the payment its session replaced is released; a first payment
/// is authorised, then its code goes out; a repeat payment's code goes out.
async fn send_opened(
    svc: &Services,
    opened: Minted,
    attempt: Option<&Attempt>,
) -> (Result<Payment, UseCaseError>, KeyProgress) {
    let Minted { payment, present, session, code } = opened;
    if let Some(canceled) = session.and_then(|l| l.cancel) {
        tracing::info!(payment_id = %canceled.id, "payment canceled: its session started another");
        release_hold(svc, stored_with(canceled)).await;
    }
    svc.metrics.record(BusinessEvent::PaymentCreated);
    let retries = if attempt.is_some() { Retries::Keyed } else { Retries::Unkeyed };
    let Some(present) = &present else {
        // A repeat payment holds nothing until its code: the code goes out now.
        return (send_first_code(svc, payment, &code, retries).await, KeyProgress::Untouched);
    };
    let approved = match authorize_first(svc, payment.clone(), present, &code).await {
        Err(UseCaseError::Unavailable(e)) if retries == Retries::Unkeyed => {
            // Nobody could ever resume it: close it; the sweeper voids whatever the acquirer
            // may have authorised.
            let mut failed = payment;
            if let Err(e) = transition(&mut failed, Command::Fail(Failure::AcquirerUnavailable), svc.clock.now()) {
                return (Err(e), KeyProgress::Untouched);
            }
            if let Err(e) = store(svc, &mut failed, &[]).await {
                tracing::warn!(payment_id = %failed.id, error = %e, "could not close unauthorised payment");
            }
            return (Err(UseCaseError::Unavailable(e)), KeyProgress::Untouched);
        }
        Err(e) => return (Err(e), KeyProgress::Untouched),
        Ok(approved) => approved,
    };
    (store_then_send(svc, approved, &code, retries).await, KeyProgress::Untouched)
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
        locale: draft.locale,
        method: draft.method,
        phone: draft.phone,
        phone_origin: draft.phone_origin,
        sealed_card: Some(draft.sealed_card),
        fingerprint: draft.fingerprint,
        save_card: draft.save_card,
        verification: Verification::first(code_hash, now),
        hold: None,
        network_reference: draft.network_reference,
        action: None,
        failure: None,
        capture_method: draft.capture_method,
        amount_to_capture: None,
        capture_before: None,
        cancellation_reason: None,
        captured_at: None,
        refunds: Vec::new(),
        created_at: now,
        updated_at: now,
        expires_at,
        version: 0,
    };
    Ok((payment, draft.present, draft.session))
}

/// Admits and stores a new payment `way`: the fast way falls back to the careful one where
/// its conditions refuse.
async fn admit_and_store(svc: &Services, opening: &Opening<'_>, way: &Way, now: i64) -> Opened {
    let payment = opening.payment;
    let card_attempt = match way {
        Way::Careful(card_attempt) => Some(card_attempt),
        Way::Fast => {
            let admit = Admit { payers: payer_keys(svc, payment), caps: decline_caps(svc, payment, now), now };
            match store_opened(svc, opening, Rules::Admit(&admit), now).await {
                Opened::Refused => tracing::info!(payment_id = %payment.id, "admission refused: reading it"),
                opened => return opened,
            }
            None
        }
    };
    match admit(svc, payment, Attempt::inline_key(opening.attempt), now).await {
        Err(e) => Opened::Failed(e, KeyProgress::Untouched),
        Ok(Admitted::Seen(found)) => Opened::Seen(Some(found)),
        Ok(Admitted::Resume) => Opened::Resume,
        Ok(Admitted::Open(scrutiny)) => {
            let charge = card_attempt.map(|a| attempt_charge(svc, opening, a, scrutiny, now));
            store_opened(svc, opening, charge.as_ref().map_or(Rules::Read, Rules::Attempt), now).await
        }
    }
}

/// The velocity counters a first payment's card attempt is charged to, under `scrutiny`.
fn attempt_charge(
    svc: &Services,
    opening: &Opening<'_>,
    a: &CardAttempt,
    scrutiny: Scrutiny,
    now: i64,
) -> AttemptCharge {
    let payment = opening.payment;
    let phones = phone_keys(svc, payment);
    let from = AttemptSources {
        session: payment.session_id.as_ref().map(SessionId::as_str),
        cards: &a.cards,
        merchant: &payment.merchant_id,
        phones: &phones,
        source_ips: opening.source_ips,
    };
    svc.attempt_limits.under(scrutiny).charge(&from, now)
}

/// What a new payment's write checks besides its SMS: the admission's rules as conditions (the
/// fast way), nothing more (the careful way read them), or the card attempt's velocity
/// counters (a first payment, the careful way).
#[derive(Debug, Clone, Copy)]
enum Rules<'a> {
    Admit(&'a Admit),
    Read,
    Attempt(&'a AttemptCharge),
}

/// One read: who holds the order, whether the payer is locked out, the decline caps, and
/// whether the request's Idempotency-Key (when its writes are to claim it) is new.
async fn admit(
    svc: &Services,
    payment: &Payment,
    inline: Option<&InlineKey>,
    now: i64,
) -> Result<Admitted, UseCaseError> {
    let (keys, payers) = admission_keys(svc, payment, now);
    let admission =
        svc.payments.admission(&payment.merchant_id, &payment.order_id, &keys, inline.map(InlineKey::key)).await?;
    let (payer_guards, decline_guards) = admission.guards.split_at(payers.min(admission.guards.len()));
    if let (Some(_), Some(found)) = (inline, admission.key) {
        return Ok(Admitted::Seen(found));
    }
    // An order that another payment has paid (or is capturing) is not paid again: no code, no
    // payment. (A retry of this very request may find its own payment holding the order.)
    match admission.order_holder {
        Some(holder) if holder != payment.id => return Err(UseCaseError::OrderAlreadyPaid(None)),
        Some(_) => return Ok(Admitted::Resume),
        None => {}
    }
    check_payer(payer_guards, now)?;
    // Every payment's decline caps are checked here, a repeat payment's too: it is authorised
    // after its code, by a verification that reads no counters.
    Ok(Admitted::Open(check_declines(svc, payment, decline_guards, now)?))
}

/// Stores the new payment before the acquirer or the SMS, with its first code's SMS (and a
/// first payment's card attempt) counted in the same write (a refused one opens no payment): a
/// retry (same Idempotency-Key, same id) finds it. A new Idempotency-Key is claimed in that
/// write too (its answer is kept once the code went out, by a write of its own).
async fn store_opened(svc: &Services, opening: &Opening<'_>, rules: Rules<'_>, now: i64) -> Opened {
    let Opening { payment, session, attempt, source_ips } = *opening;
    let key_write = Attempt::inline_key(attempt).map(InlineKey::claim);
    let stored = write_charged(svc, payment, source_ips, now, |charge| {
        let (payments, key) = (&svc.payments, key_write.as_ref());
        async move {
            let rule = match rules {
                Rules::Admit(admit) => Some(Rider::Admit(admit)),
                Rules::Read => None,
                Rules::Attempt(attempts) => Some(Rider::Attempts(attempts)),
            };
            let riders: Vec<Rider> = session
                .map(Rider::Session)
                .into_iter()
                .chain(key.map(Rider::Key))
                .chain(rule)
                .chain([Rider::Sms(&charge)])
                .collect();
            payments.insert(payment, &riders).await
        }
    })
    .await;
    let claimed = if key_write.is_some() { KeyProgress::Claimed } else { KeyProgress::Untouched };
    match stored {
        Err(e) => Opened::Failed(e, KeyProgress::Untouched),
        Ok(Err(StoreError::Refused(RiderRefusal::Attempts { limit, busy: false }))) => {
            Opened::Failed(attempts_refused(svc, payment, limit, rules, now), KeyProgress::Untouched)
        }
        Ok(Ok(())) => Opened::Written(claimed),
        Ok(Err(StoreError::Refused(RiderRefusal::Key(found)))) if key_write.is_some() => {
            Opened::Seen(found.map(|f| *f))
        }
        Ok(Err(StoreError::Refused(RiderRefusal::Admission))) if matches!(rules, Rules::Admit(_)) => Opened::Refused,
        Ok(Err(StoreError::Conflict)) if attempt.is_some() => Opened::Resume,
        // Whether the claim landed is unknown: the key is given back.
        Ok(Err(e @ StoreError::Unavailable(_))) if key_write.is_some() => Opened::Failed(e.into(), KeyProgress::Unsure),
        Ok(Err(e)) => Opened::Failed(e.into(), KeyProgress::Untouched),
    }
}

/// A card attempt a velocity limit refused: nothing was written, nothing sent, the acquirer
/// not called.
fn attempts_refused(
    svc: &Services,
    payment: &Payment,
    limit: AttemptLimit,
    rules: Rules<'_>,
    now: i64,
) -> UseCaseError {
    tracing::warn!(payment_id = %payment.id, limit = limit.as_str(), "velocity limit reached: no authorisation attempted");
    svc.metrics.record(BusinessEvent::AttemptLimitReached);
    let counter = match rules {
        Rules::Attempt(charge) => charge.counters.iter().find(|c| c.limit == limit),
        Rules::Admit(_) | Rules::Read => None,
    };
    UseCaseError::TooManyPaymentAttempts { limit, retry_after_secs: counter.map_or(3_600, |c| c.retry_after(now)) }
}

/// Stores an authorised first payment (its hold and its code's hash), then sends its code: the
/// authorisation id is on record before any SMS, so a request that ended the payment while the
/// acquirer was being asked (its session's next payment, the merchant's expiry, the payer's
/// lock-out) makes this write lose, and no code goes out for a dead payment: its hold is voided
/// ([`not_stored`]). The request's new Idempotency-Key, claimed with the payment, is answered
/// once the code went out (by `run_once`, a write of its own), so a kept answer always had its
/// code sent; a code not sent: as [`send_first_code`] does.
pub(crate) async fn store_then_send(
    svc: &Services,
    mut payment: Payment,
    code: &VerificationCode,
    retries: Retries,
) -> Result<Payment, UseCaseError> {
    if payment.status == PaymentStatus::Authorizing {
        // The acquirer answers later (stored so already): no code until it authorises.
        return Ok(payment);
    }
    if let Err(stored) = store(svc, &mut payment, &[]).await {
        return Err(not_stored(svc, &payment, stored).await);
    }
    if payment.status == PaymentStatus::RequiresAction {
        // The acquirer asks for 3-D Secure first: no code until it authorises.
        return Ok(payment);
    }
    svc.metrics.record(BusinessEvent::Authorised);
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, amount = payment.money.minor,
        currency = payment.money.currency.code(), "payment authorised, sending code");
    if let Err(e) = send(svc, &payment, code).await {
        return Err(code_not_sent(svc, payment, retries, e).await);
    }
    svc.metrics.record(BusinessEvent::CodeSent);
    Ok(payment)
}

/// An authorised payment's write failed. Lost to a request that ended the payment while its
/// acquirer call was in flight (its session's next payment, the merchant's expiry, the payer's
/// lock-out), this request holds the only record of the authorisation: it voids it by its id
/// and stores the void (failing that, the sweeper voids it by payment id at the grace); the
/// payment answers as it stands.
async fn not_stored(svc: &Services, authorised: &Payment, e: StoreError) -> UseCaseError {
    if !matches!(e, StoreError::Conflict) {
        return e.into();
    }
    let current = match svc.payments.get(&authorised.id).await {
        Ok(Some(current)) if !current.status.is_open() => current,
        // Still open: another write of this very request (a retry's): answered as a race.
        Ok(_) => return UseCaseError::Contention,
        Err(e) => return e.into(),
    };
    let in_doubt = current.hold.as_ref().is_some_and(|h| h.state == HoldState::InDoubt);
    let authorization_id = authorised.hold.as_ref().map(|h| h.authorization_id.as_str()).unwrap_or_default();
    if !in_doubt {
        return UseCaseError::NotPending(Box::new(current));
    }
    tracing::warn!(payment_id = %current.id, status = current.status.as_str(),
        "payment ended while it was being authorised: voiding its authorisation");
    if let Err(e) = svc.acquirer.void(&current.id, authorization_id).await {
        tracing::warn!(payment_id = %current.id, error = %e, "void failed; the sweeper voids by payment id");
        return UseCaseError::NotPending(Box::new(current));
    }
    let mut voided = current.clone();
    let recorded = match transition(&mut voided, Command::RecordVoid, svc.clock.now()) {
        Ok(()) => store(svc, &mut voided, &[]).await.map_err(UseCaseError::from),
        Err(e) => Err(e),
    };
    match recorded {
        Ok(()) => UseCaseError::NotPending(Box::new(voided)),
        Err(e) => {
            tracing::warn!(payment_id = %current.id, error = %e, "voided, not yet recorded; the sweeper voids again");
            UseCaseError::NotPending(Box::new(current))
        }
    }
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
        Some(number) => svc.sms.send(number, &sms_text(&svc.settings, code, payment)).await,
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
    if payment.status == PaymentStatus::RequiresAction {
        return Ok(Step::Done(payment));
    }
    if payment.status == PaymentStatus::Authorizing {
        let Some(present) = present else { return Ok(Step::Done(payment)) };
        tracing::info!(payment_id = %payment.id, "resuming an authorisation whose first attempt died");
        let code = VerificationCode::generate();
        return match authorize_first(svc, payment, present, &code).await {
            Err(UseCaseError::Contention) => Ok(Step::Again(Raced)),
            Ok(p) => store_then_send(svc, p, &code, Retries::Keyed).await.map(Step::Done),
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
    reissue_code(svc, payment, &[], svc.clock.now()).await
}
