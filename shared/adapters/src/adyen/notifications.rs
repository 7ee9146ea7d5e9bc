//! Adyen's standard notifications (`Webhooks-v1.json`): a batch of items, each signed with
//! HMAC-SHA256 under the merchant account's HMAC key (hex) over
//! `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`,
//! base64 in `additionalData.hmacSignature`. Pure: parsing, verifying, and what each item means
//! for our payment.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;

use super::wire::Amount;

/// The HMAC key of the merchant account's notification settings (hex, 32 bytes or more).
/// Debug shows nothing of it.
#[derive(Clone)]
pub struct HmacKey(Vec<u8>);

impl HmacKey {
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        hex::decode(hex_key.trim()).ok().filter(|k| !k.is_empty()).map(Self)
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(***)")
    }
}

/// `{ "live": "false", "notificationItems": [ { "NotificationRequestItem": … } ] }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRequest {
    #[serde(default)]
    pub live: Option<String>,
    pub notification_items: Vec<ItemWrapper>,
}

#[derive(Debug, Deserialize)]
pub struct ItemWrapper {
    #[serde(rename = "NotificationRequestItem")]
    pub item: NotificationItem,
}

/// One `NotificationRequestItem`: the fields read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationItem {
    pub psp_reference: String,
    #[serde(default)]
    pub original_reference: Option<String>,
    pub merchant_account_code: String,
    pub merchant_reference: String,
    pub amount: Amount,
    pub event_code: String,
    pub success: String,
    #[serde(default)]
    pub additional_data: BTreeMap<String, serde_json::Value>,
}

impl NotificationItem {
    /// The string Adyen signs.
    pub fn signing_string(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}:{}",
            self.psp_reference,
            self.original_reference.as_deref().unwrap_or(""),
            self.merchant_account_code,
            self.merchant_reference,
            self.amount.value,
            self.amount.currency,
            self.event_code,
            self.success
        )
    }

    /// Its signature checks against `key` (constant time); an item without one does not.
    pub fn is_signed_by(&self, key: &HmacKey) -> bool {
        let Some(serde_json::Value::String(given)) = self.additional_data.get("hmacSignature") else {
            return false;
        };
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else { return false };
        mac.update(self.signing_string().as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// What the item means for our payment (`merchantReference` is our payment or refund id,
    /// `originalReference` the authorisation's pspReference for a modification).
    pub fn event(&self) -> Notified {
        let ok = self.success == "true";
        match (self.event_code.as_str(), ok) {
            ("AUTHORISATION", true) => Notified::Authorised,
            ("AUTHORISATION", false) => Notified::AuthorisationRefused,
            ("CAPTURE", true) => Notified::Captured,
            ("CAPTURE", false) | ("CAPTURE_FAILED", _) => Notified::CaptureFailed,
            ("CANCELLATION", true) => Notified::Canceled,
            ("CANCELLATION", false) => Notified::CancelFailed,
            ("REFUND", true) => Notified::Refunded,
            ("REFUND", false) | ("REFUND_FAILED", _) => Notified::RefundFailed,
            _ => Notified::Other,
        }
    }
}

/// The events this platform acts on; anything else is acknowledged and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    Authorised,
    AuthorisationRefused,
    Captured,
    CaptureFailed,
    Canceled,
    CancelFailed,
    Refunded,
    RefundFailed,
    Other,
}

/// Signs `item` as Adyen does (the tests sign their notifications with it; the local stand-in,
/// scripts/adyen_standin.py, signs the same way in Python).
pub fn sign(item: &NotificationItem, key: &HmacKey) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else { return String::new() };
    mac.update(item.signing_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The answer Adyen expects to a notification batch it need not send again.
pub const ACCEPTED: &str = "[accepted]";
