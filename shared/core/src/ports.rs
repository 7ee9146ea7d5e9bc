//! The small traits use cases are written against. Adapters implement them for DynamoDB, SNS,
//! the sandbox acquirer and memory.

use async_trait::async_trait;

use crate::domain::{
    CancellationReason, CardBrand, CardNumber, CheckoutSession, Customer, Cvc, DeclineReason, Expiry, HistoryCursor,
    HistoryPage, Identifier, MethodId, Money, Payment, PaymentId, Phone, Refund, RefundId, SessionId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the record changed (or exists) since it was read.
    #[error("conditional write lost a race")]
    Conflict,
    /// Storage could not be reached or refused for load; worth a retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back into the domain.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// A rider of the write refused it (nothing was written): it names which.
    #[error("the write's rider refused it: {0:?}")]
    Refused(RiderRefusal),
}

/// Which rider refused a payment's write, and why (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiderRefusal {
    /// [`Rider::ClaimOrder`]: another payment holds the order.
    Order,
    /// [`Rider::Payer`]: the payer is locked out, or at the failure that locks them.
    Payer,
    /// [`Rider::Key`]: another request holds (or held) the Idempotency-Key; its record as the
    /// refusal returned it, where the store returns it.
    Key(Option<Box<KeyFound>>),
    /// [`Rider::Sms`]: a counter is at its cap, or (`busy`) a concurrent transaction is
    /// changing it.
    Sms { counter: SmsCounter, busy: bool },
    /// [`Rider::Admit`]: the order is held, the payer locked out, or a decline cap reached.
    Admission,
    /// [`Rider::Attempts`]: a velocity counter is at its cap, or (`busy`) a concurrent
    /// transaction is changing it.
    Attempts { limit: AttemptLimit, busy: bool },
}

/// The counters a code SMS is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsCounter {
    /// The phone's, at one merchant.
    MerchantPhone,
    /// The phone's, across merchants (the platform's ceiling).
    Phone,
    /// The number's block (all but its last four digits), across merchants: pumping walks a
    /// range of numbers.
    Prefix,
    /// The checkout session's, for its lifetime.
    Session,
    /// The shopper's source address's (a shopper's route only).
    SourceIp,
    MerchantShard,
}

