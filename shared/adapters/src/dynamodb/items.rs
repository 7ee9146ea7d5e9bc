//! Item shapes in the table and their mapping to and from the domain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    CancellationReason, CaptureMethod, CardBrand, CheckoutSession, CodeHash, Currency, Customer, Expiry, Failure,
    HistoryCursor, Hold, HoldState, Identifier, LineItem, Locale, LocalePref, MethodId, MethodSummary, Money,
    OrderSummary, PayerPhone, Payment, PaymentId, PaymentStatus, Phone, PhoneOrigin, Refund, RefundFailure, RefundId,
    RefundMetadata, RefundReason, RefundStatus, ReturnUrl, SessionId, Verification,
};
use crate::ports::{SavedCard, SavedMethod, StoreError};
use crate::secrets::CardVault;

pub(super) const PAYMENT_SK: &str = "PAYMENT";
pub(super) const METHOD_SK_PREFIX: &str = "PM#";

pub(super) fn payment_pk(id: &PaymentId) -> String {
    format!("PAY#{id}")
}

/// A merchant's user's history: one partition per (merchant, user), so a merchant's query can
/// only ever see its own customers' payments.
pub(super) fn history_pk(merchant_id: &Identifier, user_id: &Identifier) -> String {
    format!("HIST#{merchant_id}#{user_id}")
}

/// The index of each merchant's user's payments, newest first, projecting what history shows.
pub(super) const HISTORY_INDEX: &str = "gsi1";

/// The sparse index of payments the sweeper must look at, by when (`gsi2`): only payments with
/// something left to do carry its keys. Spread over a few partitions so no one key is hot.
pub(super) const DUE_INDEX: &str = "gsi2";
pub(super) const DUE_SHARDS: u8 = 4;

pub(super) fn due_pk(id: &PaymentId) -> String {
    let shard = id.as_str().bytes().last().map_or(0, |b| b % DUE_SHARDS);
    format!("DUE#{shard}")
}

/// A due time that sorts as a string (fixed width), then the id.
pub(super) fn due_sk(due_at: i64, id: &PaymentId) -> String {
    format!("{:012}#{id}", due_at.max(0))
}

/// What a sealed phone is bound to (its item's key): copied onto another item, it does not open.
pub(super) fn phone_context(pk: &str) -> String {
    format!("phone|{pk}")
}

/// The key of a guard (payer lock-out or decline counter) item; the sort key is fixed.
pub(super) const GUARD_SK: &str = "GUARD";

/// A payment's place in its user's history: creation time (fixed width, so it sorts), then id.
pub(super) fn history_sk(created_at: i64, id: &PaymentId) -> String {
    format!("PAY#{created_at:012}#{id}")
}

pub(super) fn parse_history_sk(sk: &str) -> Option<HistoryCursor> {
    let (created, id) = sk.strip_prefix("PAY#")?.split_once('#')?;
    Some(HistoryCursor { created_at: created.parse().ok()?, payment_id: PaymentId::parse(id)? })
}

/// A merchant's customer's saved cards live under this partition: identifiers cannot hold `#`,
/// so no two customers share it.
pub(super) fn customer_pk(customer: &Customer) -> String {
    format!("CUST#{}#{}", customer.merchant_id, customer.user_id)
}

/// The item that says a merchant's order is paid, and by which payment.
pub(super) fn order_pk(merchant_id: &Identifier, order_id: &Identifier) -> String {
    format!("ORDER#{merchant_id}#{order_id}")
}
pub(super) const ORDER_SK: &str = "ORDER";

pub(super) fn session_pk(id: &SessionId) -> String {
    format!("SESSION#{id}")
}
pub(super) const SESSION_SK: &str = "SESSION";

/// Sessions are due for the sweeper on their own partitions of the due index (`gsi2`), spread
/// as payments' are.
pub(super) fn session_due_pk(id: &SessionId) -> String {
    format!("{SESSION_DUE_PREFIX}{}", id.as_str().bytes().last().map_or(0, |b| b % DUE_SHARDS))
}
pub(super) const SESSION_DUE_PREFIX: &str = "SDUE#";

pub(super) fn method_sk(id: &MethodId) -> String {
    format!("{METHOD_SK_PREFIX}{id}")
}

