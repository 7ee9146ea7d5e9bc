//! Checkout sessions: the merchant's server opens one for an order and hands its client secret
//! to the shopper's browser, which may then pay that order (and only it) and enter its code.

use super::commit::{commit, store_session, stored_with, Raced, Step};
use super::first_payment::{first_draft, FirstPaymentCommand};
use super::guards::lockable;
use super::lifecycle::release_hold;
use super::open_payment::{open_payment, PaymentDraft};
use super::repeat_payment::{repeat_draft, RepeatPaymentCommand};
use super::{Attempt, Caller, CodeServices, KeyedResult, Ports, Services, UseCaseError};
use crate::domain::{
    year_month, CaptureMethod, CardNumber, CheckoutSession, ClientSecret, Command, Cvc, Expiry, Failure, Identifier,
    Locale, LocalePref, MethodId, Money, OrderSummary, Payment, PaymentStatus, Phone, ReturnUrl, SessionId, SourceIp,
};
use crate::ports::{SavedCard, SessionMove, StoreError};

/// A session as the merchant asks for it (validated).
#[derive(Debug)]
pub struct SessionCommand {
    pub user_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    /// Seconds, within the allowed range.
    pub expires_in: i64,
    pub return_url: Option<ReturnUrl>,
    pub capture_method: CaptureMethod,
    pub locale: LocalePref,
    pub cancel_url: Option<ReturnUrl>,
    pub summary: OrderSummary,
}

/// How the shopper pays in a session: everything about the order comes from the session.
#[derive(Debug)]
pub enum SessionPayment {
    Card {
        phone: Phone,
        card: CardNumber,
        expiry: Expiry,
        cvc: Cvc,
        save_card: bool,
        source_ip: Option<SourceIp>,
        locale: Option<Locale>,
    },
    Saved {
        method_id: Option<MethodId>,
        source_ip: Option<SourceIp>,
        locale: Option<Locale>,
    },
}

/// A session and its latest payment, as read.
#[derive(Debug)]
pub struct SessionView {
    pub session: CheckoutSession,
    pub payment: Option<Payment>,
}

impl SessionView {
    /// Its payment succeeded, or (a manual capture) holds its funds for the merchant: the order
    /// is claimed either way.
    pub fn is_complete(&self) -> bool {
        self.payment
            .as_ref()
            .is_some_and(|p| matches!(p.status, PaymentStatus::Succeeded | PaymentStatus::RequiresCapture))
    }
}