/// What rides in a payment's write: written in the same transaction, only if the payment's
/// own write lands, and able to refuse it (a refusal names the rider). Each rider's rule is
/// here, beside its type ([`PayerChange::admits`], [`SmsCharge::counters`]); each adapter's
/// `transact` only translates it.
#[derive(Debug, Clone, Copy)]
pub enum Rider<'a> {
    /// The payment takes its order: refused if another payment holds it (an order is paid at
    /// most once).
    ClaimOrder,
    /// The payment gives its order up (it failed after claiming it).
    ReleaseOrder,
    /// The card kept for repeat payments (one that exists keeps the phone it is bound to).
    SaveCard(&'a SavedMethod),
    /// A guard written back at the version it was read: a race if it moved.
    GuardAt(&'a Guard),
    /// The payer's two guards changed under a condition.
    Payer(PayerChange<'a>),
    /// One code SMS counted against its caps.
    Sms(&'a SmsCharge),
    /// The request's Idempotency-Key claimed or answered.
    Key(&'a KeyWrite),
    /// A new payment becomes its session's latest (the session at the version read, not
    /// ended), the session's pending payment it replaces written canceled at its version.
    Session(&'a SessionMove),
    /// What an admission read checks, as conditions of a new payment's write instead.
    Admit(&'a Admit),
    /// A card authorisation attempt counted against its velocity limits, before the acquirer.
    Attempts(&'a AttemptCharge),
}

/// The admission read's checks as conditions of a new payment's write, for a payment that
/// opens without reading them first (a repeat payment: nothing is authorised before its code):
/// the order held by no other payment, neither of the payer's guards locked at `now`, each
/// decline counter below its cap. Nothing is written to them. A refusal (`Refused(Admission)`)
/// is decided again the careful way: read, then answered as the read says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admit {
    /// The payer's guards: the user's, then the phone's (one per key during a rotation).
    pub payers: Vec<String>,
    /// Each decline counter's key and cap.
    pub caps: Vec<(String, u32)>,
    pub now: i64,
}

impl Admit {
    /// The rule for the payer's guards: neither locked at `now` (as [`Guard::is_locked`]).
    pub fn admits_payer(&self, guard: Option<&Guard>) -> bool {
        guard.and_then(|g| g.until).is_none_or(|until| until <= self.now)
    }

    /// The rule for a decline counter: below its cap.
    pub fn admits_count(cap: u32, guard: Option<&Guard>) -> bool {
        guard.map_or(0, |g| g.count) < cap
    }

    /// The rule for the order: held by no payment, or by `payment` itself.
    pub fn admits_order(holder: Option<&PaymentId>, payment: &PaymentId) -> bool {
        holder.is_none_or(|h| h == payment)
    }
}

/// A new payment's session, as read, and the session's pending payment it replaces (already
/// marked canceled).
#[derive(Debug, Clone)]
pub struct SessionMove {
    pub session: CheckoutSession,
    pub cancel: Option<Payment>,
}

/// What a shopper's page and the merchant's list show of a saved card: read without any key
/// (no sealed card, no phone), so the functions that show it hold no card key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCard {
    pub id: MethodId,
    pub brand: CardBrand,
    pub last4: String,
    pub expiry: Expiry,
    /// When it was first saved.
    pub created_at: i64,
    /// When it was last saved (a later first payment with the same card saves it again).
    pub saved_at: i64,
    /// When a repeat payment last captured on it.
    pub last_used_at: Option<i64>,
}

/// A card saved for repeat payments: one merchant's customer's, bound to the phone that
/// verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethod {
    pub id: MethodId,
    pub customer: Customer,
    pub brand: CardBrand,
    pub last4: String,
    pub expiry: Expiry,
    pub fingerprint: String,
    pub sealed_card: String,
    pub phone: Phone,
    /// The network's reference from the authorisation that stored the card.
    pub network_reference: Option<String>,
    pub saved_at: i64,
}

impl SavedMethod {
    /// What a page shows of it.
    pub fn card(&self) -> SavedCard {
        SavedCard {
            id: self.id.clone(),
            brand: self.brand,
            last4: self.last4.clone(),
            expiry: self.expiry,
            created_at: self.saved_at,
            saved_at: self.saved_at,
            last_used_at: None,
        }
    }
}

/// A counter item guarding a payer or a limit: read before a decision, written back at the
/// version read (in the payment's own transaction where it must be), so two concurrent
/// decisions cannot both count from the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub key: String,
    pub count: u32,
    /// Locked (or capped) until then, epoch seconds.
    pub until: Option<i64>,
    /// 0: the item does not exist yet.
    pub version: u64,
    /// When the item may be removed (DynamoDB TTL), epoch seconds.
    pub expires_at: i64,
}

/// Consecutive wrong codes a payer may enter, across payments (PSD2 RTS Art. 4: at most 5):
/// the 5th locks them.
pub const MAX_PAYER_FAILURES: u32 = 5;
/// How long the 5th consecutive wrong code locks the payer out.
pub const PAYER_LOCK_SECS: i64 = 60 * 60;

impl Guard {
    /// The rule, as a write at the version read applies it: one more consecutive wrong code;
    /// the [`MAX_PAYER_FAILURES`]th locks the payer for [`PAYER_LOCK_SECS`] (and the count
    /// starts again). Returns whether this failure locked.
    pub fn count_failure(&mut self, now: i64, expires_at: i64) -> bool {
        self.count += 1;
        self.expires_at = expires_at;
        if self.count < MAX_PAYER_FAILURES {
            return false;
        }
        self.count = 0;
        self.until = Some(now + PAYER_LOCK_SECS);
        true
    }

    pub fn new(key: String) -> Self {
        Self { key, count: 0, until: None, version: 0, expires_at: 0 }
    }

    pub fn is_locked(&self, now: i64) -> Option<i64> {
        self.until.filter(|u| *u > now).map(|u| u - now)
    }
}

/// The payer's two guards changed in a payment's write under a condition, instead of written
/// back at versions read before it: a verification decides without reading them, and a write
/// they refuse (`Refused(Payer)`) is decided again the careful way (read, then versioned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerChange<'a> {
    /// One more consecutive wrong code on each guard, only while neither is locked at `now`
    /// and each count is below `below` (so this failure does not lock the payer).
    Count { keys: &'a [String], now: i64, below: u32, expires_at: i64 },
    /// The consecutive count starts again, only while neither guard is locked at `now`.
    Reset { keys: &'a [String], now: i64, expires_at: i64 },
}

impl<'a> PayerChange<'a> {
    /// The rule, as a conditional write applies it: one more consecutive wrong code, only
    /// while neither guard is locked and this failure does not lock (the one that locks is
    /// written the careful way, [`Guard::count_failure`]).
    pub fn count(keys: &'a [String], now: i64, expires_at: i64) -> Self {
        Self::Count { keys, now, below: MAX_PAYER_FAILURES - 1, expires_at }
    }

    pub fn keys(&self) -> &[String] {
        match self {
            Self::Count { keys, .. } | Self::Reset { keys, .. } => keys,
        }
    }

    /// The rule: whether a guard as stored (`None`: missing) lets the change through.
    pub fn admits(&self, guard: Option<&Guard>) -> bool {
        let (now, below) = match self {
            Self::Count { now, below, .. } => (*now, Some(*below)),
            Self::Reset { now, .. } => (*now, None),
        };
        let unlocked = guard.and_then(|g| g.until).is_none_or(|until| until <= now);
        unlocked && below.is_none_or(|below| guard.map_or(0, |g| g.count) < below)
    }

    /// The guard after the change.
    pub fn applied(&self, guard: Guard) -> Guard {
        let (count, expires_at) = match self {
            Self::Count { expires_at, .. } => (guard.count + 1, *expires_at),
            Self::Reset { expires_at, .. } => (0, *expires_at),
        };
        Guard { count, version: guard.version + 1, expires_at, ..guard }
    }
}

/// Where a sweep has got to in the due index: per shard, the last entry it read (its sort
/// key, `due_at` then payment id). Empty: from the start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueCursor(pub std::collections::BTreeMap<u8, String>);

/// What deciding on a payment needs to read, in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The payment holding the order (capturing or succeeded), if any.
    pub order_holder: Option<PaymentId>,
    /// The guards asked for, in the order asked (missing ones at version 0).
    pub guards: Vec<Guard>,
    /// The record of the Idempotency-Key asked for, if it has one: the request was made before
    /// (or is being made now), and goes the way of a retry.
    pub key: Option<KeyFound>,
}

/// An Idempotency-Key's record as a read found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFound {
    pub fingerprint: String,
    /// The answer kept, once the request completed.
    pub answer: Option<StoredResponse>,
    pub lock_until: i64,
    /// When the record stops counting (its TTL; DynamoDB removes it lazily).
    pub expires_at: i64,
}

impl KeyFound {
    /// What a request with `fingerprint` gets at `now` from this record alone, or `None` where
    /// only a write decides: the record has expired (a fresh claim), or its attempt died (a
    /// takeover).
    pub fn decided(&self, fingerprint: &RequestFingerprint, now: i64) -> Option<Claim> {
        if self.expires_at < now {
            return None;
        }
        if !fingerprint.matches(&self.fingerprint) {
            return Some(Claim::KeyReused);
        }
        match &self.answer {
            Some(answer) => Some(Claim::Replay(answer.clone())),
            None if self.lock_until >= now => Some(Claim::InProgress),
            None => None,
        }
    }
}

/// A request's fingerprint under each key (the current one first, each carrying its key's
/// id): a record kept under any of them is this request's, so an honest retry across a key
/// rotation is still a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFingerprint(pub Vec<String>);

impl RequestFingerprint {
    /// The fingerprint a new record keeps: the current key's.
    pub fn current(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    /// Whether a stored fingerprint is this request's, under any key.
    pub fn matches(&self, stored: &str) -> bool {
        self.0.iter().any(|f| f == stored)
    }
}

/// A request's Idempotency-Key as a payment's own write claims it: no call of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key in its scope (merchant or session, route).
    pub key: String,
    pub fingerprint: String,
    /// This attempt's token (and, claiming a free key, the origin retries derive ids from).
    pub token: String,
    pub lock_until: i64,
    pub now: i64,
}

/// What a payment's write does to its request's Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyWrite {
    /// Claim the key, in progress: refused (`Refused(Key)`) unless it is free or expired.
    Claim(KeyRecord),
    /// Keep the answer a retry gets again, under the key this attempt claimed (refused if the
    /// key is no longer this attempt's token).
    Answer(KeyRecord, StoredResponse),
    /// Claim the key already answered, where this write is the request's whole work (a wrong
    /// code): a retry then finds this answer (the write landed) or a free key (it did not),
    /// never a claim to take over, whatever became of the write's own answer. Refused as a
    /// claim is.
    Settle(KeyRecord, StoredResponse),
}

impl KeyWrite {
    pub fn record(&self) -> &KeyRecord {
        match self {
            Self::Claim(r) | Self::Answer(r, _) | Self::Settle(r, _) => r,
        }
    }
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Stores a new payment with its riders, in one transaction; `Conflict` if the id exists
    /// (or a version a rider checks moved), `Refused(rider)` if a rider refuses: nothing is
    /// written then.
    async fn insert(&self, payment: &Payment, riders: &[Rider<'_>]) -> Result<(), StoreError>;

    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError>;

    /// The payment and the record of the Idempotency-Key `key` (scoped), read consistently in
    /// one round trip.
    async fn get_with_key(&self, id: &PaymentId, key: &str) -> Result<(Option<Payment>, Option<KeyFound>), StoreError>;

    /// Replaces a payment if its stored version still equals `payment.version`, writing
    /// `version + 1`, with its riders in the same transaction. `Conflict` if the payment (or a
    /// version a rider checks) moved, `Refused(rider)` if a rider refuses: nothing is written.
    async fn transact(&self, payment: &Payment, riders: &[Rider<'_>]) -> Result<(), StoreError>;

    /// Adds `new.refund` (pending) to its payment under the rules of
    /// [`Command::RefundPayment`](crate::domain::Command), checked by the condition of this one
    /// write, never by a read before it: the caller's payment, captured within the window, with
    /// fewer than `MAX_REFUNDS` refunds, no refund of that id, and at least the refund's amount
    /// left to refund (captured less the refunds that have not failed). Two concurrent refunds
    /// thus never pass the total. The payment as written, or the refusal with the payment as
    /// found (the caller asks the state machine why).
    async fn add_refund(&self, new: &NewRefund<'_>) -> Result<ConditionalWrite, StoreError>;

    /// Claims a manual capture, with no read before it: moves the caller's `requires_capture`
    /// payment, before its `capture_before`, to `capturing` for `amount` (at most what was
    /// authorised), as [`Command::RequestCapture`](crate::domain::Command) decides, in one
    /// conditional write. The payment as written, or the refusal with the payment as found.
    async fn claim_capture(&self, claim: &CaptureClaim<'_>) -> Result<ConditionalWrite, StoreError>;

    /// Cancels the caller's payment awaiting its code or its capture, with no read before it, as
    /// [`Command::Cancel`](crate::domain::Command) decides, in one conditional write: its card
    /// and number no longer kept, due for the sweeper at once (what it holds is voided next; a
    /// payment whose right code claimed its order gives it back with that void). The payment as
    /// written, or the refusal with the payment as found.
    async fn cancel(&self, claim: &CancelClaim<'_>) -> Result<ConditionalWrite, StoreError>;

    /// Stores `refund`'s final status (a failed one's amount is refundable again) if it is
    /// still pending: `false` if someone else settled it first. It touches that refund (and what
    /// is refundable) only, so concurrent refunds of the payment never conflict with it.
    async fn settle_refund(&self, payment_id: &PaymentId, refund: &Refund) -> Result<bool, StoreError>;

    /// The order's holder, the named guards and whether the Idempotency-Key `key` (scoped) has
    /// a live record, read consistently in one round trip.
    async fn admission(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
        guard_keys: &[String],
        key: Option<&str>,
    ) -> Result<Admission, StoreError>;

    /// Adds one to each counter (hourly or daily windows are in the keys), expiring at
    /// `expires_at`: plain updates, never conflicting.
    async fn bump(&self, keys: &[String], expires_at: i64) -> Result<(), StoreError>;

    /// Adds one to each velocity counter of `charge`, past its cap too (plain updates, never
    /// refused): a failure that uses up the budget of the next card attempts.
    async fn count_attempts(&self, charge: &AttemptCharge) -> Result<(), StoreError>;

    /// Takes the lease on `payment`'s next acquirer call for `holder` until `until`: `true`
    /// where it was free (never taken, or lapsed at `now`) or already `holder`'s, `false` while
    /// another finisher holds it. One conditional write; it expires on its own.
    async fn lease(&self, payment: &PaymentId, holder: &str, now: i64, until: i64) -> Result<bool, StoreError>;

    /// The customer's payments still open (authorizing or awaiting a code).
    async fn open_for_customer(&self, customer: &Customer) -> Result<Vec<Payment>, StoreError>;

    /// The next payments due for the sweeper at `now` (sparse index on `due_at`), up to
    /// `limit` per shard, after where `after` has got to; and where this page got to. A sweep
    /// pages on past payments it could not finish, so a few that keep failing do not starve the
    /// rest.
    async fn due(&self, now: i64, limit: u8, after: &DueCursor) -> Result<(Vec<Payment>, DueCursor), StoreError>;

    /// The payment that paid `order_id` of `merchant_id`, if one has.
    async fn order_paid_by(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
    ) -> Result<Option<PaymentId>, StoreError>;

    /// The customer's method `id`, or with `None` the most recently saved one. Another
    /// merchant's customer with the same `user_id` has other methods.
    async fn find_method(&self, customer: &Customer, id: Option<&MethodId>) -> Result<Option<SavedMethod>, StoreError>;

    /// All the customer's saved methods, the most recently saved first.
    async fn list_methods(&self, customer: &Customer) -> Result<Vec<SavedMethod>, StoreError>;

    /// All the customer's saved cards as a page shows them, the most recently saved first:
    /// read without a key.
    async fn list_cards(&self, customer: &Customer) -> Result<Vec<SavedCard>, StoreError>;

    /// Forgets the customer's saved card `id` for good (its sealed number and the phone it is
    /// bound to): `false` where there was none.
    async fn delete_method(&self, customer: &Customer, id: &MethodId) -> Result<bool, StoreError>;

    /// Records that a repeat payment captured on the customer's card `id` at `at`; a card
    /// forgotten meanwhile stays forgotten.
    async fn touch_method(&self, customer: &Customer, id: &MethodId, at: i64) -> Result<(), StoreError>;

    /// Stores a new checkout session; `Conflict` if the id exists.
    async fn insert_session(&self, session: &CheckoutSession) -> Result<(), StoreError>;

    async fn get_session(&self, id: &SessionId) -> Result<Option<CheckoutSession>, StoreError>;

    /// Writes `session` (ended, or with a new secret) if its stored version still equals
    /// `session.version`, with `cancel` (its pending payment, marked canceled) in the same
    /// transaction.
    async fn update_session(&self, session: &CheckoutSession, cancel: Option<&Payment>) -> Result<(), StoreError>;

    /// The sessions past their time at `now` the sweeper has still to end (each is due at its
    /// `expires_at` until it is ended or retired), up to `limit` per shard after where `after`
    /// has got to; and where this page got to. Read from the table, as they are now.
    async fn due_sessions(
        &self,
        now: i64,
        limit: u8,
        after: &DueCursor,
    ) -> Result<(Vec<CheckoutSession>, DueCursor), StoreError>;

    /// Takes a session its payment completed off the sweeper's index, changing nothing the API
    /// shows (no new version): `Conflict` if its version is no longer `session.version`.
    async fn retire_session(&self, session: &CheckoutSession) -> Result<(), StoreError>;

    /// Up to `limit` of the user's payments at `merchant`, newest first, starting after
    /// `after`, as history shows them (no secrets are read). One read per page.
    async fn list_for_user(
        &self,
        user_id: &Identifier,
        merchant: &Identifier,
        limit: u8,
        after: Option<&HistoryCursor>,
    ) -> Result<HistoryPage, StoreError>;
}

/// Idempotency keys are kept for 24 hours.
pub const KEY_RETENTION_SECS: i64 = 24 * 60 * 60;

/// A response kept for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours to execute under; `token` proves it when completing or releasing.
    /// `origin` is the token of the attempt that first claimed the key: it stays the same
    /// across takeovers, so retries can derive the same ids from it. `recovering` says an
    /// earlier attempt died mid-way (its claim outlived its deadline) and this one takes over.
    Acquired { token: String, origin: String, recovering: bool },
    /// The same request already completed: answer this again.
    Replay(StoredResponse),
    /// The same request is still running elsewhere.
    InProgress,
    /// The key was used with a different request.
    KeyReused,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint` until `lock_until` (epoch seconds). An
    /// expired claim (its invocation died) may be taken over.
    async fn claim(&self, key: &str, fp: &RequestFingerprint, now: i64, lock_until: i64) -> Result<Claim, StoreError>;

    /// Stores the final response under the key for 24 hours.
    async fn complete(&self, key: &str, token: &str, response: &StoredResponse, now: i64) -> Result<(), StoreError>;

    /// Gives the key up (the request failed in a way worth retrying): the next request with
    /// it takes over at once as `recovering`, with the same `origin`, so it finds whatever this
    /// attempt managed to write.
    async fn release(&self, key: &str, token: &str) -> Result<(), StoreError>;
}

/// The text of a code SMS. Debug is masked because it holds the code.
pub struct SmsText(pub String);

impl std::fmt::Debug for SmsText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmsText(<contains code>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("code could not be sent: {0}")]
pub struct SendError(pub String);

#[async_trait]
pub trait CodeSender: Send + Sync {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<(), SendError>;
}

/// Caps on code SMS, per hour (fixed windows), but the session's (its lifetime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsLimits {
    /// Per phone and merchant: what one merchant's payments may send one phone. A limit one
    /// merchant's shoppers reach leaves the phone's codes from every other merchant alone.
    pub per_phone: u32,
    /// Per phone, whichever merchants ask: the platform's ceiling, above `per_phone`.
    pub phone_ceiling: u32,
    /// Per block of 10,000 numbers (a number but its last four digits), whichever merchants ask.
    pub per_prefix: u32,
    /// Per checkout session, for its lifetime.
    pub per_session: u32,
    /// Per shopper source address (an IPv6 address by its /64).
    pub per_ip: u32,
    pub per_merchant: u32,
}

impl Default for SmsLimits {
    fn default() -> Self {
        Self { per_phone: 10, phone_ceiling: 30, per_prefix: 100, per_session: 10, per_ip: 20, per_merchant: 1000 }
    }
}

impl SmsLimits {
    /// No cap at all: for tests and benchmarks that send many codes to measure something else.
    pub const fn unlimited() -> Self {
        Self {
            per_phone: u32::MAX,
            phone_ceiling: u32::MAX,
            per_prefix: u32::MAX,
            per_session: u32::MAX,
            per_ip: u32::MAX,
            per_merchant: u32::MAX,
        }
    }
}

/// Whom and where from a code SMS goes, as its counters' keys (keyed digests, one per key
/// during a rotation).
#[derive(Debug, Clone, Copy)]
pub struct SmsSources<'a> {
    pub phones: &'a [String],
    pub prefixes: &'a [String],
    pub session: Option<&'a str>,
    pub source_ips: &'a [String],
}

/// The merchant's hourly SMS counter is split into this many items (fewer when the cap is
/// smaller: every shard holds at least one unit), so that concurrent payments of one merchant
/// rarely write the same counter item in their transactions.
pub const MERCHANT_SMS_SHARDS: u32 = 8;

impl SmsLimits {
    /// How many shards the merchant's counter has: `min(MERCHANT_SMS_SHARDS, cap)`.
    pub fn merchant_shards(&self) -> u32 {
        MERCHANT_SMS_SHARDS.min(self.per_merchant)
    }

    /// Shard `shard`'s share of the merchant's cap. The shares add up to the cap exactly, so
    /// shards each under their share keep the merchant under its cap.
    pub fn shard_cap(&self, shard: u32) -> u32 {
        let n = self.merchant_shards();
        if n == 0 || shard >= n {
            return 0;
        }
        self.per_merchant / n + u32::from(shard < self.per_merchant % n)
    }

    /// One code SMS `to` a phone, for `merchant` in the hour of `now`, charged to `shard`
    /// (taken modulo the shard count); `None` when the merchant's cap is 0.
    pub fn charge(&self, to: &SmsSources<'_>, merchant: &Identifier, now: i64, shard: u32) -> Option<SmsCharge> {
        let n = self.merchant_shards();
        let shard = shard.checked_rem(n)?;
        Some(SmsCharge {
            phone_keys: to.phones.to_vec(),
            prefix_keys: to.prefixes.to_vec(),
            session: to.session.map(str::to_owned),
            source_ips: to.source_ips.to_vec(),
            merchant_id: merchant.clone(),
            hour: now.div_euclid(3600),
            limits: *self,
            shard,
            shard_cap: self.shard_cap(shard),
        })
    }
}

/// One code SMS, counted in the write that stores its code: the phone's hourly counter for this
/// merchant, the phone's across merchants, and one shard of the merchant's, each only while
/// under its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCharge {
    /// The phone's keyed digests (one per key during a rotation: each counted, each checked).
    pub phone_keys: Vec<String>,
    /// The number's block's keyed digests.
    pub prefix_keys: Vec<String>,
    /// The checkout session it is sent for, if any.
    pub session: Option<String>,
    /// The shopper's source address's digests (none for a merchant's server's request).
    pub source_ips: Vec<String>,
    pub merchant_id: Identifier,
    /// The hourly window: epoch seconds / 3600.
    pub hour: i64,
    /// The caps.
    pub limits: SmsLimits,
    pub shard: u32,
    pub shard_cap: u32,
}

impl SmsCharge {
    /// The rule: the counters charged (the phone's per merchant and across merchants, for each
    /// of its digests, then the merchant's shard), each by its partition key, with its cap, in
    /// the order a refusal is read in. A counter at its cap refuses the write.
    pub fn counters(&self) -> Vec<(SmsCounter, String, u32)> {
        let l = &self.limits;
        let phone = |key: &String| {
            [
                (SmsCounter::MerchantPhone, format!("QUOTA#MPHONE#{}#{key}", self.merchant_id), l.per_phone),
                (SmsCounter::Phone, format!("QUOTA#PHONE#{key}"), l.phone_ceiling),
            ]
        };
        let prefix = |key: &String| (SmsCounter::Prefix, format!("QUOTA#PREFIX#{key}"), l.per_prefix);
        // The session's window is its lifetime (at most a day): its hour is left out below.
        let session = self.session.iter().map(|s| (SmsCounter::Session, format!("QUOTA#SESSION#{s}"), l.per_session));
        let ip = |key: &String| (SmsCounter::SourceIp, format!("QUOTA#IP#{key}"), l.per_ip);
        let shard =
            (SmsCounter::MerchantShard, format!("QUOTA#MERCHANT#{}#{}", self.merchant_id, self.shard), self.shard_cap);
        self.phone_keys
            .iter()
            .flat_map(phone)
            .chain(self.prefix_keys.iter().map(prefix))
            .chain(session)
            .chain(self.source_ips.iter().map(ip))
            .chain([shard])
            .collect()
    }

    /// The window a counter counts in: the hour, or (a session's) the session's lifetime.
    pub fn window(&self, counter: SmsCounter) -> String {
        match counter {
            SmsCounter::Session => "LIFE".to_owned(),
            SmsCounter::MerchantPhone
            | SmsCounter::Phone
            | SmsCounter::Prefix
            | SmsCounter::SourceIp
            | SmsCounter::MerchantShard => format!("HOUR#{}", self.hour),
        }
    }

    /// When a counter may be removed (DynamoDB TTL): an hour after its window ends (a
    /// session's: a day after, past any session's end).
    pub fn expires_at(&self, counter: SmsCounter) -> i64 {
        match counter {
            SmsCounter::Session => (self.hour + 25) * 3600,
            SmsCounter::MerchantPhone
            | SmsCounter::Phone
            | SmsCounter::Prefix
            | SmsCounter::SourceIp
            | SmsCounter::MerchantShard => (self.hour + 2) * 3600,
        }
    }
}

/// The velocity limits on card authorisation attempts (a card entered: a first payment),
/// approved or declined alike, counted in the write that opens the payment, before the
/// acquirer: pipelined requests cannot pass them. None of them is the merchant's (that one is
/// the merchant's SMS cap, charged in the same write: every attempt sends a code), and none
/// counts a saved card's repeat payment, so no limit here refuses a merchant's returning
/// customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptLimit {
    /// Per checkout session, for its lifetime: many cards in one session is card testing.
    Session,
    /// Per card number (a keyed digest of the PAN alone), per day, across users and merchants.
    Card,
    /// Per phone at one merchant, per hour (as its SMS cap: one merchant's shoppers cannot use
    /// up a phone's attempts at another).
    Phone,
    /// Per source address of a shopper's browser (an IPv6 address by its /64), per hour. A
    /// merchant's server's requests have none.
    SourceIp,
}

impl AttemptLimit {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Card => "card",
            Self::Phone => "phone",
            Self::SourceIp => "source_ip",
        }
    }
}

/// The caps of the [`AttemptLimit`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    pub per_session: u32,
    pub per_card_daily: u32,
    pub per_phone_hourly: u32,
    pub per_ip_hourly: u32,
    /// A merchant's declines per hour past which card testing is likely: the alarm's metric,
    /// and strict limits for the merchant's new cards ([`Scrutiny::Strict`]) until the hour
    /// ends. It never refuses a payment.
    pub merchant_declines_hourly: u32,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        Self {
            per_session: 5,
            per_card_daily: 4,
            per_phone_hourly: 5,
            per_ip_hourly: 20,
            merchant_declines_hourly: MAX_MERCHANT_DECLINES_PER_HOUR,
        }
    }
}

/// The default of [`AttemptLimits::merchant_declines_hourly`].
pub const MAX_MERCHANT_DECLINES_PER_HOUR: u32 = 100;

/// Who and what an authorisation attempt comes from, as its counters' keys: keyed digests,
/// one per key during a rotation (each counted, each checked), none for an address a
/// merchant's server's request does not have.
#[derive(Debug, Clone, Copy)]
pub struct AttemptSources<'a> {
    pub session: Option<&'a str>,
    pub cards: &'a [String],
    pub merchant: &'a Identifier,
    pub phones: &'a [String],
    pub source_ips: &'a [String],
}

/// How closely new cards are looked at: `Strict` while the merchant's hourly decline cap is
/// reached (card testing is likely): friction for new cards, never a refusal of a saved card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrutiny {
    Normal,
    Strict,
}

impl AttemptLimits {
    /// No velocity limit at all: for tests and benchmarks that pay with one card many times.
    pub const fn unlimited() -> Self {
        Self {
            per_session: u32::MAX,
            per_card_daily: u32::MAX,
            per_phone_hourly: u32::MAX,
            per_ip_hourly: u32::MAX,
            merchant_declines_hourly: u32::MAX,
        }
    }

    /// The caps while the merchant is under card testing: two tries per session, card and
    /// phone, five per source address.
    pub fn under(&self, scrutiny: Scrutiny) -> Self {
        match scrutiny {
            Scrutiny::Normal => *self,
            Scrutiny::Strict => Self {
                per_session: self.per_session.min(2),
                per_card_daily: self.per_card_daily.min(2),
                per_phone_hourly: self.per_phone_hourly.min(2),
                per_ip_hourly: self.per_ip_hourly.min(5),
                ..*self
            },
        }
    }

    /// The rule: the counters one attempt from `from` at `now` is charged to, each with its
    /// window and cap, in the order a refusal is read in.
    pub fn charge(&self, from: &AttemptSources<'_>, now: i64) -> AttemptCharge {
        let (day, hour) = (now.div_euclid(86_400), now.div_euclid(3_600));
        let counter = |limit, key: String, window: String, cap, expires_at| AttemptCounter {
            limit,
            key,
            window,
            cap,
            expires_at,
        };
        let mut counters = Vec::with_capacity(4);
        if let Some(session) = from.session {
            // No window: the session's lifetime (at most a day) bounds it.
            counters.push(counter(
                AttemptLimit::Session,
                format!("ATTEMPTS#SESSION#{session}"),
                "LIFE".into(),
                self.per_session,
                now + 2 * 86_400,
            ));
        }
        for card in from.cards {
            let key = format!("ATTEMPTS#CARD#{card}");
            counters.push(counter(AttemptLimit::Card, key, format!("D{day}"), self.per_card_daily, (day + 2) * 86_400));
        }
        for phone in from.phones {
            let key = format!("ATTEMPTS#MPHONE#{}#{phone}", from.merchant);
            counters.push(counter(
                AttemptLimit::Phone,
                key,
                format!("H{hour}"),
                self.per_phone_hourly,
                (hour + 2) * 3_600,
            ));
        }
        for ip in from.source_ips {
            let key = format!("ATTEMPTS#IP#{ip}");
            counters.push(counter(
                AttemptLimit::SourceIp,
                key,
                format!("H{hour}"),
                self.per_ip_hourly,
                (hour + 2) * 3_600,
            ));
        }
        AttemptCharge { counters }
    }
}

/// One velocity counter of an attempt: its item (`key`, `window`), its cap, when it may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCounter {
    pub limit: AttemptLimit,
    pub key: String,
    pub window: String,
    pub cap: u32,
    pub expires_at: i64,
}

impl AttemptCounter {
    /// Seconds until the counter's window ends and it counts from zero again.
    pub fn retry_after(&self, now: i64) -> i64 {
        let ends = match self.limit {
            AttemptLimit::Session => now + 86_400,
            AttemptLimit::Card => (now.div_euclid(86_400) + 1) * 86_400,
            AttemptLimit::Phone | AttemptLimit::SourceIp => now + until_next_hour(now),
        };
        (ends - now).max(1)
    }
}

/// One card authorisation attempt, counted in the write that opens its payment: each counter
/// bumped only while under its cap; one at its cap refuses the write (`Refused(Attempts)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCharge {
    pub counters: Vec<AttemptCounter>,
}

/// Seconds until the hourly window containing `now` ends.
pub fn until_next_hour(now: i64) -> i64 {
    3600 - now.rem_euclid(3600)
}

/// Whether the card is stored, and how this authorisation uses it (the card networks'
/// stored-credential framework).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredCredential<'a> {
    /// A one-off payment: the card is not kept.
    None,
    /// The shopper's first payment, present, storing the card for later payments.
    Initial,
    /// A later payment on a stored card, with the network's reference from the first.
    Subsequent { network_reference: Option<&'a str> },
}

/// The result of a 3-D Secure authentication, for acquirers that need one. Nothing produces it
/// yet: the slot exists so a real acquirer's adapter need not change the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreeDsResult {
    pub version: String,
    pub eci: String,
    pub authentication_value: String,
    pub ds_transaction_id: String,
}

/// One authorisation: everything an acquirer needs. The payment id is the acquirer-side
/// idempotency key, so a repeated call for one payment never authorises twice.
#[derive(Debug)]
pub struct AuthorizationRequest<'a> {
    pub payment_id: &'a PaymentId,
    /// Whose card it is (an acquirer that stores cards keeps them under a keyed hash of it).
    pub customer: &'a Customer,
    /// The checkout session it is paid in, if any: a 3-D Secure redirect returns to its page.
    pub session_id: Option<&'a SessionId>,
    pub money: &'a Money,
    pub card: &'a CardNumber,
    pub expiry: Expiry,
    /// Present on a first payment only, on this call only; never stored.
    pub cvc: Option<&'a Cvc>,
    pub credential: StoredCredential<'a>,
    pub three_ds: Option<&'a ThreeDsResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    Approved {
        authorization_id: String,
        /// The acquirer's reference for a stored credential, opaque (kept with the saved card,
        /// given back on its later payments): the network's reference, or an acquirer's own.
        network_reference: Option<String>,
    },
    /// Why the issuer or the acquirer declined, in our closed set of reasons (an adapter maps
    /// its acquirer's codes onto it).
    Declined(DeclineReason),
    /// The acquirer asks the shopper to authenticate with the issuer first (3-D Secure):
    /// `action` is what the page performs (the acquirer's own JSON, no card data); what it gives
    /// back goes to [`Acquirer::details`].
    ActionRequired { action: String },
    /// The acquirer took the authorisation and answers later (Adyen's `Received`, `Pending`):
    /// the payment stays `authorizing` until its notification ([`Notice::Authorised`] or
    /// [`Notice::AuthorisationRefused`]), or its expiry (whatever it may hold then voided).
    Pending,
}

/// What the shopper's page gave back after an action (`details`: JSON), for the payment whose
/// authorisation asked for it.
#[derive(Debug)]
pub struct DetailsRequest<'a> {
    pub payment_id: &'a PaymentId,
    pub customer: &'a Customer,
    pub details: &'a str,
    pub credential: StoredCredential<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    Captured,
    /// The acquirer took the capture and answers later (Adyen's `received`): the payment stays
    /// `capturing` until the acquirer's notification (or a repeated capture) says.
    Pending,
    /// The acquirer refused to capture (the authorisation lapsed, the issuer withdrew it).
    Failed(String),
}

/// One refund of a captured payment. The refund id is the acquirer-side idempotency key: a
/// repeated call for one refund refunds once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest<'a> {
    pub refund_id: &'a RefundId,
    pub payment_id: &'a PaymentId,
    pub authorization_id: &'a str,
    /// What is given back (at most what was captured and not yet refunded).
    pub money: &'a Money,
}

/// Where a refund stands at the acquirer. Results may come later: `Pending` is asked again
/// ([`Acquirer::refund_status`]) until it is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    Succeeded,
    Pending,
    Failed(RefundFailure),
}

pub use crate::domain::RefundFailure;

/// A refund to add to its payment ([`PaymentStore::add_refund`]).
#[derive(Debug, Clone, Copy)]
pub struct NewRefund<'a> {
    pub payment_id: &'a PaymentId,
    /// The caller's: another merchant's payment is refused as if it did not exist.
    pub merchant_id: &'a Identifier,
    pub refund: &'a Refund,
    /// Refused from `window_secs` after the capture.
    pub window_secs: i64,
    pub now: i64,
}

/// What a payment's conditional update (a refund's, a capture's claim) did.
#[derive(Debug)]
pub enum ConditionalWrite {
    /// Written: the payment as it now stands.
    Written(Box<Payment>),
    /// Its condition refused it: the payment as found (`None`: there is none).
    Refused(Option<Box<Payment>>),
}

/// A merchant's cancel ([`PaymentStore::cancel`]).
#[derive(Debug, Clone, Copy)]
pub struct CancelClaim<'a> {
    pub payment_id: &'a PaymentId,
    /// The caller's: another merchant's payment is refused as if it did not exist.
    pub merchant_id: &'a Identifier,
    pub reason: CancellationReason,
    pub now: i64,
}

