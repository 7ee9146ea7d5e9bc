//! `make bench`: each handler end to end in process (request in, answer out) on a warm
//! instance, with the in-memory adapters, so the figure is the platform's own work: parsing,
//! validation, HMACs, AES-GCM, JSON, logging. Criterion drives the runs; every request is also
//! timed on its own, and the per-request median/p90/p99 go to `target/bench/warm_path.json`
//! for BENCHMARKS.md (the target is p99 ≤ 100 µs). Log lines are formatted as in AWS (JSON)
//! and dropped; business metrics go to the in-memory recorder. Each batch of requests gets
//! fresh stores (set up untimed), so a store grown by earlier batches does not slow later ones:
//! in AWS the state is in DynamoDB, not in the instance.
// Test support may unwrap, panic and index: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::Criterion;
use integration_tests::{
    first_payment_body, from_merchant, post_request, repeat_payment_body, six_digits, CARD_KEYS, CODE_KEYS,
};
use payments_testkit::memory::MemoryStack;
use serde_json::{json, Value};
use shared::adapters::clock::SystemClock;
use shared::domain::Phone;
use shared::lambda_http::{Body, Request, Response};
use shared::ports::{CodeSender, SendError, SmsLimits, SmsText};
use shared::secrets::Keyring;
use shared::Services;

const MERCHANT: &str = "shop-1";
const CARD: &str = "4242424242424242";

type Answer<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;
type Handler = for<'a> fn(&'a Services, Request) -> Answer<'a>;

