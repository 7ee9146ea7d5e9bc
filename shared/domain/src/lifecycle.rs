//! The payment's state machine, pure: a [`Command`] is decided against the payment as it stands
//! ([`Payment::decide`]) into a [`Plan`] of [`Event`]s, or refused; events are then applied
//! ([`Payment::apply`]). Every transition is a row of [`TRANSITIONS`], from which the state
//! diagram in docs/architecture.md is generated (a test keeps the two equal, and checks every
//! plan against the table). Nothing here does I/O: use cases persist a plan's outcome with a
//! version-checked write, so two concurrent decisions can never both land.

use super::code::CodeHash;
use super::payment::{
    CancellationReason, CaptureMethod, Hold, HoldState, Payment, PaymentStatus, Verification, CODE_TTL_SECS, MAX_SENDS,
    RESEND_COOLDOWN_SECS,
};
use super::refund::{Refund, RefundSettlement, RefundStatus, MAX_REFUNDS};
use super::RefundId;

/// Why the acquirer declined: the closed set of reasons a merchant and a shopper are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    /// The issuer declined without a reason it shares.
    CardDeclined,
    InsufficientFunds,
    ExpiredCard,
    IncorrectCvc,
    /// The card's or the account's limit (amount or count) is reached.
    LimitExceeded,
    /// The issuer or the acquirer suspects fraud.
    SuspectedFraud,
}

impl DeclineReason {
    pub const ALL: [Self; 6] = [
        Self::CardDeclined,
        Self::InsufficientFunds,
        Self::ExpiredCard,
        Self::IncorrectCvc,
        Self::LimitExceeded,
        Self::SuspectedFraud,
    ];

    /// The stable wire code (`failure_code` of a declined payment, the problem's `code`).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::ExpiredCard => "expired_card",
            Self::IncorrectCvc => "incorrect_cvc",
            Self::LimitExceeded => "limit_exceeded",
            Self::SuspectedFraud => "suspected_fraud",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Why a payment ended without being paid: every way there is, closed. A `failed` payment
/// carries one of the failing kinds; `expired` and `canceled` are their own statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The acquirer declined the authorisation (a first payment's at creation, a repeat
    /// payment's after its code).
    Declined(DeclineReason),
    /// The acquirer could not be reached for an authorisation nobody can resume.
    AcquirerUnavailable,
    /// The authorisation could not be captured (it lapsed, the issuer withdrew it).
    CaptureFailed,
    /// The first code could not be sent to a payment nobody can resume.
    CodeNotSent,
    /// The payment's own last wrong code.
    TooManyAttempts,
    /// Its payer was locked out by wrong codes in a row.
    PayerLocked,
    /// Another payment paid the order first.
    OrderAlreadyPaid,
    /// Nobody completed it in time.
    Expired,
    /// Its checkout session started another payment, or ended.
    Canceled,
}

/// How a request that would have finished a payment is answered once it ended: the one place
/// that gives each failure its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAnswer {
    /// `402`, with the failure's code: the card was not charged.
    Declined,
    /// `409 order_already_paid`.
    OrderAlreadyPaid,
    /// `409 payment_not_pending`: it ended otherwise.
    NotPending,
}

impl FailureAnswer {
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Declined => 402,
            Self::OrderAlreadyPaid | Self::NotPending => 409,
        }
    }
}

impl Failure {
    /// Every failure a `failed` payment can carry, besides the declines.
    const FAILING: [Self; 6] = [
        Self::AcquirerUnavailable,
        Self::CaptureFailed,
        Self::CodeNotSent,
        Self::TooManyAttempts,
        Self::PayerLocked,
        Self::OrderAlreadyPaid,
    ];