/// A manual capture's claim ([`PaymentStore::claim_capture`]).
#[derive(Debug, Clone, Copy)]
pub struct CaptureClaim<'a> {
    pub payment_id: &'a PaymentId,
    /// The caller's: another merchant's payment is refused as if it did not exist.
    pub merchant_id: &'a Identifier,
    /// Minor units; `None`: all that was authorised.
    pub amount: Option<u64>,
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("acquirer unavailable: {0}")]
pub struct AcquirerError(pub String);

#[async_trait]
pub trait Acquirer: Send + Sync {
    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Authorization, AcquirerError>;

    /// The authorisation's answer once the shopper performed the action it asked for
    /// ([`Authorization::ActionRequired`]); the same details give the same answer.
    async fn details(&self, request: &DetailsRequest<'_>) -> Result<Authorization, AcquirerError>;

    /// Captures `money` of the authorisation (its whole amount, or less: a partial capture) and
    /// releases the rest; the payment id is the idempotency key, so repeating it for one payment
    /// captures once.
    async fn capture(
        &self,
        payment_id: &PaymentId,
        authorization_id: &str,
        money: &Money,
    ) -> Result<Capture, AcquirerError>;

    /// Releases the held funds; repeating it is harmless. An empty `authorization_id` voids
    /// whatever the payment id (the authorisation's idempotency key) may have authorised: a
    /// payment whose invocation died before it stored the acquirer's answer.
    async fn void(&self, payment_id: &PaymentId, authorization_id: &str) -> Result<(), AcquirerError>;

    /// Gives `request.money` of a captured payment back; repeating it for one refund id
    /// refunds once. The result may be `Pending`.
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError>;

    /// Where a refund stands now (a `Pending` one is asked again until it is final).
    async fn refund_status(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError>;
}

/// What one acquirer notification says happened to one of our payments or refunds, once its
/// adapter checked its signature. Acquirer-neutral: the use case acts on these only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The acquirer authorised the payment (`authorization_id`: its reference there;
    /// `network_reference`: the stored credential's, as [`Authorization::Approved`] has it).
    Authorised {
        payment_id: PaymentId,
        authorization_id: String,
        network_reference: Option<String>,
    },
    /// The acquirer refused the authorisation (the payment's own answer said so, or will).
    AuthorisationRefused {
        payment_id: PaymentId,
    },
    /// A capture the acquirer took earlier (`Capture::Pending`) is done; `authorization_id`: the
    /// authorisation it captured (a repeat payment's is known from here if its answer was not
    /// stored yet).
    Captured {
        payment_id: PaymentId,
        authorization_id: Option<String>,
    },
    /// It failed: the funds were not taken.
    CaptureFailed {
        payment_id: PaymentId,
    },
    /// A void (cancel) is done, or failed.
    Canceled {
        payment_id: PaymentId,
    },
    CancelFailed {
        payment_id: PaymentId,
    },
    /// A pending refund's result.
    RefundSucceeded {
        refund_id: RefundId,
    },
    RefundFailed {
        refund_id: RefundId,
    },
    /// An event this platform does not act on, or a reference that is not ours: acknowledged.
    Ignored {
        event: String,
    },
}

/// Why a notification batch is refused (answered 401; the acquirer sends it again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeRefusal {
    #[error("{0} item(s) unsigned or signed with another key")]
    Unsigned(usize),
    #[error("not a notification batch: {0}")]
    Malformed(String),
}