fn first_payment(s: &Services, r: Request) -> Answer<'_> {
    Box::pin(shared::http::first_payment(s, r))
}
fn repeat_payment(s: &Services, r: Request) -> Answer<'_> {
    Box::pin(shared::http::repeat_payment(s, r))
}
fn verify_code(s: &Services, r: Request) -> Answer<'_> {
    Box::pin(shared::http::verify_code(s, r))
}
fn payment_status(s: &Services, r: Request) -> Answer<'_> {
    Box::pin(shared::http::payment_status(s, r))
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// An id, Idempotency-Key or mobile number no other request of this run has.
fn fresh(prefix: &str) -> String {
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
fn fresh_phone() -> String {
    format!("+86138{:08}", NEXT.fetch_add(1, Ordering::Relaxed) % 100_000_000)
}

/// The latest code sent to each phone since the last `take`.
#[derive(Default)]
struct Inbox(Mutex<HashMap<String, String>>);

#[async_trait::async_trait]
impl CodeSender for Inbox {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<(), SendError> {
        let code = six_digits(&text.0).unwrap_or_default();
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(to.expose().to_owned(), code);
        Ok(())
    }
}

impl Inbox {
    fn take(&self) -> HashMap<String, String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Fresh in-memory stores with the platform's real keys, use cases and HTTP layer.
struct World {
    services: Services,
    inbox: Arc<Inbox>,
}

impl World {
    fn new() -> Self {
        let keys = |name, spec| Keyring::parse(name, spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (code, card) = (keys("CODE_HASH_KEYS", CODE_KEYS), keys("CARD_ENCRYPTION_KEYS", CARD_KEYS));
        let mut services =
            MemoryStack::new(Arc::new(SystemClock), &code, &card).unwrap_or_else(|e| panic!("{e}")).services;
        // One shopper may pay over and over here: no SMS cap may stop the loop.
        services.sms_limits = SmsLimits::unlimited();
        let inbox = Arc::new(Inbox::default());
        services.sms = inbox.clone();
        Self { services, inbox }
    }
}

struct Bench {
    rt: tokio::runtime::Runtime,
    /// Every timed request's duration, per benchmark.
    samples: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
}

impl Bench {
    fn call(&self, world: &World, handler: Handler, req: Request) -> Value {
        let answer = self.rt.block_on(handler(&world.services, req));
        serde_json::from_slice(answer.body().as_ref()).unwrap_or(Value::Null)
    }

    /// Times `handler` on each of `requests` alone (they are built untimed) and checks every
    /// answer's status: a benchmark of failures would measure nothing useful.
    fn time(
        &self,
        world: &World,
        name: &'static str,
        handler: Handler,
        expect: u16,
        requests: Vec<Request>,
    ) -> Duration {
        let mut times = Vec::with_capacity(requests.len());
        for req in requests {
            let started = Instant::now();
            let answer = self.rt.block_on(handler(&world.services, req));
            let took = started.elapsed();
            assert_eq!(answer.status().as_u16(), expect, "{name}: {:?}", answer.body());
            times.push(took);
        }
        let total = times.iter().sum();
        self.samples.lock().unwrap_or_else(PoisonError::into_inner).entry(name).or_default().extend(times);
        total
    }

    /// A pending first payment (untimed): its id and the code its shopper got.
    fn pending(&self, world: &World, user: &str) -> (String, String) {
        let phone = fresh_phone();
        let created =
            self.call(world, first_payment, as_merchant("/payments", &first_payment_body(user, &phone, CARD), None));
        let id = created["payment_id"].as_str().unwrap_or_default().to_owned();
        let code = world.inbox.take().remove(&phone).unwrap_or_default();
        (id, code)
    }

    /// `user` pays once and verifies (untimed): a saved card to pay again with.
    fn returning(&self, world: &World, user: &str) {
        let (id, code) = self.pending(world, user);
        let done = self.call(
            world,
            verify_code,
            as_merchant(&format!("/payments/{id}/verify"), &json!({ "code": code }), None),
        );
        assert_eq!(done["status"], "succeeded", "{done}");
    }

    fn report(&self) -> Value {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let us = |d: Duration| (d.as_secs_f64() * 1e7).round() / 10.0;
        let rows: serde_json::Map<String, Value> = samples
            .iter()
            .map(|(name, times)| {
                let mut sorted = times.clone();
                sorted.sort();
                let at = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
                let mean = sorted.iter().sum::<Duration>() / sorted.len().max(1) as u32;
                let row = json!({
                    "requests": sorted.len(), "median_us": us(at(0.5)), "p90_us": us(at(0.9)),
                    "p99_us": us(at(0.99)), "max_us": us(at(1.0)), "mean_us": us(mean),
                });
                println!("{name:<32} {row}");
                ((*name).to_owned(), row)
            })
            .collect();
        Value::Object(rows)
    }
}

fn as_merchant(path: &str, body: &Value, key: Option<&str>) -> Request {
    from_merchant(post_request(path, body, key), MERCHANT)
}

fn get(path: &str) -> Request {
    let req = shared::lambda_http::http::Request::get(format!("https://api.example.com{path}")).body(Body::Empty);
    from_merchant(req.unwrap_or_else(|e| panic!("{e}")), MERCHANT)
}

fn main() {
    shared::telemetry::init_writing_to(std::io::sink);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let bench = Bench { rt, samples: Mutex::default() };
    // A warm instance: the first request's one-off work (phone metadata, first allocations)
    // is behind it.
    bench.returning(&World::new(), "warm-up");

    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(1));
    let mut group = c.benchmark_group("warm_path");
    for (name, keyed) in [("first payment", false), ("first payment, Idempotency-Key", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|n| {
                let world = World::new();
                let requests = (0..n)
                    .map(|_| {
                        let body = first_payment_body(&fresh("u"), &fresh_phone(), CARD);
                        as_merchant("/payments", &body, keyed.then(|| fresh("k")).as_deref())
                    })
                    .collect();
                bench.time(&world, name, first_payment, 201, requests)
            })
        });
    }
    group.bench_function("verify, right code", |b| {
        b.iter_custom(|n| {
            let world = World::new();
            let requests = (0..n)
                .map(|_| {
                    let (id, code) = bench.pending(&world, &fresh("u"));
                    as_merchant(&format!("/payments/{id}/verify"), &json!({ "code": code }), None)
                })
                .collect();
            bench.time(&world, "verify, right code", verify_code, 200, requests)
        })
    });
    group.bench_function("repeat payment", |b| {
        b.iter_custom(|n| {
            let world = World::new();
            let user = fresh("u");
            bench.returning(&world, &user);
            let mut body = repeat_payment_body(&user);
            body["merchant_id"] = json!(MERCHANT);
            let requests = (0..n).map(|_| as_merchant("/payments/repeat", &body, None)).collect();
            bench.time(&world, "repeat payment", repeat_payment, 201, requests)
        })
    });
    group.bench_function("payment status", |b| {
        b.iter_custom(|n| {
            let world = World::new();
            let (id, _) = bench.pending(&world, &fresh("u"));
            let requests = (0..n).map(|_| get(&format!("/payments/{id}"))).collect();
            bench.time(&world, "payment status", payment_status, 200, requests)
        })
    });
    // How much of a first payment is validating the phone (libphonenumber's rules).
    group.bench_function("phone validation alone", |b| {
        b.iter_custom(|n| {
            let mut times = Vec::with_capacity(n as usize);
            for raw in (0..n).map(|_| fresh_phone()) {
                let started = Instant::now();
                std::hint::black_box(Phone::parse("phone", &raw).is_ok());
                times.push(started.elapsed());
            }
            let total = times.iter().sum();
            bench
                .samples
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry("phone validation alone")
                .or_default()
                .extend(times);
            total
        })
    });
    group.finish();
    c.final_summary();

    let report = bench.report();
    integration_tests::write_bench_json("warm_path.json", &report);
}
