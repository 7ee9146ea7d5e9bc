use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;

use super::error::{corrupt, store_error};
use super::idempotency_store::{key_found, key_pk, key_write_item, KEY_SK};
use super::items::{
    customer_pk, history_pk, history_sk, method_sk, order_pk, parse_history_sk, payment_pk, phone_context, session_pk,
    HistoryItem, MethodItem, PaymentItem, SessionItem, DUE_INDEX, DUE_SHARDS, GUARD_SK, HISTORY_INDEX,
    METHOD_SK_PREFIX, ORDER_SK, PAYMENT_SK, SESSION_DUE_PREFIX, SESSION_SK,
};
use crate::domain::{
    CheckoutSession, Customer, HistoryCursor, HistoryPage, Identifier, MethodId, Payment, PaymentId, PaymentStatus,
    Refund, SessionId,
};
use crate::ports::{
    Admission, Admit, AttemptCharge, AttemptLimit, CancelClaim, CaptureClaim, ConditionalWrite, DueCursor, Guard,
    KeyFound, NewRefund, PayerChange, PaymentStore, Rider, RiderRefusal, SavedCard, SavedMethod, SessionMove,
    SmsCharge, SmsCounter, StoreError,
};
use crate::secrets::CardVault;

type Item = HashMap<String, AttributeValue>;

/// The order is held by no payment (never, or given back), or by `:payment` itself.
const ORDER_FREE_OR_OURS: &str = "attribute_not_exists(payment_id) OR payment_id = :payment";
/// A guard not locked at `:now` ([`PayerChange::admits`], [`Admit::admits_payer`]).
const UNLOCKED: &str = "attribute_not_exists(#until) OR #until <= :now";

/// Which rider, if any, an item of a transaction belongs to: a refusal is read by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The payment, or an item written at the version read (a session, a guard, a canceled
    /// payment), or one that cannot refuse: its failure is a race.
    Plain,
    Order,
    Payer,
    Key,
    Sms(SmsCounter),
    Admit,
    Attempts(AttemptLimit),
}

/// What a cancelled transaction's reasons (`code(i)` for item `i` of `slots`, and the key's
/// record as item `i` returned it) mean: the payment's own conflict first (the caller reads
/// again), then the key, the order, the payer, the admission, the counters; anything else is a
/// race too.
fn refusal<'a>(
    slots: &[Slot],
    code: impl Fn(usize) -> &'a str,
    record: impl Fn(usize) -> Option<KeyFound>,
) -> StoreError {
    let failed = |i: usize| code(i) == "ConditionalCheckFailed";
    let any = |slot: Slot, hit: &dyn Fn(usize) -> bool| slots.iter().enumerate().any(|(i, s)| *s == slot && hit(i));
    if any(Slot::Plain, &failed) {
        return StoreError::Conflict;
    }
    // Another request with the same key got there first (or is writing it now).
    let key_taken = |i: usize| matches!(code(i), "ConditionalCheckFailed" | "TransactionConflict");
    if let Some(i) = slots.iter().enumerate().position(|(i, s)| *s == Slot::Key && key_taken(i)) {
        return StoreError::Refused(RiderRefusal::Key(record(i).map(Box::new)));
    }
    if any(Slot::Order, &failed) {
        return StoreError::Refused(RiderRefusal::Order);
    }
    if any(Slot::Payer, &failed) {
        return StoreError::Refused(RiderRefusal::Payer);
    }
    if any(Slot::Admit, &failed) {
        return StoreError::Refused(RiderRefusal::Admission);
    }
    // A counter at its cap refuses; one a concurrent transaction is changing is busy. The
    // first counter in the transaction's order names the refusal (a card attempt's come
    // before its SMS's).
    for (i, slot) in slots.iter().enumerate() {
        let busy = match code(i) {
            "ConditionalCheckFailed" => false,
            "TransactionConflict" => true,
            _ => continue,
        };
        match slot {
            Slot::Attempts(limit) => return StoreError::Refused(RiderRefusal::Attempts { limit: *limit, busy }),
            Slot::Sms(counter) => return StoreError::Refused(RiderRefusal::Sms { counter: *counter, busy }),
            Slot::Plain | Slot::Order | Slot::Payer | Slot::Key | Slot::Admit => {}
        }
    }
    // Another item moved on since it was read, or a concurrent transaction touched one: the
    // caller reads again and decides.
    StoreError::Conflict
}

/// A transaction's items, each with the rider it belongs to.
#[derive(Default)]
struct Transaction {
    items: Vec<TransactWriteItem>,
    slots: Vec<Slot>,
}

impl Transaction {
    fn push(&mut self, slot: Slot, item: TransactWriteItem) {
        self.items.push(item);
        self.slots.push(slot);
    }