/// An acquirer's notifications as they arrive: every item's signature checked (one that fails
/// refuses the batch), each read as a [`Notice`].
pub trait AcquirerNotices: Send + Sync {
    fn read(&self, body: &[u8]) -> Result<Vec<Notice>, NoticeRefusal>;
    /// The body the acquirer expects once a batch is taken (Adyen: `[accepted]`).
    fn accepted(&self) -> &'static str;
}

pub trait Clock: Send + Sync {
    /// Unix time in seconds.
    fn now(&self) -> i64;
}

/// A business event an operator counts: what the platform did, not how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusinessEvent {
    PaymentCreated,
    PaymentSucceeded,
    /// A payment ended failed; `code` says why (`card_declined`, `too_many_attempts`, …).
    PaymentFailed {
        code: String,
    },
    CodeSent,
    /// A wrong code was entered.
    VerificationFailed,
    /// A code was refused by the per-phone or per-merchant SMS cap.
    SmsRateLimited,
    /// An authorisation was refused before the acquirer: a decline cap is reached.
    DeclineCapReached,
    /// A card authorisation attempt was refused before the acquirer: a velocity limit is
    /// reached.
    AttemptLimitReached,
    /// A new card's authorisation (a first payment's) was approved and stored: the approval
    /// velocity an alarm watches.
    Authorised,
    /// An acquirer notification batch refused: unsigned, or signed with another key.
    NotificationRefused,
}

