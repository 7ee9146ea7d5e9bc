//! A payment's conditional UpdateItems, each a rule of the state machine as its condition, with
//! no read before it: a merchant's cancel, a manual capture's claim, and a refund's write and
//! settlement.
//!
//! A payment's refunds are in its own item (`refunds.<id>`), each added and settled by one
//! conditional UpdateItem: the rules of `Command::RefundPayment` are the condition of the write
//! that creates the refund (never a read before it), and the write answers with the payment as it
//! now stands (or, refused, as it was found), so a refund costs no read of its own. A settlement
//! touches its refund only: it answers nothing (the caller applies it to the payment it holds).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::error::{corrupt, store_error};
use super::items::{due_pk, due_sk, payment_pk, PaymentItem, RefundItem, PAYMENT_SK};
use super::payment_store::DynamoPaymentStore;
use crate::domain::{
    Identifier, Payment, PaymentId, PaymentStatus, Refund, RefundStatus, MAX_REFUNDS, REFUND_GRACE_SECS,
};
use crate::ports::{CancelClaim, CaptureClaim, ConditionalWrite, NewRefund, StoreError};

type Item = std::collections::HashMap<String, AttributeValue>;

/// `Payment::check_refund`'s rules as a condition: the caller's captured payment, captured
/// after the window's start, with fewer than `MAX_REFUNDS` refunds, none of this id, and at
/// least the amount left to refund.
/// `Command::RequestCapture`'s rule as a condition: the caller's payment, awaiting its capture
/// before its `capture_before` (the amount's bound is added where one is asked for).
const CAPTURABLE: &str = "merchant_id = :merchant AND #status = :requires_capture AND capture_before > :now";

/// `Command::Cancel`'s rule as a condition: the caller's payment, awaiting its code or its
/// capture.
const CANCELABLE: &str = "merchant_id = :merchant AND #status IN (:requires_verification, :requires_capture)";

const REFUNDABLE: &str = "merchant_id = :merchant AND #status = :succeeded AND captured_at > :window_start \
     AND size(refunds) < :max AND refundable >= :amount AND attribute_not_exists(refunds.#rid)";

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

impl DynamoPaymentStore {
    fn payment_from(&self, item: Item) -> Result<Payment, StoreError> {
        serde_dynamo::from_item::<_, PaymentItem>(item).map_err(corrupt)?.into_payment(self.vault())
    }

