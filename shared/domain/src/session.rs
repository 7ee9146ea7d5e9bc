//! Checkout sessions: one order a merchant's server hands to a shopper's browser, with a
//! client secret that lets the browser pay that order and nothing else.
//! `open` → `complete` (its payment succeeded) | `expired` (its time ran out, or the merchant
//! ended it).

use std::fmt;

use super::{Customer, FieldError, Identifier, Money, PaymentId, SessionId};

/// Shortest, longest and default life of a session, in seconds.
pub const SESSION_MIN_SECS: i64 = 300;
pub const SESSION_MAX_SECS: i64 = 3600;
pub const SESSION_DEFAULT_SECS: i64 = 1800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

/// The secret the browser holds for one session: 32 bytes from the OS CSPRNG, base64url.
/// Never printed; stored only as a keyed hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn generate() -> Self {
        use aes_gcm::aead::rand_core::RngCore;
        use base64::Engine;
        let mut bytes = [0u8; 32];
        aes_gcm::aead::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A secret as presented (`Authorization: Bearer …`); `None` unless it has the shape of
    /// ours (43 base64url characters), so nothing else is ever hashed or compared.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 43 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Where the shopper goes back to the shop: https, or http on 127.0.0.1 where the platform
/// runs locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    pub fn parse(param: &str, raw: &str, allow_local_http: bool) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                "invalid_return_url",
                param,
                format!("{param} must be an https:// address of at most 2048 characters"),
            )
        };
        if raw.len() > 2048 {
            return Err(bad());
        }
        let url = url::Url::parse(raw).map_err(|_| bad())?;
        let local = url.host_str() == Some("127.0.0.1");
        let allowed = match url.scheme() {
            "https" => url.host_str().is_some_and(|h| !h.is_empty()),
            "http" => allow_local_http && local,
            _ => false,
        };
        if !allowed || !url.username().is_empty() || url.password().is_some() {
            return Err(bad());
        }
        Ok(Self(url.to_string()))
    }

    /// A stored value (validated when it was written).
    pub fn from_stored(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]`, as a merchant's allowed origins list it.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.0).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
    }

    /// Whether the host is a plain name: not an address literal, no punycode label (a
    /// look-alike of a known name, `xn--pple-43d.com`). Either is where a phishing page would
    /// send shoppers; a merchant that needs one lists its origin instead. (The local stack's
    /// `http://127.0.0.1` is allowed where it is parsed.)
    pub fn has_plain_host(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.0) else { return false };
        match url.host() {
            Some(url::Host::Domain(d)) => !d.is_empty() && !d.split('.').any(|label| label.starts_with("xn--")),
            Some(url::Host::Ipv4(ip)) => url.scheme() == "http" && ip.is_loopback(),
            Some(url::Host::Ipv6(_)) | None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: SessionId,
    pub merchant_id: Identifier,
    pub user_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    pub return_url: Option<ReturnUrl>,
    /// The client secret's keyed hash (`key id`, hex HMAC).
    pub secret_hash: super::CodeHash,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it ended unpaid: the merchant ended it before its time, or the sweeper found it
    /// past `expires_at` (set to `expires_at`). A paid session is never ended.
    pub ended_at: Option<i64>,
    /// The session's latest payment.
    pub payment_id: Option<PaymentId>,
    /// When its payment's funds are captured: at once, or when the merchant asks.
    pub capture_method: super::CaptureMethod,
    /// The language the page and its SMS speak.
    pub locale: super::LocalePref,
    /// Where "Back to the shop" goes when the shopper gives up (else `return_url`'s origin).
    pub cancel_url: Option<ReturnUrl>,
    /// What the shopper is paying for, as the page shows it.
    pub summary: OrderSummary,
    /// Optimistic-concurrency version, as for payments.
    pub version: u64,
}

impl CheckoutSession {
    pub fn customer(&self) -> Customer {
        Customer { merchant_id: self.merchant_id.clone(), user_id: self.user_id.clone() }
    }

    /// Past its time, or ended by the merchant.
    pub fn is_over(&self, now: i64) -> bool {
        now >= self.expires_at || self.ended_at.is_some()
    }

    /// `complete` once its payment succeeded (the payment is what says so), else `expired`
    /// once over, else `open`.
    pub fn status(&self, payment_succeeded: bool, now: i64) -> SessionStatus {
        if payment_succeeded {
            SessionStatus::Complete
        } else if self.is_over(now) {
            SessionStatus::Expired
        } else {
            SessionStatus::Open
        }
    }

