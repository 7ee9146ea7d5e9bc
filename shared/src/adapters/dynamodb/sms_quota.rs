use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::error::store_error;
use crate::domain::Identifier;
use crate::ports::{until_next_hour, QuotaError, SmsLimits, SmsQuota, StoreError};

/// Hourly SMS counters: one item per phone (by keyed hash) and per merchant per hour, each
/// bumped by a conditional update under its cap, expiring by TTL.
///
/// Two plain updates rather than one transaction: a busy merchant's counter is a hot item, and
/// concurrent transactions on one item cancel each other, while plain updates queue.
pub struct DynamoSmsQuota {
    client: Client,
    table: String,
    limits: SmsLimits,
}

impl DynamoSmsQuota {
    pub fn new(client: Client, table: impl Into<String>, limits: SmsLimits) -> Self {
        Self { client, table: table.into(), limits }
    }

    /// Adds `delta` to a counter; with a cap, only while the counter is below it.
    async fn bump(&self, pk: &str, hour: i64, delta: i64, cap: Option<u32>) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(format!("HOUR#{hour}")))
            .update_expression("ADD sent :delta SET #ttl = :ttl, entity = :entity")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(((hour + 2) * 3600).to_string()))
            .expression_attribute_values(":entity", AttributeValue::S("sms_quota".into()));
        if let Some(cap) = cap {
            update = update
                .condition_expression("attribute_not_exists(sent) OR sent < :cap")
                .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()));
        }
        update.send().await.map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl SmsQuota for DynamoSmsQuota {
    async fn take(&self, phone_key: &str, merchant: &Identifier, now: i64) -> Result<(), QuotaError> {
        let hour = now.div_euclid(3600);
        let exceeded = || QuotaError::Exceeded { retry_after_secs: until_next_hour(now) };
        let phone = format!("QUOTA#PHONE#{phone_key}");
        match self.bump(&phone, hour, 1, Some(self.limits.per_phone)).await {
            Err(StoreError::Conflict) => return Err(exceeded()),
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        let merchant = format!("QUOTA#MERCHANT#{merchant}");
        match self.bump(&merchant, hour, 1, Some(self.limits.per_merchant)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Give the phone its unit back (best effort: at worst the phone is undercounted
                // by nothing and overcounted by one within this hour).
                if let Err(undo) = self.bump(&phone, hour, -1, None).await {
                    tracing::warn!(error = %undo, "could not return an SMS unit to the phone counter");
                }
                Err(match e {
                    StoreError::Conflict => exceeded(),
                    other => other.into(),
                })
            }
        }
    }
}
