//! The payment record and its state machine:
//! first payment: `authorizing` (stored before the acquirer is called, the CVC in hand) →
//! `requires_verification` (funds held) | `failed` (declined: no code sent);
//! repeat payment: `requires_verification` (nothing held until the shopper's code);
//! then the right code → `capturing` (the order claimed for it) → `succeeded` (captured) |
//! `failed` (`capture_failed`, declined, …); and from any open state → `expired` |
//! `canceled` (its checkout session started another payment, or ended). An ended payment
//! whose funds are still held is voided (`hold` = voided) by whoever ends it, or the sweeper.
//! The transitions themselves are decided and applied in [`super::lifecycle`]; use cases
//! persist the result with a version-checked write, so two concurrent transitions can never
//! both land.

use super::card::{CardBrand, Expiry};
use super::code::CodeHash;
use super::lifecycle::{Command, Event, Failure, Refusal};
use super::refund::{Refund, RefundStatus, REFUND_GRACE_SECS};
use super::{Customer, Identifier, MethodId, Money, PayerPhone, PaymentId, RefundId, SessionId};

/// A code is valid for five minutes.
pub const CODE_TTL_SECS: i64 = 5 * 60;
/// Wrong codes allowed per payment; the last one fails the payment.
pub const MAX_ATTEMPTS: u8 = 5;
/// Codes sent per payment, the first one included.
pub const MAX_SENDS: u8 = 5;
/// Shortest gap between two sends to one payment.
pub const RESEND_COOLDOWN_SECS: i64 = 30;
/// A payment left `capturing` this long is taken to be abandoned by the request that moved it
/// there (it died, or lost the acquirer): a retry or a status read may finish it. Sooner, a
/// second request is a concurrent one, and is answered as the loser it is.
pub const CAPTURE_GRACE_SECS: i64 = 10;
/// How long after a payment ended with its authorisation in doubt ([`HoldState::InDoubt`]) it
/// is voided by payment id: the functions' timeout, so the request whose acquirer call was in
/// flight has answered or died by then (its own outcome lands first, or never).
pub const AUTHORIZATION_GRACE_SECS: i64 = 10;
/// A payment nobody completes expires after this long.
pub const PAYMENT_TTL_SECS: i64 = 30 * 60;
/// The failure code of a payment whose order another payment paid first.
pub const ORDER_ALREADY_PAID: &str = Failure::OrderAlreadyPaid.code();
/// The failure code of a payment whose authorisation could not be captured.
pub const CAPTURE_FAILED: &str = Failure::CaptureFailed.code();
/// The failure code of a pending payment whose payer was locked out by wrong codes.
pub const PAYER_LOCKED: &str = Failure::PayerLocked.code();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Authorizing,
    /// The acquirer asks the shopper to authenticate with the issuer (3-D Secure) before it
    /// answers: the page performs `action`, then sends its result
    /// (`POST …/payments/{id}/details`).
    RequiresAction,
    RequiresVerification,
    /// A manual-capture payment's funds are held: the merchant captures (all or part) or
    /// cancels before `capture_before`, else the sweeper cancels it.
    RequiresCapture,
    Capturing,
    Succeeded,
    Failed,
    Expired,
    Canceled,
}

impl PaymentStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Authorizing => "authorizing",
            Self::RequiresAction => "requires_action",
            Self::RequiresVerification => "requires_verification",
            Self::RequiresCapture => "requires_capture",
            Self::Capturing => "capturing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Authorizing,
            Self::RequiresAction,
            Self::RequiresVerification,
            Self::RequiresCapture,
            Self::Capturing,
            Self::Succeeded,
            Self::Failed,
            Self::Expired,
            Self::Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Not ended yet: the payment can still move (and so is due for the sweeper at expiry).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Self::Authorizing
                | Self::RequiresAction
                | Self::RequiresVerification
                | Self::RequiresCapture
                | Self::Capturing
        )
    }
}

/// When a verified payment's funds are captured: at once (`Automatic`), or when the merchant
/// asks (`Manual`: the payment waits in `requires_capture`, funds held).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaptureMethod {
    #[default]
    Automatic,
    Manual,
}

impl CaptureMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Automatic, Self::Manual].into_iter().find(|v| v.as_str() == s)
    }
}

/// Why a payment was canceled, where the merchant (or the sweeper) canceled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationReason {
    RequestedByCustomer,
    Duplicate,
    Fraudulent,
    Abandoned,
    /// The sweeper's: a manual-capture payment not captured before `capture_before`.
    AuthorizationExpired,
}

