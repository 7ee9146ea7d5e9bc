//! Shared support for the integration tests: the real handlers over the real AWS SDK against
//! moto (started by `make test`, which sets `MOTO_ENDPOINT`), one fresh table per test, and
//! the SMS moto recorded.
// Test support may unwrap, panic and index: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod calls;
pub mod faults;
pub mod http_client;
pub mod round_trips;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use payments_testkit::memory::MemoryMetrics;
use payments_testkit::ManualClock;
use rand::Rng;
use serde_json::{json, Value};
use shared::adapters::dynamodb::table::Stream;
use shared::config::Config;
use shared::lambda_http::{http, Body, Request, Response};
use shared::ports::{AttemptLimits, CodeSender, SendError, SmsLimits, SmsText};
use shared::secrets::Keyring;
use shared::{Ports, Services};

pub const CODE_KEYS: &str = "it1:ZGV2LW9ubHktY29kZS1oYXNoLWtleS1ub3QtcHJvZCE=";
pub const CARD_KEYS: &str = "it1:ZGV2LW9ubHktY2FyZC1lbmNyeXB0aW9uLWtleS0hISE=";

/// moto's address, as set by `make test`.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT is not set: run the integration tests with `make test`")
}

/// Production's SDK settings (timeouts, retries), pointed at moto, optionally through a
/// fault-injecting HTTP client.
pub async fn aws_config(faults: Option<&faults::FaultPlan>) -> aws_config::SdkConfig {
    aws_config_at(&moto_endpoint(), faults).await
}

/// The second moto `make test` starts (`SECOND_MOTO_ENDPOINT`), for the long races (races.rs,
/// the concurrent refunds) that would otherwise queue every other test behind them on the first
/// one's lock (moto serializes its requests: a second process runs on the second core); the
/// first where there is none.
pub fn second_moto_endpoint() -> String {
    std::env::var("SECOND_MOTO_ENDPOINT").unwrap_or_else(|_| moto_endpoint())
}

pub async fn aws_config_at(endpoint: &str, faults: Option<&faults::FaultPlan>) -> aws_config::SdkConfig {
    let loader = shared::bootstrap::aws_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"));
    match faults {
        // Production's timeouts are for DynamoDB's milliseconds; moto serializes every request
        // in Python (10-50 ms each), so a busy test queues for seconds. The fault tests keep
        // production's timeouts: they are what a timeout fault exercises.
        None => {
            let relaxed = aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(std::time::Duration::from_secs(30))
                .operation_timeout(std::time::Duration::from_secs(90))
                .build();
            loader.timeout_config(relaxed).load().await
        }
        Some(plan) => {
            let config = loader.load().await;
            // moto is plain HTTP: the same hyper client the SDK uses, without TLS.
            let real = aws_smithy_http_client::Builder::new().build_http();
            config.to_builder().http_client(plan.client_around(real)).build()
        }
    }
}

/// Which Lambda a request goes to.
#[derive(Clone, Copy, Debug)]
pub enum Function {
    FirstPayment,
    RepeatPayment,
    VerifyCode,
    PaymentStatus,
    PaymentOperations,
    CheckoutPage,
    AcquirerNotifications,
}

impl Function {
    /// Its resource in template.yaml.
    pub const fn resource(self) -> &'static str {
        match self {
            Self::FirstPayment => "FirstPaymentFunction",
            Self::RepeatPayment => "RepeatPaymentFunction",
            Self::VerifyCode => "VerifyCodeFunction",
            Self::PaymentStatus => "PaymentStatusFunction",
            Self::PaymentOperations => "PaymentOperationsFunction",
            Self::CheckoutPage => "CheckoutPageFunction",
            Self::AcquirerNotifications => "AcquirerNotificationsFunction",
        }
    }
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: http::HeaderMap,
}

/// Every SMS the platform sent through SNS successfully, as the shopper got it. Reading codes
/// here instead of from moto's dump keeps busy tests fast (the dump grows with every item).
#[derive(Default)]
pub struct SentSms(std::sync::Mutex<Vec<(String, String)>>);

/// Every SMS SNS (moto) accepted from this process's stacks, in order: what [`sms_to`] reads.
/// Reading moto's own record means dumping its whole state (every test's tables) as JSON, which
/// cost seconds per read late in a run; `payment_flows::first_payment_verify_repeat_verify`
/// checks the two records agree.
static PUBLISHED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