impl BusinessEvent {
    /// The metric's name, as it appears in CloudWatch.
    pub fn metric_name(&self) -> &'static str {
        match self {
            Self::PaymentCreated => "PaymentsCreated",
            Self::PaymentSucceeded => "PaymentsSucceeded",
            Self::PaymentFailed { .. } => "PaymentsFailed",
            Self::CodeSent => "CodesSent",
            Self::VerificationFailed => "VerificationsFailed",
            Self::SmsRateLimited => "SmsRateLimited",
            Self::DeclineCapReached => "DeclineCapsReached",
            Self::AttemptLimitReached => "AttemptLimitsReached",
            Self::Authorised => "Authorisations",
            Self::NotificationRefused => "NotificationsRefused",
        }
    }
}

/// Where business events are counted. Recording never fails a request.
pub trait Metrics: Send + Sync {
    fn record(&self, event: BusinessEvent);
}

/// A webhook event as it is kept (issue 24): what `GET /events` answers and what is delivered.
/// `body` is the whole payload, as sent (`{"id", "type", "created_at", "data": {"object"}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: crate::domain::EventId,
    pub kind: crate::webhooks::EventType,
    pub merchant_id: Identifier,
    pub created_at: i64,
    pub body: String,
}

/// Which of a merchant's events a page of `GET /events` holds: newest first, from before
/// `before` (the previous page's cursor), of one type, created in `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub kind: Option<crate::webhooks::EventType>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub before: Option<EventCursor>,
    pub limit: u8,
}

