//! The Adyen adapter (issue 25) against Adyen's own contract, offline: every request it builds
//! in every flow validates against `CheckoutService-v71.json`, the answers it parses are the
//! contract's examples, each `resultCode` and the refusal reasons map as the README documents,
//! a notification's HMAC is checked with Adyen's test vector, and a timeout or a 5xx is sent
//! again with the same `Idempotency-Key` (over real HTTP, to a `wiremock` server on 127.0.0.1).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use shared::adapters::adyen::notifications::{sign, HmacKey, NotificationRequest, Notified};
use shared::adapters::adyen::wire::{decline_reason, PaymentResponse, ResultCode, StoredCard, REFUSAL_REASONS};
use shared::adapters::adyen::{AdyenAcquirer, AdyenConfig, AdyenTransport, ApiKey, Exchange, RetryPolicy};
use shared::domain::{
    CardNumber, Currency, Customer, Cvc, DeclineReason, Expiry, Identifier, Money, PaymentId, RefundId,
};
use shared::ports::{
    Acquirer, Authorization, AuthorizationRequest, Capture, RefundOutcome, RefundRequest, StoredCredential,
};

const API_KEY: &str = "AQE_test_api_key_never_logged";

fn spec() -> &'static Value {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/contracts/adyen/CheckoutService-v71.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn example(name: &str) -> Value {
    spec()["components"]["examples"][name]["value"].clone()
}

/// The contract's schema at `pointer` (a `$ref`), with the spec's components to resolve in.
fn errors_against(schema_ref: &str, instance: &Value) -> Vec<String> {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec()["components"],
        "$ref": schema_ref,
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// The path template a request's URL is for, and its request schema.
fn request_schema(path: &str) -> (&'static str, String) {
    let template = if path == "/payments" {
        "/payments"
    } else if path == "/payments/details" {
        "/payments/details"
    } else if path == "/cancels" {
        "/cancels"
    } else if path.ends_with("/captures") {
        "/payments/{paymentPspReference}/captures"
    } else if path.ends_with("/cancels") {
        "/payments/{paymentPspReference}/cancels"
    } else if path.ends_with("/refunds") {
        "/payments/{paymentPspReference}/refunds"
    } else {
        panic!("a path the adapter should not call: {path}")
    };
    let op = &spec()["paths"][template]["post"];
    let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap().to_owned();
    (template, schema)
}

/// One request as sent: its URL, headers and body.
type Sent = (String, Vec<(String, String)>, Value);

/// A transport that records each request and answers from a script.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Exchange>>,
    sent: Mutex<Vec<Sent>>,
}

