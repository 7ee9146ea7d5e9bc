//! In-memory ports with the same conditional semantics as the DynamoDB adapter, for fast
//! use-case tests and in-process benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use shared::domain::{
    CheckoutSession, Command, Customer, HistoryCursor, HistoryPage, Identifier, MethodId, Payment, PaymentId,
    PaymentStatus, Phone, Refund, RefundSettlement, SessionId,
};
use shared::ports::KEY_RETENTION_SECS;
use shared::ports::{
    Admission, Admit, AttemptCharge, AttemptLimits, BusinessEvent, CancelClaim, CaptureClaim, Claim, CodeSender,
    ConditionalWrite, DueCursor, Guard, IdempotencyStore, KeyFound, KeyWrite, Metrics, NewRefund, PaymentStore,
    RequestFingerprint, Rider, RiderRefusal, SavedCard, SavedMethod, SendError, SmsCharge, SmsCounter, SmsLimits,
    SmsText, StoreError, StoredResponse,
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
    /// When each card was last used, by the same key.
    used: Mutex<HashMap<(String, String, String), i64>>,
    /// Paid orders, by (merchant, order): the payment that paid each.
    orders: Mutex<HashMap<(String, String), PaymentId>>,
    sessions: Mutex<HashMap<String, CheckoutSession>>,
    /// Sessions the sweeper retired (off its index), by id.
    retired: Mutex<std::collections::HashSet<String>>,
    guards: Mutex<HashMap<String, Guard>>,
    /// Finishers' leases on a payment's next acquirer call: holder and until, by payment id.
    leases: Mutex<HashMap<String, (String, i64)>>,
    /// Hourly SMS counters and velocity counters, by the DynamoDB item's key.
    sms_counts: Mutex<HashMap<String, u32>>,
    /// Idempotency records, shared with the [`MemoryIdempotencyStore`] made by
    /// [`MemoryIdempotencyStore::sharing`] (a payment's write claims or answers its key).
    keys: Arc<Mutex<HashMap<String, IdemEntry>>>,
}

/// A saved card's key in the in-memory maps: (merchant, user, method).
fn method_key(customer: &Customer, id: &MethodId) -> (String, String, String) {
    (customer.merchant_id.as_str().to_owned(), customer.user_id.as_str().to_owned(), id.as_str().to_owned())
}

/// The counters an SMS charge bumps (the rule's own list: [`SmsCharge::counters`]), keyed by
/// partition and hour, with their caps.
fn sms_counters(charge: &SmsCharge) -> impl Iterator<Item = (SmsCounter, String, u32)> + '_ {
    charge
        .counters()
        .into_iter()
        .map(move |(counter, pk, cap)| (counter, format!("{pk}#{}", charge.window(counter)), cap))
}

impl MemoryPaymentStore {
    /// Checks an SMS charge against the counters (the caller applies it once every condition
    /// of its write holds).
    fn check_sms(&self, charge: Option<&SmsCharge>) -> Result<(), StoreError> {
        let counts = lock(&self.sms_counts);
        for (counter, key, cap) in charge.map(sms_counters).into_iter().flatten() {
            if counts.get(&key).copied().unwrap_or(0) >= cap {
                return Err(StoreError::Refused(RiderRefusal::Sms { counter, busy: false }));
            }
        }
        Ok(())
    }

    /// Checks a card attempt against its velocity counters (kept beside the SMS ones).
    fn check_attempts(&self, charge: &AttemptCharge) -> Option<RiderRefusal> {
        let counts = lock(&self.sms_counts);
        charge.counters.iter().find_map(|c| {
            let at_cap = counts.get(&format!("{}#{}", c.key, c.window)).copied().unwrap_or(0) >= c.cap;
            at_cap.then_some(RiderRefusal::Attempts { limit: c.limit, busy: false })
        })
    }