#[derive(Serialize, Deserialize)]
pub(super) struct PaymentItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// Per (merchant, user) history, newest first (`gsi1`).
    pub gsi1pk: String,
    pub gsi1sk: String,
    /// Due for the sweeper (`gsi2`), only while something is left to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub payment_id: String,
    pub status: String,
    pub user_id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub payment_method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    /// The phone's keyed hash (its counters' and lock-out's key) and masked form, always.
    pub phone_key: String,
    pub phone_masked: String,
    /// The number itself, encrypted, only while codes may still be sent to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_phone: Option<String>,
    /// The phone's country calling code: reading the item back needs no phone metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_cc: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_card: Option<String>,
    pub fingerprint: String,
    pub save_card: bool,
    pub code_key_id: String,
    pub code_mac: String,
    pub code_expires_at: i64,
    pub attempts_remaining: u8,
    pub sends: u8,
    pub last_sent_at: i64,
    /// Absent on payments stored before it: read as `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_reference: Option<String>,
    /// The language its SMS speak (absent on payments stored before locales: English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The acquirer's action for the page (`requires_action`: 3-D Secure), its JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    /// Absent on payments stored before manual capture: read as `automatic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_to_capture: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<i64>,
    /// Its refunds by id; always present (empty), so a refund's write can add one by path.
    #[serde(default)]
    pub refunds: BTreeMap<String, RefundItem>,
    /// A captured payment's amount left to refund (captured less its refunds that have not
    /// failed): the condition a refund's write checks and lowers ([`super::payment_store`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refundable: Option<u64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub version: u64,
    /// Unique per write: lets a retried conditional write recognise that it already landed.
    #[serde(default)]
    pub write_id: String,
}

