use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use super::UseCaseError;
use crate::domain::{Payment, PaymentId};
use crate::ports::{KeyFound, KeyRecord, KeyWrite, StoredResponse};

/// A request made under an `Idempotency-Key`: what stays the same across its retries.
#[derive(Clone)]
pub struct Attempt {
    /// A keyed digest of the key and when it was first claimed: retries derive the same ids.
    pub seed: String,
    /// An earlier attempt with this key died mid-way; this one finishes its work.
    pub recovering: bool,
    /// A key seen for the first time, which the payment's own writes claim and answer (no
    /// call of its own); `None` where the key was claimed on its own first (a retry).
    pub key: Option<Arc<InlineKey>>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("seed", &self.seed)
            .field("recovering", &self.recovering)
            .field("inline_key", &self.key.as_ref().map(|k| k.state()))
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
        attempt.and_then(|a| a.key.as_deref())
    }
}

/// The answer a payment gets (the HTTP layer renders it), kept under its key.
pub type RenderAnswer = Box<dyn Fn(&Payment) -> StoredResponse + Send + Sync>;

/// How far a payment's writes took an [`InlineKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyState {
    /// Not written: nothing is kept (the request failed before its payment was stored).
    Untouched = 0,
    /// The key has a record already (an earlier request, or one running now): the request
    /// must go the way of a retry, which claims the key on its own first.
    Seen = 1,
    /// Claimed with the payment; its answer is still to be kept.
    Claimed = 2,
    /// Claimed, and answered with the payment's last write (after its SMS went out).
    Answered = 3,
    /// The claiming write failed without saying whether it landed: the key is to be given
    /// back (a no-op where it was not claimed), so a retry need not wait out its deadline.
    Unsure = 4,
}

/// A fresh Idempotency-Key written by the payment's own transactions: claimed with the new
/// payment, answered with its last write. A first payment under a key thus costs the calls it
/// costs without one.
pub struct InlineKey {
    record: KeyRecord,
    render: RenderAnswer,
    state: AtomicU8,
    /// The record the admission read found (`Seen`), which may decide the request alone.
    found: OnceLock<KeyFound>,
}

impl InlineKey {
    pub fn new(record: KeyRecord, render: RenderAnswer) -> Self {
        Self { record, render, state: AtomicU8::new(KeyState::Untouched as u8), found: OnceLock::new() }
    }

    /// What the key's record, as read, answers at once (a replay, say), if it decides alone.
    pub fn decided(&self) -> Option<crate::ports::Claim> {
        self.found.get().and_then(|f| f.decided(&self.record.fingerprint, self.record.now))
    }

    pub fn key(&self) -> &str {
        &self.record.key
    }

    pub fn token(&self) -> &str {
        &self.record.token
    }

    pub fn state(&self) -> KeyState {
        match self.state.load(Ordering::Acquire) {
            1 => KeyState::Seen,
            2 => KeyState::Claimed,
            3 => KeyState::Answered,
            4 => KeyState::Unsure,
            _ => KeyState::Untouched,
        }
    }

    fn set(&self, state: KeyState) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// The key has a record already (`found`, where a read saw it): the request goes the way
    /// of a retry.
    pub(crate) fn seen(&self, found: Option<KeyFound>) -> UseCaseError {
        if let Some(found) = found {
            let _ = self.found.set(found);
        }
        self.set(KeyState::Seen);
        UseCaseError::KeySeen
    }

    /// The key claimed with a new payment.
    pub(crate) fn claim(&self) -> KeyWrite {
        KeyWrite::Claim(self.record.clone())
    }

    /// The answer `payment` (as about to be written) gets, kept under the key claimed before.
    pub(crate) fn answer(&self, payment: &Payment) -> KeyWrite {
        KeyWrite::Answer(self.record.clone(), (self.render)(payment))
    }

    /// The claiming write's outcome is unknown.
    pub(crate) fn unsure(&self) {
        self.set(KeyState::Unsure);
    }

    /// `write` landed.
    pub(crate) fn written(&self, write: &KeyWrite) {
        self.set(match write {
            KeyWrite::Claim(_) => KeyState::Claimed,
            KeyWrite::Answer(..) => KeyState::Answered,
        });
    }
}
