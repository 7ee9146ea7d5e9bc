//! Exactly-once under races, counted: many rounds of concurrent verifies with the right code,
//! and of concurrent first/repeat payments sharing one Idempotency-Key. `RACE_ROUNDS` sets the
//! number of verify rounds (default 100; `make test` 60, `make soak` 1000). They run on the
//! second moto `make test` starts (with the concurrent-refunds race): each emulator serializes
//! its requests on one core, and these races would otherwise hold every other test behind them.

use std::collections::{BTreeSet, HashMap};

use futures::future::join_all;
use futures::stream::{self, StreamExt};
use integration_tests::*;
use shared::ports::{AttemptLimits, SmsLimits};

/// Rounds running at once (each on its own payment); moto still serializes every request.
const PARALLEL_ROUNDS: usize = 2;

fn rounds() -> usize {
    std::env::var("RACE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

/// The two races take turns: each alone keeps moto busy.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn unlimited_sms() -> SmsLimits {
    SmsLimits::unlimited()
}

#[derive(Default, Debug)]
struct Tally {
    rounds: usize,
    requests: usize,
    rounds_with_one_success: usize,
    rounds_with_several_successes: usize,
    rounds_with_a_5xx: usize,
    statuses: HashMap<u16, usize>,
}

impl Tally {
    fn add(&mut self, statuses: &[u16], successes: usize) {
        self.rounds += 1;
        self.requests += statuses.len();
        match successes {
            1 => self.rounds_with_one_success += 1,
            0 => {}
            _ => self.rounds_with_several_successes += 1,
        }
        if statuses.iter().any(|s| *s >= 500) {
            self.rounds_with_a_5xx += 1;
        }
        for s in statuses {
            *self.statuses.entry(*s).or_default() += 1;
        }
    }
}

/// Rounds per table. moto runs a TransactWriteItems by deep-copying the whole table once per
/// item it writes (to roll back), and every racer that gets past the code check tries the
/// success transaction (payment + order, and the card every tenth round): on one ever-growing
/// table the run would be quadratic. DynamoDB has no such cost.
const ROUNDS_PER_TABLE: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_right_codes_complete_each_payment_exactly_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut outcomes: Vec<Vec<u16>> = Vec::new();
    for first_round in (0..rounds()).step_by(ROUNDS_PER_TABLE) {
        let stack = Stack::on_second_moto(unlimited_sms(), AttemptLimits::unlimited()).await;
        let user = random_id("u");
        let last_round = (first_round + ROUNDS_PER_TABLE).min(rounds());
        let batch: Vec<Vec<u16>> = stream::iter(first_round..last_round)
            .map(|round| {
                let stack = &stack;
                let user = &user;
                async move {
                    let phone = random_phone();
                    let mut body = first_payment_body(user, &phone, "4242424242424242");
                    // Every tenth payment saves its card, so the winner's commit is the
                    // transaction (payment + saved card); the others a single conditional put.
                    body["save_card"] = (round % 10 == 0).into();
                    let created = stack.first_payment(&body).await;
                    assert_eq!(created.status, 201, "{}", created.body);
                    let id = created.body["payment_id"].as_str().unwrap().to_owned();
                    let code = stack.code_sent_to(&phone);
                    let racers = 2 + round % 19;
                    join_all((0..racers).map(|_| stack.verify(&id, &code))).await.iter().map(|a| a.status).collect()
                }
            })
            .buffer_unordered(PARALLEL_ROUNDS)
            .collect()
            .await;
        outcomes.extend(batch);
        stack.delete_table().await;
    }
    let mut tally = Tally::default();
    for statuses in &outcomes {
        tally.add(statuses, statuses.iter().filter(|s| **s == 200).count());
    }
    println!("verify race: {tally:?}");
    record_figure("race-verify", &format!("verify race: {tally:?}"));
    assert_eq!(tally.rounds, rounds());
    assert_eq!(tally.rounds_with_several_successes, 0);
    assert_eq!(tally.rounds_with_a_5xx, 0);
    assert_eq!(tally.rounds_with_one_success, tally.rounds, "every payment completes once");
    assert!(tally.statuses.keys().all(|s| *s == 200 || *s == 409), "{:?}", tally.statuses);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_sharing_a_key_make_one_payment_and_one_sms() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::on_second_moto(unlimited_sms(), AttemptLimits::unlimited()).await;
    // A shopper with a saved card, for the repeat rounds.
    let (user, phone) = (random_id("u"), random_phone());
    let created = stack.first_payment(&first_payment_body(&user, &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&id, &stack.code_sent_to(&phone)).await.status, 200);

    // First and repeat payments alternate: rounds()/10 of each, at least 10 (make test's 20).
    let rounds = (rounds() / 10).max(10);
    let mut tally = Tally::default();
    let mut orders = Vec::new();
    for round in 0..rounds * 2 {
        let repeat = round % 2 == 1;
        let round_phone = if repeat { phone.clone() } else { random_phone() };
        let (function, path, body) = if repeat {
            (Function::RepeatPayment, "/payments/repeat", repeat_payment_body(&user))
        } else {
            (Function::FirstPayment, "/payments", first_payment_body(&random_id("u"), &round_phone, "4242424242424242"))
        };
        orders.push(body["order_id"].as_str().unwrap().to_owned());
        let key = random_id("tap");
        let sms_before = stack.sms_count(&round_phone);
        let racers = 2 + round % 19;
        let answers = join_all((0..racers).map(|_| stack.call(function, path, &body, Some(&key)))).await;
        let created: BTreeSet<String> =
            answers.iter().filter(|a| a.status == 201).map(|a| a.body.to_string()).collect();
        assert!(created.len() <= 1, "round {round}: different answers for one key: {created:?}");
        for a in answers.iter().filter(|a| a.status != 201) {
            assert_eq!((a.status, a.body["code"].as_str()), (409, Some("request_in_progress")), "round {round}");
        }
        assert_eq!(stack.sms_count(&round_phone) - sms_before, 1, "round {round}: one SMS");
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        tally.add(&statuses, created.len());
    }
    let items = stack.scan().await;
    let mut per_order: HashMap<String, usize> = HashMap::new();
    for item in items.iter().filter(|i| i["entity"].as_s().unwrap() == "payment") {
        *per_order.entry(item["order_id"].as_s().unwrap().clone()).or_default() += 1;
    }
    let payments_per_request: BTreeSet<usize> = orders.iter().map(|o| per_order.get(o).copied().unwrap_or(0)).collect();
    println!("idempotency race: {tally:?}; payments per request: {payments_per_request:?}");
    record_figure(
        "race-idempotency",
        &format!("idempotency race: {tally:?}; payments per request: {payments_per_request:?}"),
    );
    assert_eq!(payments_per_request, BTreeSet::from([1]), "one payment per request");
    assert_eq!(tally.rounds_with_one_success, tally.rounds);
    assert_eq!(tally.rounds_with_a_5xx, 0);
}

