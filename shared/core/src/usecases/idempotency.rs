//! The `Idempotency-Key`, its whole life in one place: the same key and body get the same
//! answer again, with no new payment and no new SMS; the same key with another body is
//! refused; keys live 24 hours (what a client sees: the README's paragraph "Every POST takes
//! an optional `Idempotency-Key`").
//!
//! [`run_once`] runs a request at most once per key. A route whose answer is the payment it
//! writes first tries the key the cheap way: the payment's own writes claim it and keep the
//! answer ([`InlineKey`]), so the key costs no call of its own. The use case says how far it
//! took the key as a value ([`Keyed`]): untouched, claimed, answered, unsure, or seen before.
//! A key seen before (a retry, or a request racing this one) is decided by its record as read,
//! or claimed on its own first ([`IdempotencyStore::claim`]), and the work runs that way.

use std::future::Future;

use super::{CodeServices, UseCaseError};
use crate::domain::{Payment, PaymentId};
use crate::ports::{
    Claim, IdempotencyStore, KeyFound, KeyRecord, KeyWrite, RequestFingerprint, StoreError, StoredResponse,
};
use crate::secrets::CodeHasher;

/// A request made under an `Idempotency-Key`: what stays the same across its retries.
pub struct Attempt {
    /// A keyed digest of the key and when it was first claimed: retries derive the same ids.
    pub seed: String,
    /// An earlier attempt with this key died mid-way; this one finishes its work.
    pub recovering: bool,
    /// A key seen for the first time, which the payment's own writes claim and answer (no
    /// call of its own); `None` where the key was claimed on its own first (a retry).
    pub key: Option<InlineKey>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("seed", &self.seed)
            .field("recovering", &self.recovering)
            .field("inline_key", &self.key.is_some())
            .finish()
    }
}

impl Attempt {
    /// The payment a keyed request creates: the same one on every retry, so a retry after a
    /// crash finds what the crashed attempt wrote instead of opening a second payment.
    pub fn payment_id(attempt: Option<&Attempt>) -> PaymentId {
        attempt.map_or_else(PaymentId::new, |a| PaymentId::from_digest(&a.seed))
    }

    pub fn is_recovering(attempt: Option<&Attempt>) -> bool {
        attempt.is_some_and(|a| a.recovering)
    }

    /// The key the payment's writes claim, if this attempt writes it itself.
    pub fn inline_key(attempt: Option<&Attempt>) -> Option<&InlineKey> {
        attempt.and_then(|a| a.key.as_ref())
    }
}

/// The answer a payment (or a refusal decided with its write) gets (the HTTP layer renders
/// it), kept under its key.
pub type RenderAnswer = Box<dyn Fn(Result<&Payment, UseCaseError>) -> StoredResponse + Send + Sync>;

/// A fresh Idempotency-Key written by the payment's own transactions: claimed with the new
/// payment, answered with its last write. A first payment under a key thus costs the calls it
/// costs without one. It holds no state: what the writes did to it is the use case's
/// [`KeyProgress`].
pub struct InlineKey {
    record: KeyRecord,
    render: RenderAnswer,
}

impl InlineKey {
    pub fn key(&self) -> &str {
        &self.record.key
    }

    /// The rider that claims the key with a new payment.
    pub(crate) fn claim(&self) -> KeyWrite {
        KeyWrite::Claim(self.record.clone())
    }

    /// The rider that keeps the answer `payment` (as about to be written) gets, under the key
    /// claimed before.
    pub(crate) fn answer(&self, payment: &Payment) -> KeyWrite {
        KeyWrite::Answer(self.record.clone(), (self.render)(Ok(payment)))
    }

    /// The rider that claims the key with its answer, `refusal`, where the write it rides is
    /// the request's whole work (see [`KeyProgress::Settled`]).
    pub(crate) fn settle(&self, refusal: UseCaseError) -> KeyWrite {
        KeyWrite::Settle(self.record.clone(), (self.render)(Err(refusal)))
    }
}

/// How far a use case's writes took its [`InlineKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProgress {
    /// Not written (no inline key, or the request ended before its payment was written):
    /// nothing is kept, a retry runs again.
    Untouched,
    /// Claimed with the payment; its answer is still to be kept.
    Claimed,
    /// Claimed, and answered with the payment's last write.
    Answered,
    /// The claiming write failed without saying whether it landed: the key is given back (a
    /// no-op where it was not claimed), so a retry need not wait out its deadline.
    Unsure,
    /// Claimed with its answer by the one write that was the request's whole work (a wrong
    /// code counted), landed or, where that write failed unsure, perhaps not: either way
    /// nothing is left to keep or give back. A retry finds the answer (and never counts the
    /// code twice) or a free key (and runs again).
    Settled,
}