impl PaymentItem {
    /// The item as it is to be stored, at version `ver` by write `write`. A number still kept
    /// is sealed with `vault` (a reader without the key never writes one: it cannot read one
    /// either).
    pub fn from_payment(p: &Payment, ver: u64, write: String, vault: Option<&CardVault>) -> Result<Self, StoreError> {
        Ok(Self {
            pk: payment_pk(&p.id),
            sk: PAYMENT_SK.into(),
            entity: "payment".into(),
            gsi1pk: history_pk(&p.merchant_id, &p.user_id),
            gsi1sk: history_sk(p.created_at, &p.id),
            gsi2pk: p.due_at().map(|_| due_pk(&p.id)),
            gsi2sk: p.due_at().map(|at| due_sk(at, &p.id)),
            payment_id: p.id.to_string(),
            status: p.status.as_str().into(),
            user_id: p.user_id.to_string(),
            merchant_id: p.merchant_id.to_string(),
            order_id: p.order_id.to_string(),
            amount: p.money.minor,
            currency: p.money.currency.code().into(),
            session_id: p.session_id.as_ref().map(ToString::to_string),
            payment_method_id: p.method.id.to_string(),
            brand: p.method.brand.as_str().into(),
            last4: p.method.last4.clone(),
            exp_month: p.method.expiry.month,
            exp_year: p.method.expiry.year,
            phone_key: p.phone.key.clone(),
            phone_masked: p.phone.masked().to_owned(),
            phone_cc: p.phone.number().map(Phone::country_code),
            sealed_phone: sealed_phone(p, vault)?,
            sealed_card: p.sealed_card.clone(),
            fingerprint: p.fingerprint.clone(),
            save_card: p.save_card,
            code_key_id: p.verification.code_hash.key_id.clone(),
            code_mac: p.verification.code_hash.mac_hex.clone(),
            code_expires_at: p.verification.expires_at,
            attempts_remaining: p.verification.attempts_remaining,
            sends: p.verification.sends,
            last_sent_at: p.verification.last_sent_at,
            phone_origin: Some(p.phone_origin.as_str().to_owned()),
            authorization_id: p.hold.as_ref().map(|h| h.authorization_id.clone()),
            hold_state: p.hold.as_ref().map(|h| h.state.as_str().to_owned()),
            network_reference: p.network_reference.clone(),
            action: p.action.clone(),
            locale: Some(p.locale.tag().to_owned()),
            failure_code: p.failure_code().map(str::to_owned),
            capture_method: Some(p.capture_method.as_str().to_owned()),
            amount_to_capture: p.amount_to_capture,
            capture_before: p.capture_before,
            cancellation_reason: p.cancellation_reason.map(|r| r.as_str().to_owned()),
            captured_at: p.captured_at,
            refunds: p.refunds.iter().map(|r| (r.id.to_string(), RefundItem::from_refund(r))).collect(),
            refundable: p.amount_refundable(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            expires_at: p.expires_at,
            version: ver,
            write_id: write,
        })
    }

    /// The payment; its number only if it is kept and `vault` can open it. What history shows
    /// is read as a history entry is; the rest (secrets and acquirer state) is added here.
    pub fn into_payment(self, vault: Option<&CardVault>) -> Result<Payment, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("payment {}: bad {what}", self.payment_id));
        let phone = self.payer_phone(vault).ok_or_else(|| bad("sealed_phone"))?;
        let phone_origin = match self.phone_origin.as_deref() {
            None => PhoneOrigin::Request,
            Some(origin) => PhoneOrigin::parse(origin).ok_or_else(|| bad("phone_origin"))?,
        };
        let hold = stored_hold(self.authorization_id, self.hold_state.as_deref()).ok_or_else(|| bad("hold_state"))?;
        // Stored before locales: English.
        let locale = self.locale.as_deref().map_or(Some(Locale::En), Locale::parse).ok_or_else(|| bad("locale"))?;
        let shown = HistoryItem {
            payment_id: self.payment_id,
            status: self.status,
            user_id: self.user_id,
            merchant_id: self.merchant_id,
            order_id: self.order_id,
            amount: self.amount,
            currency: self.currency,
            session_id: self.session_id,
            payment_method_id: self.payment_method_id,
            brand: self.brand,
            last4: self.last4,
            exp_month: self.exp_month,
            exp_year: self.exp_year,
            phone_masked: self.phone_masked,
            code_expires_at: self.code_expires_at,
            attempts_remaining: self.attempts_remaining,
            sends: self.sends,
            last_sent_at: self.last_sent_at,
            failure_code: self.failure_code,
            capture_method: self.capture_method,
            amount_to_capture: self.amount_to_capture,
            capture_before: self.capture_before,
            cancellation_reason: self.cancellation_reason,
            captured_at: self.captured_at,
            refunds: self.refunds,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            version: self.version,
        };
        let mut payment = Payment {
            phone,
            phone_origin,
            hold,
            network_reference: self.network_reference,
            action: self.action,
            locale,
            sealed_card: self.sealed_card,
            fingerprint: self.fingerprint,
            save_card: self.save_card,
            ..shown.into_payment()?
        };
        payment.verification.code_hash = CodeHash { key_id: self.code_key_id, mac_hex: self.code_mac };
        Ok(payment)
    }

    /// The payer's phone: the number itself when it is kept and `vault` opens it, else masked;
    /// `None` if the kept number does not open or parse (the record is corrupt).
    fn payer_phone(&self, vault: Option<&CardVault>) -> Option<PayerPhone> {
        match (&self.sealed_phone, vault) {
            (Some(sealed), Some(vault)) => {
                let e164 = vault.open_text(&phone_context(&self.pk), sealed).ok()?;
                let number = Phone::from_stored(&e164, self.phone_cc).ok()?;
                Some(PayerPhone::new(number, self.phone_key.clone()))
            }
            _ => Some(PayerPhone::masked_only(self.phone_key.clone(), self.phone_masked.clone())),
        }
    }
}

/// A payment as the history index projects it (`table::HISTORY_PROJECTION`): what a history
/// answer shows, nothing secret (no code hash, card or phone ciphertext, fingerprint, keys).
#[derive(Deserialize)]
pub(super) struct HistoryItem {
    pub payment_id: String,
    pub status: String,
    pub user_id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    #[serde(default)]
    pub session_id: Option<String>,
    pub payment_method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub phone_masked: String,
    pub code_expires_at: i64,
    pub attempts_remaining: u8,
    pub sends: u8,
    pub last_sent_at: i64,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub capture_method: Option<String>,
    #[serde(default)]
    pub amount_to_capture: Option<u64>,
    #[serde(default)]
    pub capture_before: Option<i64>,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    #[serde(default)]
    pub captured_at: Option<i64>,
    #[serde(default)]
    pub refunds: BTreeMap<String, RefundItem>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub version: u64,
}

