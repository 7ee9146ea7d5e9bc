//! An acquirer that keeps a ledger of what it holds: the sandbox's answers, each authorisation
//! and capture held in flight for a set time (so a test can race them), and per payment whether its funds are
//! held, captured or voided, how much was captured, and every refund booked once per refund id,
//! as a real acquirer's books would say.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use shared::adapters::sandbox_acquirer::SandboxAcquirer;
use shared::domain::{Money, PaymentId};
use shared::ports::{
    Acquirer, AcquirerError, Authorization, AuthorizationRequest, Capture, RefundOutcome, RefundRequest,
};

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
    away: Mutex<Away>,
    ledger: Mutex<HashMap<String, Funds>>,
    /// Capture calls, by payment id.
    captures: Mutex<HashMap<String, u32>>,
    /// The amount captured, by payment id (the rest of its authorisation released).
    captured: Mutex<HashMap<String, u64>>,
    /// Every refund booked, by refund id: its payment, its amount, where it stands.
    refunds: Mutex<HashMap<String, Refund>>,
}

/// A refund as the acquirer booked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub payment_id: String,
    pub amount: u64,
    pub outcome: RefundOutcome,
    /// How many times it was asked for (a retry books nothing more).
    pub calls: u32,
}

/// Which calls find the acquirer unreachable (they fail, changing nothing), and whether an
/// authorisation's answer is lost on its way back (the acquirer booked it; the caller sees a
/// timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Away {
    pub captures: bool,
    pub voids: bool,
    pub authorization_answers: bool,
    /// Refunds (and their status) fail before anything is booked.
    pub refunds: bool,
    /// A refund is booked, its answer lost on its way back.
    pub refund_answers: bool,
    /// A capture, void or refund call never returns, nothing booked: the invocation dies
    /// waiting for it.
    pub hangs: bool,
}

impl LedgerAcquirer {
    /// Each authorisation answers after `in_flight`.
    pub fn slow(in_flight: Duration) -> Self {
        Self {
            sandbox: SandboxAcquirer,
            in_flight,
            capture_in_flight: Duration::ZERO,
            away: Mutex::new(Away::default()),
            ledger: Mutex::default(),
            captures: Mutex::default(),
            captured: Mutex::default(),
            refunds: Mutex::default(),
        }
    }

    /// Answers at once, as the sandbox does.
    pub fn prompt() -> Self {
        Self::slow(Duration::ZERO)
    }

    /// The calls `away` names fail as an unreachable acquirer's would.
    #[must_use]
    pub fn away(self, away: Away) -> Self {
        self.set_away(away);
        self
    }

    /// From now on, `away` says which calls fail.
    pub fn set_away(&self, away: Away) {
        *lock(&self.away) = away;
    }

    fn is_away(&self) -> Away {
        *lock(&self.away)
    }

    /// Each capture answers after `in_flight` too.
    #[must_use]
    pub fn capturing_in(self, in_flight: Duration) -> Self {
        Self { capture_in_flight: in_flight, ..self }
    }

    /// How many times a capture was asked for `payment_id`.
    pub fn capture_calls(&self, payment_id: &str) -> u32 {
        self.captures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(payment_id).copied().unwrap_or(0)
    }

    /// The payments whose funds are still held.
    pub fn held(&self) -> Vec<String> {
        let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ledger.iter().filter(|(_, f)| **f == Funds::Held).map(|(id, _)| id.clone()).collect()
    }

    /// Every payment's funds, by payment id.
    pub fn ledger(&self) -> HashMap<String, Funds> {
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// What was captured of `payment_id` (0 before its capture).
    pub fn captured(&self, payment_id: &str) -> u64 {
        lock(&self.captured).get(payment_id).copied().unwrap_or(0)
    }

    /// What was given back of `payment_id`: its refunds that succeeded or are still pending.
    pub fn refunded(&self, payment_id: &str) -> u64 {
        let refunds = lock(&self.refunds);
        let counted = |r: &&Refund| r.payment_id == payment_id && !matches!(r.outcome, RefundOutcome::Failed(_));
        refunds.values().filter(counted).map(|r| r.amount).sum()
    }

    /// Every refund booked, by refund id.
    pub fn refunds(&self) -> HashMap<String, Refund> {
        lock(&self.refunds).clone()
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
    async fn details(&self, request: &shared::ports::DetailsRequest<'_>) -> Result<Authorization, AcquirerError> {
        self.sandbox.details(request).await
    }

    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Authorization, AcquirerError> {
        tokio::time::sleep(self.in_flight).await;
        let decision = self.sandbox.authorize(request).await?;
        if let Authorization::Approved { .. } = decision {
            // Idempotent by payment id: authorising again changes nothing.
            self.book(request.payment_id, |f| Some(f.unwrap_or(Funds::Held)));
        }
        if self.is_away().authorization_answers {
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
        if self.is_away().hangs {
            return std::future::pending().await;
        }
        *self
            .captures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(payment_id.as_str().to_owned())
            .or_default() += 1;
        tokio::time::sleep(self.capture_in_flight).await;
        if self.is_away().captures {
            return Err(AcquirerError("acquirer away".into()));
        }
        let outcome = self.sandbox.capture(payment_id, authorization_id, money).await?;
        if let Capture::Captured = outcome {
            // By payment id: a repeated capture books nothing more.
            lock(&self.captured).entry(payment_id.as_str().to_owned()).or_insert(money.minor);
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
        if self.is_away().hangs {
            return std::future::pending().await;
        }
        if self.is_away().voids {
            return Err(AcquirerError("acquirer away".into()));
        }
        self.sandbox.void(payment_id, authorization_id).await?;
        self.book(payment_id, |f| match f {
            Some(Funds::Held) => Some(Funds::Voided),
            other => other,
        });
        Ok(())
    }

    /// By refund id: the first call books it; a repeated one answers where it stands.
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError> {
        if self.is_away().refunds {
            return Err(AcquirerError("acquirer away".into()));
        }
        if self.is_away().hangs {
            return std::future::pending().await;
        }
        let outcome = self.sandbox.refund(request).await?;
        let mut refunds = lock(&self.refunds);
        let booked = refunds.entry(request.refund_id.as_str().to_owned()).or_insert_with(|| Refund {
            payment_id: request.payment_id.as_str().to_owned(),
            amount: request.money.minor,
            outcome,
            calls: 0,
        });
        booked.calls += 1;
        if self.is_away().refund_answers {
            return Err(AcquirerError("the refund's answer was lost".into()));
        }
        Ok(booked.outcome)
    }

    async fn refund_status(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError> {
        if self.is_away().refunds {
            return Err(AcquirerError("acquirer away".into()));
        }
        let outcome = self.sandbox.refund_status(request).await?;
        let mut refunds = lock(&self.refunds);
        match refunds.get_mut(request.refund_id.as_str()) {
            Some(booked) => {
                if booked.outcome == RefundOutcome::Pending {
                    booked.outcome = outcome;
                }
                Ok(booked.outcome)
            }
            None => Err(AcquirerError(format!("no refund {}", request.refund_id))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