    /// The stable wire code (`failure_code`, metrics).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Declined(reason) => reason.code(),
            Self::AcquirerUnavailable => "acquirer_unavailable",
            Self::CaptureFailed => "capture_failed",
            Self::CodeNotSent => "code_not_sent",
            Self::TooManyAttempts => "too_many_attempts",
            Self::PayerLocked => "too_many_failures",
            Self::OrderAlreadyPaid => "order_already_paid",
            Self::Expired => "payment_expired",
            Self::Canceled => "payment_canceled",
        }
    }

    /// The acquirer's own answer to an authorisation (a decline): nothing is held. Any other
    /// end of an `authorizing` payment leaves its authorisation in doubt.
    pub const fn is_acquirers_answer(&self) -> bool {
        match self {
            Self::Declined(_) => true,
            Self::AcquirerUnavailable
            | Self::CaptureFailed
            | Self::CodeNotSent
            | Self::TooManyAttempts
            | Self::PayerLocked
            | Self::OrderAlreadyPaid
            | Self::Expired
            | Self::Canceled => false,
        }
    }

    /// A `failed` payment's stored failure code, read back; `None` for an unknown one.
    pub fn parse(code: &str) -> Option<Self> {
        DeclineReason::parse(code).map(Self::Declined).or_else(|| Self::FAILING.into_iter().find(|f| f.code() == code))
    }

    /// The status a payment ending with this failure has.
    pub fn status(&self) -> PaymentStatus {
        match self {
            Self::Expired => PaymentStatus::Expired,
            Self::Canceled => PaymentStatus::Canceled,
            Self::Declined(_)
            | Self::AcquirerUnavailable
            | Self::CaptureFailed
            | Self::CodeNotSent
            | Self::TooManyAttempts
            | Self::PayerLocked
            | Self::OrderAlreadyPaid => PaymentStatus::Failed,
        }
    }

    /// How the request that would have finished the payment is answered.
    pub fn answer(&self) -> FailureAnswer {
        match self {
            // Nothing was charged, for a reason on the card's side.
            Self::Declined(_) | Self::AcquirerUnavailable | Self::CaptureFailed => FailureAnswer::Declined,
            Self::OrderAlreadyPaid => FailureAnswer::OrderAlreadyPaid,
            Self::CodeNotSent | Self::TooManyAttempts | Self::PayerLocked | Self::Expired | Self::Canceled => {
                FailureAnswer::NotPending
            }
        }
    }
}

/// What may happen to a payment: the inputs of [`Payment::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The acquirer asks the shopper to authenticate (3-D Secure) before it answers.
    RequireAction { action: String },
    /// The acquirer authorised a first payment; its first code (hashed) goes out.
    RecordAuthorization { authorization_id: String, network_reference: Option<String>, code_hash: CodeHash },
    /// The shopper presents a code; `matches` says whether it is the outstanding one's.
    PresentCode { matches: bool },
    /// The right code, with the order claimed for this payment: capture may start.
    StartCapture,
    /// A new code replaces the outstanding one (a resend, or a resumed payment's).
    IssueCode { code_hash: CodeHash },
    /// A code that was not delivered gives its cooldown back (`last_sent_at` before it).
    LiftCooldown { last_sent_at: i64 },
    /// A repeat payment's authorisation, given after its code.
    HoldFunds { authorization_id: String },
    /// The acquirer captured the authorisation.
    RecordCapture,
    /// The payment ends without being paid.
    Fail(Failure),
    /// The acquirer released the held funds.
    RecordVoid,
    /// A manual-capture payment's funds stay held (its code was right, its order claimed, a
    /// repeat payment authorised) until `capture_before`.
    ConfirmHold { capture_before: i64 },
    /// The merchant captures `amount` (minor units, at most the authorised amount) of a held
    /// manual-capture payment; the rest is released.
    RequestCapture { amount: u64 },
    /// The merchant (or the sweeper, at `capture_before`) cancels the payment.
    Cancel(CancellationReason),
    /// The merchant gives back `refund.amount` of a captured payment, at most `window_secs`
    /// after its capture: the refund is `pending` until the acquirer answers.
    RefundPayment { refund: Refund, window_secs: i64 },
    /// The acquirer's final answer to a pending refund.
    SettleRefund { id: RefundId, outcome: RefundSettlement },
}