/// Where a page of events ends: the last event's time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCursor {
    pub created_at: i64,
    pub id: crate::domain::EventId,
}

impl EventCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (at, id) = raw.split_once('.')?;
        let created_at = at.parse::<i64>().ok().filter(|t| *t >= 0)?;
        Some(Self { created_at, id: crate::domain::EventId::parse(id)? })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    pub next: Option<EventCursor>,
}

/// How long an event is kept (and listed): 30 days.
pub const EVENT_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// The webhook events, kept 30 days. Recording is a conditional put keyed by the event's id
/// (a digest of the change), so a change seen twice is recorded once.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Records `event`; `false` when it was recorded before (nothing is written then).
    async fn record(&self, event: &StoredEvent) -> Result<bool, StoreError>;
    /// The merchant's event with this id (another merchant's is `None`).
    async fn event(
        &self,
        merchant: &Identifier,
        id: &crate::domain::EventId,
    ) -> Result<Option<StoredEvent>, StoreError>;
    /// A page of the merchant's events, newest first.
    async fn events(&self, merchant: &Identifier, query: &EventQuery) -> Result<EventPage, StoreError>;
}

/// A merchant's webhook endpoints as read, with the version their next write is conditioned on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSet {
    pub endpoints: Vec<crate::webhooks::Endpoint>,
    /// 0: none were ever written.
    pub version: u64,
}