struct RecordingSender {
    real: Arc<dyn CodeSender>,
    sent: Arc<SentSms>,
}

#[async_trait::async_trait]
impl CodeSender for RecordingSender {
    async fn send(&self, to: &shared::domain::Phone, text: &SmsText) -> Result<(), SendError> {
        self.real.send(to, text).await?;
        let sms = (to.expose().to_owned(), text.0.clone());
        PUBLISHED.lock().unwrap().push(sms.clone());
        self.sent.0.lock().unwrap().push(sms);
        Ok(())
    }
}

pub struct Stack {
    pub services: Services,
    pub sent: Arc<SentSms>,
    pub clock: Arc<ManualClock>,
    /// The business metrics the stack's use cases recorded (EMF in AWS).
    pub metrics: Arc<MemoryMetrics>,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub table: String,
    /// The moto its table is on.
    pub endpoint: String,
    aws: aws_config::SdkConfig,
    /// Where [`Stack::drain_stream`] has read the table's stream to (a streaming stack's).
    stream: tokio::sync::Mutex<Option<shared::parameters::StreamReader>>,
    /// What the payment-status function runs with: the same stores, but no key.
    pub keyless: Ports,
    /// The payment store as the checkout-page function has it: no card key (its saved cards and
    /// payments are read without one).
    page_payments: Arc<dyn shared::ports::PaymentStore>,
    /// The AWS requests the services' adapters sent (not the test's own scans).
    pub calls: calls::CallLog,
    /// The DynamoDB accesses of each request the stack served, by the template's function
    /// resource that serves it (meaningful where one request runs at a time).
    pub accesses: Mutex<Vec<(&'static str, Vec<calls::Access>)>>,
}

impl Stack {
    /// Real adapters on a table of its own; a clock the test can move; default SMS caps.
    pub async fn new() -> Self {
        Self::with_sms_limits(SmsLimits::default()).await
    }

    pub async fn with_sms_limits(sms_limits: SmsLimits) -> Self {
        Self::build(sms_limits, AttemptLimits::default(), None).await
    }

    /// Default SMS caps, these velocity limits on card attempts.
    pub async fn with_attempt_limits(attempt_limits: AttemptLimits) -> Self {
        Self::build(SmsLimits::default(), attempt_limits, None).await
    }

    /// A test that pays with one card many times to reach something else (a race, an SMS cap,
    /// a page of history) lifts the velocity limits on card attempts; the tests of those limits
    /// run with production's.
    pub async fn with_limits(sms_limits: SmsLimits, attempt_limits: AttemptLimits) -> Self {
        Self::build(sms_limits, attempt_limits, None).await
    }

    /// As [`Stack::with_limits`], on the second moto ([`second_moto_endpoint`]).
    pub async fn on_second_moto(sms_limits: SmsLimits, attempt_limits: AttemptLimits) -> Self {
        Self::build_at(&second_moto_endpoint(), sms_limits, attempt_limits, None, Stream::Off).await
    }

    /// As [`Stack::new`], on a table that streams its changes (as the deployed one does): for
    /// the webhook events, read from the stream by [`Stack::drain_stream`].
    pub async fn streaming() -> Self {
        Self::build_at(&moto_endpoint(), SmsLimits::default(), AttemptLimits::default(), None, Stream::On).await
    }

    /// What the event source mapping does in AWS: the table's stream records since the last
    /// drain, as one batch, handed to the webhook-events function's work.
    pub async fn drain_stream(&self) -> shared::webhook_events::BatchReport {
        let batch = self.read_stream().await;
        self.record_batch(&batch).await
    }

    /// The webhook-events function's work on `batch` (its ports and code key: no card key).
    pub async fn record_batch(&self, batch: &Value) -> shared::webhook_events::BatchReport {
        shared::webhook_events::record_batch(&self.code_only(), &serde_json::from_value(batch.clone()).unwrap()).await
    }

    /// The table's stream records since the last read, as the event source mapping's batch.
    pub async fn read_stream(&self) -> Value {
        let mut reader = self.stream.lock().await;
        if reader.is_none() {
            *reader = Some(shared::parameters::StreamReader::open(&self.aws, &self.table).await.unwrap());
        }
        reader.as_mut().unwrap().next_batch().await.unwrap()
    }