/// What a decision changes, in order: [`Payment::apply`] each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `authorizing → requires_action`: the page performs `action` (3-D Secure).
    ActionRequired { action: String },
    /// `authorizing → requires_verification`: funds held, the first code out.
    Authorized { authorization_id: String, network_reference: Option<String>, verification: Verification },
    /// A new code replaces the outstanding one.
    CodeIssued { code_hash: CodeHash },
    /// An undelivered code's cooldown is lifted.
    CooldownLifted { last_sent_at: i64 },
    /// A wrong code: one attempt fewer.
    CodeRejected,
    /// `requires_verification → capturing`: the code is spent, the order is this payment's.
    CaptureStarted,
    /// A repeat payment's funds are held (it is capturing).
    FundsHeld { authorization_id: String },
    /// `capturing → succeeded`.
    Captured,
    /// `→ requires_capture`: a manual-capture payment's funds stay held until `capture_before`
    /// (its card and phone number are no longer kept: no code or authorisation needs them).
    HoldConfirmed { capture_before: i64 },
    /// `requires_capture → capturing`, for `amount`.
    CaptureRequested { amount: u64 },
    /// `→ canceled`, for a reason the merchant gave (or the sweeper's).
    Canceled(CancellationReason),
    /// The payment ends without being paid (`failed`, `expired` or `canceled`).
    Ended(Failure),
    /// What an ended payment held is released.
    Voided,
    /// A captured payment's refund is asked for (`pending`).
    RefundRequested(Refund),
    /// The acquirer refunded it.
    RefundSucceeded { id: RefundId },
    /// The acquirer refused it: its amount is refundable again.
    RefundFailed { id: RefundId, reason: super::RefundFailure },
}

impl Event {
    /// The event's name, as the state diagram shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ActionRequired { .. } => "action_required",
            Self::Authorized { .. } => "authorized",
            Self::CodeIssued { .. } => "code_issued",
            Self::CooldownLifted { .. } => "cooldown_lifted",
            Self::CodeRejected => "code_rejected",
            Self::CaptureStarted => "capture_started",
            Self::FundsHeld { .. } => "funds_held",
            Self::Captured => "captured",
            Self::HoldConfirmed { .. } => "hold_confirmed",
            Self::CaptureRequested { .. } => "capture_requested",
            Self::Canceled(_) => "canceled",
            Self::Ended(failure) => ended_name(failure),
            Self::Voided => "voided",
            Self::RefundRequested(_) => "refund_requested",
            Self::RefundSucceeded { .. } => "refund_succeeded",
            Self::RefundFailed { .. } => "refund_failed",
        }
    }
}

fn ended_name(failure: &Failure) -> &'static str {
    match failure {
        Failure::Declined(_) => "declined",
        Failure::AcquirerUnavailable => "acquirer_unavailable",
        Failure::CaptureFailed => "capture_failed",
        Failure::CodeNotSent => "code_not_sent",
        Failure::TooManyAttempts => "too_many_attempts",
        Failure::PayerLocked => "payer_locked",
        Failure::OrderAlreadyPaid => "order_already_paid",
        Failure::Expired => "expired",
        Failure::Canceled => "canceled",
    }
}

/// A decision: the events to apply, in order, at `at` (epoch seconds). Empty: nothing changes
/// (the right code, before its order is claimed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub at: i64,
    pub events: Vec<Event>,
}

impl Plan {
    fn of(at: i64, events: Vec<Event>) -> Self {
        Self { at, events }
    }

    /// The failure the plan ends the payment with, if it does.
    pub fn ending(&self) -> Option<Failure> {
        self.events.iter().find_map(|e| if let Event::Ended(f) = e { Some(*f) } else { None })
    }
}

/// Why a command is refused: nothing changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The payment takes no code now, nor a new one (not awaiting one).
    NotPending,
    /// The outstanding code has expired (a new one may be asked for).
    CodeExpired,
    /// A code was sent less than the cooldown ago.
    TooSoon { retry_after_secs: i64 },
    /// Every code this payment may have was sent.
    SendLimitReached,
    /// Not a transition of the state machine from the payment's status.
    NotAllowed { from: PaymentStatus },
    /// A capture of more than was authorised (or of nothing).
    AmountNotCapturable { authorized: u64 },
    /// A refund the payment's refunds refuse.
    Refund(RefundRefusal),
}