impl CancellationReason {
    /// The reasons a merchant may give (the last is the sweeper's own).
    pub const GIVEN: [Self; 4] = [Self::RequestedByCustomer, Self::Duplicate, Self::Fraudulent, Self::Abandoned];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::RequestedByCustomer => "requested_by_customer",
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
            Self::Abandoned => "abandoned",
            Self::AuthorizationExpired => "authorization_expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::GIVEN.into_iter().chain([Self::AuthorizationExpired]).find(|v| v.as_str() == s)
    }
}

/// How long an authorisation held for a manual capture lasts at most (7 days).
pub const MAX_CAPTURE_WINDOW_SECS: i64 = 7 * 86_400;

/// Where a payment's phone came from: named by the request (a first payment: nothing proves the
/// shopper holds it yet), or bound to the saved card (a repeat payment: a right code proved it
/// when the card was saved). Only a proven phone's wrong codes count against the phone, so
/// nobody locks a victim's phone by naming it in a payment of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PhoneOrigin {
    /// Also what a payment stored before the distinction reads back as (its phone's wrong codes
    /// then count against its user only).
    #[default]
    Request,
    SavedCard,
}

impl PhoneOrigin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::SavedCard => "saved_card",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Request, Self::SavedCard].into_iter().find(|v| v.as_str() == s)
    }
}

/// The acquirer's authorisation of a payment: funds held on the card until captured or voided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The acquirer's id of the authorisation (capture and void name it).
    pub authorization_id: String,
    pub state: HoldState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    Held,
    /// The payment ended while its authorisation's outcome was unknown (its acquirer call in
    /// flight, or lost): funds may be held under an id nobody stored (`authorization_id` is
    /// empty). Voided by payment id, once [`AUTHORIZATION_GRACE_SECS`] have passed.
    InDoubt,
    Captured,
    Voided,
}

impl HoldState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::InDoubt => "in_doubt",
            Self::Captured => "captured",
            Self::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Held, Self::InDoubt, Self::Captured, Self::Voided].into_iter().find(|v| v.as_str() == s)
    }
}

impl Hold {
    /// An authorisation that may exist, of which nothing is known but the payment's id.
    pub fn in_doubt() -> Self {
        Self { authorization_id: String::new(), state: HoldState::InDoubt }
    }
}

/// What a payment shows of its card: never more than brand, last four and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSummary {
    pub id: MethodId,
    pub brand: CardBrand,
    pub last4: String,
    pub expiry: Expiry,
}

/// The code currently outstanding for a pending payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub code_hash: CodeHash,
    pub expires_at: i64,
    pub attempts_remaining: u8,
    pub sends: u8,
    pub last_sent_at: i64,
}

impl Verification {
    /// The code sent when a payment is opened.
    pub fn first(code_hash: CodeHash, now: i64) -> Self {
        Self {
            code_hash,
            expires_at: now + CODE_TTL_SECS,
            attempts_remaining: MAX_ATTEMPTS,
            sends: 1,
            last_sent_at: now,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub status: PaymentStatus,
    pub user_id: Identifier,
    pub merchant_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    /// The checkout session the shopper's browser paid in, if any (`None`: the merchant's
    /// server created the payment directly).
    pub session_id: Option<SessionId>,
    /// The language its SMS speak (the session's, or the merchant's default).
    pub locale: super::Locale,
    pub method: MethodSummary,
    /// Where codes go: for a repeat payment, the phone bound to the saved card. The number
    /// itself only while the payment is open.
    pub phone: PayerPhone,
    pub phone_origin: PhoneOrigin,
    /// The card, encrypted, kept only while the payment is pending (the acquirer needs it at
    /// verification); removed once the payment ends.
    pub sealed_card: Option<String>,
    /// Keyed fingerprint of the card (dedupes saved methods).
    pub fingerprint: String,
    /// Save the card for repeat payments once this payment succeeds.
    pub save_card: bool,
    pub verification: Verification,
    /// The acquirer's authorisation, once there is one.
    pub hold: Option<Hold>,
    /// What the shopper's page must do for the acquirer (`requires_action`: 3-D Secure), as the
    /// acquirer gave it (JSON, no card data); `None` in every other status.
    pub action: Option<String>,
    /// The card network's reference for the stored credential: returned by the first
    /// payment's authorisation (and saved with the card), sent with a repeat payment's.
    pub network_reference: Option<String>,
    /// Why a `failed` payment failed (`None` in every other status).
    pub failure: Option<Failure>,
    pub capture_method: CaptureMethod,
    /// What a manual capture asked for (minor units, at most `money`); `None`: all of it.
    pub amount_to_capture: Option<u64>,
    /// Until when a `requires_capture` payment's funds are held.
    pub capture_before: Option<i64>,
    /// Why the merchant (or the sweeper) canceled it.
    pub cancellation_reason: Option<CancellationReason>,
    /// When it was captured (`succeeded`): the refund window runs from here.
    pub captured_at: Option<i64>,
    /// Its refunds, oldest first (at most [`crate::MAX_REFUNDS`]).
    pub refunds: Vec<Refund>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    /// Optimistic-concurrency version: every stored write requires the version it read.
    pub version: u64,
}

/// The outcome of presenting a code; every variant but `Accepted` and `NotPending` has already
/// changed the payment where a change is due (attempts spent, failed, expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Incorrect { attempts_remaining: u8 },
    LockedOut,
    CodeExpired,
    PaymentExpired,
    NotPending,
}

/// Why a resend is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendRefusal {
    NotPending,
    /// The payment has just expired (the change is due to be stored).
    PaymentExpired,
    TooSoon {
        retry_after_secs: i64,
    },
    SendLimitReached,
}

