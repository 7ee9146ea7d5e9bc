//! Webhook deliveries: one item per (event, endpoint) (`DLV#<event>`, `WE#<endpoint>`), opened by
//! a conditional put and changed only under the number of attempts read; a pending one is on
//! the sweeper's due index (`gsi2`, under `WHDUE`) until it is delivered or given up. Each attempt
//! is logged under its endpoint (`ATT#<merchant>#<endpoint>`, newest last), kept 30 days.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::error::{corrupt, store_error};
use super::event_store::put_if_absent;
use super::items::DUE_INDEX;
use crate::domain::{EndpointId, EventId, Identifier};
use crate::ports::{AttemptRecord, Delivery, DeliveryState, DeliveryStore, StoreError, EVENT_RETENTION_SECS};

const DUE_PK: &str = "WHDUE";

fn delivery_key(event: &EventId, endpoint: &EndpointId) -> (String, String) {
    (format!("DLV#{event}"), format!("WE#{endpoint}"))
}

fn attempts_pk(merchant: &Identifier, endpoint: &EndpointId) -> String {
    format!("ATT#{merchant}#{endpoint}")
}

#[derive(Debug, Serialize, Deserialize)]
struct DeliveryItem {
    pk: String,
    sk: String,
    event_id: String,
    endpoint_id: String,
    merchant_id: String,
    state: String,
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_attempt_at: Option<i64>,
    next_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    ttl: i64,
}

fn state_name(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
    }
}

impl DeliveryItem {
    fn from_delivery(d: &Delivery) -> Self {
        let (pk, sk) = delivery_key(&d.event_id, &d.endpoint_id);
        let due = d.state == DeliveryState::Pending;
        Self {
            gsi2pk: due.then(|| DUE_PK.to_owned()),
            gsi2sk: due.then(|| format!("{:012}#{pk}#{sk}", d.next_at.max(0))),
            pk,
            sk,
            event_id: d.event_id.to_string(),
            endpoint_id: d.endpoint_id.to_string(),
            merchant_id: d.merchant_id.to_string(),
            state: state_name(d.state).into(),
            attempts: d.attempts,
            first_attempt_at: d.first_attempt_at,
            next_at: d.next_at,
            ttl: d.next_at + EVENT_RETENTION_SECS,
        }
    }

    fn into_delivery(self) -> Result<Delivery, StoreError> {
        let bad =
            |what: &str| StoreError::Corrupt(format!("delivery {}/{}: bad {what}", self.event_id, self.endpoint_id));
        let state = match self.state.as_str() {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return Err(bad("state")),
        };
        Ok(Delivery {
            event_id: EventId::parse(&self.event_id).ok_or_else(|| bad("event_id"))?,
            endpoint_id: EndpointId::parse(&self.endpoint_id).ok_or_else(|| bad("endpoint_id"))?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id).map_err(|_| bad("merchant_id"))?,
            state,
            attempts: self.attempts,
            first_attempt_at: self.first_attempt_at,
            next_at: self.next_at,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AttemptItem {
    pk: String,
    sk: String,
    event_id: String,
    endpoint_id: String,
    number: u32,
    at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    latency_ms: u64,
    ttl: i64,
}

pub struct DynamoDeliveryStore {
    client: Client,
    table: String,
}

impl DynamoDeliveryStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self { client, table: table.to_owned() }
    }

    async fn get(&self, event: &EventId, endpoint: &EndpointId) -> Result<Option<Delivery>, StoreError> {
        let (pk, sk) = delivery_key(event, endpoint);
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        got.item.map(|i| serde_dynamo::from_item::<_, DeliveryItem>(i).map_err(corrupt)?.into_delivery()).transpose()
    }
}

#[async_trait]
impl DeliveryStore for DynamoDeliveryStore {
    async fn open(&self, fresh: &Delivery) -> Result<Delivery, StoreError> {
        let item = serde_dynamo::to_item(DeliveryItem::from_delivery(fresh)).map_err(corrupt)?;
        if put_if_absent(&self.client, &self.table, item).await? {
            return Ok(fresh.clone());
        }
        self.get(&fresh.event_id, &fresh.endpoint_id).await?.ok_or(StoreError::Conflict)
    }

    async fn record(
        &self,
        after: &Delivery,
        attempts_read: u32,
        attempt: Option<&AttemptRecord>,
    ) -> Result<(), StoreError> {
        if let Some(a) = attempt {
            let item = AttemptItem {
                pk: attempts_pk(&after.merchant_id, &a.endpoint_id),
                sk: format!("{:012}#{}#{:03}", a.at.max(0), a.event_id, a.number),
                event_id: a.event_id.to_string(),
                endpoint_id: a.endpoint_id.to_string(),
                number: a.number,
                at: a.at,
                status: a.status,
                error: a.error.clone(),
                latency_ms: a.latency_ms,
                ttl: a.at + EVENT_RETENTION_SECS,
            };
            let item = serde_dynamo::to_item(item).map_err(corrupt)?;
            self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(store_error)?;
        }
        let item = serde_dynamo::to_item(DeliveryItem::from_delivery(after)).map_err(corrupt)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attempts = :read")
            .expression_attribute_values(":read", AttributeValue::N(attempts_read.to_string()))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn due(&self, now: i64, limit: u8) -> Result<Vec<Delivery>, StoreError> {
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("gsi2pk = :due AND gsi2sk <= :now")
            .expression_attribute_values(":due", AttributeValue::S(DUE_PK.into()))
            .expression_attribute_values(":now", AttributeValue::S(format!("{:012}~", now.max(0))))
            .limit(i32::from(limit.max(1)))
            .send()
            .await
            .map_err(store_error)?;
        let mut due = Vec::new();
        for key in found.items.unwrap_or_default() {
            let text = |name: &str| match key.get(name) {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            };
            let (Some(pk), Some(sk)) = (text("pk"), text("sk")) else { continue };
            let event = pk.strip_prefix("DLV#").and_then(EventId::parse);
            let endpoint = sk.strip_prefix("WE#").and_then(EndpointId::parse);
            let (Some(event), Some(endpoint)) = (event, endpoint) else { continue };
            // The index is eventually consistent: each delivery read as it is now.
            if let Some(d) = self.get(&event, &endpoint).await? {
                due.push(d);
            }
        }
        Ok(due)
    }

    async fn attempts(
        &self,
        merchant: &Identifier,
        endpoint: &EndpointId,
        limit: u8,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(attempts_pk(merchant, endpoint)))
            .scan_index_forward(false)
            .limit(i32::from(limit.max(1)))
            .send()
            .await
            .map_err(store_error)?;
        found
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item: HashMap<String, AttributeValue>| {
                let a: AttemptItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                Ok(AttemptRecord {
                    event_id: EventId::parse(&a.event_id).ok_or_else(|| corrupt("attempt event_id"))?,
                    endpoint_id: EndpointId::parse(&a.endpoint_id).ok_or_else(|| corrupt("attempt endpoint_id"))?,
                    number: a.number,
                    at: a.at,
                    status: a.status,
                    error: a.error,
                    latency_ms: a.latency_ms,
                })
            })
            .collect()
    }
}