    /// Where a shopper who gives up goes back to: `cancel_url`, else `return_url`'s origin.
    pub fn back_url(&self) -> Option<String> {
        match (&self.cancel_url, &self.return_url) {
            (Some(cancel), _) => Some(cancel.as_str().to_owned()),
            (None, Some(ret)) => Some(format!("{}/", ret.origin())),
            (None, None) => None,
        }
    }

    /// When the session's payments must end: never after the session.
    pub fn ends_at(&self) -> i64 {
        self.ended_at.map_or(self.expires_at, |e| e.min(self.expires_at))
    }
}

/// `expires_in` as asked (seconds), checked against the allowed range.
pub fn session_lifetime(expires_in: Option<i64>) -> Result<i64, FieldError> {
    let secs = expires_in.unwrap_or(SESSION_DEFAULT_SECS);
    if !(SESSION_MIN_SECS..=SESSION_MAX_SECS).contains(&secs) {
        return Err(FieldError::new(
            "invalid_expires_in",
            "expires_in",
            format!("expires_in must be between {SESSION_MIN_SECS} and {SESSION_MAX_SECS} seconds"),
        ));
    }
    Ok(secs)
}

/// The most line items a session shows.
pub const MAX_LINE_ITEMS: usize = 20;
pub const MAX_LINE_ITEM_NAME_CHARS: usize = 100;
pub const MAX_LINE_ITEM_QUANTITY: u32 = 9999;
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// One line of the order: what, how many, and the line's amount (its total, in the session's
/// currency's minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub name: String,
    pub quantity: u32,
    pub amount: u64,
}

/// What the page shows of the order: a description and up to [`MAX_LINE_ITEMS`] lines whose
/// amounts add up to the session's amount.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderSummary {
    pub description: Option<String>,
    pub line_items: Vec<LineItem>,
}

/// A shown text: 1 to `max` characters, not blank, no control character.
fn shown_text(param: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let n = raw.chars().count();
    if !(1..=max).contains(&n) || raw.trim().is_empty() || raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            "invalid_text",
            param,
            format!("{param} must be 1 to {max} characters, without control characters"),
        ));
    }
    Ok(raw.trim().to_owned())
}

impl OrderSummary {
    /// `items` as asked: `(name, quantity, amount)`; their amounts must add up to `money`.
    pub fn new(
        description: Option<&str>,
        items: &[(String, i64, i64)],
        money: &super::Money,
    ) -> Result<Self, FieldError> {
        let description = description.map(|d| shown_text("description", d, MAX_DESCRIPTION_CHARS)).transpose()?;
        if items.len() > MAX_LINE_ITEMS {
            return Err(FieldError::new(
                "too_many_line_items",
                "line_items",
                format!("line_items has at most {MAX_LINE_ITEMS} items"),
            ));
        }
        let mut line_items = Vec::with_capacity(items.len());
        for (i, (name, quantity, amount)) in items.iter().enumerate() {
            let name = shown_text(&format!("line_items[{i}].name"), name, MAX_LINE_ITEM_NAME_CHARS)?;
            let quantity = u32::try_from(*quantity)
                .ok()
                .filter(|q| (1..=MAX_LINE_ITEM_QUANTITY).contains(q))
                .ok_or_else(|| {
                    FieldError::new(
                        "invalid_quantity",
                        format!("line_items[{i}].quantity"),
                        format!("a line item's quantity is 1 to {MAX_LINE_ITEM_QUANTITY}"),
                    )
                })?;
            let amount = u64::try_from(*amount).ok().filter(|a| *a <= money.currency.max_minor()).ok_or_else(|| {
                FieldError::new(
                    "invalid_amount",
                    format!("line_items[{i}].amount"),
                    "a line item's amount is an integer of minor units from 0 to the session's maximum",
                )
            })?;
            line_items.push(LineItem { name, quantity, amount });
        }
        let total = line_items.iter().try_fold(0u64, |sum, l| sum.checked_add(l.amount));
        if !line_items.is_empty() && total != Some(money.minor) {
            return Err(FieldError::new(
                "line_items_total_mismatch",
                "line_items",
                "the line items' amounts must add up to amount",
            ));
        }
        Ok(Self { description, line_items })
    }
}