impl Payment {
    /// Whose payment this is: the merchant's customer.
    pub fn customer(&self) -> Customer {
        Customer { merchant_id: self.merchant_id.clone(), user_id: self.user_id.clone() }
    }

    /// Waiting for the shopper's code.
    pub fn is_pending(&self) -> bool {
        self.status == PaymentStatus::RequiresVerification
    }

    /// A hold canceled after its right code claimed the order: the order is given back in the
    /// write that records the void (so it is never free while the funds for it are still held,
    /// and a cancel needs no read of the order's key before its write).
    pub fn gives_order_back_with_void(&self) -> bool {
        self.status == PaymentStatus::Canceled && self.capture_before.is_some()
    }

    /// Ended with funds still held, or perhaps held: the authorisation is to be voided.
    pub fn needs_void(&self) -> bool {
        !self.status.is_open() && self.void_due_from().is_some()
    }

    /// Whether the void is due at `now`: at once for a known hold, after the grace for one in
    /// doubt (the request whose acquirer call was in flight voids its own first, by its id).
    pub fn void_due(&self, now: i64) -> bool {
        !self.status.is_open() && self.void_due_from().is_some_and(|from| now >= from)
    }

    /// From when a held (or perhaps held) authorisation is to be voided.
    fn void_due_from(&self) -> Option<i64> {
        match self.hold.as_ref().map(|h| h.state) {
            Some(HoldState::Held) => Some(self.updated_at),
            Some(HoldState::InDoubt) => Some(self.updated_at + AUTHORIZATION_GRACE_SECS),
            Some(HoldState::Captured | HoldState::Voided) | None => None,
        }
    }

