use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::error::{corrupt, store_error};
use crate::ports::{Claim, IdempotencyStore, StoreError, StoredResponse};

/// Keys are kept for 24 hours (DynamoDB TTL on `ttl`; expired-but-undeleted items are
/// treated as absent).
pub const KEY_RETENTION_SECS: i64 = 24 * 60 * 60;

const SK: &str = "IDEM";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

#[derive(Serialize, Deserialize)]
struct IdempotencyItem {
    pk: String,
    sk: String,
    entity: String,
    state: String,
    fingerprint: String,
    token: String,
    lock_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    ttl: i64,
}

pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn pk(key: &str) -> String {
        format!("IDEM#{key}")
    }

    fn judge(existing: IdempotencyItem, fingerprint: &str) -> Claim {
        if existing.fingerprint != fingerprint {
            return Claim::KeyReused;
        }
        match (existing.state.as_str(), existing.status_code, existing.body) {
            (COMPLETED, Some(status), Some(body)) => Claim::Replay(StoredResponse { status, body }),
            _ => Claim::InProgress,
        }
    }

    async fn read(&self, key: &str) -> Result<Option<IdempotencyItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::pk(key)))
            .key("sk", AttributeValue::S(SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        out.item.map(|i| serde_dynamo::from_item(i).map_err(corrupt)).transpose()
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn claim(&self, key: &str, fingerprint: &str, now: i64, lock_until: i64) -> Result<Claim, StoreError> {
        let token = ulid::Ulid::new().to_string();
        let item = IdempotencyItem {
            pk: Self::pk(key),
            sk: SK.into(),
            entity: "idempotency_key".into(),
            state: IN_PROGRESS.into(),
            fingerprint: fingerprint.into(),
            token: token.clone(),
            lock_until,
            status_code: None,
            body: None,
            ttl: now + KEY_RETENTION_SECS,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
            // Free, expired (TTL not yet swept), or claimed by an invocation that outlived its
            // deadline without finishing: a key can never stay stuck "in progress".
            .condition_expression(
                "attribute_not_exists(pk) OR #ttl < :now OR (#state = :in_progress AND lock_until < :now)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Claim::Acquired { token }),
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(e) if e.code() == Some("ConditionalCheckFailedException") => match e {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                _ => None,
            },
            _ => return Err(store_error(err)),
        };
        let existing: Option<IdempotencyItem> = match old {
            Some(item) => Some(serde_dynamo::from_item(item).map_err(corrupt)?),
            None => self.read(key).await?,
        };
        // Deleted between the two calls: the caller may simply try again.
        existing.map(|e| Self::judge(e, fingerprint)).ok_or(StoreError::Conflict)
    }

    async fn complete(&self, key: &str, token: &str, response: &StoredResponse, now: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::pk(key)))
            .key("sk", AttributeValue::S(SK.into()))
            .update_expression("SET #state = :completed, status_code = :status, body = :body, #ttl = :ttl")
            .condition_expression("#token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.into()))
            .expression_attribute_values(":status", AttributeValue::N(response.status.to_string()))
            .expression_attribute_values(":body", AttributeValue::S(response.body.clone()))
            .expression_attribute_values(":ttl", AttributeValue::N((now + KEY_RETENTION_SECS).to_string()))
            .expression_attribute_values(":token", AttributeValue::S(token.into()))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::pk(key)))
            .key("sk", AttributeValue::S(SK.into()))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", AttributeValue::S(token.into()))
            .send()
            .await;
        match result.map_err(store_error) {
            // Someone else holds the key now: nothing of ours to release.
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