impl HistoryItem {
    /// The payment for a history answer: its secrets were never read, so they are empty here
    /// (nothing built from this alone is ever written back; `PaymentItem::into_payment` adds them).
    pub fn into_payment(self) -> Result<Payment, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("payment {}: bad {what}", self.payment_id));
        let currency = Currency::parse("currency", &self.currency).map_err(|_| bad("currency"))?;
        Ok(Payment {
            id: PaymentId::parse(&self.payment_id).ok_or_else(|| bad("payment_id"))?,
            status: PaymentStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            user_id: Identifier::parse("user_id", &self.user_id).map_err(|_| bad("user_id"))?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id).map_err(|_| bad("merchant_id"))?,
            order_id: Identifier::parse("order_id", &self.order_id).map_err(|_| bad("order_id"))?,
            money: Money { minor: self.amount, currency },
            session_id: match &self.session_id {
                None => None,
                Some(id) => Some(SessionId::parse(id).ok_or_else(|| bad("session_id"))?),
            },
            // History does not show it; a full item's read sets it.
            locale: Locale::En,
            method: MethodSummary {
                id: MethodId::parse(&self.payment_method_id).ok_or_else(|| bad("payment_method_id"))?,
                brand: CardBrand::parse(&self.brand),
                last4: self.last4.clone(),
                expiry: Expiry { month: self.exp_month, year: self.exp_year },
            },
            phone: PayerPhone::masked_only(String::new(), self.phone_masked),
            verification: Verification {
                code_hash: CodeHash { key_id: String::new(), mac_hex: String::new() },
                expires_at: self.code_expires_at,
                attempts_remaining: self.attempts_remaining,
                sends: self.sends,
                last_sent_at: self.last_sent_at,
            },
            hold: None,
            network_reference: None,
            action: None,
            sealed_card: None,
            fingerprint: String::new(),
            save_card: false,
            phone_origin: PhoneOrigin::Request,
            failure: stored_failure(self.failure_code.as_deref()).ok_or_else(|| bad("failure_code"))?,
            capture_method: match self.capture_method.as_deref() {
                None => CaptureMethod::Automatic,
                Some(m) => CaptureMethod::parse(m).ok_or_else(|| bad("capture_method"))?,
            },
            amount_to_capture: self.amount_to_capture,
            capture_before: self.capture_before,
            cancellation_reason: match self.cancellation_reason.as_deref() {
                None => None,
                Some(r) => Some(CancellationReason::parse(r).ok_or_else(|| bad("cancellation_reason"))?),
            },
            // Captured before the time was kept: its last change was its capture.
            captured_at: self
                .captured_at
                .or((self.status == PaymentStatus::Succeeded.as_str()).then_some(self.updated_at)),
            refunds: refunds_of(self.refunds).ok_or_else(|| bad("refunds"))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            version: self.version,
        })
    }
}