    fn put(&mut self, slot: Slot, put: Put) {
        self.push(slot, TransactWriteItem::builder().put(put).build());
    }

    fn update(&mut self, slot: Slot, update: Update) {
        self.push(slot, TransactWriteItem::builder().update(update).build());
    }

    fn check(&mut self, slot: Slot, check: ConditionCheck) {
        self.push(slot, TransactWriteItem::builder().condition_check(check).build());
    }
}

pub struct DynamoPaymentStore {
    client: Client,
    table: String,
    /// Seals and opens the phone numbers items keep; `None` in a function that holds no card
    /// key (it reads payments with their phones masked, and never writes a number).
    vault: Option<CardVault>,
}

impl DynamoPaymentStore {
    pub fn new(client: Client, table: impl Into<String>, vault: Option<CardVault>) -> Self {
        Self { client, table: table.into(), vault }
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }

    pub(super) fn vault(&self) -> Option<&CardVault> {
        self.vault.as_ref()
    }

    /// The item to write at `version`, stamped with a fresh write id.
    fn payment_item(&self, payment: &Payment, version: u64) -> Result<(Item, String), StoreError> {
        let write_id = ulid::Ulid::new().to_string();
        let item = PaymentItem::from_payment(payment, version, write_id.clone(), self.vault.as_ref())?;
        Ok((serde_dynamo::to_item(item).map_err(corrupt)?, write_id))
    }

    /// Whether a write whose condition failed had in fact landed already: the SDK retries an
    /// attempt whose answer was lost (a timeout, a 500), and the retry then finds our own item.
    fn is_own_write(current: Option<&Item>, write_id: &str) -> bool {
        matches!(current.and_then(|i| i.get("write_id")), Some(AttributeValue::S(id)) if id == write_id)
    }