impl Scripted {
    fn answering(answers: Vec<Exchange>) -> Arc<Self> {
        Arc::new(Self { answers: Mutex::new(answers.into()), sent: Mutex::default() })
    }
    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl AdyenTransport for Scripted {
    async fn post(&self, url: &str, headers: &[(&str, &str)], body: Vec<u8>, _timeout: Duration) -> Exchange {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.sent.lock().unwrap().push((url.to_owned(), headers, serde_json::from_slice(&body).unwrap()));
        self.answers.lock().unwrap().pop_front().unwrap_or(Exchange::Lost("no answer scripted".into()))
    }
}

fn answer(status: u16, body: &Value) -> Exchange {
    Exchange::Answered { status, body: serde_json::to_vec(body).unwrap() }
}

fn config(endpoint: &str) -> AdyenConfig {
    AdyenConfig {
        endpoint: endpoint.to_owned(),
        merchant_account: "ShopAccountCNY".into(),
        return_url: "https://pay.example.com/return".into(),
        api_key: Some(ApiKey::new(API_KEY.into())),
        reference_key: vec![7; 32],
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy { attempts: 3, timeout: Duration::from_millis(300), pause: Duration::from_millis(10) }
}

fn adyen(transport: Arc<dyn AdyenTransport>) -> AdyenAcquirer {
    AdyenAcquirer::new(config("https://checkout-test.adyen.com/v71"), transport, quick())
}

fn cny(minor: i64) -> Money {
    Money::new("amount", minor, Currency::parse("currency", "CNY").unwrap()).unwrap()
}

fn customer() -> Customer {
    Customer {
        merchant_id: Identifier::parse("merchant_id", "shop-1").unwrap(),
        user_id: Identifier::parse("user_id", "user-42").unwrap(),
    }
}

/// Authorises 199.99 CNY on 4111… under `credential`; what the adapter decided.
async fn authorize(acquirer: &AdyenAcquirer, id: &PaymentId, credential: StoredCredential<'_>) -> Authorization {
    let card = CardNumber::parse("card", "4111111111111111").unwrap();
    let cvc = Cvc::parse("cvc", "737").unwrap();
    let present = !matches!(credential, StoredCredential::Subsequent { .. });
    let request = AuthorizationRequest {
        payment_id: id,
        customer: &customer(),
        session_id: None,
        money: &cny(19_999),
        card: &card,
        expiry: Expiry { month: 3, year: 2030 },
        cvc: present.then_some(&cvc),
        credential,
        three_ds: None,
    };
    acquirer.authorize(&request).await.unwrap()
}

#[tokio::test]
async fn every_request_of_every_flow_validates_against_the_contract() {
    // Adyen's own example answers, our references in them.
    let authorised = {
        let mut a = example("post-payments-card-direct-200");
        a["additionalData"]["tokenization.storedPaymentMethodId"] = json!("M5N7TQ4TG5PFWR50");
        a["additionalData"]["networkTxReference"] = json!("MCC123456789012");
        a
    };
    let received = |name: &str| answer(201, &example(name));
    let transport = Scripted::answering(vec![
        answer(200, &example("post-payments-card-direct-200")),
        answer(200, &authorised),
        answer(200, &example("post-payments-card-direct-200")),
        received("post-payments-paymentPspReference-captures-capture-201"),
        received("post-payments-paymentPspReference-captures-capture-201"),
        received("post-payments-paymentPspReference-cancels-cancel-with-psp-reference-201"),
        received("post-cancels-cancel-with-own-reference-201"),
        received("post-payments-paymentPspReference-refunds-refund-201"),
    ]);
    let acquirer = adyen(transport.clone());
    let (one_off, first, repeat) = (PaymentId::new(), PaymentId::new(), PaymentId::new());

    // A one-off first payment, then a first payment that saves the card.
    let Authorization::Approved { authorization_id: psp, network_reference: None } =
        authorize(&acquirer, &one_off, StoredCredential::None).await
    else {
        panic!("not approved")
    };
    let Authorization::Approved { network_reference: Some(saved), .. } =
        authorize(&acquirer, &first, StoredCredential::Initial).await
    else {
        panic!("not approved with a stored card")
    };
    let stored = StoredCard::decode(&saved).unwrap();
    assert_eq!(stored.stored_payment_method_id, "M5N7TQ4TG5PFWR50");
    assert_eq!(stored.network_tx_reference.as_deref(), Some("MCC123456789012"));
    // A repeat payment on it.
    authorize(&acquirer, &repeat, StoredCredential::Subsequent { network_reference: Some(&saved) }).await;
    // Captures (full, partial), a cancel by pspReference, one by our reference, a refund.
    assert_eq!(acquirer.capture(&one_off, &psp, &cny(19_999)).await.unwrap(), Capture::Pending);
    assert_eq!(acquirer.capture(&first, &psp, &cny(5_000)).await.unwrap(), Capture::Pending);
    acquirer.void(&repeat, &psp).await.unwrap();
    acquirer.void(&repeat, "").await.unwrap();
    let refund_id = RefundId::new();
    let refund =
        RefundRequest { refund_id: &refund_id, payment_id: &one_off, authorization_id: &psp, money: &cny(700) };
    assert_eq!(acquirer.refund(&refund).await.unwrap(), RefundOutcome::Pending);
    assert_eq!(acquirer.refund_status(&refund).await.unwrap(), RefundOutcome::Pending);

    let sent = transport.sent();
    assert_eq!(sent.len(), 8);
    for (url, headers, body) in &sent {
        let path = url.strip_prefix("https://checkout-test.adyen.com/v71").unwrap();
        let (template, schema) = request_schema(path);
        let errors = errors_against(&schema, body);
        assert!(errors.is_empty(), "{template}: {errors:?}\n{body}");
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(header("x-api-key"), Some(API_KEY));
        assert!(header("idempotency-key").is_some_and(|k| !k.is_empty()));
        assert_eq!(body["merchantAccount"], "ShopAccountCNY");
    }
    // The check can fail: a request without its account, or with a card field of the wrong
    // type, is refused by the contract.
    let mut broken = sent[0].2.clone();
    broken.as_object_mut().unwrap().remove("merchantAccount");
    assert!(!errors_against("#/components/schemas/PaymentRequest", &broken).is_empty());
    let mut broken = sent[3].2.clone();
    broken["amount"]["value"] = json!("5000");
    assert!(!errors_against("#/components/schemas/PaymentCaptureRequest", &broken).is_empty());
    let body = |i: usize| &sent[i].2;
    // The one-off: the card with its CVC, manual capture, nothing stored, no shopper.
    assert_eq!(body(0)["paymentMethod"]["number"], "4111111111111111");
    assert_eq!(
        (&body(0)["paymentMethod"]["cvc"], &body(0)["paymentMethod"]["expiryMonth"]),
        (&json!("737"), &json!("03"))
    );
    assert_eq!(
        (&body(0)["shopperInteraction"], &body(0)["additionalData"]["manualCapture"]),
        (&json!("Ecommerce"), &json!("true"))
    );
    assert!(body(0).get("storePaymentMethod").is_none() && body(0).get("shopperReference").is_none());
    assert_eq!(
        (&body(0)["amount"], &body(0)["reference"]),
        (&json!({"currency": "CNY", "value": 19999}), &json!(one_off.as_str()))
    );
    assert_eq!(sent[0].1.iter().find(|(k, _)| k == "idempotency-key").unwrap().1, one_off.as_str());
    // The first payment that saves: CardOnFile, stored under a keyed hash, never the ids.
    let shopper = body(1)["shopperReference"].as_str().unwrap();
    assert!(shopper.starts_with("shp_") && !shopper.contains("shop-1") && !shopper.contains("user-42"), "{shopper}");
    assert_eq!(
        (&body(1)["recurringProcessingModel"], &body(1)["storePaymentMethod"]),
        (&json!("CardOnFile"), &json!(true))
    );
    assert_eq!(stored.shopper_reference, shopper);
    // The repeat: the stored method's id, ContAuth, the same shopper, the network reference; no card, no CVC.
    assert_eq!(body(2)["paymentMethod"], json!({"type": "scheme", "storedPaymentMethodId": "M5N7TQ4TG5PFWR50"}));
    assert_eq!((&body(2)["shopperInteraction"], &body(2)["shopperReference"]), (&json!("ContAuth"), &json!(shopper)));
    assert_eq!(body(2)["additionalData"]["networkTxReference"], "MCC123456789012");
    // Captures by the pspReference, keyed apart from the authorisation; partial for less.
    assert!(sent[3].0.ends_with(&format!("/payments/{psp}/captures")));
    assert_eq!(body(4)["amount"]["value"], 5000);
    assert_eq!(sent[3].1.iter().find(|(k, _)| k == "idempotency-key").unwrap().1, format!("{one_off}.capture"));
    assert!(sent[6].0.ends_with("/cancels") && body(6)["paymentReference"] == json!(repeat.as_str()));
    assert_eq!(body(7)["reference"], json!(refund_id.as_str()));
    assert_eq!(sent[7].1.iter().find(|(k, _)| k == "idempotency-key").unwrap().1, refund_id.as_str());
}

#[test]
fn the_answers_parsed_are_the_contracts_examples_and_validate_against_its_schema() {
    for name in [
        "post-payments-card-direct-200",
        "post-payments-card-securedfields-200",
        "post-payments-enableOneClick-SF-200",
        "post-payments-card-3d-secure-2-web-200",
        "post-payments-card-3d-secure-redirect-200",
    ] {
        let errors = errors_against("#/components/schemas/PaymentResponse", &example(name));
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let parsed: PaymentResponse = serde_json::from_value(example(name)).unwrap();
        assert!(ResultCode::parse(parsed.result_code.as_deref().unwrap()).is_some(), "{name}");
    }
    for (name, schema) in [
        ("post-payments-paymentPspReference-captures-capture-201", "PaymentCaptureResponse"),
        ("post-payments-paymentPspReference-cancels-cancel-with-psp-reference-201", "PaymentCancelResponse"),
        ("post-cancels-cancel-with-own-reference-201", "StandalonePaymentCancelResponse"),
        ("post-payments-paymentPspReference-refunds-refund-201", "PaymentRefundResponse"),
    ] {
        let errors = errors_against(&format!("#/components/schemas/{schema}"), &example(name));
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[tokio::test]
async fn each_result_code_maps_as_documented_and_an_answer_the_contract_does_not_allow_is_an_error() {
    for code in ResultCode::ALL {
        let body = json!({"resultCode": code.as_str(), "pspReference": "993617894903480A", "refusalReasonCode": "12"});
        assert!(errors_against("#/components/schemas/PaymentResponse", &body).is_empty(), "{body}");
        let transport = Scripted::answering(vec![answer(200, &body)]);
        let decided = adyen(transport).authorize(&request_of(&PaymentId::new())).await;
        match code {
            ResultCode::Authorised => assert!(matches!(decided, Ok(Authorization::Approved { .. })), "{code:?}"),
            ResultCode::Refused | ResultCode::Error | ResultCode::Cancelled => {
                assert_eq!(decided.unwrap(), Authorization::Declined(DeclineReason::InsufficientFunds), "{code:?}");
            }
            // 3-D Secure asked, without the action the page needs: not the contract.
            ResultCode::RedirectShopper | ResultCode::IdentifyShopper | ResultCode::ChallengeShopper => {
                assert!(decided.is_err(), "{code:?}");
            }
            // Answered later, by the AUTHORISATION notification.
            ResultCode::Received | ResultCode::Pending => assert_eq!(decided.unwrap(), Authorization::Pending),
            // Left open: the payment stays authorizing, and whatever it may hold is canceled by
            // its reference.
            ResultCode::PresentToShopper
            | ResultCode::PartiallyAuthorised
            | ResultCode::AuthenticationFinished
            | ResultCode::AuthenticationNotRequired
            | ResultCode::Success => assert!(decided.is_err(), "{code:?}"),
        }
    }
    // Not the contract: a clear error, never a panic; Authorised without a pspReference too.
    for body in
        [json!({"resultCode": 5}), json!({"resultCode": "Exploded"}), json!({"resultCode": "Authorised"}), json!([1])]
    {
        let transport = Scripted::answering(vec![answer(200, &body)]);
        let err = adyen(transport).authorize(&request_of(&PaymentId::new())).await.unwrap_err();
        assert!(!err.0.is_empty(), "{body}");
    }
    let transport = Scripted::answering(vec![Exchange::Answered { status: 200, body: b"<html>".to_vec() }]);
    assert!(adyen(transport).authorize(&request_of(&PaymentId::new())).await.is_err());
}

fn request_of(id: &PaymentId) -> AuthorizationRequest<'_> {
    static CARD: std::sync::OnceLock<CardNumber> = std::sync::OnceLock::new();
    static CUSTOMER: std::sync::OnceLock<Customer> = std::sync::OnceLock::new();
    static MONEY: std::sync::OnceLock<Money> = std::sync::OnceLock::new();
    AuthorizationRequest {
        payment_id: id,
        customer: CUSTOMER.get_or_init(customer),
        session_id: None,
        money: MONEY.get_or_init(|| cny(1999)),
        card: CARD.get_or_init(|| CardNumber::parse("card", "4111111111111111").unwrap()),
        expiry: Expiry { month: 3, year: 2030 },
        cvc: None,
        credential: StoredCredential::None,
        three_ds: None,
    }
}

#[test]
fn the_refusal_reasons_map_onto_our_decline_codes_and_the_rest_is_card_declined() {
    for (code, _, reason) in REFUSAL_REASONS {
        assert_eq!(decline_reason(Some(code)), reason, "{code}");
    }
    assert_eq!(decline_reason(Some("6")), DeclineReason::ExpiredCard);
    assert_eq!(decline_reason(Some("24")), DeclineReason::IncorrectCvc);
    assert_eq!(decline_reason(Some("12")), DeclineReason::InsufficientFunds);
    assert_eq!(decline_reason(Some("28")), DeclineReason::LimitExceeded);
    assert_eq!(decline_reason(Some("20")), DeclineReason::SuspectedFraud);
    for unknown in [Some("9"), Some("999"), Some(""), None] {
        assert_eq!(decline_reason(unknown), DeclineReason::CardDeclined, "{unknown:?}");
    }
}

#[test]
fn a_notifications_hmac_passes_adyens_test_vector_and_a_wrong_or_missing_one_fails() {
    let key = HmacKey::from_hex("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056").unwrap();
    let batch = json!({"live": "false", "notificationItems": [{"NotificationRequestItem": {
        "additionalData": {"hmacSignature": "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="},
        "amount": {"currency": "EUR", "value": 1130},
        "eventCode": "AUTHORISATION",
        "eventDate": "2014-08-06T14:58:24+02:00",
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "TestPayment-1407325143704",
        "operations": ["CANCEL", "CAPTURE", "REFUND"],
        "paymentMethod": "visa",
        "pspReference": "7914073381342284",
        "reason": "1234:7777:12/2012",
        "success": "true"
    }}]});
    let parsed: NotificationRequest = serde_json::from_value(batch).unwrap();
    let item = &parsed.notification_items[0].item;
    assert_eq!(
        item.signing_string(),
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
    );
    assert!(item.is_signed_by(&key));
    assert_eq!(sign(item, &key), "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=");
    assert_eq!(item.event(), Notified::Authorised);
    // Any field changed, another key, no signature: refused.
    let mut changed = item.clone();
    changed.amount.value = 1131;
    assert!(!changed.is_signed_by(&key));
    let other = HmacKey::from_hex(&"AB".repeat(32)).unwrap();
    assert!(!item.is_signed_by(&other));
    let mut unsigned = item.clone();
    unsigned.additional_data.clear();
    assert!(!unsigned.is_signed_by(&key));
    assert!(format!("{key:?}").contains("***") && !format!("{key:?}").contains("4478"));
    // Each event code we act on.
    for (code, success, want) in [
        ("CAPTURE", "true", Notified::Captured),
        ("CAPTURE_FAILED", "true", Notified::CaptureFailed),
        ("CANCELLATION", "true", Notified::Canceled),
        ("REFUND", "true", Notified::Refunded),
        ("REFUND", "false", Notified::RefundFailed),
        ("REFUND_FAILED", "true", Notified::RefundFailed),
        ("AUTHORISATION", "false", Notified::AuthorisationRefused),
        ("CHARGEBACK", "true", Notified::Other),
    ] {
        let mut i = item.clone();
        i.event_code = code.into();
        i.success = success.into();
        assert_eq!(i.event(), want, "{code} {success}");
    }
}

/// The adapter over real HTTP to `server`.
fn over_http(server: &wiremock::MockServer) -> AdyenAcquirer {
    AdyenAcquirer::new(
        config(&format!("{}/v71", server.uri())),
        Arc::new(shared::adyen_http::HttpTransport::default()),
        quick(),
    )
}

/// Over real HTTP to a stub on 127.0.0.1: a 500, then a timeout, then the answer; each attempt
/// with the same key; a 422 is sent once and says only its errorCode.
#[tokio::test]
async fn a_5xx_or_a_timeout_is_sent_again_with_the_same_key_and_a_4xx_never() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let id = PaymentId::new();
    let approved = example("post-payments-card-direct-200");
    Mock::given(method("POST"))
        .and(path("/v71/payments"))
        .and(header("idempotency-key", id.as_str()))
        .and(header("x-api-key", API_KEY))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"status": 500, "errorCode": "905", "message": "x"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v71/payments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&approved).set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v71/payments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&approved))
        .mount(&server)
        .await;
    let acquirer = over_http(&server);
    let decided = acquirer.authorize(&request_of(&id)).await.unwrap();
    assert!(matches!(decided, Authorization::Approved { .. }), "{decided:?}");
    let got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 3, "a 500, a timeout, then the answer");
    for r in &got {
        assert_eq!(r.headers.get("idempotency-key").unwrap().to_str().unwrap(), id.as_str());
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(errors_against("#/components/schemas/PaymentRequest", &body).is_empty());
    }

    // A validation error: once, and only its errorCode is kept.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "status": 422, "errorCode": "101", "message": "Invalid card number 4111111111111111", "errorType": "validation"
        })))
        .mount(&server)
        .await;
    let acquirer = over_http(&server);
    let err = acquirer.authorize(&request_of(&PaymentId::new())).await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(err.0.contains("422") && err.0.contains("101"), "{err}");
    assert!(!err.0.contains("4111") && !err.0.contains(API_KEY), "{err}");

    // Always failing: three attempts, then unavailable (the payment stays in doubt).
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let acquirer = over_http(&server);
    let err = acquirer.capture(&id, "993617894903480A", &cny(100)).await.unwrap_err();
    let got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.headers.get("idempotency-key").unwrap().to_str().unwrap() == format!("{id}.capture")));
    let shown = format!("{err} {err:?} {:?}", config("x"));
    assert!(!shown.contains(API_KEY) && !shown.contains("7, 7, 7"), "{shown}");
}