/// Why a refund is refused, or its settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundRefusal {
    /// Only a captured (`succeeded`) payment is refunded.
    NotCaptured,
    /// Its capture is older than the refund window.
    WindowClosed,
    /// It has [`MAX_REFUNDS`] refunds already.
    TooMany,
    /// More than what is left (or nothing): `refundable` is what is left.
    AmountNotRefundable { refundable: u64 },
    /// A refund with this id exists already (a retry of its request).
    Exists,
    /// Settling a refund that is not pending (or not this payment's).
    NotPending,
}

/// Every transition: (from, event, to). The state diagram is generated from it, and every plan
/// [`Payment::decide`] makes is checked against it by the domain's tests.
pub const TRANSITIONS: &[(PaymentStatus, &str, PaymentStatus)] = {
    use PaymentStatus::{Authorizing as A, Canceled as C, Capturing as K, Expired as E, Failed as F};
    use PaymentStatus::{RequiresAction as R, RequiresCapture as H, RequiresVerification as V, Succeeded as S};
    &[
        (A, "action_required", R),
        (A, "authorized", V),
        (A, "declined", F),
        (A, "acquirer_unavailable", F),
        (A, "payer_locked", F),
        (A, "expired", E),
        (A, "canceled", C),
        (R, "action_required", R),
        (R, "authorized", V),
        (R, "declined", F),
        (R, "acquirer_unavailable", F),
        (R, "payer_locked", F),
        (R, "expired", E),
        (R, "canceled", C),
        (V, "code_issued", V),
        (V, "cooldown_lifted", V),
        (V, "code_rejected", V),
        (V, "capture_started", K),
        (V, "too_many_attempts", F),
        (V, "payer_locked", F),
        (V, "order_already_paid", F),
        (V, "code_not_sent", F),
        (V, "expired", E),
        (V, "canceled", C),
        (V, "hold_confirmed", H),
        (H, "capture_requested", K),
        (H, "canceled", C),
        (K, "hold_confirmed", H),
        (K, "funds_held", K),
        (K, "captured", S),
        (K, "declined", F),
        (K, "capture_failed", F),
        (F, "voided", F),
        (E, "voided", E),
        (C, "voided", C),
        (S, "refund_requested", S),
        (S, "refund_succeeded", S),
        (S, "refund_failed", S),
    ]
};

/// The state diagram, in Mermaid, as docs/architecture.md shows it.
pub fn state_diagram() -> String {
    let mut out = String::from("stateDiagram-v2\n    [*] --> authorizing: first payment\n");
    out.push_str("    [*] --> requires_verification: repeat payment\n");
    for (from, event, to) in TRANSITIONS {
        out.push_str(&format!("    {} --> {}: {}\n", from.as_str(), to.as_str(), event));
    }
    for end in [PaymentStatus::Succeeded, PaymentStatus::Failed, PaymentStatus::Expired, PaymentStatus::Canceled] {
        out.push_str(&format!("    {} --> [*]\n", end.as_str()));
    }
    out
}