    /// A conditional put that counts finding its own earlier landing as success.
    async fn put_if(
        &self,
        item: Item,
        write_id: &str,
        condition: &str,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(version) = expected {
            put = put.expression_attribute_values(":expected", AttributeValue::N(version.to_string()));
        }
        match put.send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e))
                    if Self::is_own_write(e.item.as_ref(), write_id) =>
                {
                    Ok(())
                }
                _ => Err(store_error(err)),
            },
        }
    }

    /// Upserts a saved method. An existing one keeps the phone it is bound to (and its
    /// ciphertext): a later payment can never redirect an earlier card's codes.
    fn save_method_update(&self, m: &SavedMethod) -> Result<Update, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let pk = customer_pk(&m.customer);
        let sk = method_sk(&m.id);
        let vault = self.vault.as_ref().ok_or_else(|| corrupt("no key to seal a saved card's phone"))?;
        let sealed_phone = vault.seal_text(&phone_context(&format!("{pk}|{sk}")), m.phone.expose()).map_err(corrupt)?;
        let n = |v: i64| AttributeValue::N(v.to_string());
        Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .update_expression(
                "SET entity = :entity, payment_method_id = :id, merchant_id = :merchant, user_id = :user, brand = :brand, last4 = :last4, \
                 exp_month = :month, exp_year = :year, fingerprint = :fp, saved_at = :now, \
                 sealed_phone = if_not_exists(sealed_phone, :phone), phone_masked = if_not_exists(phone_masked, :masked), phone_cc = if_not_exists(phone_cc, :cc), sealed_card = if_not_exists(sealed_card, :card), \
                 network_reference = if_not_exists(network_reference, :ntr), created_at = if_not_exists(created_at, :now)",
            )
            .expression_attribute_values(":entity", s("payment_method"))
            .expression_attribute_values(":id", s(m.id.as_str()))
            .expression_attribute_values(":merchant", s(m.customer.merchant_id.as_str()))
            .expression_attribute_values(":user", s(m.customer.user_id.as_str()))
            .expression_attribute_values(":brand", s(m.brand.as_str()))
            .expression_attribute_values(":last4", s(&m.last4))
            .expression_attribute_values(":month", n(m.expiry.month.into()))
            .expression_attribute_values(":year", n(m.expiry.year.into()))
            .expression_attribute_values(":fp", s(&m.fingerprint))
            .expression_attribute_values(":now", n(m.saved_at))
            .expression_attribute_values(":phone", s(&sealed_phone))
            .expression_attribute_values(":masked", s(&m.phone.masked()))
            // An item saved before `phone_cc` existed gets the new phone's code here; reading
            // it back checks the code against the number and parses when they disagree.
            .expression_attribute_values(":cc", n(m.phone.country_code().into()))
            .expression_attribute_values(":card", s(&m.sealed_card))
            // A card saved without the network's reference keeps none; stored as empty.
            .expression_attribute_values(":ntr", s(m.network_reference.as_deref().unwrap_or("")))
            .build()
            .map_err(corrupt)
    }

    /// One code SMS: each counter of the charge bumped only while under its cap, in the order
    /// [`refusal`] reads them in.
    fn sms_updates(&self, charge: &SmsCharge, tx: &mut Transaction) -> Result<(), StoreError> {
        for (counter, pk, cap) in charge.counters() {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(charge.window(counter)))
                .update_expression("ADD sent :one SET #ttl = :ttl, entity = :entity")
                .condition_expression("attribute_not_exists(sent) OR sent < :cap")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()))
                .expression_attribute_values(":ttl", AttributeValue::N(charge.expires_at(counter).to_string()))
                .expression_attribute_values(":entity", AttributeValue::S("sms_quota".into()))
                .build()
                .map_err(corrupt)?;
            tx.update(Slot::Sms(counter), update);
        }
        Ok(())
    }

    /// One card attempt: each velocity counter bumped only while under its cap.
    fn attempt_updates(&self, charge: &AttemptCharge, tx: &mut Transaction) -> Result<(), StoreError> {
        for c in &charge.counters {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(c.key.clone()))
                .key("sk", AttributeValue::S(c.window.clone()))
                .update_expression("ADD tried :one SET #ttl = :ttl, entity = :entity")
                .condition_expression("attribute_not_exists(tried) OR tried < :cap")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":cap", AttributeValue::N(c.cap.to_string()))
                .expression_attribute_values(":ttl", AttributeValue::N(c.expires_at.to_string()))
                .expression_attribute_values(":entity", AttributeValue::S("attempt_counter".into()))
                .build()
                .map_err(corrupt)?;
            tx.update(Slot::Attempts(c.limit), update);
        }
        Ok(())
    }

    /// Claims the payment's order for it: a put that succeeds only where no other payment
    /// holds the order (this one's own earlier landing passes).
    fn order_claim(&self, payment: &Payment) -> Result<Put, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        Put::builder()
            .table_name(&self.table)
            .item("pk", s(&order_pk(&payment.merchant_id, &payment.order_id)))
            .item("sk", s(ORDER_SK))
            .item("entity", s("order"))
            .item("merchant_id", s(payment.merchant_id.as_str()))
            .item("order_id", s(payment.order_id.as_str()))
            .item("payment_id", s(payment.id.as_str()))
            .item("paid_at", AttributeValue::N(payment.updated_at.to_string()))
            // A released order (its holder failed) has no payment_id: it can be claimed again.
            .condition_expression(ORDER_FREE_OR_OURS)
            .expression_attribute_values(":payment", s(payment.id.as_str()))
            .build()
            .map_err(corrupt)
    }

    /// Gives the payment's order up: only the payment holding it can.
    fn order_release(&self, payment: &Payment) -> Result<Update, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        Update::builder()
            .table_name(&self.table)
            .key("pk", s(&order_pk(&payment.merchant_id, &payment.order_id)))
            .key("sk", s(ORDER_SK))
            .update_expression("REMOVE payment_id SET released_at = :now")
            .condition_expression("payment_id = :payment")
            .expression_attribute_values(":payment", s(payment.id.as_str()))
            .expression_attribute_values(":now", AttributeValue::N(payment.updated_at.to_string()))
            .build()
            .map_err(corrupt)
    }

    /// A guard written back at the version it was read (created if it was missing).
    fn guard_put(&self, guard: &Guard) -> Result<Put, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: i64| AttributeValue::N(v.to_string());
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&guard.key))
            .item("sk", s(GUARD_SK))
            .item("entity", s("guard"))
            .item("count", AttributeValue::N(guard.count.to_string()))
            .item("version", AttributeValue::N((guard.version + 1).to_string()))
            .item("ttl", n(guard.expires_at));
        if let Some(until) = guard.until {
            put = put.item("until", n(until));
        }
        put = if guard.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(guard.version.to_string()))
        };
        put.build().map_err(corrupt)
    }

    /// The payer's two guards changed under a condition: [`PayerChange::admits`] as a
    /// DynamoDB condition.
    fn payer_updates(&self, change: PayerChange<'_>) -> Result<Vec<Update>, StoreError> {
        let (keys, now, expires_at, set, condition, below) = match change {
            PayerChange::Count { keys, now, below, expires_at } => (
                keys,
                now,
                expires_at,
                "#count = if_not_exists(#count, :zero) + :one",
                "(attribute_not_exists(#until) OR #until <= :now) AND (attribute_not_exists(#count) OR #count < :below)",
                Some(below),
            ),
            PayerChange::Reset { keys, now, expires_at } => {
                (keys, now, expires_at, "#count = :zero", UNLOCKED, None)
            }
        };
        let n = |v: i64| AttributeValue::N(v.to_string());
        keys.iter()
            .map(|key| {
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", AttributeValue::S(key.clone()))
                    .key("sk", AttributeValue::S(GUARD_SK.into()))
                    // The version moves too: a careful write at the version read before fails.
                    .update_expression(format!(
                        "SET {set}, version = if_not_exists(version, :zero) + :one, #ttl = :ttl, entity = :entity"
                    ))
                    .condition_expression(condition)
                    .expression_attribute_names("#count", "count")
                    .expression_attribute_names("#until", "until")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":now", n(now))
                    .expression_attribute_values(":ttl", n(expires_at))
                    .expression_attribute_values(":entity", AttributeValue::S("guard".into()));
                if let Some(below) = below {
                    update = update.expression_attribute_values(":below", n(below.into()));
                }
                update.build().map_err(corrupt)
            })
            .collect()
    }

    fn guard_from(key: &str, item: Option<&Item>) -> Guard {
        let num = |name: &str| match item.and_then(|i| i.get(name)) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
            _ => None,
        };
        Guard {
            key: key.to_owned(),
            count: num("count").and_then(|c| u32::try_from(c).ok()).unwrap_or(0),
            until: num("until"),
            version: num("version").and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
            expires_at: num("ttl").unwrap_or(0),
        }
    }

    /// The items of `riders`, after the payment's own.
    fn add_riders(&self, payment: &Payment, riders: &[Rider<'_>], tx: &mut Transaction) -> Result<(), StoreError> {
        for rider in riders {
            match rider {
                Rider::ClaimOrder => tx.put(Slot::Order, self.order_claim(payment)?),
                Rider::ReleaseOrder => tx.update(Slot::Plain, self.order_release(payment)?),
                Rider::SaveCard(method) => tx.update(Slot::Plain, self.save_method_update(method)?),
                Rider::GuardAt(guard) => tx.put(Slot::Plain, self.guard_put(guard)?),
                Rider::Payer(change) => {
                    for update in self.payer_updates(*change)? {
                        tx.update(Slot::Payer, update);
                    }
                }
                Rider::Sms(charge) => self.sms_updates(charge, tx)?,
                Rider::Key(key) => tx.push(Slot::Key, key_write_item(&self.table, key)?),
                Rider::Session(link) => self.session_move(payment, link, tx)?,
                Rider::Admit(admit) => self.admit_checks(payment, admit, tx)?,
                Rider::Attempts(charge) => self.attempt_updates(charge, tx)?,
            }
        }
        Ok(())
    }

    /// [`Admit`]'s rules as condition checks: the order ([`Admit::admits_order`]), the payer's
    /// guards ([`Admit::admits_payer`]), the decline counters ([`Admit::admits_count`]).
    fn admit_checks(&self, payment: &Payment, admit: &Admit, tx: &mut Transaction) -> Result<(), StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let check =
            |pk: String, sk: &str| ConditionCheck::builder().table_name(&self.table).key("pk", s(&pk)).key("sk", s(sk));
        let order = check(order_pk(&payment.merchant_id, &payment.order_id), ORDER_SK)
            .condition_expression(ORDER_FREE_OR_OURS)
            .expression_attribute_values(":payment", s(payment.id.as_str()));
        tx.check(Slot::Admit, order.build().map_err(corrupt)?);
        for key in &admit.payers {
            let payer = check(key.clone(), GUARD_SK)
                .condition_expression(UNLOCKED)
                .expression_attribute_names("#until", "until")
                .expression_attribute_values(":now", AttributeValue::N(admit.now.to_string()));
            tx.check(Slot::Admit, payer.build().map_err(corrupt)?);
        }
        for (key, cap) in &admit.caps {
            let counter = check(key.clone(), GUARD_SK)
                .condition_expression("attribute_not_exists(#count) OR #count < :cap")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()));
            tx.check(Slot::Admit, counter.build().map_err(corrupt)?);
        }
        Ok(())
    }

    /// The session moves to the new payment (at the version read, not ended), its pending
    /// payment written canceled at its version.
    fn session_move(&self, payment: &Payment, link: &SessionMove, tx: &mut Transaction) -> Result<(), StoreError> {
        let session = &link.session;
        let moved = CheckoutSession { payment_id: Some(payment.id.clone()), ..session.clone() };
        let (item, _) = Self::session_item(&moved, session.version + 1)?;
        tx.put(Slot::Plain, self.versioned_put(item, session.version, " AND attribute_not_exists(ended_at)")?);
        if let Some(put) = self.cancel_put(link.cancel.as_ref())? {
            tx.push(Slot::Plain, put);
        }
        Ok(())
    }

    /// The table keys (`pk`) due at `now` on the due index's partitions `prefix0..prefix3`, up
    /// to `limit` per shard after `after`; and where this page got to.
    async fn due_keys(
        &self,
        prefix: &str,
        now: i64,
        limit: u8,
        after: &DueCursor,
    ) -> Result<(Vec<String>, DueCursor), StoreError> {
        let (mut keys, mut next) = (Vec::new(), after.clone());
        // Every id sorts before `~`: everything due at or before `now`.
        let bound = format!("{:012}#~", now.max(0));
        for shard in 0..DUE_SHARDS {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .expression_attribute_values(":shard", AttributeValue::S(format!("{prefix}{shard}")))
                .expression_attribute_values(":bound", AttributeValue::S(bound.clone()))
                .limit(i32::from(limit));
            let query = match after.0.get(&shard) {
                // The smallest key after the last one read: that key with a NUL appended.
                Some(last) => query
                    .key_condition_expression("gsi2pk = :shard AND gsi2sk BETWEEN :from AND :bound")
                    .expression_attribute_values(":from", AttributeValue::S(format!("{last}\0"))),
                None => query.key_condition_expression("gsi2pk = :shard AND gsi2sk <= :bound"),
            };
            let out = query.send().await.map_err(store_error)?;
            for item in out.items.unwrap_or_default() {
                if let Some(AttributeValue::S(sk)) = item.get("gsi2sk") {
                    next.0.insert(shard, sk.clone());
                }
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    keys.push(pk.clone());
                }
            }
        }
        Ok((keys, next))
    }

    /// One item by its key, read consistently.
    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(out.item)
    }

    /// One TransactWriteItems whose first item is stamped `write_id`: finding that item's own
    /// earlier landing (a retried attempt whose answer was lost) counts as success.
    /// A refusal is read by the rider each item belongs to ([`refusal`]).
    async fn transact_items(&self, tx: Transaction, write_id: &str) -> Result<(), StoreError> {
        let result = self.client.transact_write_items().set_transact_items(Some(tx.items)).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() else {
            return Err(StoreError::Unavailable(DisplayErrorContext(err).to_string()));
        };
        let reasons = e.cancellation_reasons();
        if let Some(r) = reasons.first() {
            if Self::is_own_write(r.item.as_ref(), write_id) {
                return Ok(());
            }
        }
        let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        // A key's claim returns the record it found (a retry decides from it, no read of its own).
        let record = |i: usize| reasons.get(i).and_then(|r| r.item.clone()).and_then(|item| key_found(item).ok());
        Err(refusal(&tx.slots, code, record))
    }

    /// A put of a new item inside a transaction (its own earlier landing is told by `write_id`).
    fn new_put(&self, item: Item) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(corrupt)
    }

    /// A version-checked put of `item` (already at the next version) inside a transaction.
    fn versioned_put(&self, item: Item, expected: u64, extra_condition: &str) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!("version = :expected{extra_condition}"))
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(corrupt)
    }

    fn session_item(session: &CheckoutSession, version: u64) -> Result<(Item, String), StoreError> {
        let write_id = ulid::Ulid::new().to_string();
        let item = SessionItem::from_session(session, version, write_id.clone());
        Ok((serde_dynamo::to_item(item).map_err(corrupt)?, write_id))
    }

    /// The session's pending payment, written canceled in a transaction.
    fn cancel_put(&self, cancel: Option<&Payment>) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(p) = cancel else { return Ok(None) };
        let (item, _) = self.payment_item(p, p.version + 1)?;
        Ok(Some(TransactWriteItem::builder().put(self.versioned_put(item, p.version, "")?).build()))
    }

    fn payment_of(&self, item: Item) -> Result<Payment, StoreError> {
        serde_dynamo::from_item::<_, PaymentItem>(item).map_err(corrupt)?.into_payment(self.vault.as_ref())
    }

    /// Items by key (`pk`, `sk`), read consistently in one BatchGetItem, by their `pk`.
    async fn batch_get(&self, keys: Vec<(String, &str)>) -> Result<HashMap<String, Item>, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for (pk, sk) in &keys {
            wanted = wanted.keys(HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]));
        }
        let mut request = HashMap::from([(self.table.clone(), wanted.build().map_err(corrupt)?)]);
        let mut found: Vec<Item> = Vec::new();
        // Unprocessed keys (throttling) are asked again, a few times.
        for _ in 0..5 {
            let out =
                self.client.batch_get_item().set_request_items(Some(request)).send().await.map_err(store_error)?;
            found.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            match out.unprocessed_keys.filter(|u| !u.is_empty()) {
                None => {
                    let pk_of = |i: &Item| match i.get("pk") {
                        Some(AttributeValue::S(pk)) => Some(pk.clone()),
                        _ => None,
                    };
                    return Ok(found.into_iter().filter_map(|i| Some((pk_of(&i)?, i))).collect());
                }
                Some(unprocessed) => request = unprocessed,
            }
        }
        Err(StoreError::Unavailable("batch read left keys unprocessed".into()))
    }

    async fn query_methods(&self, customer: &Customer) -> Result<Vec<SavedMethod>, StoreError> {
        let mut methods = self
            .query_method_items(customer)
            .await?
            .into_iter()
            .map(|item| item.into_method(self.vault.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        methods.sort_by_key(|m| std::cmp::Reverse(m.saved_at));
        Ok(methods)
    }

    async fn query_method_items(&self, customer: &Customer) -> Result<Vec<MethodItem>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(customer_pk(customer)))
            .expression_attribute_values(":prefix", AttributeValue::S(METHOD_SK_PREFIX.into()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(store_error)?;
        items.into_iter().map(|item| serde_dynamo::from_item::<_, MethodItem>(item).map_err(corrupt)).collect()
    }
}

#[async_trait]
impl PaymentStore for DynamoPaymentStore {
    async fn insert(&self, payment: &Payment, riders: &[Rider<'_>]) -> Result<(), StoreError> {
        let (item, write_id) = self.payment_item(payment, payment.version)?;
        if riders.is_empty() {
            return self.put_if(item, &write_id, "attribute_not_exists(pk)", None).await;
        }
        let mut tx = Transaction::default();
        tx.put(Slot::Plain, self.new_put(item)?);
        self.add_riders(payment, riders, &mut tx)?;
        self.transact_items(tx, &write_id).await
    }

    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.get_item(payment_pk(id), PAYMENT_SK).await?.map(|item| self.payment_of(item)).transpose()
    }

    async fn get_with_key(&self, id: &PaymentId, key: &str) -> Result<(Option<Payment>, Option<KeyFound>), StoreError> {
        let (payment, key) = (payment_pk(id), key_pk(key));
        let mut by_pk = self.batch_get(vec![(payment.clone(), PAYMENT_SK), (key.clone(), KEY_SK)]).await?;
        let found = by_pk.remove(&key).map(key_found).transpose()?;
        Ok((by_pk.remove(&payment).map(|item| self.payment_of(item)).transpose()?, found))
    }

    async fn transact(&self, payment: &Payment, riders: &[Rider<'_>]) -> Result<(), StoreError> {
        let (item, write_id) = self.payment_item(payment, payment.version + 1)?;
        if riders.is_empty() {
            return self.put_if(item, &write_id, "version = :expected", Some(payment.version)).await;
        }
        let mut tx = Transaction::default();
        tx.put(Slot::Plain, self.versioned_put(item, payment.version, "")?);
        self.add_riders(payment, riders, &mut tx)?;
        self.transact_items(tx, &write_id).await
    }

    async fn cancel(&self, claim: &CancelClaim<'_>) -> Result<ConditionalWrite, StoreError> {
        self.write_cancel(claim).await
    }

    async fn claim_capture(&self, claim: &CaptureClaim<'_>) -> Result<ConditionalWrite, StoreError> {
        self.write_capture_claim(claim).await
    }

    async fn add_refund(&self, new: &NewRefund<'_>) -> Result<ConditionalWrite, StoreError> {
        self.write_refund(new).await
    }

    async fn settle_refund(&self, payment_id: &PaymentId, refund: &Refund) -> Result<bool, StoreError> {
        self.write_settlement(payment_id, refund).await
    }

    async fn admission(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
        guard_keys: &[String],
        idempotency_key: Option<&str>,
    ) -> Result<Admission, StoreError> {
        let order = order_pk(merchant_id, order_id);
        let idempotency_pk = idempotency_key.map(key_pk);
        let mut keys = vec![(order.clone(), ORDER_SK)];
        keys.extend(guard_keys.iter().map(|k| (k.clone(), GUARD_SK)));
        keys.extend(idempotency_pk.iter().map(|pk| (pk.clone(), KEY_SK)));
        let mut by_pk = self.batch_get(keys).await?;
        let order_holder = match by_pk.get(&order).and_then(|i| i.get("payment_id")) {
            None => None,
            Some(AttributeValue::S(id)) => {
                Some(PaymentId::parse(id).ok_or_else(|| corrupt(format!("order item's payment_id {id}")))?)
            }
            Some(_) => return Err(corrupt("order item's payment_id is not a string")),
        };
        let guards = guard_keys.iter().map(|k| Self::guard_from(k, by_pk.get(k))).collect();
        let key = idempotency_pk.and_then(|pk| by_pk.remove(&pk)).map(key_found).transpose()?;
        Ok(Admission { order_holder, guards, key })
    }

    async fn bump(&self, keys: &[String], expires_at: i64) -> Result<(), StoreError> {
        // Only after a decline: a few plain updates, one after the other.
        for k in keys {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(k.clone()))
                .key("sk", AttributeValue::S(GUARD_SK.into()))
                .update_expression("ADD #count :one, version :one SET #ttl = :ttl, entity = :entity")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":ttl", AttributeValue::N(expires_at.to_string()))
                .expression_attribute_values(":entity", AttributeValue::S("guard".into()))
                .send()
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    async fn count_attempts(&self, charge: &AttemptCharge) -> Result<(), StoreError> {
        // Only after a wrong code: one plain update per counter (one, the address's, in practice).
        for c in &charge.counters {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(c.key.clone()))
                .key("sk", AttributeValue::S(c.window.clone()))
                .update_expression("ADD tried :one SET #ttl = :ttl, entity = :entity")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":ttl", AttributeValue::N(c.expires_at.to_string()))
                .expression_attribute_values(":entity", AttributeValue::S("attempt_counter".into()))
                .send()
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    async fn lease(&self, payment: &PaymentId, holder: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(format!("LEASE#{payment}")))
            .item("sk", AttributeValue::S("LEASE".into()))
            .item("entity", AttributeValue::S("lease".into()))
            .item("holder", AttributeValue::S(holder.to_owned()))
            .item("until", AttributeValue::N(until.to_string()))
            .item("ttl", AttributeValue::N((until + 3_600).to_string()))
            .condition_expression("attribute_not_exists(pk) OR #until <= :now OR holder = :holder")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(false)
            }
            Err(e) => Err(store_error(e)),
        }
    }

    async fn open_for_customer(&self, customer: &Customer) -> Result<Vec<Payment>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(HISTORY_INDEX)
            .key_condition_expression("gsi1pk = :customer")
            .filter_expression("#status IN (:a, :b)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":customer",
                AttributeValue::S(history_pk(&customer.merchant_id, &customer.user_id)),
            )
            .expression_attribute_values(":a", AttributeValue::S(PaymentStatus::Authorizing.as_str().into()))
            .expression_attribute_values(":b", AttributeValue::S(PaymentStatus::RequiresVerification.as_str().into()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(store_error)?;
        // The index is eventually consistent: each payment is read from the table, as it is now.
        let mut open = Vec::with_capacity(items.len());
        for item in items {
            let p = serde_dynamo::from_item::<_, HistoryItem>(item).map_err(corrupt)?.into_payment()?;
            open.extend(self.get(&p.id).await?);
        }
        Ok(open)
    }

    async fn due(&self, now: i64, limit: u8, after: &DueCursor) -> Result<(Vec<Payment>, DueCursor), StoreError> {
        let (keys, next) = self.due_keys("DUE#", now, limit, after).await?;
        let mut due = Vec::with_capacity(keys.len());
        for pk in keys {
            // Keys only: the payment is read from the table, as it is now (the index lags).
            let Some(id) = pk.strip_prefix("PAY#").and_then(PaymentId::parse) else { continue };
            due.extend(self.get(&id).await?);
        }
        Ok((due, next))
    }

    async fn order_paid_by(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
    ) -> Result<Option<PaymentId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(order_pk(merchant_id, order_id)))
            .key("sk", AttributeValue::S(ORDER_SK.into()))
            .projection_expression("payment_id")
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        match out.item.as_ref().and_then(|i| i.get("payment_id")) {
            None => Ok(None),
            Some(AttributeValue::S(id)) => {
                PaymentId::parse(id).map(Some).ok_or_else(|| corrupt(format!("order item's payment_id {id}")))
            }
            Some(_) => Err(corrupt("order item's payment_id is not a string")),
        }
    }

    async fn find_method(&self, customer: &Customer, id: Option<&MethodId>) -> Result<Option<SavedMethod>, StoreError> {
        let to_method = |item: Item| {
            serde_dynamo::from_item::<_, MethodItem>(item).map_err(corrupt)?.into_method(self.vault.as_ref())
        };
        if let Some(id) = id {
            return self.get_item(customer_pk(customer), &method_sk(id)).await?.map(to_method).transpose();
        }
        // A customer has a handful of cards: read them all (one page in practice) and take the
        // most recently saved.
        Ok(self.query_methods(customer).await?.into_iter().next())
    }

    async fn list_methods(&self, customer: &Customer) -> Result<Vec<SavedMethod>, StoreError> {
        self.query_methods(customer).await
    }

    async fn list_cards(&self, customer: &Customer) -> Result<Vec<SavedCard>, StoreError> {
        let items = self.query_method_items(customer).await?;
        let mut cards = items.into_iter().map(MethodItem::into_card).collect::<Result<Vec<_>, _>>()?;
        cards.sort_by_key(|c| std::cmp::Reverse(c.saved_at));
        Ok(cards)
    }

    async fn delete_method(&self, customer: &Customer, id: &MethodId) -> Result<bool, StoreError> {
        let old = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(customer_pk(customer)))
            .key("sk", AttributeValue::S(method_sk(id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(store_error)?;
        Ok(old.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn touch_method(&self, customer: &Customer, id: &MethodId, at: i64) -> Result<(), StoreError> {
        let touched = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(customer_pk(customer)))
            .key("sk", AttributeValue::S(method_sk(id)))
            .update_expression("SET last_used_at = :at")
            // A card forgotten meanwhile is not brought back as a stub.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .send()
            .await;
        match touched.map_err(store_error) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn insert_session(&self, session: &CheckoutSession) -> Result<(), StoreError> {
        let (item, write_id) = Self::session_item(session, session.version)?;
        self.put_if(item, &write_id, "attribute_not_exists(pk)", None).await
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<CheckoutSession>, StoreError> {
        self.get_item(session_pk(id), SESSION_SK)
            .await?
            .map(|item| serde_dynamo::from_item::<_, SessionItem>(item).map_err(corrupt)?.into_session())
            .transpose()
    }

    async fn update_session(&self, session: &CheckoutSession, cancel: Option<&Payment>) -> Result<(), StoreError> {
        let (item, write_id) = Self::session_item(session, session.version + 1)?;
        let Some(cancel_item) = self.cancel_put(cancel)? else {
            return self.put_if(item, &write_id, "version = :expected", Some(session.version)).await;
        };
        let mut tx = Transaction::default();
        tx.put(Slot::Plain, self.versioned_put(item, session.version, "")?);
        tx.push(Slot::Plain, cancel_item);
        self.transact_items(tx, &write_id).await
    }

    async fn due_sessions(
        &self,
        now: i64,
        limit: u8,
        after: &DueCursor,
    ) -> Result<(Vec<CheckoutSession>, DueCursor), StoreError> {
        let (keys, next) = self.due_keys(SESSION_DUE_PREFIX, now, limit, after).await?;
        let mut due = Vec::with_capacity(keys.len());
        for pk in keys {
            let Some(id) = pk.strip_prefix("SESSION#").and_then(SessionId::parse) else { continue };
            // Read as it is now: one ended or retired since the index was written is not due.
            due.extend(self.get_session(&id).await?.filter(|s| s.ended_at.is_none()));
        }
        Ok((due, next))
    }

    async fn retire_session(&self, session: &CheckoutSession) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(session_pk(&session.id)))
            .key("sk", AttributeValue::S(SESSION_SK.into()))
            .update_expression("REMOVE gsi2pk, gsi2sk")
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(session.version.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(store_error(e)),
        }
    }

    async fn list_for_user(
        &self,
        user_id: &Identifier,
        merchant: &Identifier,
        limit: u8,
        after: Option<&HistoryCursor>,
    ) -> Result<HistoryPage, StoreError> {
        let partition = history_pk(merchant, user_id);
        // Where the previous page stopped, as DynamoDB's key of an index entry.
        let start = after.map(|c| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(payment_pk(&c.payment_id))),
                ("sk".to_owned(), AttributeValue::S(PAYMENT_SK.into())),
                ("gsi1pk".to_owned(), AttributeValue::S(partition.clone())),
                ("gsi1sk".to_owned(), AttributeValue::S(history_sk(c.created_at, &c.payment_id))),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(HISTORY_INDEX)
            .key_condition_expression("gsi1pk = :customer")
            .expression_attribute_values(":customer", AttributeValue::S(partition.clone()))
            .scan_index_forward(false)
            .limit(i32::from(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(store_error)?;
        let payments = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item::<_, HistoryItem>(item).map_err(corrupt)?.into_payment())
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key.as_ref().and_then(|k| k.get("gsi1sk")) {
            None => None,
            Some(AttributeValue::S(sk)) => Some(parse_history_sk(sk).ok_or_else(|| corrupt(format!("gsi1sk {sk}")))?),
            Some(_) => return Err(corrupt("gsi1sk is not a string")),
        };
        Ok(HistoryPage { payments, next })
    }
}
