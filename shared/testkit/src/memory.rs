//! In-memory ports with the same conditional semantics as the DynamoDB adapter, for fast
//! use-case tests and in-process benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use shared::domain::{
    CheckoutSession, Customer, HistoryCursor, HistoryPage, Identifier, MethodId, Payment, PaymentId, PaymentStatus,
    Phone, SessionId,
};
use shared::ports::KEY_RETENTION_SECS;
use shared::ports::{
    Admission, BusinessEvent, Claim, CodeSender, Guard, IdempotencyStore, KeyFound, KeyWrite, Metrics, OrderChange,
    PayerChange, PaymentStore, Refusal, SavedMethod, SendError, SmsCharge, SmsCounter, SmsLimits, SmsText, StoreError,
    StoredResponse, WriteAlso,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a test panicked elsewhere; the data is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
pub struct MemoryPaymentStore {
    payments: Mutex<HashMap<String, Payment>>,
    /// By (merchant, user, method): a customer's cards are one range, as under their partition
    /// key in DynamoDB.
    methods: Mutex<BTreeMap<(String, String, String), SavedMethod>>,
    /// Paid orders, by (merchant, order): the payment that paid each.
    orders: Mutex<HashMap<(String, String), PaymentId>>,
    sessions: Mutex<HashMap<String, CheckoutSession>>,
    guards: Mutex<HashMap<String, Guard>>,
    /// Hourly SMS counters, by the DynamoDB item's key.
    sms_counts: Mutex<HashMap<String, u32>>,
    /// Idempotency records, shared with the [`MemoryIdempotencyStore`] made by
    /// [`MemoryIdempotencyStore::sharing`] (a payment's write claims or answers its key).
    keys: Arc<Mutex<HashMap<String, IdemEntry>>>,
}

/// The counters an SMS charge bumps, with their caps, in the order DynamoDB reports refusals.
fn sms_counters(charge: &SmsCharge) -> [(SmsCounter, String, u32); 2] {
    [
        (SmsCounter::Phone, format!("QUOTA#PHONE#{}#{}", charge.phone_key, charge.hour), charge.phone_cap),
        (
            SmsCounter::MerchantShard,
            format!("QUOTA#MERCHANT#{}#{}#{}", charge.merchant_id, charge.shard, charge.hour),
            charge.shard_cap,
        ),
    ]
}

impl MemoryPaymentStore {
    /// Checks an SMS charge against the counters (the caller applies it once every condition
    /// of its write holds).
    fn check_sms(&self, charge: Option<&SmsCharge>) -> Result<(), StoreError> {
        let counts = lock(&self.sms_counts);
        for (which, key, cap) in charge.map(sms_counters).into_iter().flatten() {
            if counts.get(&key).copied().unwrap_or(0) >= cap {
                return Err(StoreError::SmsCounter { which, busy: false });
            }
        }
        Ok(())
    }

    fn apply_sms(&self, charge: Option<&SmsCharge>) {
        let mut counts = lock(&self.sms_counts);
        for (_, key, _) in charge.map(sms_counters).into_iter().flatten() {
            *counts.entry(key).or_insert(0) += 1;
        }
    }

    /// Checks a key written with a payment: a claim needs the key free (or expired), an answer
    /// needs it still this attempt's. The caller applies it once every condition holds.
    fn check_key(&self, write: Option<&KeyWrite>) -> Result<(), StoreError> {
        let Some(w) = write else { return Ok(()) };
        let r = w.record();
        let keys = lock(&self.keys);
        let current = keys.get(&r.key).filter(|e| e.first_claimed_at + KEY_RETENTION_SECS > r.now);
        let ok = match (w, current) {
            (KeyWrite::Claim(_), None) => true,
            (KeyWrite::Answer(..), Some(e)) => e.token == r.token,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(StoreError::Refused(Refusal::Key))
        }
    }

    fn apply_key(&self, write: Option<&KeyWrite>) {
        let mut keys = lock(&self.keys);
        match write {
            None => {}
            Some(KeyWrite::Claim(r)) => {
                let entry = IdemEntry {
                    fingerprint: r.fingerprint.clone(),
                    first_claimed_at: r.now,
                    origin: r.token.clone(),
                    token: r.token.clone(),
                    lock_until: r.lock_until,
                    response: None,
                };
                keys.insert(r.key.clone(), entry);
            }
            Some(KeyWrite::Answer(r, answer)) => {
                if let Some(e) = keys.get_mut(&r.key) {
                    e.response = Some(answer.clone());
                }
            }
        }
    }
}

/// Checks a version-guarded write of `p` against `payments` (the lock held by the caller).
fn check_version(payments: &HashMap<String, Payment>, p: &Payment) -> Result<(), StoreError> {
    match payments.get(p.id.as_str()) {
        Some(current) if current.version == p.version => Ok(()),
        _ => Err(StoreError::Conflict),
    }
}

impl MemoryPaymentStore {
    pub fn saved_methods(&self) -> Vec<SavedMethod> {
        lock(&self.methods).values().cloned().collect()
    }
}

#[async_trait]
impl PaymentStore for MemoryPaymentStore {
    async fn insert(
        &self,
        payment: &Payment,
        sms: Option<&SmsCharge>,
        key: Option<&KeyWrite>,
    ) -> Result<(), StoreError> {
        let mut map = lock(&self.payments);
        if map.contains_key(payment.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        self.check_key(key)?;
        self.check_sms(sms)?;
        self.apply_key(key);
        self.apply_sms(sms);
        map.insert(payment.id.as_str().to_owned(), payment.clone());
        Ok(())
    }

    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(lock(&self.payments).get(id.as_str()).cloned())
    }

    async fn get_with_key(&self, id: &PaymentId, key: &str) -> Result<(Option<Payment>, Option<KeyFound>), StoreError> {
        let payment = lock(&self.payments).get(id.as_str()).cloned();
        Ok((payment, lock(&self.keys).get(key).map(IdemEntry::found)))
    }

    async fn update(&self, payment: &Payment, also: WriteAlso<'_>) -> Result<(), StoreError> {
        let mut map = lock(&self.payments);
        let mut orders = lock(&self.orders);
        let mut guards = lock(&self.guards);
        let current = map.get_mut(payment.id.as_str()).ok_or(StoreError::Conflict)?;
        if current.version != payment.version {
            return Err(StoreError::Conflict);
        }
        // Every condition first, then every write: all or nothing, as in a transaction.
        let order = (payment.merchant_id.as_str().to_owned(), payment.order_id.as_str().to_owned());
        for g in also.guards {
            if guards.get(&g.key).map_or(0, |c| c.version) != g.version {
                return Err(StoreError::Conflict);
            }
        }
        self.check_key(also.key)?;
        match (also.order, orders.get(&order)) {
            (OrderChange::Claim, Some(holder)) if holder != &payment.id => {
                return Err(StoreError::Refused(Refusal::Order))
            }
            (OrderChange::Release, holder) if holder != Some(&payment.id) => return Err(StoreError::Conflict),
            _ => {}
        }
        let payer_ok = |g: Option<&Guard>, now: i64, below: Option<u32>| {
            let unlocked = g.and_then(|g| g.until).is_none_or(|until| until <= now);
            unlocked && below.is_none_or(|below| g.map_or(0, |g| g.count) < below)
        };
        let (payer_keys, payer_now, payer_below, payer_expiry) = match also.payer {
            PayerChange::None => (None, 0, None, 0),
            PayerChange::Count { keys, now, below, expires_at } => (Some(keys), now, Some(below), expires_at),
            PayerChange::Reset { keys, now, expires_at } => (Some(keys), now, None, expires_at),
        };
        for key in payer_keys.into_iter().flatten() {
            if !payer_ok(guards.get(key), payer_now, payer_below) {
                return Err(StoreError::Refused(Refusal::Payer));
            }
        }
        self.check_sms(also.sms)?;
        for key in payer_keys.into_iter().flatten() {
            let g = guards.entry(key.clone()).or_insert_with(|| Guard::new(key.clone()));
            g.count = if payer_below.is_some() { g.count + 1 } else { 0 };
            g.version += 1;
            g.expires_at = payer_expiry;
        }
        self.apply_sms(also.sms);
        self.apply_key(also.key);
        match also.order {
            OrderChange::Keep => {}
            OrderChange::Claim => {
                orders.insert(order, payment.id.clone());
            }
            OrderChange::Release => {
                orders.remove(&order);
            }
        }
        for g in also.guards {
            guards.insert(g.key.clone(), Guard { version: g.version + 1, ..g.clone() });
        }
        *current = Payment { version: payment.version + 1, ..payment.clone() };
        if let Some(m) = also.save {
            let mut methods = lock(&self.methods);
            let key = (
                m.customer.merchant_id.as_str().to_owned(),
                m.customer.user_id.as_str().to_owned(),
                m.id.as_str().to_owned(),
            );
            let bound: Option<(Phone, String)> =
                methods.get(&key).map(|old| (old.phone.clone(), old.sealed_card.clone()));
            let mut new = m.clone();
            if let Some((phone, sealed)) = bound {
                new.phone = phone;
                new.sealed_card = sealed;
            }
            methods.insert(key, new);
        }
        Ok(())
    }

    async fn admission(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
        guard_keys: &[String],
        key: Option<&str>,
    ) -> Result<Admission, StoreError> {
        let order_holder = self.order_paid_by(merchant_id, order_id).await?;
        let key = key.and_then(|k| lock(&self.keys).get(k).map(IdemEntry::found));
        let guards = lock(&self.guards);
        let guards =
            guard_keys.iter().map(|k| guards.get(k).cloned().unwrap_or_else(|| Guard::new(k.clone()))).collect();
        Ok(Admission { order_holder, guards, key })
    }

    async fn bump(&self, keys: &[String], expires_at: i64) -> Result<(), StoreError> {
        let mut guards = lock(&self.guards);
        for k in keys {
            let g = guards.entry(k.clone()).or_insert_with(|| Guard::new(k.clone()));
            g.count += 1;
            g.version += 1;
            g.expires_at = expires_at;
        }
        Ok(())
    }

    async fn open_for_customer(&self, customer: &Customer) -> Result<Vec<Payment>, StoreError> {
        Ok(lock(&self.payments)
            .values()
            .filter(|p| p.customer() == *customer)
            .filter(|p| matches!(p.status, PaymentStatus::Authorizing | PaymentStatus::RequiresVerification))
            .cloned()
            .collect())
    }

    async fn due(&self, now: i64, limit: u8) -> Result<Vec<Payment>, StoreError> {
        let mut due: Vec<Payment> =
            lock(&self.payments).values().filter(|p| p.due_at().is_some_and(|at| at <= now)).cloned().collect();
        due.sort_by_key(|p| p.due_at());
        due.truncate(usize::from(limit) * 4);
        Ok(due)
    }

    async fn order_paid_by(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
    ) -> Result<Option<PaymentId>, StoreError> {
        Ok(lock(&self.orders).get(&(merchant_id.as_str().to_owned(), order_id.as_str().to_owned())).cloned())
    }

    async fn list_methods(&self, customer: &Customer) -> Result<Vec<SavedMethod>, StoreError> {
        let methods = lock(&self.methods);
        let (merchant, user) = (customer.merchant_id.as_str(), customer.user_id.as_str());
        let start = (merchant.to_owned(), user.to_owned(), String::new());
        let mut mine: Vec<SavedMethod> = methods
            .range(start..)
            .take_while(|((m, u, _), _)| m == merchant && u == user)
            .map(|(_, method)| method.clone())
            .collect();
        mine.sort_by_key(|m| std::cmp::Reverse(m.saved_at));
        Ok(mine)
    }

    async fn insert_session(&self, session: &CheckoutSession) -> Result<(), StoreError> {
        let mut map = lock(&self.sessions);
        if map.contains_key(session.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        map.insert(session.id.as_str().to_owned(), session.clone());
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<CheckoutSession>, StoreError> {
        Ok(lock(&self.sessions).get(id.as_str()).cloned())
    }

    async fn insert_in_session(
        &self,
        session: &CheckoutSession,
        payment: &Payment,
        cancel: Option<&Payment>,
        sms: Option<&SmsCharge>,
        key: Option<&KeyWrite>,
    ) -> Result<(), StoreError> {
        let mut sessions = lock(&self.sessions);
        let mut payments = lock(&self.payments);
        let current = sessions.get_mut(session.id.as_str()).ok_or(StoreError::Conflict)?;
        if current.version != session.version
            || current.ended_at.is_some()
            || payments.contains_key(payment.id.as_str())
        {
            return Err(StoreError::Conflict);
        }
        if let Some(c) = cancel {
            check_version(&payments, c)?;
        }
        self.check_key(key)?;
        self.check_sms(sms)?;
        self.apply_key(key);
        self.apply_sms(sms);
        if let Some(c) = cancel {
            payments.insert(c.id.as_str().to_owned(), Payment { version: c.version + 1, ..c.clone() });
        }
        payments.insert(payment.id.as_str().to_owned(), payment.clone());
        *current =
            CheckoutSession { payment_id: Some(payment.id.clone()), version: session.version + 1, ..session.clone() };
        Ok(())
    }

    async fn update_session(&self, session: &CheckoutSession, cancel: Option<&Payment>) -> Result<(), StoreError> {
        let mut sessions = lock(&self.sessions);
        let mut payments = lock(&self.payments);
        let current = sessions.get_mut(session.id.as_str()).ok_or(StoreError::Conflict)?;
        if current.version != session.version {
            return Err(StoreError::Conflict);
        }
        if let Some(c) = cancel {
            check_version(&payments, c)?;
            payments.insert(c.id.as_str().to_owned(), Payment { version: c.version + 1, ..c.clone() });
        }
        *current = CheckoutSession { version: session.version + 1, ..session.clone() };
        Ok(())
    }

    async fn find_method(&self, customer: &Customer, id: Option<&MethodId>) -> Result<Option<SavedMethod>, StoreError> {
        let methods = lock(&self.methods);
        let (merchant, user) = (customer.merchant_id.as_str(), customer.user_id.as_str());
        let start = (merchant.to_owned(), user.to_owned(), String::new());
        let mut mine =
            methods.range(start..).take_while(|((m, u, _), _)| m == merchant && u == user).map(|(_, method)| method);
        Ok(match id {
            Some(id) => mine.find(|m| &m.id == id).cloned(),
            None => mine.max_by_key(|m| m.saved_at).cloned(),
        })
    }

    async fn list_for_user(
        &self,
        user_id: &Identifier,
        merchant: &Identifier,
        limit: u8,
        after: Option<&HistoryCursor>,
    ) -> Result<HistoryPage, StoreError> {
        // The order of the DynamoDB index: creation time, then id, newest first.
        let position = |created_at: i64, id: &PaymentId| (created_at, id.as_str().to_owned());
        let start = after.map(|c| position(c.created_at, &c.payment_id));
        let mut mine: Vec<Payment> = lock(&self.payments)
            .values()
            .filter(|p| &p.user_id == user_id && &p.merchant_id == merchant)
            .filter(|p| start.as_ref().is_none_or(|s| position(p.created_at, &p.id) < *s))
            .cloned()
            .collect();
        mine.sort_by_key(|p| std::cmp::Reverse(position(p.created_at, &p.id)));
        let more = mine.len() > usize::from(limit);
        mine.truncate(usize::from(limit));
        let next = more.then(|| mine.last().map(HistoryCursor::after)).flatten();
        Ok(HistoryPage { payments: mine, next })
    }
}

struct IdemEntry {
    fingerprint: String,
    first_claimed_at: i64,
    origin: String,
    token: String,
    lock_until: i64,
    response: Option<StoredResponse>,
}

impl IdemEntry {
    fn found(&self) -> KeyFound {
        KeyFound {
            fingerprint: self.fingerprint.clone(),
            answer: self.response.clone(),
            lock_until: self.lock_until,
            // Live while `first_claimed_at + KEY_RETENTION_SECS > now`.
            expires_at: self.first_claimed_at + KEY_RETENTION_SECS - 1,
        }
    }
}

#[derive(Default)]
pub struct MemoryIdempotencyStore {
    entries: Arc<Mutex<HashMap<String, IdemEntry>>>,
}

impl MemoryIdempotencyStore {
    /// The records `payments` writes with its payments, as in DynamoDB's one table.
    pub fn sharing(payments: &MemoryPaymentStore) -> Self {
        Self { entries: payments.keys.clone() }
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn claim(&self, key: &str, fingerprint: &str, now: i64, lock_until: i64) -> Result<Claim, StoreError> {
        let mut map = lock(&self.entries);
        let token = ulid::Ulid::new().to_string();
        let mut first_claimed_at = now;
        let mut origin = token.clone();
        let mut recovering = false;
        if let Some(e) = map.get(key).filter(|e| e.first_claimed_at + KEY_RETENTION_SECS > now) {
            if let Some(claim) = e.found().decided(fingerprint, now) {
                return Ok(claim);
            }
            first_claimed_at = e.first_claimed_at;
            origin = e.origin.clone();
            recovering = true;
        }
        let entry = IdemEntry {
            fingerprint: fingerprint.to_owned(),
            first_claimed_at,
            origin: origin.clone(),
            token: token.clone(),
            lock_until,
            response: None,
        };
        map.insert(key.to_owned(), entry);
        Ok(Claim::Acquired { token, origin, recovering })
    }

    async fn complete(&self, key: &str, token: &str, response: &StoredResponse, _now: i64) -> Result<(), StoreError> {
        match lock(&self.entries).get_mut(key) {
            Some(e) if e.token == token => {
                e.response = Some(response.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), StoreError> {
        if let Some(e) = lock(&self.entries).get_mut(key).filter(|e| e.token == token) {
            e.lock_until = i64::MIN;
            e.response = None;
        }
        Ok(())
    }
}

/// Records every SMS instead of sending it.
#[derive(Default)]
pub struct MemoryCodeSender {
    sent: Mutex<Vec<(String, String)>>,
}

impl MemoryCodeSender {
    /// (phone, text) of every message, oldest first.
    pub fn sent(&self) -> Vec<(String, String)> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl CodeSender for MemoryCodeSender {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<(), SendError> {
        lock(&self.sent).push((to.expose().to_owned(), text.0.clone()));
        Ok(())
    }
}

/// Counts business events for assertions.
#[derive(Default)]
pub struct MemoryMetrics {
    events: Mutex<Vec<BusinessEvent>>,
}

impl MemoryMetrics {
    /// Every event recorded, oldest first.
    pub fn events(&self) -> Vec<BusinessEvent> {
        lock(&self.events).clone()
    }

    /// How many times `event` was recorded.
    pub fn count(&self, event: &BusinessEvent) -> usize {
        lock(&self.events).iter().filter(|e| *e == event).count()
    }
}

impl Metrics for MemoryMetrics {
    fn record(&self, event: BusinessEvent) {
        lock(&self.events).push(event);
    }
}

/// Services wired entirely in memory (sandbox acquirer, the given clock), with handles on the
/// stores and the SMS outbox for assertions.
pub struct MemoryStack {
    pub services: shared::Services,
    pub payments: std::sync::Arc<MemoryPaymentStore>,
    pub sms: std::sync::Arc<MemoryCodeSender>,
    pub metrics: std::sync::Arc<MemoryMetrics>,
}

impl MemoryStack {
    pub fn new(
        clock: std::sync::Arc<dyn shared::ports::Clock>,
        hasher: shared::secrets::CodeHasher,
        vault: shared::secrets::CardVault,
    ) -> Self {
        let payments = std::sync::Arc::new(MemoryPaymentStore::default());
        let sms = std::sync::Arc::new(MemoryCodeSender::default());
        let metrics = std::sync::Arc::new(MemoryMetrics::default());
        let services = shared::Services {
            payments: payments.clone(),
            idempotency: std::sync::Arc::new(MemoryIdempotencyStore::sharing(&payments)),
            sms: sms.clone(),
            sms_limits: SmsLimits::default(),
            acquirer: std::sync::Arc::new(shared::adapters::sandbox_acquirer::SandboxAcquirer),
            clock,
            metrics: metrics.clone(),
            hasher: Some(hasher),
            vault: Some(vault),
            settings: shared::config::Settings::default(),
        };
        Self { services, payments, sms, metrics }
    }
}