/// Opens a session for the caller's customer. The secret is returned once; only its keyed
/// hash is stored. Under an Idempotency-Key the session id is the same on every retry; a retry
/// that finds the session a dead attempt stored gives it a new secret (the old one never
/// reached anybody).
pub async fn create_session(
    svc: &CodeServices,
    caller: &Caller,
    cmd: SessionCommand,
    attempt: Option<&Attempt>,
) -> Result<(CheckoutSession, ClientSecret), UseCaseError> {
    let Caller::Merchant(merchant_id) = caller else {
        return Err(UseCaseError::MerchantMismatch);
    };
    svc.settings.check_currency(&cmd.money)?;
    for (param, url) in [("return_url", &cmd.return_url), ("cancel_url", &cmd.cancel_url)] {
        if let Some(url) = url {
            svc.settings.check_return_url(param, merchant_id.as_str(), url)?;
        }
    }
    let now = svc.clock.now();
    let id = attempt.map_or_else(SessionId::new, |a| SessionId::from_digest(&a.seed));
    if svc.payments.order_paid_by(merchant_id, &cmd.order_id).await?.is_some() {
        return Err(UseCaseError::OrderAlreadyPaid(None));
    }
    let secret = ClientSecret::generate();
    let session = CheckoutSession {
        secret_hash: svc.hasher().client_secret_hash(&id, &secret),
        id,
        merchant_id: merchant_id.clone(),
        user_id: cmd.user_id,
        order_id: cmd.order_id,
        money: cmd.money,
        return_url: cmd.return_url,
        created_at: now,
        expires_at: now + cmd.expires_in,
        ended_at: None,
        payment_id: None,
        capture_method: cmd.capture_method,
        locale: cmd.locale,
        cancel_url: cmd.cancel_url,
        summary: cmd.summary,
        version: 0,
    };
    match svc.payments.insert_session(&session).await {
        Ok(()) => {}
        Err(StoreError::Conflict) if attempt.is_some() => {
            let stored = svc.payments.get_session(&session.id).await?.ok_or(UseCaseError::Contention)?;
            let mut rotated = CheckoutSession { secret_hash: session.secret_hash.clone(), ..stored };
            store_session(svc, &mut rotated, None).await?;
            tracing::info!(session_id = %rotated.id, "session of a dead attempt: new client secret");
            return Ok((rotated, secret));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(session_id = %session.id, "checkout session created");
    Ok((session, secret))
}

/// The caller merchant's session, with its latest payment. Another merchant's is answered as
/// if it did not exist.
pub async fn merchant_session(
    svc: &CodeServices,
    caller: &Caller,
    id: &SessionId,
) -> Result<SessionView, UseCaseError> {
    let session = svc.payments.get_session(id).await?.filter(|s| &s.merchant_id == caller.merchant());
    let session = session.ok_or(UseCaseError::SessionNotFound)?;
    with_payment(svc, session).await
}

async fn with_payment(svc: &Ports, session: CheckoutSession) -> Result<SessionView, UseCaseError> {
    let payment = match &session.payment_id {
        Some(id) => svc.payments.get(id).await?,
        None => None,
    };
    Ok(SessionView { session, payment })
}

/// Ends an open session now; its pending payment is canceled in the same write. A session
/// already over is answered as it is; a complete one cannot be ended.
pub async fn expire_session(svc: &CodeServices, caller: &Caller, id: &SessionId) -> Result<SessionView, UseCaseError> {
    commit(|_: Option<Raced>| expire_once(svc, caller, id)).await
}

async fn expire_once(
    svc: &CodeServices,
    caller: &Caller,
    id: &SessionId,
) -> Result<Step<SessionView, Raced>, UseCaseError> {
    let mut view = merchant_session(svc, caller, id).await?;
    let now = svc.clock.now();
    if view.is_complete() {
        return Err(UseCaseError::SessionCompleted);
    }
    if view.session.is_over(now) {
        return Ok(Step::Done(view));
    }
    // A payment being captured is not canceled under its capture: the shopper would be charged
    // for a session that says it expired.
    if view.payment.as_ref().is_some_and(|p| p.status == PaymentStatus::Capturing) {
        return Err(UseCaseError::PaymentCapturing);
    }
    let cancel = view.payment.clone().filter(lockable).and_then(|p| canceled(p, now));
    let mut ended = CheckoutSession { ended_at: Some(now), ..view.session.clone() };
    match store_session(svc, &mut ended, cancel.as_ref()).await {
        Ok(()) => {
            tracing::info!(session_id = %ended.id, canceled = cancel.is_some(), "checkout session ended");
            view.session = ended;
            if let Some(c) = cancel {
                view.payment = Some(release_hold(svc, stored_with(c)).await);
            }
            Ok(Step::Done(view))
        }
        Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
        Err(e) => Err(e.into()),
    }
}

/// Ends the sessions past their time (each due at its `expires_at`), up to `limit` per shard a
/// page and `max_pages` pages: the number ended. Ending one at its deadline is a write the
/// stream turns into `checkout.session.expired`. One whose payment completed is retired (off
/// the index: nothing to say); one whose payment is still open or capturing stays due (a
/// session's payment expires no later than the session, so the payment ends first).
pub async fn sweep_sessions(svc: &Ports, limit: u8, max_pages: usize) -> Result<usize, UseCaseError> {
    let now = svc.clock.now();
    let (mut cursor, mut ended) = (crate::ports::DueCursor::default(), 0);
    for _ in 0..max_pages {
        let (due, next) = svc.payments.due_sessions(now, limit, &cursor).await?;
        if due.is_empty() {
            break;
        }
        for session in &due {
            match commit(|again: Option<Raced>| end_at_deadline(svc, session, again, now)).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(session_id = %session.id, error = %e, "could not end a session; next run retries")
                }
            }
        }
        cursor = next;
    }
    Ok(ended)
}

async fn end_at_deadline(
    svc: &Ports,
    due: &CheckoutSession,
    again: Option<Raced>,
    now: i64,
) -> Result<Step<bool, Raced>, UseCaseError> {
    let session = match again {
        None => due.clone(),
        Some(Raced) => svc.payments.get_session(&due.id).await?.ok_or(UseCaseError::SessionNotFound)?,
    };
    if session.ended_at.is_some() || session.expires_at > now {
        return Ok(Step::Done(false));
    }
    let view = with_payment(svc, session).await?;
    let outcome = if view.is_complete() {
        svc.payments.retire_session(&view.session).await.map(|()| false)
    } else if view.payment.as_ref().is_some_and(|p| p.status.is_open()) {
        return Ok(Step::Done(false));
    } else {
        let mut ended = CheckoutSession { ended_at: Some(view.session.expires_at), ..view.session };
        store_session(svc, &mut ended, None).await.map(|()| true)
    };
    match outcome {
        Ok(ended) => {
            if ended {
                tracing::info!(session_id = %due.id, "checkout session expired at its deadline");
            }
            Ok(Step::Done(ended))
        }
        Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
        Err(e) => Err(e.into()),
    }
}