/// The merchant's SMS cap, split into counter shards that join each payment's transaction,
/// under concurrent first payments: the cap is never exceeded, every answer is a payment or
/// `429 sms_rate_limited` (no transaction fails on a counter), each payment opened sent one
/// SMS, and the shards add up to the payments opened, each within its share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_merchant_sms_cap_holds_under_concurrent_payments() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let limits = SmsLimits { per_phone: 10, per_merchant: 12, ..SmsLimits::default() };
    let stack = Stack::on_second_moto(limits, AttemptLimits::unlimited()).await;
    let phones: Vec<String> = (0..30).map(|_| random_phone()).collect();
    let bodies: Vec<_> = phones.iter().map(|p| first_payment_body(&random_id("u"), p, "4242424242424242")).collect();
    let answers = join_all(bodies.iter().map(|body| stack.first_payment(body))).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let opened = answers.iter().filter(|a| a.status == 201).count();
    let refused = answers.iter().filter(|a| a.status == 429 && a.body["code"] == "sms_rate_limited").count();
    println!("sharded cap 12 under 30 concurrent payments: {opened} opened, {refused} refused");
    assert_eq!(opened + refused, phones.len(), "{statuses:?}");
    assert!(opened <= 12, "the cap is never exceeded: {opened}");
    // 8 shards with shares 2,2,2,2,1,1,1,1: a refusal needs two full shards, so at least 2
    // payments were opened before any refusal.
    assert!(opened >= 2, "{opened}");
    let sent: usize = phones.iter().map(|p| stack.sms_count(p)).sum();
    assert_eq!(sent, opened, "one SMS per payment opened");

    let mut per_shard: Vec<(String, u64)> = stack
        .scan()
        .await
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("QUOTA#MERCHANT#"))
        .map(|i| (i["pk"].as_s().unwrap().clone(), i["sent"].as_n().unwrap().parse().unwrap()))
        .collect();
    per_shard.sort();
    assert_eq!(per_shard.iter().map(|(_, n)| *n).sum::<u64>(), opened as u64, "{per_shard:?}");
    for (pk, n) in &per_shard {
        let shard: u32 = pk.rsplit('#').next().unwrap().parse().unwrap();
        assert!(*n <= u64::from(limits.shard_cap(shard)), "{pk}: {n}");
    }
    assert!(per_shard.len() <= limits.merchant_shards() as usize);
}