impl Payment {
    /// Decides `command` at `now` against the payment as it stands. Pure: the payment is not
    /// changed; apply the plan's events to change it ([`Payment::execute`] does both).
    pub fn decide(&self, command: Command, now: i64) -> Result<Plan, Refusal> {
        use PaymentStatus as S;
        let events = match (self.status, command) {
            (S::Authorizing | S::RequiresAction, Command::RequireAction { action }) => {
                vec![Event::ActionRequired { action }]
            }
            (
                S::Authorizing | S::RequiresAction,
                Command::RecordAuthorization { authorization_id, network_reference, code_hash },
            ) => {
                let verification = Verification::first(code_hash, now);
                vec![Event::Authorized { authorization_id, network_reference, verification }]
            }
            (_, Command::PresentCode { matches }) => return self.decide_code(matches, now),
            (S::RequiresVerification, Command::StartCapture) => vec![Event::CaptureStarted],
            (S::RequiresVerification, Command::IssueCode { code_hash }) => vec![Event::CodeIssued { code_hash }],
            (S::RequiresVerification, Command::LiftCooldown { last_sent_at }) => {
                vec![Event::CooldownLifted { last_sent_at }]
            }
            (S::Capturing, Command::HoldFunds { authorization_id }) => vec![Event::FundsHeld { authorization_id }],
            (S::Capturing, Command::RecordCapture) => vec![Event::Captured],
            (S::RequiresVerification | S::Capturing, Command::ConfirmHold { capture_before })
                if self.capture_method == CaptureMethod::Manual && self.hold.is_some() =>
            {
                vec![Event::HoldConfirmed { capture_before }]
            }
            (S::RequiresCapture, Command::RequestCapture { amount }) => self.capture_request(amount)?,
            (from, Command::Cancel(reason)) if merchant_cancelable(from) => vec![Event::Canceled(reason)],
            (from, Command::Fail(failure)) if allowed(from, ended_name(&failure)) => vec![Event::Ended(failure)],
            (from, Command::RecordVoid) if self.needs_void() && allowed(from, "voided") => vec![Event::Voided],
            (_, Command::RefundPayment { refund, window_secs }) => {
                return self.request_refund(refund, window_secs, now)
            }
            (_, Command::SettleRefund { id, outcome }) => return self.decide_settlement(id, outcome, now),
            (
                S::Authorizing
                | S::RequiresAction
                | S::RequiresVerification
                | S::RequiresCapture
                | S::Capturing
                | S::Succeeded
                | S::Failed
                | S::Expired
                | S::Canceled,
                Command::RecordAuthorization { .. }
                | Command::RequireAction { .. }
                | Command::StartCapture
                | Command::IssueCode { .. }
                | Command::LiftCooldown { .. }
                | Command::HoldFunds { .. }
                | Command::RecordCapture
                | Command::Fail(_)
                | Command::RecordVoid
                | Command::ConfirmHold { .. }
                | Command::RequestCapture { .. }
                | Command::Cancel(_),
            ) => return Err(Refusal::NotAllowed { from: self.status }),
        };
        Ok(Plan::of(now, events))
    }

    /// A held manual-capture payment's capture of `amount` (at most what was authorised).
    fn capture_request(&self, amount: u64) -> Result<Vec<Event>, Refusal> {
        if amount == 0 || amount > self.money.minor {
            return Err(Refusal::AmountNotCapturable { authorized: self.money.minor });
        }
        Ok(vec![Event::CaptureRequested { amount }])
    }

    /// A refund of a captured payment, if its rules allow it.
    fn request_refund(&self, refund: Refund, window_secs: i64, now: i64) -> Result<Plan, Refusal> {
        if self.status != PaymentStatus::Succeeded {
            return Err(Refusal::Refund(RefundRefusal::NotCaptured));
        }
        self.check_refund(&refund, window_secs, now).map_err(Refusal::Refund)?;
        Ok(Plan::of(now, vec![Event::RefundRequested(refund)]))
    }

    /// The acquirer's answer to one of its pending refunds.
    fn decide_settlement(&self, id: RefundId, outcome: RefundSettlement, now: i64) -> Result<Plan, Refusal> {
        let pending = self.refund(&id).is_some_and(|r| r.status == RefundStatus::Pending);
        if self.status != PaymentStatus::Succeeded || !pending {
            return Err(Refusal::Refund(RefundRefusal::NotPending));
        }
        Ok(Plan::of(
            now,
            vec![match outcome {
                RefundSettlement::Succeeded => Event::RefundSucceeded { id },
                RefundSettlement::Failed(reason) => Event::RefundFailed { id, reason },
            }],
        ))
    }