    /// Real adapters whose every AWS call passes through `plan`, which can fail it.
    pub async fn with_faults(plan: &faults::FaultPlan) -> Self {
        Self::build(SmsLimits::default(), AttemptLimits::default(), Some(plan)).await
    }

    /// A stack's table lives on one of the two motos, in turn (moto serializes its requests on
    /// one core: one moto held the whole suite behind its lock while the second core idled). The
    /// fault cases are on the second: `make test` runs them, with production's timeouts, while
    /// only the campaign runs, on the first (through the local stack).
    async fn build(sms_limits: SmsLimits, attempt_limits: AttemptLimits, faults: Option<&faults::FaultPlan>) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let second = faults.is_some() || NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 1;
        let endpoint = if second { second_moto_endpoint() } else { moto_endpoint() };
        Self::build_at(&endpoint, sms_limits, attempt_limits, faults, Stream::Off).await
    }

    async fn build_at(
        endpoint: &str,
        sms_limits: SmsLimits,
        attempt_limits: AttemptLimits,
        faults: Option<&faults::FaultPlan>,
        stream: Stream,
    ) -> Self {
        let aws = aws_config_at(endpoint, faults).await;
        let table = format!("it-{}", rand::rng().random::<u64>());
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        shared::adapters::dynamodb::table::create_table(&dynamo, &table, stream).await.unwrap();
        let config = Config {
            table_name: table.clone(),
            code_hash_keys: Some(Keyring::parse("CODE_HASH_KEYS", CODE_KEYS).unwrap()),
            card_keys: Some(Keyring::parse("CARD_ENCRYPTION_KEYS", CARD_KEYS).unwrap()),
            sms_sender_id: None,
            sms_limits,
            attempt_limits,
            metrics_namespace: "Payments".into(),
            function_name: "integration-tests".into(),
            settings: Default::default(),
            acquirer: shared::config::AcquirerChoice::Sandbox,
            adyen_api_key: None,
            adyen_hmac_key: None,
        };
        let clock = Arc::new(ManualClock::starting_now());
        let calls = calls::CallLog::default();
        let counted_dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws).interceptor(calls.clone()).build(),
        );
        let counted_sns =
            aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(&aws).interceptor(calls.clone()).build());
        let mut services = shared::bootstrap::services_over(&config, counted_dynamo.clone(), counted_sns).unwrap();
        services.clock = clock.clone();
        let sent = Arc::new(SentSms::default());
        services.sms = Arc::new(RecordingSender { real: services.sms.clone(), sent: sent.clone() });
        let metrics = Arc::new(MemoryMetrics::default());
        services.metrics = metrics.clone();
        // The status function as deployed: its ports, no key at all (payments read with masked
        // phones).
        let mut keyless: Ports = (**services).clone();
        keyless.payments = Arc::new(shared::adapters::dynamodb::DynamoPaymentStore::new(counted_dynamo, &table, None));
        let page_payments = keyless.payments.clone();
        Self {
            services,
            keyless,
            page_payments,
            sent,
            clock,
            metrics,
            dynamo,
            table,
            endpoint: endpoint.to_owned(),
            aws,
            stream: tokio::sync::Mutex::default(),
            calls,
            accesses: Mutex::default(),
        }
    }

    /// A rotation of the code key, as an operator does it: a new key becomes current, the old
    /// one stays beside it (`new:…,it1:…`); the functions restart with it over the same table.
    pub fn rotate_code_key(&mut self) {
        const ROTATED: &str = "it2:cm90YXRlZC1jb2RlLWhhc2gta2V5LWZvci10ZXN0cyE=";
        let ring = Keyring::parse("CODE_HASH_KEYS", &format!("{ROTATED},{CODE_KEYS}")).unwrap();
        let hasher = shared::secrets::CodeHasher::new(&ring).unwrap();
        let code =
            shared::CodeServices::new((**self.services).clone(), hasher, shared::secrets::KeptSecrets::new(&ring));
        self.services = Services::new(code, self.services.vault().clone());
    }

    /// Drops this stack's table (moto keeps everything in memory).
    pub async fn delete_table(&self) {
        self.dynamo.delete_table().table_name(&self.table).send().await.unwrap();
    }

    /// The code in the latest SMS this stack sent to `phone`.
    pub fn code_sent_to(&self, phone: &str) -> String {
        let sent = self.sent.0.lock().unwrap();
        let (_, text) =
            sent.iter().rev().find(|(to, _)| to == phone).unwrap_or_else(|| panic!("no SMS was sent to {phone}"));
        six_digits(text).unwrap_or_else(|| panic!("no code in {text:?}"))
    }

    pub fn sms_count(&self, phone: &str) -> usize {
        self.sent.0.lock().unwrap().iter().filter(|(to, _)| to == phone).count()
    }

    pub fn clock_now(&self) -> i64 {
        use shared::ports::Clock;
        self.clock.now()
    }

    /// A merchant's server's POST, as API Gateway passes it on: from the merchant the body
    /// names (`shop-1` when it names none), its JWT verified.
    pub async fn call(&self, function: Function, path: &str, body: &Value, key: Option<&str>) -> Answer {
        let merchant = body["merchant_id"].as_str().unwrap_or("shop-1");
        self.send(function, from_merchant(post_request(path, body, key), merchant)).await
    }

    /// A shopper's browser's POST to a session route, with the session's client secret.
    pub async fn call_as_shopper(
        &self,
        function: Function,
        path: &str,
        secret: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Answer {
        let mut req = post_request(path, body, key);
        req.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
        self.send(function, req).await
    }

    /// The shopper at `ip` pays session `sid` by `card` (codes to a fresh phone); the answer.
    pub async fn pay_in_session_from(&self, sid: &str, secret: &str, card: &str, ip: &str) -> Answer {
        let body =
            json!({"phone": random_phone(), "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
        let mut req = from_address(post_request(&format!("/checkout/{sid}/payments"), &body, None), ip);
        req.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
        self.send(Function::FirstPayment, req).await
    }

    /// A shopper's browser's GET (the page, its state), with `secret` if given.
    pub async fn get_as_shopper(&self, path: &str, secret: Option<&str>) -> Answer {
        let mut req: Request = http::Request::get(format!("https://api.example.com{path}")).body(Body::Empty).unwrap();
        if let Some(secret) = secret {
            req.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
        }
        self.send(Function::CheckoutPage, req).await
    }

    /// The shopper pays session `sid` by card (codes to `phone`); the answer.
    pub async fn pay_in_session(&self, sid: &str, secret: &str, phone: &str) -> Answer {
        let path = format!("/checkout/{sid}/payments");
        self.call_as_shopper(Function::FirstPayment, &path, secret, &session_card_body(phone), None).await
    }

    /// The shopper enters `code` for payment `pid` of session `sid`; the answer.
    pub async fn verify_in_session(&self, sid: &str, secret: &str, pid: &str, code: &str) -> Answer {
        let path = format!("/checkout/{sid}/payments/{pid}/verify");
        self.call_as_shopper(Function::VerifyCode, &path, secret, &json!({ "code": code }), None).await
    }

    /// A new checkout session of `merchant` for `user`: its id and client secret.
    pub async fn create_session(&self, merchant: &str, user: &str, order: &str, amount: u64) -> (String, String) {
        let body = json!({"user_id": user, "order_id": order, "amount": amount, "currency": "CNY"});
        let a = self.call_as(merchant, Function::CheckoutPage, "/checkout/sessions", &body, None).await;
        assert_eq!(a.status, 201, "{}", a.body);
        (a.body["id"].as_str().unwrap().to_owned(), a.body["client_secret"].as_str().unwrap().to_owned())
    }

    /// As `call`, from a merchant whose JWT API Gateway's authorizer verified.
    pub async fn call_as(
        &self,
        merchant: &str,
        function: Function,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Answer {
        self.send(function, from_merchant(post_request(path, body, key), merchant)).await
    }

    /// `GET path` from the status function, from `merchant`'s token (`shop-1`'s if none is
    /// named).
    pub async fn get(&self, path: &str, merchant: Option<&str>) -> Answer {
        let req: Request = http::Request::get(format!("https://api.example.com{path}")).body(Body::Empty).unwrap();
        self.send(Function::PaymentStatus, from_merchant(req, merchant.unwrap_or("shop-1"))).await
    }

    /// `DELETE path` to the payment-operations function, from `merchant`'s token.
    pub async fn delete_as(&self, merchant: &str, path: &str) -> Answer {
        let req: Request = http::Request::delete(format!("https://api.example.com{path}")).body(Body::Empty).unwrap();
        self.send(Function::PaymentOperations, from_merchant(req, merchant)).await
    }

    /// `GET path` from the checkout-page function, from `merchant`'s token.
    pub async fn get_session(&self, path: &str, merchant: &str) -> Answer {
        let req: Request = http::Request::get(format!("https://api.example.com{path}")).body(Body::Empty).unwrap();
        self.send(Function::CheckoutPage, from_merchant(req, merchant)).await
    }

    /// What the webhook-events function and the code-key functions run on (no card key).
    pub fn code_only_for_tests(&self) -> shared::CodeServices {
        self.code_only()
    }

    /// The checkout-page and payment-operations functions as deployed: the stack's ports and
    /// code key, and no card key.
    fn code_only(&self) -> shared::CodeServices {
        let mut page = (*self.services).clone();
        page.payments = self.page_payments.clone();
        page
    }

    pub async fn send(&self, function: Function, req: Request) -> Answer {
        let mark = self.calls.access_mark();
        let response = match function {
            Function::FirstPayment => shared::http::first_payment(&self.services, req).await,
            Function::RepeatPayment => shared::http::repeat_payment(&self.services, req).await,
            Function::VerifyCode => shared::http::verify_code(&self.services, req).await,
            Function::PaymentStatus => shared::http::payment_status(&self.keyless, req).await,
            Function::PaymentOperations => shared::http::payment_operations(&self.code_only(), req).await,
            Function::CheckoutPage => shared::http::checkout_page(&self.code_only(), req).await,
            Function::AcquirerNotifications => shared::http::acquirer_notifications(&self.services, req).await,
        };
        let accesses = self.calls.accesses_since(mark);
        self.accesses.lock().unwrap().push((function.resource(), accesses));
        answer(response)
    }

    pub async fn first_payment(&self, body: &Value) -> Answer {
        self.call(Function::FirstPayment, "/payments", body, None).await
    }

    pub async fn repeat_payment(&self, body: &Value) -> Answer {
        self.call(Function::RepeatPayment, "/payments/repeat", body, None).await
    }

    pub async fn verify(&self, payment_id: &str, code: &str) -> Answer {
        self.call(Function::VerifyCode, &format!("/payments/{payment_id}/verify"), &json!({ "code": code }), None).await
    }

    pub async fn resend(&self, payment_id: &str) -> Answer {
        self.call(Function::VerifyCode, &format!("/payments/{payment_id}/resend"), &json!({}), None).await
    }

    /// Every item in this test's table.
    pub async fn scan(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self.dynamo.scan().table_name(&self.table).set_exclusive_start_key(start).send().await.unwrap();
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

/// `req` as API Gateway's JWT authorizer passes it on: the token's claims in the request
/// context, here naming `merchant`.
pub fn from_merchant(req: Request, merchant: &str) -> Request {
    use shared::lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
    };
    use shared::lambda_http::request::RequestContext;
    use shared::lambda_http::RequestExt;
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims =
        HashMap::from([("merchant_id".to_owned(), merchant.to_owned()), ("sub".to_owned(), "client".to_owned())]);
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// As API Gateway passes on a browser's request from `ip` (its `requestContext.http.sourceIp`).
pub fn from_address(req: Request, ip: &str) -> Request {
    use shared::lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use shared::lambda_http::request::RequestContext;
    use shared::lambda_http::RequestExt;
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(ip.to_owned());
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// A fresh Luhn-valid 16-digit Visa number: a card no other test uses.
pub fn random_card() -> String {
    let body: String = format!("4{:014}", rand::rng().random_range(0..100_000_000_000_000u64));
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A JSON POST to `path`, with an Idempotency-Key if given.
pub fn post_request(path: &str, body: &Value, key: Option<&str>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("https://api.example.com{path}"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    builder.body(Body::Text(body.to_string())).unwrap()
}

fn answer(response: Response<Body>) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    Answer { status, body, headers }
}

/// A fresh valid mainland-China mobile number, so tests never read each other's SMS.
pub fn random_phone() -> String {
    format!("+86138{:08}", rand::rng().random_range(0..100_000_000u32))
}

pub fn random_id(prefix: &str) -> String {
    format!("{prefix}-{}", rand::rng().random::<u32>())
}

pub fn first_payment_body(user: &str, phone: &str, card: &str) -> Value {
    json!({
        "user_id": user, "phone": phone, "merchant_id": "shop-1", "order_id": random_id("o"),
        "amount": 1999, "currency": "CNY",
        "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "737", "holder_name": "Li Lei"},
        "save_card": true
    })
}

/// What the shopper's page sends for a card payment in a session: card and phone only.
pub fn session_card_body(phone: &str) -> Value {
    json!({"phone": phone, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}})
}

pub fn repeat_payment_body(user: &str) -> Value {
    json!({"user_id": user, "merchant_id": "shop-1", "order_id": random_id("o"), "amount": 500, "currency": "CNY"})
}

/// Every SMS to `phone` the stacks of this process had SNS accept, oldest first (phones are
/// one test's each).
pub async fn sms_to(phone: &str) -> Vec<String> {
    PUBLISHED.lock().unwrap().iter().filter(|(to, _)| to == phone).map(|(_, text)| text.clone()).collect()
}

/// Every SMS moto at `endpoint` recorded for `phone`, oldest first (from its `/_local/sms`
/// route: scripts/moto_server.py). The local stack's functions send on the first moto.
pub async fn moto_sms_to(endpoint: &str, phone: &str) -> Vec<String> {
    // A phone is `+` and digits: only the `+` needs encoding.
    let query = phone.replace('+', "%2B");
    let answer =
        http_client::request(http::Method::GET, &format!("{endpoint}/_local/sms?phone={query}"), &[], "").await;
    serde_json::from_value(answer.json()).unwrap()
}

/// The code in the latest SMS the local stack's functions sent to `phone`.
pub async fn local_stack_code(phone: &str) -> String {
    code_in(phone, moto_sms_to(&moto_endpoint(), phone).await)
}

/// The code in the latest SMS to `phone`: its only run of six digits.
pub async fn latest_code(phone: &str) -> String {
    code_in(phone, sms_to(phone).await)
}

fn code_in(phone: &str, messages: Vec<String>) -> String {
    let last = messages.last().unwrap_or_else(|| panic!("no SMS was sent to {phone}"));
    six_digits(last).unwrap_or_else(|| panic!("no code in {last:?}"))
}

/// The code in an SMS: its one run of six digits (twice, the same, with a WebOTP line).
pub fn six_digits(text: &str) -> Option<String> {
    let mut runs: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).filter(|r| r.len() == 6).collect();
    runs.dedup();
    assert!(runs.len() <= 1, "more than one run of 6 digits in {text:?}");
    runs.first().map(|r| (*r).to_owned())
}

/// A code that is certainly not `right`.
pub fn wrong_code(right: &str) -> String {
    format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// Records a figure a test measured in `target/figures/<name>.txt`; `make test` prints them
/// all at the end (test output is captured, so this is how figures reach the log).
pub fn record_figure(name: &str, line: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/figures");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.txt")), format!("{line}\n")).unwrap();
}

/// Writes a benchmark's figures to `target/bench/<name>`, for `bench/summary.py`.
pub fn write_bench_json(name: &str, figures: &Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(name), serde_json::to_string_pretty(figures).unwrap_or_default()));
    if let Err(e) = written {
        eprintln!("cannot write target/bench/{name}: {e}");
        std::process::exit(1);
    }
}

/// A stack whose acquirer keeps its books, and those books.
pub async fn stack_with_ledger() -> (Stack, Arc<payments_testkit::LedgerAcquirer>) {
    let mut stack = Stack::new().await;
    let ledger = Arc::new(payments_testkit::LedgerAcquirer::prompt());
    stack.services.acquirer = ledger.clone();
    stack.keyless.acquirer = ledger.clone();
    (stack, ledger)
}

/// An answer's status and problem code.
pub fn code_of(a: &Answer) -> (u16, Option<&str>) {
    (a.status, a.body["code"].as_str())
}