/// A merchant's webhook endpoints: one record, one read, one conditional write.
#[async_trait]
pub trait EndpointStore: Send + Sync {
    async fn endpoints(&self, merchant: &Identifier) -> Result<EndpointSet, StoreError>;
    /// Writes `set` as the next version, if the stored one is still `set.version`
    /// (`Conflict` otherwise: read again and retry).
    async fn save(&self, merchant: &Identifier, set: &EndpointSet) -> Result<(), StoreError>;
}

/// Where a delivery of an event to an endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet: tried again at `next_at`.
    Pending,
    Delivered,
    /// Given up (every scheduled attempt failed, or the endpoint was disabled or deleted).
    Failed,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: crate::domain::EventId,
    pub endpoint_id: crate::domain::EndpointId,
    pub merchant_id: Identifier,
    pub state: DeliveryState,
    pub attempts: u32,
    pub first_attempt_at: Option<i64>,
    pub next_at: i64,
}

impl Delivery {
    /// Not tried yet, due now.
    pub fn new(event: &StoredEvent, endpoint: &crate::domain::EndpointId, now: i64) -> Self {
        Self {
            event_id: event.id.clone(),
            endpoint_id: endpoint.clone(),
            merchant_id: event.merchant_id.clone(),
            state: DeliveryState::Pending,
            attempts: 0,
            first_attempt_at: None,
            next_at: now,
        }
    }

