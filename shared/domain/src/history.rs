//! A user's payment history is read newest first, a page at a time. A cursor names the last
//! payment of a page; the next page starts after it. Clients see it as an opaque string.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{FieldError, Payment, PaymentId};

/// Largest page a client may ask for, and the page size when it does not say.
pub const MAX_PAGE: u8 = 100;
pub const DEFAULT_PAGE: u8 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryCursor {
    pub created_at: i64,
    pub payment_id: PaymentId,
}

impl HistoryCursor {
    pub fn after(payment: &Payment) -> Self {
        Self { created_at: payment.created_at, payment_id: payment.id.clone() }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.created_at, self.payment_id))
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let invalid =
            || FieldError::new("invalid_cursor", "cursor", "cursor must be a next_cursor from an earlier page");
        let text = URL_SAFE_NO_PAD.decode(raw).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
        let (created, id) = text.split_once('.').ok_or_else(invalid)?;
        let created_at =
            created.parse::<i64>().ok().filter(|t| (0..1_000_000_000_000).contains(t)).ok_or_else(invalid)?;
        Ok(Self { created_at, payment_id: PaymentId::parse(id).ok_or_else(invalid)? })
    }
}

/// The page size a client asked for: 1–100, 20 when absent.
pub fn page_size(raw: Option<&str>) -> Result<u8, FieldError> {
    let Some(raw) = raw else { return Ok(DEFAULT_PAGE) };
    raw.parse::<u8>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
        FieldError::new("invalid_limit", "limit", format!("limit must be a whole number from 1 to {MAX_PAGE}"))
    })
}

/// One page of a user's payments, newest first, and where the next starts (if more may follow).
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub payments: Vec<Payment>,
    pub next: Option<HistoryCursor>,
}