    /// The rules a new refund meets, in the order a refusal names them (the DynamoDB adapter's
    /// condition on the refund's write is these rules, checked at the write).
    fn check_refund(&self, refund: &Refund, window_secs: i64, now: i64) -> Result<(), RefundRefusal> {
        if self.refund(&refund.id).is_some() {
            return Err(RefundRefusal::Exists);
        }
        let captured_at = self.captured_at.unwrap_or(self.updated_at);
        if now >= captured_at.saturating_add(window_secs) {
            return Err(RefundRefusal::WindowClosed);
        }
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(RefundRefusal::TooMany);
        }
        let refundable = self.amount_refundable().unwrap_or(0);
        if refund.amount == 0 || refund.amount > refundable {
            return Err(RefundRefusal::AmountNotRefundable { refundable });
        }
        Ok(())
    }

    /// A presented code. An `authorizing` payment takes none yet: its first code may already be
    /// on its way (it goes out before the payment is stored authorised), but it works from
    /// that write on.
    fn decide_code(&self, matches: bool, now: i64) -> Result<Plan, Refusal> {
        if self.status != PaymentStatus::RequiresVerification {
            return Err(Refusal::NotPending);
        }
        if self.is_past_deadline(now) {
            return Ok(Plan::of(now, vec![Event::Ended(Failure::Expired)]));
        }
        if now >= self.verification.expires_at {
            return Err(Refusal::CodeExpired);
        }
        if matches {
            // Accepted: nothing changes until the order is claimed (`StartCapture`).
            return Ok(Plan::of(now, vec![]));
        }
        let mut events = vec![Event::CodeRejected];
        if self.verification.attempts_remaining <= 1 {
            events.push(Event::Ended(Failure::TooManyAttempts));
        }
        Ok(Plan::of(now, events))
    }

    /// Whether a new code may be sent now: `Ok` with an empty plan if so, a plan that expires
    /// the payment if its deadline passed, or the refusal.
    pub fn decide_resend(&self, now: i64) -> Result<Plan, Refusal> {
        // Nor another code before the payment is authorised (a retry of its request resumes it).
        if self.status != PaymentStatus::RequiresVerification {
            return Err(Refusal::NotPending);
        }
        if self.is_past_deadline(now) {
            return Ok(Plan::of(now, vec![Event::Ended(Failure::Expired)]));
        }
        if self.verification.sends >= MAX_SENDS {
            return Err(Refusal::SendLimitReached);
        }
        let wait = self.verification.last_sent_at + RESEND_COOLDOWN_SECS - now;
        if wait > 0 {
            return Err(Refusal::TooSoon { retry_after_secs: wait });
        }
        Ok(Plan::of(now, vec![]))
    }

    /// Applies one event at `at`. Only decided events are applied: the state machine's rules
    /// are in [`Payment::decide`].
    pub fn apply(&mut self, event: &Event, at: i64) {
        match event {
            Event::ActionRequired { action } => {
                self.status = PaymentStatus::RequiresAction;
                self.action = Some(action.clone());
            }
            Event::Authorized { authorization_id, network_reference, verification } => {
                self.status = PaymentStatus::RequiresVerification;
                self.action = None;
                self.hold = Some(Hold { authorization_id: authorization_id.clone(), state: HoldState::Held });
                if network_reference.is_some() {
                    self.network_reference.clone_from(network_reference);
                }
                self.verification = verification.clone();
            }
            Event::CodeIssued { code_hash } => {
                // Wrong tries are counted per payment: a resend hands out no fresh guesses.
                let v = &self.verification;
                self.verification = Verification {
                    code_hash: code_hash.clone(),
                    expires_at: at + CODE_TTL_SECS,
                    attempts_remaining: v.attempts_remaining,
                    sends: v.sends + 1,
                    last_sent_at: at,
                };
            }
            Event::CooldownLifted { last_sent_at } => self.verification.last_sent_at = *last_sent_at,
            Event::CodeRejected => {
                self.verification.attempts_remaining = self.verification.attempts_remaining.saturating_sub(1);
            }
            Event::CaptureStarted => self.status = PaymentStatus::Capturing,
            Event::FundsHeld { authorization_id } => {
                self.hold = Some(Hold { authorization_id: authorization_id.clone(), state: HoldState::Held });
            }
            Event::Captured => {
                if let Some(h) = self.hold.as_mut() {
                    h.state = HoldState::Captured;
                }
                self.captured_at = Some(at);
                self.end(PaymentStatus::Succeeded, None);
            }
            Event::HoldConfirmed { capture_before } => self.hold_for_capture(*capture_before),
            Event::CaptureRequested { amount } => {
                self.status = PaymentStatus::Capturing;
                self.amount_to_capture = Some(*amount);
            }
            Event::Canceled(reason) => self.cancel(*reason),
            Event::Ended(failure) => self.end_with(*failure),
            Event::Voided => {
                if let Some(h) = self.hold.as_mut() {
                    h.state = HoldState::Voided;
                }
            }
            // A refund changes the refund, not the payment's own time.
            Event::RefundRequested(refund) => return self.refunds.push(refund.clone()),
            Event::RefundSucceeded { id } => return self.settle_refund(id, None, at),
            Event::RefundFailed { id, reason } => return self.settle_refund(id, Some(*reason), at),
        }
        self.updated_at = at;
    }

    /// Applies every event of `plan`.
    pub fn apply_plan(&mut self, plan: &Plan) {
        for event in &plan.events {
            self.apply(event, plan.at);
        }
    }

    /// Decides `command` and applies its plan: the payment as it is to be stored.
    pub fn execute(&mut self, command: Command, now: i64) -> Result<Plan, Refusal> {
        let plan = self.decide(command, now)?;
        self.apply_plan(&plan);
        Ok(plan)
    }

    /// Funds held for the merchant's capture until `capture_before`. The card was saved (if
    /// asked) in the write that confirms the hold, not again at capture; no code or
    /// authorisation needs the card or the number any more.
    fn hold_for_capture(&mut self, capture_before: i64) {
        self.status = PaymentStatus::RequiresCapture;
        self.capture_before = Some(capture_before);
        self.save_card = false;
        self.sealed_card = None;
        self.phone.forget_number();
    }

    fn settle_refund(&mut self, id: &RefundId, failure: Option<super::RefundFailure>, at: i64) {
        if let Some(r) = self.refunds.iter_mut().find(|r| &r.id == id) {
            r.status = if failure.is_some() { RefundStatus::Failed } else { RefundStatus::Succeeded };
            r.failure_reason = failure;
            r.updated_at = at;
        }
    }

    fn cancel(&mut self, reason: CancellationReason) {
        self.cancellation_reason = Some(reason);
        self.end(PaymentStatus::Canceled, None);
    }

    fn end_with(&mut self, failure: Failure) {
        // Ended while authorising, other than by the acquirer's own answer: whether funds are
        // held is unknown, so they are voided by payment id (every hold has an owner).
        let asking = matches!(self.status, PaymentStatus::Authorizing | PaymentStatus::RequiresAction);
        if asking && self.hold.is_none() && !failure.is_acquirers_answer() {
            self.hold = Some(Hold::in_doubt());
        }
        let status = failure.status();
        self.end(status, (status == PaymentStatus::Failed).then_some(failure));
    }

    fn end(&mut self, status: PaymentStatus, failure: Option<Failure>) {
        self.status = status;
        self.failure = failure;
        self.action = None;
        // Nothing is sent or charged again: the card and the number are no longer kept.
        self.sealed_card = None;
        self.phone.forget_number();
    }
}

/// The merchant cancels what awaits its code or its capture; a payment the acquirer has not
/// answered yet is ended by its expiry or its session, not by the merchant.
fn merchant_cancelable(from: PaymentStatus) -> bool {
    allowed(from, "canceled") && !matches!(from, PaymentStatus::Authorizing | PaymentStatus::RequiresAction)
}

/// Whether `event` may happen from `from`, per [`TRANSITIONS`].
fn allowed(from: PaymentStatus, event: &str) -> bool {
    TRANSITIONS.iter().any(|(f, e, _)| *f == from && *e == event)
}