    fn apply_attempts(&self, charge: &AttemptCharge) {
        let mut counts = lock(&self.sms_counts);
        for c in &charge.counters {
            *counts.entry(format!("{}#{}", c.key, c.window)).or_insert(0) += 1;
        }
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
            (KeyWrite::Claim(_) | KeyWrite::Settle(..), None) => true,
            (KeyWrite::Answer(..), Some(e)) => e.token == r.token,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            // A claim's refusal returns the record it found, as DynamoDB's does.
            let found = match w {
                KeyWrite::Claim(_) | KeyWrite::Settle(..) => keys.get(&r.key).map(|e| Box::new(e.found())),
                KeyWrite::Answer(..) => None,
            };
            Err(StoreError::Refused(RiderRefusal::Key(found)))
        }
    }

    fn apply_key(&self, write: Option<&KeyWrite>) {
        let mut keys = lock(&self.keys);
        match write {
            None => {}
            Some(w @ (KeyWrite::Claim(r) | KeyWrite::Settle(r, _))) => {
                let entry = IdemEntry {
                    fingerprint: r.fingerprint.clone(),
                    first_claimed_at: r.now,
                    origin: r.token.clone(),
                    token: r.token.clone(),
                    lock_until: r.lock_until,
                    // A settled claim keeps its answer from the start.
                    response: if let KeyWrite::Settle(_, answer) = w { Some(answer.clone()) } else { None },
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

impl MemoryPaymentStore {
    /// Every rider's condition, in the order the DynamoDB adapter reads refusals (races first,
    /// then the key, the order, the payer, the counters): all before any write, as in a
    /// transaction.
    fn check_riders(
        &self,
        payments: &HashMap<String, Payment>,
        payment: &Payment,
        riders: &[Rider<'_>],
    ) -> Result<(), StoreError> {
        let order = order_key(payment);
        let guards = lock(&self.guards);
        let sessions = lock(&self.sessions);
        for rider in riders {
            let raced = match rider {
                Rider::GuardAt(g) => guards.get(&g.key).map_or(0, |c| c.version) != g.version,
                Rider::ReleaseOrder => lock(&self.orders).get(&order) != Some(&payment.id),
                Rider::Session(link) => {
                    let current = sessions.get(link.session.id.as_str());
                    current.is_none_or(|c| c.version != link.session.version || c.ended_at.is_some())
                        || link.cancel.as_ref().is_some_and(|c| check_version(payments, c).is_err())
                }
                Rider::ClaimOrder
                | Rider::SaveCard(_)
                | Rider::Payer(_)
                | Rider::Sms(_)
                | Rider::Key(_)
                | Rider::Admit(_)
                | Rider::Attempts(_) => false,
            };
            if raced {
                return Err(StoreError::Conflict);
            }
        }
        // Then the riders that refuse, by name; several refusing: the one DynamoDB's reasons
        // are read for first.
        let refused = riders
            .iter()
            .filter_map(|rider| match rider {
                Rider::Key(write) => match self.check_key(Some(write)) {
                    Err(StoreError::Refused(refusal)) => Some(refusal),
                    Err(StoreError::Conflict | StoreError::Unavailable(_) | StoreError::Corrupt(_)) | Ok(()) => None,
                },
                Rider::ClaimOrder => {
                    lock(&self.orders).get(&order).is_some_and(|h| h != &payment.id).then_some(RiderRefusal::Order)
                }
                Rider::Payer(change) => {
                    change.keys().iter().any(|k| !change.admits(guards.get(k))).then_some(RiderRefusal::Payer)
                }
                Rider::Sms(charge) => match self.check_sms(Some(charge)) {
                    Err(StoreError::Refused(refusal)) => Some(refusal),
                    Err(StoreError::Conflict | StoreError::Unavailable(_) | StoreError::Corrupt(_)) | Ok(()) => None,
                },
                Rider::Admit(admit) => {
                    let order_free = Admit::admits_order(lock(&self.orders).get(&order), &payment.id);
                    let payers = admit.payers.iter().all(|k| admit.admits_payer(guards.get(k)));
                    let caps = admit.caps.iter().all(|(k, cap)| Admit::admits_count(*cap, guards.get(k)));
                    (!(order_free && payers && caps)).then_some(RiderRefusal::Admission)
                }
                Rider::Attempts(charge) => self.check_attempts(charge),
                Rider::ReleaseOrder | Rider::SaveCard(_) | Rider::GuardAt(_) | Rider::Session(_) => None,
            })
            .min_by_key(precedence);
        refused.map_or(Ok(()), |r| Err(StoreError::Refused(r)))
    }

    /// Every rider's write (their conditions held).
    fn apply_riders(&self, payments: &mut HashMap<String, Payment>, payment: &Payment, riders: &[Rider<'_>]) {
        for rider in riders {
            match rider {
                Rider::ClaimOrder => {
                    lock(&self.orders).insert(order_key(payment), payment.id.clone());
                }
                Rider::ReleaseOrder => {
                    lock(&self.orders).remove(&order_key(payment));
                }
                Rider::SaveCard(m) => self.save_method(m),
                Rider::GuardAt(g) => {
                    lock(&self.guards).insert(g.key.clone(), Guard { version: g.version + 1, ..(*g).clone() });
                }
                Rider::Payer(change) => {
                    let mut guards = lock(&self.guards);
                    for key in change.keys() {
                        let g = guards.remove(key).unwrap_or_else(|| Guard::new(key.clone()));
                        guards.insert(key.clone(), change.applied(g));
                    }
                }
                Rider::Sms(charge) => self.apply_sms(Some(charge)),
                Rider::Attempts(charge) => self.apply_attempts(charge),
                Rider::Key(write) => self.apply_key(Some(write)),
                // Conditions only: nothing is written.
                Rider::Admit(_) => {}
                Rider::Session(link) => {
                    if let Some(c) = &link.cancel {
                        payments.insert(c.id.as_str().to_owned(), Payment { version: c.version + 1, ..c.clone() });
                    }
                    let s = &link.session;
                    let moved =
                        CheckoutSession { payment_id: Some(payment.id.clone()), version: s.version + 1, ..s.clone() };
                    lock(&self.sessions).insert(s.id.as_str().to_owned(), moved);
                }
            }
        }
    }

    /// Upserts a saved method; one that exists keeps the phone it is bound to.
    fn save_method(&self, m: &SavedMethod) {
        let mut methods = lock(&self.methods);
        let key = (
            m.customer.merchant_id.as_str().to_owned(),
            m.customer.user_id.as_str().to_owned(),
            m.id.as_str().to_owned(),
        );
        let bound: Option<(Phone, String)> = methods.get(&key).map(|old| (old.phone.clone(), old.sealed_card.clone()));
        let mut new = m.clone();
        if let Some((phone, sealed)) = bound {
            new.phone = phone;
            new.sealed_card = sealed;
        }
        methods.insert(key, new);
    }
}

/// Which refusal DynamoDB's cancellation reasons are read for first.
fn precedence(refusal: &RiderRefusal) -> u8 {
    match refusal {
        RiderRefusal::Key(_) => 0,
        RiderRefusal::Order => 1,
        RiderRefusal::Payer => 2,
        RiderRefusal::Admission => 3,
        RiderRefusal::Attempts { .. } => 4,
        RiderRefusal::Sms { .. } => 5,
    }
}

/// An order by (merchant, order).
fn order_key(payment: &Payment) -> (String, String) {
    (payment.merchant_id.as_str().to_owned(), payment.order_id.as_str().to_owned())
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
    async fn insert(&self, payment: &Payment, riders: &[Rider<'_>]) -> Result<(), StoreError> {
        let mut map = lock(&self.payments);
        if map.contains_key(payment.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        self.check_riders(&map, payment, riders)?;
        map.insert(payment.id.as_str().to_owned(), payment.clone());
        self.apply_riders(&mut map, payment, riders);
        Ok(())
    }

    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(lock(&self.payments).get(id.as_str()).cloned())
    }

    async fn get_with_key(&self, id: &PaymentId, key: &str) -> Result<(Option<Payment>, Option<KeyFound>), StoreError> {
        let payment = lock(&self.payments).get(id.as_str()).cloned();
        Ok((payment, lock(&self.keys).get(key).map(IdemEntry::found)))
    }

    async fn transact(&self, payment: &Payment, riders: &[Rider<'_>]) -> Result<(), StoreError> {
        let mut map = lock(&self.payments);
        check_version(&map, payment)?;
        self.check_riders(&map, payment, riders)?;
        map.insert(payment.id.as_str().to_owned(), Payment { version: payment.version + 1, ..payment.clone() });
        self.apply_riders(&mut map, payment, riders);
        Ok(())
    }

    /// The state machine's own rules, under the lock: what the DynamoDB adapter's condition
    /// checks at the write.
    async fn cancel(&self, claim: &CancelClaim<'_>) -> Result<ConditionalWrite, StoreError> {
        let mut map = lock(&self.payments);
        let Some(found) = map.get(claim.payment_id.as_str()).cloned() else {
            return Ok(ConditionalWrite::Refused(None));
        };
        let mut payment = found.clone();
        let cancelable = matches!(found.status, PaymentStatus::RequiresVerification | PaymentStatus::RequiresCapture);
        let mine = &found.merchant_id == claim.merchant_id && cancelable;
        if !mine || payment.execute(Command::Cancel(claim.reason), claim.now).is_err() {
            return Ok(ConditionalWrite::Refused(Some(Box::new(found))));
        }
        payment.version += 1;
        map.insert(payment.id.as_str().to_owned(), payment.clone());
        Ok(ConditionalWrite::Written(Box::new(payment)))
    }

    /// The state machine's own rules, under the lock: what the DynamoDB adapter's condition
    /// checks at the write.
    async fn claim_capture(&self, claim: &CaptureClaim<'_>) -> Result<ConditionalWrite, StoreError> {
        let mut map = lock(&self.payments);
        let Some(found) = map.get(claim.payment_id.as_str()).cloned() else {
            return Ok(ConditionalWrite::Refused(None));
        };
        let mut payment = found.clone();
        let amount = claim.amount.unwrap_or(payment.money.minor);
        let mine = &found.merchant_id == claim.merchant_id && !found.is_expired_at(claim.now);
        if !mine || payment.execute(Command::RequestCapture { amount }, claim.now).is_err() {
            return Ok(ConditionalWrite::Refused(Some(Box::new(found))));
        }
        payment.version += 1;
        map.insert(payment.id.as_str().to_owned(), payment.clone());
        Ok(ConditionalWrite::Written(Box::new(payment)))
    }

    /// The state machine's own rules, under the lock: what the DynamoDB adapter's condition
    /// checks at the write.
    async fn add_refund(&self, new: &NewRefund<'_>) -> Result<ConditionalWrite, StoreError> {
        let mut map = lock(&self.payments);
        let Some(found) = map.get(new.payment_id.as_str()).cloned() else { return Ok(ConditionalWrite::Refused(None)) };
        if &found.merchant_id != new.merchant_id {
            return Ok(ConditionalWrite::Refused(Some(Box::new(found))));
        }
        let mut payment = found.clone();
        let command = Command::RefundPayment { refund: new.refund.clone(), window_secs: new.window_secs };
        if payment.execute(command, new.now).is_err() {
            return Ok(ConditionalWrite::Refused(Some(Box::new(found))));
        }
        payment.version += 1;
        map.insert(payment.id.as_str().to_owned(), payment.clone());
        Ok(ConditionalWrite::Written(Box::new(payment)))
    }

    async fn settle_refund(&self, payment_id: &PaymentId, refund: &Refund) -> Result<bool, StoreError> {
        let mut map = lock(&self.payments);
        let Some(mut payment) = map.get(payment_id.as_str()).cloned() else { return Ok(false) };
        let outcome = match refund.failure_reason {
            Some(reason) => RefundSettlement::Failed(reason),
            None => RefundSettlement::Succeeded,
        };
        if payment.execute(Command::SettleRefund { id: refund.id.clone(), outcome }, refund.updated_at).is_err() {
            return Ok(false);
        }
        payment.version += 1;
        map.insert(payment.id.as_str().to_owned(), payment);
        Ok(true)
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

    async fn count_attempts(&self, charge: &AttemptCharge) -> Result<(), StoreError> {
        self.apply_attempts(charge);
        Ok(())
    }

    async fn lease(&self, payment: &PaymentId, holder: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let mut leases = lock(&self.leases);
        let free = leases.get(payment.as_str()).is_none_or(|(h, u)| *u <= now || h == holder);
        if free {
            leases.insert(payment.as_str().to_owned(), (holder.to_owned(), until));
        }
        Ok(free)
    }

    async fn open_for_customer(&self, customer: &Customer) -> Result<Vec<Payment>, StoreError> {
        Ok(lock(&self.payments)
            .values()
            .filter(|p| p.customer() == *customer)
            .filter(|p| matches!(p.status, PaymentStatus::Authorizing | PaymentStatus::RequiresVerification))
            .cloned()
            .collect())
    }

    /// One shard (0), sorted as DynamoDB's index sorts (`due_at`, then id).
    async fn due(&self, now: i64, limit: u8, after: &DueCursor) -> Result<(Vec<Payment>, DueCursor), StoreError> {
        let key = |p: &Payment| format!("{:012}#{}", p.due_at().unwrap_or_default(), p.id.as_str());
        let last = after.0.get(&0);
        let mut due: Vec<Payment> = lock(&self.payments)
            .values()
            .filter(|p| p.due_at().is_some_and(|at| at <= now))
            .filter(|p| last.is_none_or(|last| key(p) > *last))
            .cloned()
            .collect();
        due.sort_by_key(key);
        due.truncate(usize::from(limit) * 4);
        let mut next = after.clone();
        if let Some(p) = due.last() {
            next.0.insert(0, key(p));
        }
        Ok((due, next))
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

    async fn list_cards(&self, customer: &Customer) -> Result<Vec<SavedCard>, StoreError> {
        let cards = self.list_methods(customer).await?;
        let used = lock(&self.used);
        let last_used = |m: &SavedMethod| used.get(&method_key(customer, &m.id)).copied();
        Ok(cards.iter().map(|m| SavedCard { last_used_at: last_used(m), ..m.card() }).collect())
    }

    async fn delete_method(&self, customer: &Customer, id: &MethodId) -> Result<bool, StoreError> {
        lock(&self.used).remove(&method_key(customer, id));
        Ok(lock(&self.methods).remove(&method_key(customer, id)).is_some())
    }

    async fn touch_method(&self, customer: &Customer, id: &MethodId, at: i64) -> Result<(), StoreError> {
        if lock(&self.methods).contains_key(&method_key(customer, id)) {
            lock(&self.used).insert(method_key(customer, id), at);
        }
        Ok(())
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

    /// One shard (0), sorted as DynamoDB's index sorts (`expires_at`, then id).
    async fn due_sessions(
        &self,
        now: i64,
        limit: u8,
        after: &DueCursor,
    ) -> Result<(Vec<CheckoutSession>, DueCursor), StoreError> {
        let key = |s: &CheckoutSession| format!("{:012}#{}", s.expires_at, s.id.as_str());
        let last = after.0.get(&0);
        let retired = lock(&self.retired);
        let mut due: Vec<CheckoutSession> = lock(&self.sessions)
            .values()
            .filter(|s| s.ended_at.is_none() && s.expires_at <= now && !retired.contains(s.id.as_str()))
            .filter(|s| last.is_none_or(|last| key(s) > *last))
            .cloned()
            .collect();
        due.sort_by_key(key);
        due.truncate(usize::from(limit) * 4);
        let mut next = after.clone();
        if let Some(s) = due.last() {
            next.0.insert(0, key(s));
        }
        Ok((due, next))
    }

    async fn retire_session(&self, session: &CheckoutSession) -> Result<(), StoreError> {
        let sessions = lock(&self.sessions);
        match sessions.get(session.id.as_str()) {
            Some(current) if current.version == session.version => {
                lock(&self.retired).insert(session.id.as_str().to_owned());
                Ok(())
            }
            Some(_) | None => Err(StoreError::Conflict),
        }
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
    async fn claim(&self, key: &str, fp: &RequestFingerprint, now: i64, lock_until: i64) -> Result<Claim, StoreError> {
        let mut map = lock(&self.entries);
        let token = ulid::Ulid::new().to_string();
        let mut first_claimed_at = now;
        let mut origin = token.clone();
        let mut recovering = false;
        if let Some(e) = map.get(key).filter(|e| e.first_claimed_at + KEY_RETENTION_SECS > now) {
            if let Some(claim) = e.found().decided(fp, now) {
                return Ok(claim);
            }
            first_claimed_at = e.first_claimed_at;
            origin = e.origin.clone();
            recovering = true;
        }
        let entry = IdemEntry {
            fingerprint: fp.current().to_owned(),
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
        code_keys: &shared::secrets::Keyring,
        card_keys: &shared::secrets::Keyring,
    ) -> Result<Self, shared::secrets::KeyError> {
        let payments = std::sync::Arc::new(MemoryPaymentStore::default());
        let sms = std::sync::Arc::new(MemoryCodeSender::default());
        let metrics = std::sync::Arc::new(MemoryMetrics::default());
        let ports = shared::Ports {
            payments: payments.clone(),
            idempotency: std::sync::Arc::new(MemoryIdempotencyStore::sharing(&payments)),
            events: std::sync::Arc::new(MemoryEventStore::default()),
            endpoints: std::sync::Arc::new(MemoryEndpointStore::default()),
            deliveries: std::sync::Arc::new(MemoryDeliveryStore::default()),
            webhooks: std::sync::Arc::new(UnreachableWebhooks),
            sms: sms.clone(),
            sms_limits: SmsLimits::default(),
            attempt_limits: AttemptLimits::default(),
            acquirer: std::sync::Arc::new(shared::adapters::sandbox_acquirer::SandboxAcquirer),
            notices: None,
            clock,
            metrics: metrics.clone(),
            settings: shared::config::Settings::default(),
        };
        let hasher = shared::secrets::CodeHasher::new(code_keys)?;
        let code = shared::CodeServices::new(ports, hasher, shared::secrets::KeptSecrets::new(code_keys));
        let services = shared::Services::new(code, shared::secrets::CardVault::new(card_keys));
        Ok(Self { services, payments, sms, metrics })
    }
}

/// The webhook events in memory: as the DynamoDB store, recorded once per id, listed newest
/// first per merchant.
#[derive(Default)]
pub struct MemoryEventStore(std::sync::Mutex<Vec<shared::ports::StoredEvent>>);

#[async_trait::async_trait]
impl shared::ports::EventStore for MemoryEventStore {
    async fn record(&self, event: &shared::ports::StoredEvent) -> Result<bool, StoreError> {
        let mut all = self.0.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        if all.iter().any(|e| e.id == event.id) {
            return Ok(false);
        }
        all.push(event.clone());
        Ok(true)
    }

    async fn event(
        &self,
        merchant: &shared::domain::Identifier,
        id: &shared::domain::EventId,
    ) -> Result<Option<shared::ports::StoredEvent>, StoreError> {
        let all = self.0.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(all.iter().find(|e| &e.id == id && &e.merchant_id == merchant).cloned())
    }

    async fn events(
        &self,
        merchant: &shared::domain::Identifier,
        query: &shared::ports::EventQuery,
    ) -> Result<shared::ports::EventPage, StoreError> {
        let all = self.0.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let key = |e: &shared::ports::StoredEvent| (e.created_at, e.id.to_string());
        let mut mine: Vec<_> = all
            .iter()
            .filter(|e| &e.merchant_id == merchant)
            .filter(|e| query.kind.is_none_or(|k| k == e.kind))
            .filter(|e| query.from.is_none_or(|f| e.created_at >= f))
            .filter(|e| query.to.is_none_or(|t| e.created_at < t))
            .filter(|e| query.before.as_ref().is_none_or(|c| key(e) < (c.created_at, c.id.to_string())))
            .cloned()
            .collect();
        mine.sort_by_key(|e| std::cmp::Reverse(key(e)));
        let limit = usize::from(query.limit.max(1));
        let next = (mine.len() > limit).then(|| {
            mine.truncate(limit);
            mine.last().map(|e| shared::ports::EventCursor { created_at: e.created_at, id: e.id.clone() })
        });
        Ok(shared::ports::EventPage { events: mine, next: next.flatten() })
    }
}

/// The merchants' webhook endpoints in memory, written under their version as in DynamoDB.
#[derive(Default)]
pub struct MemoryEndpointStore(std::sync::Mutex<HashMap<String, shared::ports::EndpointSet>>);

#[async_trait::async_trait]
impl shared::ports::EndpointStore for MemoryEndpointStore {
    async fn endpoints(&self, merchant: &shared::domain::Identifier) -> Result<shared::ports::EndpointSet, StoreError> {
        let all = self.0.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(all.get(merchant.as_str()).cloned().unwrap_or_default())
    }

    async fn save(
        &self,
        merchant: &shared::domain::Identifier,
        set: &shared::ports::EndpointSet,
    ) -> Result<(), StoreError> {
        let mut all = self.0.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let stored = all.get(merchant.as_str()).map_or(0, |s| s.version);
        if stored != set.version {
            return Err(StoreError::Conflict);
        }
        all.insert(
            merchant.to_string(),
            shared::ports::EndpointSet { endpoints: set.endpoints.clone(), version: stored + 1 },
        );
        Ok(())
    }
}

/// Webhook deliveries in memory, with the DynamoDB store's conditions.
#[derive(Default)]
pub struct MemoryDeliveryStore {
    deliveries: std::sync::Mutex<Vec<shared::ports::Delivery>>,
    attempts: std::sync::Mutex<Vec<(String, shared::ports::AttemptRecord)>>,
}

#[async_trait::async_trait]
impl shared::ports::DeliveryStore for MemoryDeliveryStore {
    async fn open(&self, fresh: &shared::ports::Delivery) -> Result<shared::ports::Delivery, StoreError> {
        let mut all = self.deliveries.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        if let Some(found) = all.iter().find(|d| d.event_id == fresh.event_id && d.endpoint_id == fresh.endpoint_id) {
            return Ok(found.clone());
        }
        all.push(fresh.clone());
        Ok(fresh.clone())
    }

    async fn record(
        &self,
        after: &shared::ports::Delivery,
        attempts_read: u32,
        attempt: Option<&shared::ports::AttemptRecord>,
    ) -> Result<(), StoreError> {
        let mut all = self.deliveries.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let stored = all
            .iter_mut()
            .find(|d| d.event_id == after.event_id && d.endpoint_id == after.endpoint_id)
            .ok_or(StoreError::Conflict)?;
        if stored.attempts != attempts_read {
            return Err(StoreError::Conflict);
        }
        *stored = after.clone();
        if let Some(a) = attempt {
            let mut log = self.attempts.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
            log.push((after.merchant_id.to_string(), a.clone()));
        }
        Ok(())
    }

    async fn due(&self, now: i64, limit: u8) -> Result<Vec<shared::ports::Delivery>, StoreError> {
        let all = self.deliveries.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut due: Vec<_> = all.iter().filter(|d| d.is_due(now)).cloned().collect();
        due.sort_by_key(|d| d.next_at);
        due.truncate(usize::from(limit.max(1)));
        Ok(due)
    }

    async fn attempts(
        &self,
        merchant: &shared::domain::Identifier,
        endpoint: &shared::domain::EndpointId,
        limit: u8,
    ) -> Result<Vec<shared::ports::AttemptRecord>, StoreError> {
        let log = self.attempts.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut mine: Vec<_> = log
            .iter()
            .filter(|(m, a)| m == merchant.as_str() && &a.endpoint_id == endpoint)
            .map(|(_, a)| a.clone())
            .collect();
        mine.reverse();
        mine.truncate(usize::from(limit.max(1)));
        Ok(mine)
    }
}

/// No network in memory: every webhook attempt fails to connect.
pub struct UnreachableWebhooks;

#[async_trait::async_trait]
impl shared::ports::WebhookSender for UnreachableWebhooks {
    async fn send(&self, _out: &shared::ports::Outgoing) -> shared::ports::Answered {
        shared::ports::Answered {
            status: None,
            retry_after: None,
            error: Some("no network in memory".into()),
            latency_ms: 0,
        }
    }
}