impl KeyProgress {
    /// Where a key claimed by one write stands once a later write of the request is known.
    #[must_use]
    pub fn then(self, later: KeyProgress) -> KeyProgress {
        match later {
            KeyProgress::Untouched => self,
            KeyProgress::Claimed | KeyProgress::Answered | KeyProgress::Unsure | KeyProgress::Settled => later,
        }
    }
}

/// What a keyed use case (or the request around it) did, as a value.
#[derive(Debug)]
pub enum Keyed<T> {
    /// The inline key has a record already (`found`, where a read saw it): nothing was done;
    /// the request goes the way of a retry.
    Seen(Option<KeyFound>),
    /// It ran to `outcome`, taking its inline key as far as `KeyProgress` says.
    Ran(T, KeyProgress),
}

/// A use case's answer with what it did to its request's inline key.
pub type KeyedResult<T> = Keyed<Result<T, UseCaseError>>;

impl<T> Keyed<T> {
    /// `outcome` with the key untouched.
    pub fn untouched(outcome: T) -> Self {
        Self::Ran(outcome, KeyProgress::Untouched)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Keyed<U> {
        match self {
            Self::Seen(found) => Keyed::Seen(found),
            Self::Ran(outcome, progress) => Keyed::Ran(f(outcome), progress),
        }
    }
}

impl<T> From<Result<T, UseCaseError>> for KeyedResult<T> {
    fn from(result: Result<T, UseCaseError>) -> Self {
        Self::untouched(result)
    }
}

/// Why a key's request is not run: what the client gets instead.
#[derive(Debug)]
pub enum KeyRefusal {
    /// The key was used with a different request.
    Reused,
    /// A request with this key is still running.
    InProgress,
    /// The key's record could not be read or written.
    Unavailable(UseCaseError),
}

/// An answer [`run_once`] can keep under a key and give again.
pub trait KeptAnswer: Sized {
    /// Worth retrying (the key is given back rather than kept).
    fn is_transient(&self) -> bool;
    /// What the key keeps.
    fn to_stored(&self) -> StoredResponse;
    /// The kept answer, given again.
    fn replay(stored: StoredResponse) -> Self;
    /// The answer of a request the key does not let run.
    fn refused(refusal: KeyRefusal) -> Self;
}

/// A request under an Idempotency-Key.
#[derive(Debug, Clone, Copy)]
pub struct KeyedRequest<'a> {
    /// The key space: the caller, the route and what its path names.
    pub scope: &'a str,
    pub key: &'a str,
    /// The request's body, as its fingerprint covers it (see [`without_card_secrets`]).
    pub body: &'a serde_json::Value,
    /// Until when a claim stands before another attempt may take over.
    pub lock_until: i64,
}

/// The request as its fingerprint covers it: without the CVC, and with the card number
/// replaced by its keyed digest. The fingerprint is kept 24 hours; whoever holds the HMAC key
/// could otherwise recover a CVC from it by trying its 1,000-10,000 values (PCI DSS 3.3.1).
/// Two requests that differ only in their CVC are the same request.
pub fn without_card_secrets(hasher: &CodeHasher, body: &serde_json::Value) -> serde_json::Value {
    let mut body = body.clone();
    if let Some(card) = body.get_mut("card").and_then(serde_json::Value::as_object_mut) {
        card.remove("cvc");
        if let Some(serde_json::Value::String(number)) = card.get("number") {
            let digest = hasher.card_number_digest(number);
            card.insert("number".into(), digest.into());
        }
    }
    body
}

/// The request's fingerprint under every key (the current one first): a retry across a key
/// rotation matches the record its first try kept.
pub fn request_fingerprint(hasher: &CodeHasher, scope: &str, body: &serde_json::Value) -> RequestFingerprint {
    RequestFingerprint(
        hasher
            .per_key()
            .iter()
            .map(|h| h.request_fingerprint(scope, &without_card_secrets(h, body).to_string()))
            .collect(),
    )
}

