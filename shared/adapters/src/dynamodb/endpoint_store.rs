//! A merchant's webhook endpoints: one item (`WEBHOOKS#<merchant>`), written whole under its
//! version (a conditional put), read in one GetItem (for a delivery, for the API).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::error::{corrupt, store_error};
use crate::domain::{EndpointId, Identifier};
use crate::ports::{EndpointSet, EndpointStore, StoreError};
use payments_core::webhooks::{Disabled, Endpoint, EventType, SealedSecret, Subscribed};

pub(super) const ENDPOINTS_SK: &str = "ENDPOINTS";

fn endpoints_pk(merchant: &Identifier) -> String {
    format!("WEBHOOKS#{merchant}")
}

#[derive(Debug, Serialize, Deserialize)]
struct SecretItem {
    sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EndpointItem {
    id: String,
    url: String,
    /// `["*"]`, or the types.
    events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled: Option<String>,
    secrets: Vec<SecretItem>,
    created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failing_since: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EndpointsItem {
    pk: String,
    sk: String,
    pub(super) merchant_id: String,
    pub(super) endpoints: Vec<EndpointItem>,
    pub(super) version: u64,
}

impl EndpointItem {
    fn from_endpoint(e: &Endpoint) -> Self {
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            events: e.events.names().into_iter().map(str::to_owned).collect(),
            description: e.description.clone(),
            disabled: e.disabled.map(|d| d.as_str().to_owned()),
            secrets: e
                .secrets
                .iter()
                .map(|s| SecretItem { sealed: s.sealed.clone(), expires_at: s.expires_at })
                .collect(),
            created_at: e.created_at,
            failing_since: e.failing_since,
        }
    }

    pub(super) fn into_endpoint(self) -> Result<Endpoint, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("endpoint {}: bad {what}", self.id));
        let events = if self.events == ["*"] {
            Subscribed::All
        } else {
            Subscribed::Only(
                self.events
                    .iter()
                    .map(|n| EventType::parse(n).ok_or_else(|| bad("events")))
                    .collect::<Result<_, _>>()?,
            )
        };
        let disabled = match &self.disabled {
            None => None,
            Some(d) => Some(Disabled::parse(d).ok_or_else(|| bad("disabled"))?),
        };
        Ok(Endpoint {
            id: EndpointId::parse(&self.id).ok_or_else(|| bad("id"))?,
            url: self.url,
            events,
            description: self.description,
            disabled,
            secrets: self
                .secrets
                .into_iter()
                .map(|s| SealedSecret { sealed: s.sealed, expires_at: s.expires_at })
                .collect(),
            created_at: self.created_at,
            failing_since: self.failing_since,
        })
    }
}

pub struct DynamoEndpointStore {
    client: Client,
    table: String,
}

impl DynamoEndpointStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self { client, table: table.to_owned() }
    }
}

#[async_trait]
impl EndpointStore for DynamoEndpointStore {
    async fn endpoints(&self, merchant: &Identifier) -> Result<EndpointSet, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(endpoints_pk(merchant)))
            .key("sk", AttributeValue::S(ENDPOINTS_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let Some(item) = got.item else { return Ok(EndpointSet::default()) };
        let item: EndpointsItem = serde_dynamo::from_item(item).map_err(corrupt)?;
        let endpoints = item.endpoints.into_iter().map(EndpointItem::into_endpoint).collect::<Result<_, _>>()?;
        Ok(EndpointSet { endpoints, version: item.version })
    }

    async fn save(&self, merchant: &Identifier, set: &EndpointSet) -> Result<(), StoreError> {
        let item = EndpointsItem {
            pk: endpoints_pk(merchant),
            sk: ENDPOINTS_SK.into(),
            merchant_id: merchant.to_string(),
            endpoints: set.endpoints.iter().map(EndpointItem::from_endpoint).collect(),
            version: set.version + 1,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?));
        let put = if set.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :read")
                .expression_attribute_values(":read", AttributeValue::N(set.version.to_string()))
        };
        put.send().await.map_err(store_error)?;
        Ok(())
    }
}
