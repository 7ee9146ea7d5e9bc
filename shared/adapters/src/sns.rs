use async_trait::async_trait;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::domain::Phone;
use crate::ports::{CodeSender, SendError, SmsText};

/// Sends codes as transactional SMS through SNS (Publish straight to the phone number).
pub struct SnsCodeSender {
    client: aws_sdk_sns::Client,
    sender_id: Option<String>,
}

impl SnsCodeSender {
    pub fn new(client: aws_sdk_sns::Client, sender_id: Option<String>) -> Self {
        Self { client, sender_id }
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, SendError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SendError(e.to_string()))
}

#[async_trait]
impl CodeSender for SnsCodeSender {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<(), SendError> {
        let mut publish = self
            .client
            .publish()
            .phone_number(to.expose())
            .message(&text.0)
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?);
        if let Some(id) = &self.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", string_attribute(id)?);
        }
        publish.send().await.map_err(|e| {
            // Only the error's code: SNS messages can quote the phone number back.
            let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("no service response");
            SendError(format!("SNS publish failed: {code}"))
        })?;
        Ok(())
    }
}
