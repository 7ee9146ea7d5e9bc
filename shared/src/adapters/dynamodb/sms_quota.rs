use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::error::corrupt;
use crate::domain::Identifier;
use crate::ports::{until_next_hour, QuotaError, SmsLimits, SmsQuota, StoreError};

/// Hourly SMS counters: one item per phone (by keyed hash) and per merchant per hour, bumped
/// together in one transaction under their caps, expiring by TTL.
pub struct DynamoSmsQuota {
    client: Client,
    table: String,
    limits: SmsLimits,
}

impl DynamoSmsQuota {
    pub fn new(client: Client, table: impl Into<String>, limits: SmsLimits) -> Self {
        Self {
            client,
            table: table.into(),
            limits,
        }
    }

    fn bump(
        &self,
        pk: String,
        hour: i64,
        cap: u32,
        ttl: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(format!("HOUR#{hour}")))
            .update_expression("ADD sent :one SET #ttl = :ttl, entity = :entity")
            .condition_expression("attribute_not_exists(sent) OR sent < :cap")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .expression_attribute_values(":entity", AttributeValue::S("sms_quota".into()))
            .build()
            .map_err(corrupt)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl SmsQuota for DynamoSmsQuota {
    async fn take(
        &self,
        phone_key: &str,
        merchant: &Identifier,
        now: i64,
    ) -> Result<(), QuotaError> {
        let hour = now.div_euclid(3600);
        let ttl = (hour + 2) * 3600;
        // Two transactions on one counter at once cancel each other (TransactionConflict):
        // try again a few times before calling it contention.
        for _ in 0..3 {
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.bump(
                    format!("QUOTA#PHONE#{phone_key}"),
                    hour,
                    self.limits.per_phone,
                    ttl,
                )?)
                .transact_items(self.bump(
                    format!("QUOTA#MERCHANT#{merchant}"),
                    hour,
                    self.limits.per_merchant,
                    ttl,
                )?)
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e))
                    if e.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    return Err(QuotaError::Exceeded {
                        retry_after_secs: until_next_hour(now),
                    });
                }
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => continue,
                _ => {
                    return Err(
                        StoreError::Unavailable(DisplayErrorContext(err).to_string()).into(),
                    )
                }
            }
        }
        Err(StoreError::Conflict.into())
    }
}