#[tokio::test]
async fn three_d_secure_is_an_action_for_the_page_and_its_details_validate_against_the_contract() {
    // Adyen's own 3-D Secure redirect answer, then its `/payments/details` answer.
    let redirect = example("post-payments-card-3d-secure-redirect-200");
    let transport = Scripted::answering(vec![
        answer(200, &redirect),
        answer(200, &example("post-payments-details-00.redirect-200")),
        answer(200, &json!({"resultCode": "Refused", "refusalReasonCode": "6", "pspReference": "X"})),
    ]);
    let acquirer = adyen(transport.clone());
    let id = PaymentId::new();
    let Authorization::ActionRequired { action } = authorize(&acquirer, &id, StoredCredential::Initial).await else {
        panic!("no action asked")
    };
    let action: Value = serde_json::from_str(&action).unwrap();
    assert_eq!(action, redirect["action"]);
    let details = r#"{"redirectResult":"X6XtfGC3!Y..."}"#;
    let request = shared::ports::DetailsRequest {
        payment_id: &id,
        customer: &customer(),
        details,
        credential: StoredCredential::Initial,
    };
    let Authorization::Approved { authorization_id, .. } = acquirer.details(&request).await.unwrap() else {
        panic!("not approved")
    };
    assert_eq!(authorization_id, "V4HZ4RBFJGXXGN82");
    assert_eq!(acquirer.details(&request).await.unwrap(), Authorization::Declined(DeclineReason::ExpiredCard));
    let sent = transport.sent();
    // A first payment asks for 3-D Secure as a redirect, on the web channel.
    assert_eq!(sent[0].2["channel"], "Web");
    assert_eq!(sent[0].2["authenticationData"]["threeDSRequestData"]["nativeThreeDS"], "disabled");
    for (url, headers, body) in &sent {
        let path = url.strip_prefix("https://checkout-test.adyen.com/v71").unwrap();
        let (template, schema) = request_schema(path);
        let errors = errors_against(&schema, body);
        assert!(errors.is_empty(), "{template}: {errors:?}\n{body}");
        assert!(headers.iter().any(|(k, v)| k == "idempotency-key" && v.starts_with(id.as_str())));
    }
    assert_eq!(sent[1].2, json!({"details": {"redirectResult": "X6XtfGC3!Y..."}}));
    // Not an object: refused before anything is sent.
    let bad = shared::ports::DetailsRequest { details: "[1]", ..request };
    assert!(acquirer.details(&bad).await.is_err());
    assert_eq!(transport.sent().len(), 3);
}