/// The session a browser request names, if the secret it presents is that session's. A
/// missing or wrong secret and an unknown session get the same refusal.
pub async fn authenticate(
    svc: &CodeServices,
    id: &SessionId,
    secret: Option<&ClientSecret>,
) -> Result<CheckoutSession, UseCaseError> {
    let Some(secret) = secret else {
        return Err(UseCaseError::InvalidClientSecret);
    };
    let session = svc.payments.get_session(id).await?.ok_or(UseCaseError::InvalidClientSecret)?;
    if !svc.hasher().client_secret_matches(&session.id, secret, &session.secret_hash) {
        return Err(UseCaseError::InvalidClientSecret);
    }
    Ok(session)
}

/// What the shopper's page shows: the session, its latest payment and the customer's saved
/// cards that have not expired.
pub async fn session_state(
    svc: &Ports,
    session: CheckoutSession,
) -> Result<(SessionView, Vec<SavedCard>), UseCaseError> {
    let today = year_month(svc.clock.now());
    let customer = session.customer();
    let (view, methods) = tokio::join!(with_payment(svc, session), svc.payments.list_cards(&customer));
    let methods = methods?.into_iter().filter(|m| !m.expiry.is_expired(today)).collect();
    Ok((view?, methods))
}

/// A payment in the session: a new one replaces (cancels) the session's pending one in the
/// same write. An ended session takes none (`SessionExpired`), nor does a paid one
/// (`SessionCompleted`).
pub async fn pay_in_session(
    svc: &Services,
    session: CheckoutSession,
    how: SessionPayment,
    attempt: Option<&Attempt>,
) -> KeyedResult<Payment> {
    match session_draft(svc, session, how, attempt).await {
        Ok(draft) => open_payment(svc, draft, attempt).await,
        Err(e) => Err(e).into(),
    }
}

/// The payment a session's payment opens, with the session's move.
async fn session_draft(
    svc: &Services,
    session: CheckoutSession,
    how: SessionPayment,
    attempt: Option<&Attempt>,
) -> Result<PaymentDraft, UseCaseError> {
    let now = svc.clock.now();
    let view = with_payment(svc, session).await?;
    if view.is_complete() {
        return Err(UseCaseError::SessionCompleted);
    }
    if view.session.is_over(now) {
        return Err(UseCaseError::SessionExpired);
    }
    let session = view.session;
    // A retry of this very request finds its own payment: it is resumed, not canceled.
    let own = attempt.map(|a| Attempt::payment_id(Some(a)));
    let cancel = view.payment.filter(|p| lockable(p) && Some(&p.id) != own.as_ref()).and_then(|p| canceled(p, now));
    let mut draft = draft_of(svc, &session, how).await?;
    draft.session = Some(SessionMove { session, cancel });
    Ok(draft)
}

/// The first or repeat payment `how` makes of the session's order, in its language.
async fn draft_of(
    svc: &Services,
    session: &CheckoutSession,
    how: SessionPayment,
) -> Result<PaymentDraft, UseCaseError> {
    Ok(match how {
        SessionPayment::Card { phone, card, expiry, cvc, save_card, source_ip, locale } => {
            first_draft(
                svc,
                FirstPaymentCommand {
                    user_id: session.user_id.clone(),
                    merchant_id: session.merchant_id.clone(),
                    order_id: session.order_id.clone(),
                    money: session.money,
                    phone,
                    card,
                    expiry,
                    cvc,
                    save_card,
                    capture_method: session.capture_method,
                    source_ip,
                    locale: Some(spoken(svc, session, locale)),
                },
            )
            .await?
        }
        SessionPayment::Saved { method_id, source_ip, locale } => {
            let mut draft = repeat_draft(
                svc,
                RepeatPaymentCommand {
                    user_id: session.user_id.clone(),
                    merchant_id: session.merchant_id.clone(),
                    order_id: session.order_id.clone(),
                    money: session.money,
                    method_id,
                    capture_method: session.capture_method,
                    locale: Some(spoken(svc, session, locale)),
                },
            )
            .await?;
            // Its code counts against the shopper's address's SMS cap.
            draft.source_ip_keys = source_ip.map(|ip| svc.hasher().source_ip_keys(&ip)).unwrap_or_default();
            draft
        }
    })
}

/// The language a session speaks to this browser: the session's, else the browser's, else the
/// merchant's default.
pub fn spoken(svc: &Ports, session: &CheckoutSession, browser: Option<Locale>) -> Locale {
    session.locale.resolve(browser, svc.settings.merchant_locale(session.merchant_id.as_str()))
}

/// The session's pending payment, canceled (to be written with the session's change); `None`
/// if the state machine refuses (it is no longer pending).
fn canceled(mut payment: Payment, now: i64) -> Option<Payment> {
    payment.execute(Command::Fail(Failure::Canceled), now).ok().map(|_| payment)
}