    pub fn is_due(&self, now: i64) -> bool {
        self.state == DeliveryState::Pending && self.next_at <= now
    }

    pub fn ended(&self, state: DeliveryState) -> Self {
        Self { state, ..self.clone() }
    }

    /// After one more attempt, at `now`, followed by `next`.
    pub fn after_attempt(&self, now: i64, next: &crate::webhooks::Next) -> Self {
        use crate::webhooks::Next;
        let (state, next_at) = match next {
            Next::Done => (DeliveryState::Delivered, now),
            Next::RetryAt(t) => (DeliveryState::Pending, *t),
            Next::GiveUp | Next::DisableEndpoint => (DeliveryState::Failed, now),
        };
        Self {
            state,
            next_at,
            attempts: self.attempts + 1,
            first_attempt_at: Some(self.first_attempt_at.unwrap_or(now)),
            ..self.clone()
        }
    }
}

/// One attempt, as `GET /webhook-endpoints/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub event_id: crate::domain::EventId,
    pub endpoint_id: crate::domain::EndpointId,
    /// 1 for the first.
    pub number: u32,
    pub at: i64,
    /// The endpoint's status, if it answered in time.
    pub status: Option<u16>,
    /// Why there is no status (refused, timed out, an address the rules refuse).
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// The deliveries and their attempts.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores `fresh` unless a delivery of its event to its endpoint exists: the stored one.
    async fn open(&self, fresh: &Delivery) -> Result<Delivery, StoreError>;
    /// Writes `after` if the stored delivery still has `attempts_read` attempts (`Conflict`
    /// otherwise), with the attempt's record.
    async fn record(
        &self,
        after: &Delivery,
        attempts_read: u32,
        attempt: Option<&AttemptRecord>,
    ) -> Result<(), StoreError>;
    /// Pending deliveries due by `now`, oldest first.
    async fn due(&self, now: i64, limit: u8) -> Result<Vec<Delivery>, StoreError>;
    /// The endpoint's latest attempts, newest first.
    async fn attempts(
        &self,
        merchant: &Identifier,
        endpoint: &crate::domain::EndpointId,
        limit: u8,
    ) -> Result<Vec<AttemptRecord>, StoreError>;
}

/// One delivery attempt's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// Sends a webhook: one POST, within its time, to a public address only.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, out: &Outgoing) -> Answered;
}