/// A second "Pay" in a checkout session cancels the first payment while the first one's
/// authorisation is in flight (the acquirer answers after 800 ms; the second Pay comes 200 ms
/// in). Whichever way each round goes, every authorisation ends captured or voided, by a named
/// owner: the first request voids its own when its write loses to the cancel; the sweeper voids
/// by payment id, after the grace, what a request that died left in doubt, and at expiry what
/// nobody completed. Counted against the acquirer's own ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pay_racing_an_in_flight_authorisation_leaves_no_hold() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut outcomes: HashMap<(u16, u16), usize> = HashMap::new();
    let mut held = Vec::new();
    // 100 rounds in `make soak` (RACE_ROUNDS=1000), 40 in `make test` (each round holds an
    // authorisation 800 ms in flight).
    let rounds = (rounds() / 10).clamp(40, 100);
    for start in (0..rounds).step_by(ROUNDS_PER_TABLE) {
        let mut stack = Stack::on_second_moto(unlimited_sms(), AttemptLimits::unlimited()).await;
        let in_flight = std::time::Duration::from_millis(800);
        let acquirer = std::sync::Arc::new(payments_testkit::LedgerAcquirer::slow(in_flight));
        stack.services.acquirer = acquirer.clone();
        let stack = &stack;
        let batch = (start..rounds.min(start + ROUNDS_PER_TABLE)).map(|_| async move {
            let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
            let (first_phone, second_phone) = (random_phone(), random_phone());
            let first = stack.pay_in_session(&sid, &secret, &first_phone);
            let second = async {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                stack.pay_in_session(&sid, &secret, &second_phone).await
            };
            let (first, second) = tokio::join!(first, second);
            // A payment ended while its authorisation was in flight sends no code: its
            // authorisation is stored before any SMS, and that write lost.
            if first.status == 409 {
                assert_eq!(stack.sms_count(&first_phone), 0, "a code for a canceled payment: {}", first.body);
            }
            // The session's payment completes: its funds are captured.
            if second.status == 201 {
                let pid = second.body["payment_id"].as_str().unwrap().to_owned();
                let done = stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&second_phone)).await;
                assert_eq!(done.status, 200, "{}", done.body);
            }
            (first.status, second.status)
        });
        for outcome in stream::iter(batch).buffer_unordered(10).collect::<Vec<_>>().await {
            *outcomes.entry(outcome).or_default() += 1;
        }
        // Past the grace, the sweeper voids what is left in doubt; past the expiry, what nobody
        // completed.
        for wait in [shared::domain::AUTHORIZATION_GRACE_SECS + 1, shared::domain::PAYMENT_TTL_SECS] {
            stack.clock.advance(wait);
            shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
        }
        held.extend(acquirer.held());
        stack.delete_table().await;
    }
    println!("second pay racing an in-flight authorisation, {rounds} rounds: (first, second) → rounds {outcomes:?}");
    assert!(held.is_empty(), "authorisations left held: {held:?}");
    // The race this test is for happened: the first payment was canceled in flight, and its
    // request answered 409 after voiding its own authorisation.
    assert!(outcomes.get(&(409, 201)).is_some_and(|n| *n > 0), "{outcomes:?}");
}
