//! The table's stream records (NEW_AND_OLD_IMAGES), as an event source mapping hands them to a
//! function (and as the local poller does): which payment or checkout session changed, before
//! and after. The images are decoded by the same items the store writes (serde_dynamo reads the
//! stream's attribute-value JSON); anything else the table holds is `Other`.

use serde::Deserialize;

use super::endpoint_store::{EndpointsItem, ENDPOINTS_SK};
use super::error::corrupt;
use super::items::{PaymentItem, SessionItem, PAYMENT_SK, SESSION_SK};
use crate::domain::{CheckoutSession, Identifier, Payment};
use crate::ports::StoreError;
use payments_core::webhooks::Endpoint;

/// A batch, as Lambda's event source mapping sends it (`{"Records": [...]}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamBatch {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    #[serde(rename = "dynamodb")]
    pub change: StreamChange,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "NewImage", default)]
    new_image: Option<serde_dynamo::Item>,
    #[serde(rename = "OldImage", default)]
    old_image: Option<serde_dynamo::Item>,
    /// Where the record is in its shard: what a partial batch failure names.
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
}

/// What a record changed.
#[derive(Debug, Clone)]
pub enum Changed {
    Payment {
        before: Option<Box<Payment>>,
        after: Box<Payment>,
    },
    Session {
        before: Option<Box<CheckoutSession>>,
        after: Box<CheckoutSession>,
    },
    /// A merchant's webhook endpoints (one record), before and after, at the record's version.
    Endpoints {
        merchant: Identifier,
        before: Vec<Endpoint>,
        after: Vec<Endpoint>,
        version: u64,
    },
    /// Anything else (a guard, a key, an event), or a removal (a TTL's): no event.
    Other,
}

fn kind_of(image: &serde_dynamo::Item) -> Option<&'static str> {
    let sk = match image.get("sk") {
        Some(serde_dynamo::AttributeValue::S(sk)) => sk.as_str(),
        _ => return None,
    };
    [PAYMENT_SK, SESSION_SK, ENDPOINTS_SK].into_iter().find(|k| *k == sk)
}

fn payment(image: serde_dynamo::Item) -> Result<Box<Payment>, StoreError> {
    // No key: a stream reader never opens a phone number (it reads them masked).
    let item: PaymentItem = serde_dynamo::from_item(image).map_err(corrupt)?;
    item.into_payment(None).map(Box::new)
}

fn endpoints(image: serde_dynamo::Item) -> Result<(Identifier, Vec<Endpoint>, u64), StoreError> {
    let item: EndpointsItem = serde_dynamo::from_item(image).map_err(corrupt)?;
    let merchant = Identifier::parse("merchant_id", &item.merchant_id).map_err(|_| corrupt("endpoints merchant_id"))?;
    let all = item.endpoints.into_iter().map(|e| e.into_endpoint()).collect::<Result<_, _>>()?;
    Ok((merchant, all, item.version))
}

fn session(image: serde_dynamo::Item) -> Result<Box<CheckoutSession>, StoreError> {
    let item: SessionItem = serde_dynamo::from_item(image).map_err(corrupt)?;
    item.into_session().map(Box::new)
}

impl StreamRecord {
    /// The payment or session the record changed, before (none when it was created) and after.
    pub fn changed(&self) -> Result<Changed, StoreError> {
        let Some(after) = self.change.new_image.clone() else { return Ok(Changed::Other) };
        let before = self.change.old_image.clone();
        Ok(match kind_of(&after) {
            Some(PAYMENT_SK) => Changed::Payment { before: before.map(payment).transpose()?, after: payment(after)? },
            Some(SESSION_SK) => Changed::Session { before: before.map(session).transpose()?, after: session(after)? },
            Some(ENDPOINTS_SK) => {
                let (merchant, after, version) = endpoints(after)?;
                let before = before.map(endpoints).transpose()?.map(|(_, all, _)| all).unwrap_or_default();
                Changed::Endpoints { merchant, before, after, version }
            }
            _ => Changed::Other,
        })
    }
}