    /// The payment as written (`ALL_NEW`), or as its condition found it (`ALL_OLD`).
    fn conditional_outcome<R: std::fmt::Debug>(
        &self,
        result: Result<Option<Item>, SdkError<UpdateItemError, R>>,
    ) -> Result<ConditionalWrite, StoreError> {
        match result {
            Ok(item) => {
                let item = item.ok_or_else(|| corrupt("a conditional update returned no payment"))?;
                Ok(ConditionalWrite::Written(Box::new(self.payment_from(item)?)))
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
                    let found = e.item.clone().map(|item| self.payment_from(item)).transpose()?;
                    Ok(ConditionalWrite::Refused(found.map(Box::new)))
                }
                _ => Err(store_error(err)),
            },
        }
    }

    /// An UpdateItem of the payment `id` by its merchant's request: the values every such write
    /// uses (`#status`, `:merchant`, `:one`, a fresh `:write`, the due index at `due_at` as
    /// `:due_pk`/`:due_sk`), answering the payment as written or, refused, as found.
    fn merchant_update(&self, id: &PaymentId, merchant: &Identifier, due_at: i64) -> UpdateItemFluentBuilder {
        self.client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(&payment_pk(id)))
            .key("sk", s(PAYMENT_SK))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":merchant", s(merchant.as_str()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":write", s(&ulid::Ulid::new().to_string()))
            .expression_attribute_values(":due_pk", s(&due_pk(id)))
            .expression_attribute_values(":due_sk", s(&due_sk(due_at, id)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    pub(super) async fn write_cancel(&self, claim: &CancelClaim<'_>) -> Result<ConditionalWrite, StoreError> {
        // Due for the sweeper at once: it voids what the payment holds if this request cannot.
        let result = self
            .merchant_update(claim.payment_id, claim.merchant_id, claim.now)
            .update_expression(
                "SET #status = :canceled, cancellation_reason = :reason, version = version + :one, \
                 updated_at = :now, write_id = :write, gsi2pk = :due_pk, gsi2sk = :due_sk \
                 REMOVE sealed_card, sealed_phone, phone_cc",
            )
            .condition_expression(CANCELABLE)
            .expression_attribute_values(":requires_verification", s(PaymentStatus::RequiresVerification.as_str()))
            .expression_attribute_values(":requires_capture", s(PaymentStatus::RequiresCapture.as_str()))
            .expression_attribute_values(":canceled", s(PaymentStatus::Canceled.as_str()))
            .expression_attribute_values(":reason", s(claim.reason.as_str()))
            .expression_attribute_values(":now", n(claim.now))
            .send()
            .await;
        self.conditional_outcome(result.map(|out| out.attributes))
    }

    pub(super) async fn write_capture_claim(&self, claim: &CaptureClaim<'_>) -> Result<ConditionalWrite, StoreError> {
        // Due for the sweeper from now: it finishes a capture left past its grace.
        let update = self
            .merchant_update(claim.payment_id, claim.merchant_id, claim.now)
            .expression_attribute_values(":requires_capture", s(PaymentStatus::RequiresCapture.as_str()))
            .expression_attribute_values(":capturing", s(PaymentStatus::Capturing.as_str()))
            .expression_attribute_values(":now", n(claim.now));
        let set = "SET #status = :capturing, version = version + :one, updated_at = :now, write_id = :write, \
                   gsi2pk = :due_pk, gsi2sk = :due_sk, amount_to_capture =";
        let update = match claim.amount {
            Some(amount) => update
                .update_expression(format!("{set} :amount"))
                .condition_expression(format!("{CAPTURABLE} AND amount >= :amount"))
                .expression_attribute_values(":amount", n(amount)),
            // All that was authorised.
            None => update.update_expression(format!("{set} amount")).condition_expression(CAPTURABLE),
        };
        self.conditional_outcome(update.send().await.map(|out| out.attributes))
    }

    pub(super) async fn write_refund(&self, new: &NewRefund<'_>) -> Result<ConditionalWrite, StoreError> {
        let refund = new.refund;
        let item = serde_dynamo::to_attribute_value(RefundItem::from_refund(refund)).map_err(corrupt)?;
        let due = new.now + REFUND_GRACE_SECS;
        let result = self
            .merchant_update(new.payment_id, new.merchant_id, due)
            // The sweeper finishes a refund its request left pending: the payment is due (an
            // earlier due time is kept).
            .update_expression(
                "SET refunds.#rid = :refund, refundable = refundable - :amount, version = version + :one, \
                 write_id = :write, gsi2pk = if_not_exists(gsi2pk, :due_pk), gsi2sk = if_not_exists(gsi2sk, :due_sk)",
            )
            .condition_expression(REFUNDABLE)
            .expression_attribute_names("#rid", refund.id.as_str())
            .expression_attribute_values(":refund", item)
            .expression_attribute_values(":amount", n(refund.amount))
            .expression_attribute_values(":succeeded", s(PaymentStatus::Succeeded.as_str()))
            .expression_attribute_values(":window_start", n(new.now - new.window_secs))
            .expression_attribute_values(":max", n(MAX_REFUNDS))
            .send()
            .await;
        self.conditional_outcome(result.map(|out| out.attributes))
    }

    pub(super) async fn write_settlement(&self, payment_id: &PaymentId, refund: &Refund) -> Result<bool, StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(&payment_pk(payment_id)))
            .key("sk", s(PAYMENT_SK))
            .condition_expression("refunds.#rid.#status = :pending")
            .expression_attribute_names("#rid", refund.id.as_str())
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(RefundStatus::Pending.as_str()))
            .expression_attribute_values(":now", s(refund.status.as_str()))
            .expression_attribute_values(":at", n(refund.updated_at))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":write", s(&ulid::Ulid::new().to_string()));
        let set = "SET refunds.#rid.#status = :now, refunds.#rid.updated_at = :at, version = version + :one, \
                   write_id = :write";
        update = match refund.failure_reason {
            // A failed refund gives its amount back.
            Some(reason) => update
                .update_expression(format!(
                    "{set}, refunds.#rid.failure_reason = :reason, refundable = refundable + :amount"
                ))
                .expression_attribute_values(":reason", s(reason.as_str()))
                .expression_attribute_values(":amount", n(refund.amount)),
            None => update.update_expression(set),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(store_error(err)),
            },
        }
    }
}
