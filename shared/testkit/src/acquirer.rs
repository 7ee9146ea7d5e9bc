//! An acquirer that keeps a ledger of what it holds: the sandbox's answers, each authorisation
//! and capture held in flight for a set time (so a test can race them), and per payment whether its funds are
//! held, captured or voided, as a real acquirer's books would say.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use shared::adapters::sandbox_acquirer::SandboxAcquirer;
use shared::domain::{Money, PaymentId};
use shared::ports::{Acquirer, AcquirerError, Authorization, AuthorizationRequest, Capture};

/// Where a payment's funds stand at the acquirer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funds {
    Held,
    Captured,
    Voided,
}

pub struct LedgerAcquirer {
    sandbox: SandboxAcquirer,
    in_flight: Duration,
    capture_in_flight: Duration,
    away: Away,
    ledger: Mutex<HashMap<String, Funds>>,
    /// Capture calls, by payment id.
    captures: Mutex<HashMap<String, u32>>,
}

/// Which calls find the acquirer unreachable (they fail, changing nothing), and whether an
/// authorisation's answer is lost on its way back (the acquirer booked it; the caller sees a
/// timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Away {
    pub captures: bool,
    pub voids: bool,
    pub authorization_answers: bool,
}

impl LedgerAcquirer {
    /// Each authorisation answers after `in_flight`.
    pub fn slow(in_flight: Duration) -> Self {
        Self {
            sandbox: SandboxAcquirer,
            in_flight,
            capture_in_flight: Duration::ZERO,
            away: Away::default(),
            ledger: Mutex::default(),
            captures: Mutex::default(),
        }
    }

    /// Answers at once, as the sandbox does.
    pub fn prompt() -> Self {
        Self::slow(Duration::ZERO)
    }

    /// The calls `away` names fail as an unreachable acquirer's would.
    #[must_use]
    pub fn away(self, away: Away) -> Self {
        Self { away, ..self }
    }

    /// Each capture answers after `in_flight` too.
    #[must_use]
    pub fn capturing_in(self, in_flight: Duration) -> Self {
        Self { capture_in_flight: in_flight, ..self }
    }

    /// The payments whose funds are still held.
    /// How many times a capture was asked for `payment_id`.
    pub fn capture_calls(&self, payment_id: &str) -> u32 {
        self.captures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(payment_id).copied().unwrap_or(0)
    }

    pub fn held(&self) -> Vec<String> {
        let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ledger.iter().filter(|(_, f)| **f == Funds::Held).map(|(id, _)| id.clone()).collect()
    }

    /// Every payment's funds, by payment id.
    pub fn ledger(&self) -> HashMap<String, Funds> {
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn book(&self, id: &PaymentId, change: impl FnOnce(Option<Funds>) -> Option<Funds>) {
        let mut ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = change(ledger.get(id.as_str()).copied());
        if let Some(funds) = now {
            ledger.insert(id.as_str().to_owned(), funds);
        }
    }
}

#[async_trait]
impl Acquirer for LedgerAcquirer {
    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Authorization, AcquirerError> {
        tokio::time::sleep(self.in_flight).await;
        let decision = self.sandbox.authorize(request).await?;
        if let Authorization::Approved { .. } = decision {
            // Idempotent by payment id: authorising again changes nothing.
            self.book(request.payment_id, |f| Some(f.unwrap_or(Funds::Held)));
        }
        if self.away.authorization_answers {
            return Err(AcquirerError("timed out waiting for the acquirer's answer".into()));
        }
        Ok(decision)
    }

    async fn capture(
        &self,
        payment_id: &PaymentId,
        authorization_id: &str,
        money: &Money,
    ) -> Result<Capture, AcquirerError> {
        *self
            .captures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(payment_id.as_str().to_owned())
            .or_default() += 1;
        tokio::time::sleep(self.capture_in_flight).await;
        if self.away.captures {
            return Err(AcquirerError("acquirer away".into()));
        }
        let outcome = self.sandbox.capture(payment_id, authorization_id, money).await?;
        if let Capture::Captured = outcome {
            self.book(payment_id, |f| match f {
                Some(Funds::Held | Funds::Captured) => Some(Funds::Captured),
                other => other,
            });
        }
        Ok(outcome)
    }

    /// By payment id: voids what it holds; a payment it holds nothing for is left as it is
    /// (an authorisation landing later would be held: voiding by payment id too early leaks).
    async fn void(&self, payment_id: &PaymentId, authorization_id: &str) -> Result<(), AcquirerError> {
        if self.away.voids {
            return Err(AcquirerError("acquirer away".into()));
        }
        self.sandbox.void(payment_id, authorization_id).await?;
        self.book(payment_id, |f| match f {
            Some(Funds::Held) => Some(Funds::Voided),
            other => other,
        });
        Ok(())
    }
}