/// Runs `work` at most once per key. `work` gets the [`Attempt`]: stable across retries of this
/// key, and whether it takes over from an attempt that died.
///
/// With `render` (a route whose answer is the payment it writes), the key is first left to the
/// payment's writes ([`InlineKey`]). Where the key has a record already, the record as read may
/// answer alone (a replay); otherwise `work` runs again the way of a retry: the key claimed on
/// its own first. `work` did nothing the first time (it says [`Keyed::Seen`] before any write),
/// so this is still one run.
pub async fn run_once<R, F, Fut>(
    svc: &CodeServices,
    request: KeyedRequest<'_>,
    render: Option<RenderAnswer>,
    work: F,
) -> R
where
    R: KeptAnswer,
    F: Fn(Attempt) -> Fut,
    Fut: Future<Output = Keyed<R>>,
{
    let now = svc.clock.now();
    let scoped_key = format!("{}#{}", request.scope, request.key);
    // serde_json's map is ordered, so equal JSON bodies serialize alike whatever their key order.
    let hasher = svc.hasher();
    let fingerprint = request_fingerprint(hasher, request.scope, request.body);
    // What the key's record, as the first try read it, decides alone (a replay, say).
    let mut decided = None;
    if let Some(render) = render {
        let token = ulid::Ulid::new().to_string();
        let record = KeyRecord {
            key: scoped_key.clone(),
            fingerprint: fingerprint.current().to_owned(),
            token,
            lock_until: request.lock_until,
            now,
        };
        match inline(svc, record, render, &work).await {
            Ok(answer) => return answer,
            Err(found) => decided = found.and_then(|f| f.decided(&fingerprint, now)),
        }
    }
    let claim = match decided {
        Some(claim) => Ok(claim),
        None => svc.idempotency.claim(&scoped_key, &fingerprint, now, request.lock_until).await,
    };
    let (token, attempt) = match claim {
        Ok(Claim::Acquired { token, origin, recovering }) => {
            let seed = CodeHasher::attempt_seed(&scoped_key, &origin);
            (token, Attempt { seed, recovering, key: None })
        }
        Ok(Claim::Replay(stored)) => return R::replay(stored),
        Ok(Claim::KeyReused) => return R::refused(KeyRefusal::Reused),
        Ok(Claim::InProgress) => return R::refused(KeyRefusal::InProgress),
        Err(e) => return R::refused(KeyRefusal::Unavailable(e.into())),
    };
    let answer = match work(attempt).await {
        Keyed::Ran(answer, _) => answer,
        // No write of this run carries the key (it is claimed already): not reached.
        Keyed::Seen(_) => R::refused(KeyRefusal::InProgress),
    };
    finish(svc.idempotency.as_ref(), &scoped_key, &token, &answer, svc.clock.now()).await;
    answer
}

/// The first try of a new key: the payment's own writes claim it and keep the answer. The
/// answer, or (`Err`) the key had a record already, as read where a read saw it.
async fn inline<R, F, Fut>(
    svc: &CodeServices,
    record: KeyRecord,
    render: RenderAnswer,
    work: &F,
) -> Result<R, Option<KeyFound>>
where
    R: KeptAnswer,
    F: Fn(Attempt) -> Fut,
    Fut: Future<Output = Keyed<R>>,
{
    // The token is the origin retries derive the ids from, as a claim of its own makes it.
    let seed = CodeHasher::attempt_seed(&record.key, &record.token);
    let (scoped_key, token) = (record.key.clone(), record.token.clone());
    let attempt = Attempt { seed, recovering: false, key: Some(InlineKey { record, render }) };
    match work(attempt).await {
        Keyed::Seen(found) => Err(found),
        // Failed before its payment was written (nothing to keep: a retry runs again), kept
        // with the payment's last write, or settled with its one write.
        Keyed::Ran(answer, KeyProgress::Untouched | KeyProgress::Answered | KeyProgress::Settled) => Ok(answer),
        Keyed::Ran(answer, KeyProgress::Claimed | KeyProgress::Unsure) => {
            finish(svc.idempotency.as_ref(), &scoped_key, &token, &answer, svc.clock.now()).await;
            Ok(answer)
        }
    }
}

/// Keeps `answer` under the key `token` holds, or gives the key back where the answer is
/// transient (a retry runs again).
async fn finish<R: KeptAnswer>(store: &dyn IdempotencyStore, scoped_key: &str, token: &str, answer: &R, now: i64) {
    let outcome: Result<(), StoreError> = if answer.is_transient() {
        store.release(scoped_key, token).await
    } else {
        store.complete(scoped_key, token, &answer.to_stored(), now).await
    };
    if let Err(e) = outcome {
        // The answer stands; the claim lapses at its deadline and a retry then runs again.
        tracing::warn!(error = %e, "idempotency record not finalized");
    }
}
