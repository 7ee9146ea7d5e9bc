//! The webhook events (issue 24): one item each (`EVT#<id>`), written by a conditional put keyed
//! by the event's id (a digest of the change, so a change seen twice is recorded once), kept 30
//! days (`ttl`), listed by merchant and time through `gsi3` (projecting what an event shows).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::error::{corrupt, store_error};
use crate::domain::{EventId, Identifier};
use crate::ports::{EventCursor, EventPage, EventQuery, EventStore, StoreError, StoredEvent, EVENT_RETENTION_SECS};
use payments_core::webhooks::EventType;

/// By merchant, newest last: the events (`gsi3pk = EVENTS#<merchant>`).
pub(super) const EVENTS_INDEX: &str = "gsi3";
pub(super) const EVENT_SK: &str = "EVENT";

fn event_pk(id: &EventId) -> String {
    format!("EVT#{id}")
}

fn events_pk(merchant: &Identifier) -> String {
    format!("EVENTS#{merchant}")
}

fn events_sk(created_at: i64, id: &EventId) -> String {
    format!("{:012}#{id}", created_at.max(0))
}

#[derive(Debug, Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    gsi3pk: String,
    gsi3sk: String,
    event_id: String,
    event_type: String,
    merchant_id: String,
    created_at: i64,
    /// The payload as delivered.
    event: String,
    /// Not projected into `gsi3` (read as 0 there).
    #[serde(default)]
    ttl: i64,
}

impl EventItem {
    fn from_event(e: &StoredEvent) -> Self {
        Self {
            pk: event_pk(&e.id),
            sk: EVENT_SK.into(),
            gsi3pk: events_pk(&e.merchant_id),
            gsi3sk: events_sk(e.created_at, &e.id),
            event_id: e.id.to_string(),
            event_type: e.kind.as_str().into(),
            merchant_id: e.merchant_id.to_string(),
            created_at: e.created_at,
            event: e.body.clone(),
            ttl: e.created_at + EVENT_RETENTION_SECS,
        }
    }

    fn into_event(self) -> Result<StoredEvent, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("event {}: bad {what}", self.event_id));
        Ok(StoredEvent {
            id: EventId::parse(&self.event_id).ok_or_else(|| bad("event_id"))?,
            kind: EventType::parse(&self.event_type).ok_or_else(|| bad("event_type"))?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id).map_err(|_| bad("merchant_id"))?,
            created_at: self.created_at,
            body: self.event,
        })
    }
}

/// Puts `item` unless one with its key exists: `false` then (nothing is written).
pub(super) async fn put_if_absent(
    client: &Client,
    table: &str,
    item: HashMap<String, AttributeValue>,
) -> Result<bool, StoreError> {
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match put.map_err(store_error) {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

pub struct DynamoEventStore {
    client: Client,
    table: String,
}

impl DynamoEventStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self { client, table: table.to_owned() }
    }
}

#[async_trait]
impl EventStore for DynamoEventStore {
    async fn record(&self, event: &StoredEvent) -> Result<bool, StoreError> {
        let item = serde_dynamo::to_item(EventItem::from_event(event)).map_err(corrupt)?;
        put_if_absent(&self.client, &self.table, item).await
    }

    async fn event(&self, merchant: &Identifier, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(event_pk(id)))
            .key("sk", AttributeValue::S(EVENT_SK.into()))
            .send()
            .await
            .map_err(store_error)?;
        let Some(item) = got.item else { return Ok(None) };
        let event = serde_dynamo::from_item::<_, EventItem>(item).map_err(corrupt)?.into_event()?;
        Ok((&event.merchant_id == merchant).then_some(event))
    }

    async fn events(&self, merchant: &Identifier, query: &EventQuery) -> Result<EventPage, StoreError> {
        // Newest first, below the cursor (or `to`), down to `from`.
        let upper = match (&query.before, query.to) {
            (Some(c), _) => events_sk(c.created_at, &c.id),
            (None, Some(to)) => format!("{:012}", to.max(0)),
            (None, None) => "~".into(),
        };
        let lower = format!("{:012}", query.from.unwrap_or(0).max(0));
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":pk".into(), AttributeValue::S(events_pk(merchant))),
            (":lower".into(), AttributeValue::S(lower)),
            (":upper".into(), AttributeValue::S(upper)),
        ]);
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EVENTS_INDEX)
            .key_condition_expression("gsi3pk = :pk AND gsi3sk BETWEEN :lower AND :upper")
            .scan_index_forward(false);
        if let Some(kind) = query.kind {
            values.insert(":type".into(), AttributeValue::S(kind.as_str().into()));
            request = request.filter_expression("event_type = :type");
        }
        let mut events = Vec::new();
        let mut start = None;
        let limit = usize::from(query.limit.max(1));
        // A filter can leave a page short: read on until the page is full or nothing is left.
        loop {
            let page = request
                .clone()
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .limit(i32::from(query.limit.max(1)) + 1)
                .send()
                .await
                .map_err(store_error)?;
            for item in page.items.unwrap_or_default() {
                let event = serde_dynamo::from_item::<_, EventItem>(item).map_err(corrupt)?.into_event()?;
                // The cursor's own event is the bound (BETWEEN includes it).
                if query.before.as_ref().is_some_and(|c| c.id == event.id) {
                    continue;
                }
                events.push(event);
            }
            start = page.last_evaluated_key;
            if events.len() > limit || start.is_none() {
                break;
            }
        }
        let next = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| EventCursor { created_at: e.created_at, id: e.id.clone() })
        } else {
            None
        };
        Ok(EventPage { events, next })
    }
}
