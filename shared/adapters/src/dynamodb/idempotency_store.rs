use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::error::{corrupt, store_error};
use crate::ports::{
    Claim, IdempotencyStore, KeyFound, KeyRecord, KeyWrite, RequestFingerprint, StoreError, StoredResponse,
    KEY_RETENTION_SECS,
};

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
    /// The token of the attempt that first claimed the key; kept across takeovers.
    origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    ttl: i64,
}

/// The partition key of the item that holds `key` (scoped).
pub(super) fn key_pk(key: &str) -> String {
    format!("IDEM#{key}")
}

pub(super) const KEY_SK: &str = SK;

impl IdempotencyItem {
    fn found(self) -> KeyFound {
        let answer = match (self.state.as_str(), self.status_code, self.body) {
            (COMPLETED, Some(status), Some(body)) => Some(StoredResponse { status, body }),
            _ => None,
        };
        KeyFound { fingerprint: self.fingerprint, answer, lock_until: self.lock_until, expires_at: self.ttl }
    }
}

/// A key's item as a read found it.
pub(super) fn key_found(item: std::collections::HashMap<String, AttributeValue>) -> Result<KeyFound, StoreError> {
    Ok(serde_dynamo::from_item::<_, IdempotencyItem>(item).map_err(corrupt)?.found())
}

/// The key's item as a payment's transaction writes it (see [`KeyWrite`]): claimed with a put
/// that only a free or expired key lets through (in progress, or settled with its answer), or,
/// already ours, updated to its answer.
pub(super) fn key_write_item(table: &str, write: &KeyWrite) -> Result<TransactWriteItem, StoreError> {
    let n = |v: i64| AttributeValue::N(v.to_string());
    let s = |v: &str| AttributeValue::S(v.to_owned());
    match write {
        KeyWrite::Claim(r) => claim_put(table, r, None),
        KeyWrite::Settle(r, answer) => claim_put(table, r, Some(answer)),
        KeyWrite::Answer(r, answer) => {
            let update = Update::builder()
                .table_name(table)
                .key("pk", s(&key_pk(&r.key)))
                .key("sk", s(SK))
                .update_expression("SET #state = :completed, status_code = :status, body = :body, #ttl = :ttl")
                .condition_expression("#token = :token")
                .expression_attribute_names("#token", "token")
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":token", s(&r.token))
                .expression_attribute_values(":completed", s(COMPLETED))
                .expression_attribute_values(":status", n(answer.status.into()))
                .expression_attribute_values(":body", s(&answer.body))
                .expression_attribute_values(":ttl", n(r.now + KEY_RETENTION_SECS))
                .build()
                .map_err(corrupt)?;
            Ok(TransactWriteItem::builder().update(update).build())
        }
    }
}

/// A claim of a free (or expired) key: in progress, or, with `answer`, settled at once.
fn claim_put(table: &str, r: &KeyRecord, answer: Option<&StoredResponse>) -> Result<TransactWriteItem, StoreError> {
    let item = IdempotencyItem {
        pk: key_pk(&r.key),
        sk: SK.into(),
        entity: "idempotency_key".into(),
        state: if answer.is_some() { COMPLETED } else { IN_PROGRESS }.into(),
        fingerprint: r.fingerprint.clone(),
        token: r.token.clone(),
        lock_until: r.lock_until,
        origin: r.token.clone(),
        status_code: answer.map(|a| a.status),
        body: answer.map(|a| a.body.clone()),
        ttl: r.now + KEY_RETENTION_SECS,
    };
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":now", AttributeValue::N(r.now.to_string()))
        // The record found, for the request to go the way of a retry from.
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(corrupt)?;
    Ok(TransactWriteItem::builder().put(put).build())
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
        key_pk(key)
    }

    /// An update of the item that holds `key`.
    fn update_key(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::pk(key)))
            .key("sk", AttributeValue::S(SK.into()))
    }

    async fn take_over(
        &self,
        key: &str,
        dead_token: &str,
        now: i64,
        lock_until: i64,
        origin: String,
    ) -> Result<Claim, StoreError> {
        let token = ulid::Ulid::new().to_string();
        let result = self
            .update_key(key)
            .update_expression("SET #token = :token, lock_until = :lock_until")
            .condition_expression("#token = :dead AND #state = :in_progress AND lock_until < :now")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", AttributeValue::S(token.clone()))
            .expression_attribute_values(":lock_until", AttributeValue::N(lock_until.to_string()))
            .expression_attribute_values(":dead", AttributeValue::S(dead_token.into()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Claim::Acquired { token, origin, recovering: true }),
            Err(err) => err,
        };
        match err.as_service_error() {
            // Our own takeover landed on an attempt whose answer was lost.
            Some(UpdateItemError::ConditionalCheckFailedException(e)) if matches!(e.item.as_ref().and_then(|i| i.get("token")), Some(AttributeValue::S(t)) if *t == token) => {
                Ok(Claim::Acquired { token, origin, recovering: true })
            }
            // Another retry took it over first.
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(Claim::InProgress),
            _ => Err(store_error(err)),
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
    async fn claim(&self, key: &str, fp: &RequestFingerprint, now: i64, lock_until: i64) -> Result<Claim, StoreError> {
        let token = ulid::Ulid::new().to_string();
        let item = IdempotencyItem {
            pk: Self::pk(key),
            sk: SK.into(),
            entity: "idempotency_key".into(),
            state: IN_PROGRESS.into(),
            fingerprint: fp.current().into(),
            token: token.clone(),
            lock_until,
            origin: token.clone(),
            status_code: None,
            body: None,
            ttl: now + KEY_RETENTION_SECS,
        };
        // Free, or expired (TTL deletes lazily): a fresh claim, in one call.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Claim::Acquired { origin: token.clone(), token, recovering: false }),
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(c)) => c.item.clone(),
            _ => return Err(store_error(err)),
        };
        let existing: IdempotencyItem = match old {
            Some(item) => serde_dynamo::from_item(item).map_err(corrupt)?,
            // Deleted between the two calls: the caller may simply try again.
            None => self.read(key).await?.ok_or(StoreError::Conflict)?,
        };
        if existing.token == token {
            // Our own put landed on an earlier attempt whose answer was lost.
            return Ok(Claim::Acquired { origin: token.clone(), token, recovering: false });
        }
        let (dead, origin) = (existing.token.clone(), existing.origin.clone());
        // Not expired (the put would have passed): a different request, an answer, a claim
        // still live, or else an attempt that outlived its invocation's deadline: it died.
        // Take over, keeping the origin the first attempt derived its ids from.
        match existing.found().decided(fp, now) {
            Some(claim) => Ok(claim),
            None => self.take_over(key, &dead, now, lock_until, origin).await,
        }
    }

    async fn complete(&self, key: &str, token: &str, response: &StoredResponse, now: i64) -> Result<(), StoreError> {
        self.update_key(key)
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
            .update_key(key)
            // An answer kept in the payment's own write (before the SMS went out) goes too.
            .update_expression("SET lock_until = :released, #state = :in_progress REMOVE status_code, body")
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", AttributeValue::S(token.into()))
            .expression_attribute_values(":released", AttributeValue::N("0".into()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .send()
            .await;
        match result.map_err(store_error) {
            // Someone else holds the key now: nothing of ours to release.
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