    /// When the sweeper must look at this payment: an open one at its expiry, an ended one
    /// still holding funds when its void is due; `None` once nothing is left to do (the item
    /// leaves the sparse index).
    pub fn due_at(&self) -> Option<i64> {
        if self.status == PaymentStatus::RequiresCapture {
            self.capture_before.or(Some(self.expires_at))
        } else if self.status.is_open() {
            Some(self.expires_at)
        } else {
            match (self.void_due_from(), self.refunds_due_from()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    }

    /// A capture left unfinished long enough that finishing it cannot race its own request.
    pub fn is_stale_capture(&self, now: i64) -> bool {
        self.status == PaymentStatus::Capturing && now >= self.updated_at + CAPTURE_GRACE_SECS
    }

    /// True when an open payment can no longer be completed.
    pub fn is_expired_at(&self, now: i64) -> bool {
        match self.status {
            PaymentStatus::RequiresVerification => self.is_past_deadline(now),
            PaymentStatus::Authorizing | PaymentStatus::RequiresAction | PaymentStatus::Capturing => {
                now >= self.expires_at
            }
            PaymentStatus::RequiresCapture => self.capture_before.is_some_and(|before| now >= before),
            PaymentStatus::Succeeded | PaymentStatus::Failed | PaymentStatus::Expired | PaymentStatus::Canceled => {
                false
            }
        }
    }

    /// True when the payment can no longer be completed: its deadline passed, or its last
    /// code expired with no sends left.
    pub(crate) fn is_past_deadline(&self, now: i64) -> bool {
        let v = &self.verification;
        now >= self.expires_at || (now >= v.expires_at && v.sends >= MAX_SENDS)
    }

    /// The failure code a `failed` payment shows.
    pub fn failure_code(&self) -> Option<&'static str> {
        self.failure.map(|f| f.code())
    }

    /// How the payment ended without being paid, if it did: its failure, expired or canceled.
    pub fn ending(&self) -> Option<Failure> {
        match self.status {
            PaymentStatus::Failed => self.failure,
            PaymentStatus::Expired => Some(Failure::Expired),
            PaymentStatus::Canceled => Some(Failure::Canceled),
            PaymentStatus::Authorizing
            | PaymentStatus::RequiresAction
            | PaymentStatus::RequiresVerification
            | PaymentStatus::RequiresCapture
            | PaymentStatus::Capturing
            | PaymentStatus::Succeeded => None,
        }
    }

    /// What was captured: all of it, or a manual capture's amount; `None` before the capture.
    pub fn amount_captured(&self) -> Option<u64> {
        (self.status == PaymentStatus::Succeeded).then(|| self.amount_to_capture.unwrap_or(self.money.minor))
    }

    /// What its refunds that have not failed (pending or succeeded) give back.
    pub fn amount_refunded(&self) -> u64 {
        self.refunds.iter().filter(|r| r.holds_amount()).map(|r| r.amount).sum()
    }

    /// What may still be refunded: what was captured less its refunds that have not failed;
    /// `None` before the capture.
    pub fn amount_refundable(&self) -> Option<u64> {
        self.amount_captured().map(|captured| captured.saturating_sub(self.amount_refunded()))
    }

    pub fn refund(&self, id: &RefundId) -> Option<&Refund> {
        self.refunds.iter().find(|r| &r.id == id)
    }

    /// From when the sweeper finishes its pending refunds (the creating request's grace past).
    pub fn refunds_due_from(&self) -> Option<i64> {
        self.refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Pending)
            .map(|r| r.updated_at + REFUND_GRACE_SECS)
            .min()
    }

    /// What the acquirer is to capture: a manual capture's amount, else all of it.
    pub fn capture_money(&self) -> Money {
        Money { minor: self.amount_to_capture.unwrap_or(self.money.minor), ..self.money }
    }

    /// Presents a code, given whether it matched the stored keyed hash, and applies what it
    /// decides (attempts spent, failed, expired). A right code changes nothing yet: the order
    /// is claimed first ([`Command::StartCapture`]).
    pub fn check_code(&mut self, matches: bool, now: i64) -> CodeCheck {
        let plan = match self.decide(Command::PresentCode { matches }, now) {
            Ok(plan) => plan,
            Err(Refusal::CodeExpired) => return CodeCheck::CodeExpired,
            Err(
                Refusal::NotPending
                | Refusal::TooSoon { .. }
                | Refusal::SendLimitReached
                | Refusal::NotAllowed { .. }
                | Refusal::AmountNotCapturable { .. }
                | Refusal::Refund(_),
            ) => return CodeCheck::NotPending,
        };
        self.apply_plan(&plan);
        match plan.ending() {
            Some(Failure::Expired) => CodeCheck::PaymentExpired,
            Some(_) => CodeCheck::LockedOut,
            None if plan.events.contains(&Event::CodeRejected) => {
                CodeCheck::Incorrect { attempts_remaining: self.verification.attempts_remaining }
            }
            None => CodeCheck::Accepted,
        }
    }

    /// Checks that a new code may be sent now; a payment past its deadline is expired.
    pub fn check_resend(&mut self, now: i64) -> Result<(), ResendRefusal> {
        match self.decide_resend(now) {
            Ok(plan) if plan.events.is_empty() => Ok(()),
            Ok(plan) => {
                self.apply_plan(&plan);
                Err(ResendRefusal::PaymentExpired)
            }
            Err(Refusal::SendLimitReached) => Err(ResendRefusal::SendLimitReached),
            Err(Refusal::TooSoon { retry_after_secs }) => Err(ResendRefusal::TooSoon { retry_after_secs }),
            Err(
                Refusal::NotPending
                | Refusal::CodeExpired
                | Refusal::NotAllowed { .. }
                | Refusal::AmountNotCapturable { .. }
                | Refusal::Refund(_),
            ) => Err(ResendRefusal::NotPending),
        }
    }

    /// Sequence number the next code will be bound to (its hash includes it).
    pub fn next_send_seq(&self) -> u8 {
        self.verification.sends + 1
    }
}