/// A refund, inside its payment's item (`refunds.<id>`).
#[derive(Serialize, Deserialize)]
pub(super) struct RefundItem {
    pub amount: u64,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RefundItem {
    pub fn from_refund(r: &Refund) -> Self {
        Self {
            amount: r.amount,
            status: r.status.as_str().to_owned(),
            reason: r.reason.map(|v| v.as_str().to_owned()),
            failure_reason: r.failure_reason.map(|v| v.as_str().to_owned()),
            metadata: r.metadata.pairs().clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn into_refund(self, id: &str) -> Option<Refund> {
        Some(Refund {
            id: RefundId::parse(id)?,
            amount: self.amount,
            status: RefundStatus::parse(&self.status)?,
            reason: match self.reason.as_deref() {
                None => None,
                Some(r) => Some(RefundReason::parse(r)?),
            },
            failure_reason: match self.failure_reason.as_deref() {
                None => None,
                Some(r) => Some(RefundFailure::parse(r)?),
            },
            metadata: RefundMetadata::parse(self.metadata).ok()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A payment's refunds, oldest first; `None` if one is unreadable.
fn refunds_of(items: BTreeMap<String, RefundItem>) -> Option<Vec<Refund>> {
    let mut refunds = items.into_iter().map(|(id, item)| item.into_refund(&id)).collect::<Option<Vec<_>>>()?;
    refunds.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
    Some(refunds)
}

#[derive(Serialize, Deserialize)]
pub(super) struct MethodItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub payment_method_id: String,
    pub merchant_id: String,
    pub user_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub fingerprint: String,
    pub sealed_card: String,
    /// The phone the card's codes go to, encrypted (as long as the card is kept, a code may be
    /// sent to it), and masked.
    pub sealed_phone: String,
    pub phone_masked: String,
    #[serde(default)]
    pub phone_cc: Option<u16>,
    #[serde(default)]
    pub network_reference: Option<String>,
    pub saved_at: i64,
    /// When it was first saved (items saved before it was kept have `saved_at` only).
    #[serde(default)]
    pub created_at: Option<i64>,
    /// When a repeat payment last captured on it.
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

impl MethodItem {
    /// What a page shows of the card: no key opens anything.
    pub fn into_card(self) -> Result<SavedCard, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("payment method {}: bad {what}", self.payment_method_id));
        Ok(SavedCard {
            id: MethodId::parse(&self.payment_method_id).ok_or_else(|| bad("payment_method_id"))?,
            brand: CardBrand::parse(&self.brand),
            last4: self.last4,
            expiry: Expiry { month: self.exp_month, year: self.exp_year },
            created_at: self.created_at.unwrap_or(self.saved_at),
            saved_at: self.saved_at,
            last_used_at: self.last_used_at,
        })
    }

    pub fn into_method(self, vault: Option<&CardVault>) -> Result<SavedMethod, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("payment method {}: bad {what}", self.payment_method_id));
        Ok(SavedMethod {
            id: MethodId::parse(&self.payment_method_id).ok_or_else(|| bad("payment_method_id"))?,
            customer: Customer {
                merchant_id: Identifier::parse("merchant_id", &self.merchant_id).map_err(|_| bad("merchant_id"))?,
                user_id: Identifier::parse("user_id", &self.user_id).map_err(|_| bad("user_id"))?,
            },
            brand: CardBrand::parse(&self.brand),
            last4: self.last4,
            expiry: Expiry { month: self.exp_month, year: self.exp_year },
            fingerprint: self.fingerprint,
            sealed_card: self.sealed_card,
            phone: {
                let vault = vault.ok_or_else(|| StoreError::Corrupt("no key to open a saved card's phone".into()))?;
                let context = phone_context(&format!("{}|{}", self.pk, self.sk));
                let e164 = vault.open_text(&context, &self.sealed_phone).map_err(|_| bad("phone"))?;
                Phone::from_stored(&e164, self.phone_cc).map_err(|_| bad("phone"))?
            },
            network_reference: self.network_reference.filter(|r| !r.is_empty()),
            saved_at: self.saved_at,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub session_id: String,
    pub merchant_id: String,
    pub user_id: String,
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// The client secret's keyed hash, never the secret.
    pub secret_key_id: String,
    pub secret_mac: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Absent on sessions stored before manual capture: read as `automatic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<String>,
    /// `auto`, `en` or `zh-CN` (absent on sessions stored before locales: `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItemRow>,
    pub version: u64,
    #[serde(default)]
    pub write_id: String,
    /// Due for the sweeper (`gsi2`) at `expires_at` until it is ended (or retired, complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

impl SessionItem {
    pub fn from_session(s: &CheckoutSession, version: u64, write_id: String) -> Self {
        Self {
            pk: session_pk(&s.id),
            sk: SESSION_SK.into(),
            entity: "checkout_session".into(),
            session_id: s.id.to_string(),
            merchant_id: s.merchant_id.to_string(),
            user_id: s.user_id.to_string(),
            order_id: s.order_id.to_string(),
            amount: s.money.minor,
            currency: s.money.currency.code().into(),
            return_url: s.return_url.as_ref().map(|u| u.as_str().to_owned()),
            secret_key_id: s.secret_hash.key_id.clone(),
            secret_mac: s.secret_hash.mac_hex.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            ended_at: s.ended_at,
            payment_id: s.payment_id.as_ref().map(ToString::to_string),
            capture_method: Some(s.capture_method.as_str().to_owned()),
            locale: Some(s.locale.as_str().to_owned()),
            cancel_url: s.cancel_url.as_ref().map(|u| u.as_str().to_owned()),
            description: s.summary.description.clone(),
            line_items: s
                .summary
                .line_items
                .iter()
                .map(|l| LineItemRow { name: l.name.clone(), quantity: l.quantity, amount: l.amount })
                .collect(),
            version,
            write_id,
            gsi2pk: s.ended_at.is_none().then(|| session_due_pk(&s.id)),
            gsi2sk: s.ended_at.is_none().then(|| format!("{:012}#{}", s.expires_at.max(0), s.id)),
        }
    }

    pub fn into_session(self) -> Result<CheckoutSession, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("session {}: bad {what}", self.session_id));
        let currency = Currency::parse("currency", &self.currency).map_err(|_| bad("currency"))?;
        Ok(CheckoutSession {
            id: SessionId::parse(&self.session_id).ok_or_else(|| bad("session_id"))?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id).map_err(|_| bad("merchant_id"))?,
            user_id: Identifier::parse("user_id", &self.user_id).map_err(|_| bad("user_id"))?,
            order_id: Identifier::parse("order_id", &self.order_id).map_err(|_| bad("order_id"))?,
            money: Money { minor: self.amount, currency },
            return_url: self.return_url.as_deref().map(ReturnUrl::from_stored),
            secret_hash: CodeHash { key_id: self.secret_key_id.clone(), mac_hex: self.secret_mac.clone() },
            created_at: self.created_at,
            expires_at: self.expires_at,
            ended_at: self.ended_at,
            payment_id: match &self.payment_id {
                None => None,
                Some(id) => Some(PaymentId::parse(id).ok_or_else(|| bad("payment_id"))?),
            },
            capture_method: match self.capture_method.as_deref() {
                None => CaptureMethod::Automatic,
                Some(m) => CaptureMethod::parse(m).ok_or_else(|| bad("capture_method"))?,
            },
            locale: match self.locale.as_deref() {
                None => LocalePref::Auto,
                Some(raw) => LocalePref::parse("locale", raw).map_err(|_| bad("locale"))?,
            },
            cancel_url: self.cancel_url.as_deref().map(ReturnUrl::from_stored),
            summary: OrderSummary {
                description: self.description.clone(),
                line_items: self
                    .line_items
                    .iter()
                    .map(|l| LineItem { name: l.name.clone(), quantity: l.quantity, amount: l.amount })
                    .collect(),
            },
            version: self.version,
        })
    }
}

/// One line item of a session, as stored.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(super) struct LineItemRow {
    pub name: String,
    pub quantity: u32,
    pub amount: u64,
}

/// A stored hold read back: `Some(None)` without one, `None` for a state the domain does not
/// know (the record is corrupt).
fn stored_hold(authorization_id: Option<String>, state: Option<&str>) -> Option<Option<Hold>> {
    match authorization_id {
        None => Some(None),
        Some(authorization_id) => Some(Some(Hold { authorization_id, state: HoldState::parse(state?)? })),
    }
}

/// A stored failure code read back: `Some(None)` without one, `None` for a code the domain
/// does not know (the record is corrupt).
fn stored_failure(code: Option<&str>) -> Option<Option<Failure>> {
    match code {
        None => Some(None),
        Some(code) => Failure::parse(code).map(Some),
    }
}

/// The payment's phone number, while it is kept, sealed to its item.
fn sealed_phone(p: &Payment, vault: Option<&CardVault>) -> Result<Option<String>, StoreError> {
    match (p.phone.number(), vault) {
        (None, _) => Ok(None),
        (Some(number), Some(vault)) => vault
            .seal_text(&phone_context(&payment_pk(&p.id)), number.expose())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        (Some(_), None) => Err(StoreError::Corrupt("a phone number to store, and no key to seal it".into())),
    }
}
