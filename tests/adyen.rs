//! The Adyen adapter end to end (issue 25), offline: the real handlers and moto, the adapter over
//! real HTTP to a `wiremock` stand-in for Adyen on 127.0.0.1 (it answers as the contract's
//! examples do), and Adyen's signed notifications posted to the acquirer-notifications function.
//! A capture is `capturing` until its notification; a notification delivered twice changes
//! nothing; an unsigned one is refused and counted; a notification before the API's answer
//! converges; a hold no payment owns is voided.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::*;
use serde_json::{json, Value};
use shared::adapters::adyen::notices::AdyenNotices;
use shared::adapters::adyen::notifications::{sign, HmacKey, NotificationItem};
use shared::adapters::adyen::{AdyenAcquirer, AdyenConfig, ApiKey, RetryPolicy};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ACCOUNT: &str = "ShopAccountCNY";
/// The stand-in's API key (what Adyen's would be): never in a log or an answer.
pub(crate) const API_KEY: &str = "AQE_test_key_adyen_never_logged";
pub(crate) const HMAC_HEX: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

/// `answer`, checked against the contract's `schema` (tests/contracts/adyen): the stand-in
/// never answers what Adyen could not.
fn contract(schema: &'static str, answer: Value) -> Value {
    type Validators = std::sync::Mutex<std::collections::HashMap<&'static str, Arc<jsonschema::Validator>>>;
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    static VALIDATORS: std::sync::OnceLock<Validators> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/adyen/CheckoutService-v71.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    });
    let validator = VALIDATORS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(schema)
        .or_insert_with(|| {
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": spec["components"],
                "$ref": format!("#/components/schemas/{schema}"),
            });
            Arc::new(jsonschema::validator_for(&root).unwrap())
        })
        .clone();
    let errors: Vec<String> = validator.iter_errors(&answer).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "the stand-in's {schema} breaks the contract: {errors:?}\n{answer}");
    answer
}

/// `POST /payments` as Adyen answers a card: authorised, its pspReference derived from our
/// reference; a card to store gets a stored method id and a network reference.
struct Authorise;

impl Respond for Authorise {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let reference = body["reference"].as_str().unwrap();
        if body["paymentMethod"]["number"] == json!(RECEIVED_CARD) {
            // Taken; the answer comes by notification.
            let received = json!({"resultCode": "Received", "pspReference": psp_of(reference)});
            return ResponseTemplate::new(200).set_body_json(contract("PaymentResponse", received));
        }
        if body["paymentMethod"]["number"] == json!(THREE_DS_CARD) {
            // The issuer wants the shopper: a redirect (the adapter asks for no native 3DS).
            let redirect = json!({
                "resultCode": "RedirectShopper",
                "action": {"paymentMethodType": "scheme", "type": "redirect", "method": "GET",
                           "url": "https://issuer.example/3ds?MD=abc"},
            });
            return ResponseTemplate::new(200).set_body_json(contract("PaymentResponse", redirect));
        }
        let mut answer = json!({
            "resultCode": "Authorised",
            "pspReference": psp_of(reference),
            "merchantReference": reference,
            "amount": body["amount"],
            "additionalData": {"authCode": "044925"},
        });
        if body["storePaymentMethod"] == json!(true) {
            answer["additionalData"]["tokenization.storedPaymentMethodId"] = json!("M5N7TQ4TG5PFWR50");
            answer["additionalData"]["networkTxReference"] = json!("MCC123456789012");
        }
        ResponseTemplate::new(200).set_body_json(contract("PaymentResponse", answer))
    }
}

/// Adyen's 3-D Secure test card.
const THREE_DS_CARD: &str = "4212345678901237";
/// A card Adyen answers `Received` for: its AUTHORISATION notification decides.
pub(crate) const RECEIVED_CARD: &str = "4000000000000077";

/// `POST /payments/details`: `redirectResult` "ok" authorises (a card stored), anything else is
/// refused (CVC declined).
struct Details;

impl Respond for Details {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        if body["details"]["redirectResult"] == json!("ok") {
            let authorised = json!({
                "resultCode": "Authorised", "pspReference": "PSP3DS0000000001",
                "additionalData": {"tokenization.storedPaymentMethodId": "M3DS", "networkTxReference": "N3DS"},
            });
            return ResponseTemplate::new(200).set_body_json(contract("PaymentDetailsResponse", authorised));
        }
        let refused = json!({"resultCode": "Refused", "refusalReasonCode": "24"});
        ResponseTemplate::new(200).set_body_json(contract("PaymentDetailsResponse", refused))
    }
}

/// A modification taken: `received`.
struct Received;

impl Respond for Received {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let psp = req.url.path().split('/').nth(3).unwrap_or("").to_owned();
        let path = req.url.path();
        let (schema, mut answer) = if path == "/v71/cancels" {
            let answer = json!({"merchantAccount": ACCOUNT, "paymentReference": body["paymentReference"],
                "reference": body["reference"], "pspReference": format!("MOD{}", rand_digits()), "status": "received"});
            ("StandalonePaymentCancelResponse", answer)
        } else {
            let schema = match path.rsplit('/').next() {
                Some("captures") => "PaymentCaptureResponse",
                Some("refunds") => "PaymentRefundResponse",
                _ => "PaymentCancelResponse",
            };
            let answer = json!({"merchantAccount": ACCOUNT, "paymentPspReference": psp, "reference": body["reference"],
                "pspReference": format!("MOD{}", rand_digits()), "status": "received"});
            (schema, answer)
        };
        if !body["amount"].is_null() {
            answer["amount"] = body["amount"].clone();
        }
        ResponseTemplate::new(201).set_body_json(contract(schema, answer))
    }
}

fn rand_digits() -> u32 {
    use rand::Rng;
    rand::rng().random_range(0..1_000_000)
}

pub(crate) fn psp_of(reference: &str) -> String {
    format!("PSP{}", reference.trim_start_matches("pay_").to_ascii_uppercase())
}

/// A stack whose acquirer is Adyen at `server`, taking notifications signed with the test key.
async fn adyen_stack(server: &MockServer) -> Stack {
    let mut stack = Stack::new().await;
    use_adyen(&mut stack, server);
    stack
}

/// `stack`'s acquirer becomes Adyen at `server`; it takes notifications signed with the test key.
pub(crate) fn use_adyen(stack: &mut Stack, server: &MockServer) {
    let retry = RetryPolicy { attempts: 3, timeout: Duration::from_secs(2), pause: Duration::from_millis(20) };
    use_adyen_with(stack, server, retry);
}

fn use_adyen_with(stack: &mut Stack, server: &MockServer, retry: RetryPolicy) {
    let config = AdyenConfig {
        endpoint: format!("{}/v71", server.uri()),
        merchant_account: ACCOUNT.into(),
        return_url: "https://pay.example.com/".into(),
        api_key: Some(ApiKey::new(API_KEY.into())),
        reference_key: vec![9; 32],
    };
    let transport = Arc::new(shared::adyen_http::HttpTransport::default());
    stack.services.acquirer = Arc::new(AdyenAcquirer::new(config, transport, retry));
    stack.services.notices = Some(Arc::new(AdyenNotices::new(HmacKey::from_hex(HMAC_HEX).unwrap(), ACCOUNT.into())));
}

pub(crate) async fn stand_in(capture_delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v71/payments")).respond_with(Authorise).mount(&server).await;
    Mock::given(method("POST")).and(path("/v71/payments/details")).respond_with(Details).mount(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/v71/payments/[^/]+/captures$"))
        .respond_with(DelayedReceived(capture_delay))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/v71/(payments/[^/]+/)?(cancels|refunds)$"))
        .respond_with(Received)
        .mount(&server)
        .await;
    server
}

struct DelayedReceived(Duration);

impl Respond for DelayedReceived {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        Received.respond(req).set_delay(self.0)
    }
}

/// One notification item as Adyen signs it, in a batch.
pub(crate) fn notification(
    event: &str,
    reference: &str,
    psp: &str,
    original: &str,
    value: u64,
    success: bool,
    key: &str,
) -> Value {
    let mut item = json!({
        "amount": {"currency": "CNY", "value": value},
        "eventCode": event,
        "eventDate": "2026-12-03T12:00:00+01:00",
        "merchantAccountCode": ACCOUNT,
        "merchantReference": reference,
        "originalReference": original,
        "pspReference": psp,
        "reason": "",
        "success": if success { "true" } else { "false" },
    });
    let parsed: NotificationItem = serde_json::from_value(item.clone()).unwrap();
    item["additionalData"] = json!({"hmacSignature": sign(&parsed, &HmacKey::from_hex(key).unwrap())});
    json!({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]})
}

/// The `POST /payments` the stand-in got for our payment `id`.
async fn authorisation_sent(server: &MockServer, id: &str) -> Value {
    let requests = server.received_requests().await.unwrap();
    let bodies = requests.iter().filter(|r| r.url.path() == "/v71/payments");
    bodies.map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()).find(|b| b["reference"] == json!(id)).unwrap()
}

pub(crate) async fn notify(stack: &Stack, batch: &Value) -> Answer {
    stack.send(Function::AcquirerNotifications, post_request("/acquirer/notifications", batch, None)).await
}

async fn status_of(stack: &Stack, id: &str) -> Value {
    stack.get(&format!("/payments/{id}"), None).await.body
}

#[tokio::test]
async fn a_capture_stays_capturing_until_its_notification_which_counts_once_and_an_unsigned_one_is_refused() {
    let server = stand_in(Duration::ZERO).await;
    let stack = adyen_stack(&server).await;
    let (user, phone) = (random_id("u"), random_phone());
    let first = stack.first_payment(&first_payment_body(&user, &phone, "4111111111111111")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify(&id, &stack.code_sent_to(&phone)).await;
    assert_eq!((done.status, done.body["status"].as_str()), (200, Some("capturing")), "{}", done.body);

    // Signed with another key, or with nothing: refused, counted, nothing changes.
    let psp = psp_of(&id);
    let forged = notification("CAPTURE", &id, "CAP1", &psp, 1999, true, &"AB".repeat(32));
    assert_eq!(code_of(&notify(&stack, &forged).await), (401, Some("notification_signature_invalid")));
    let mut unsigned = notification("CAPTURE", &id, "CAP1", &psp, 1999, true, HMAC_HEX);
    unsigned["notificationItems"][0]["NotificationRequestItem"]["additionalData"] = json!({});
    assert_eq!(notify(&stack, &unsigned).await.status, 401);
    assert_eq!(code_of(&notify(&stack, &json!({"hello": 1})).await), (400, Some("notification_malformed")));
    assert_eq!(stack.metrics.count(&shared::ports::BusinessEvent::NotificationRefused), 3);
    assert_eq!(status_of(&stack, &id).await["status"], "capturing");

    // Adyen's CAPTURE: succeeded, the card saved; the same notification again changes nothing.
    let capture = notification("CAPTURE", &id, "CAP1", &psp, 1999, true, HMAC_HEX);
    let taken = notify(&stack, &capture).await;
    assert_eq!(taken.status, 200);
    assert_eq!(taken.headers["content-type"], "text/plain");
    let paid = status_of(&stack, &id).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(notify(&stack, &capture).await.status, 200);
    assert_eq!(status_of(&stack, &id).await["updated_at"], paid["updated_at"], "a second delivery changes nothing");

    // The repeat payment uses the stored method (never the card again); its capture fails by
    // notification: failed, its order given back.
    let repeat = stack.call(Function::RepeatPayment, "/payments/repeat", &repeat_payment_body(&user), None).await;
    assert_eq!(repeat.status, 201, "{}", repeat.body);
    let rid = repeat.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify(&rid, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "capturing", "{}", done.body);
    let repeat_request = &authorisation_sent(&server, &rid).await;
    assert_eq!(repeat_request["paymentMethod"]["storedPaymentMethodId"], "M5N7TQ4TG5PFWR50");
    assert_eq!(repeat_request["shopperInteraction"], "ContAuth");
    assert!(repeat_request["paymentMethod"].get("number").is_none());
    let failed = notification("CAPTURE_FAILED", &rid, "CAP2", &psp_of(&rid), 1999, true, HMAC_HEX);
    assert_eq!(notify(&stack, &failed).await.status, 200);
    let after = status_of(&stack, &rid).await;
    assert_eq!((after["status"].as_str(), after["failure_code"].as_str()), (Some("failed"), Some("capture_failed")));
    // Another repeat payment, captured by notification after its answer: refundable (its
    // authorisation was stored with the pending capture).
    let again = stack.call(Function::RepeatPayment, "/payments/repeat", &repeat_payment_body(&user), None).await;
    let aid = again.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&aid, &stack.code_sent_to(&phone)).await.body["status"], "capturing");
    let captured = notification("CAPTURE", &aid, "CAP3", &psp_of(&aid), 1999, true, HMAC_HEX);
    assert_eq!(notify(&stack, &captured).await.status, 200);
    let refund = stack.call(Function::PaymentOperations, &format!("/payments/{aid}/refunds"), &json!({}), None).await;
    assert_eq!((refund.status, refund.body["status"].as_str()), (201, Some("pending")), "{}", refund.body);

    // A refund of the first: pending until REFUND; REFUND again changes nothing.
    let refund = stack
        .call(Function::PaymentOperations, &format!("/payments/{id}/refunds"), &json!({"amount": 500}), None)
        .await;
    assert_eq!((refund.status, refund.body["status"].as_str()), (201, Some("pending")), "{}", refund.body);
    let refund_id = refund.body["id"].as_str().unwrap().to_owned();
    let refunded = notification("REFUND", &refund_id, "REF1", &psp, 500, true, HMAC_HEX);
    assert_eq!(notify(&stack, &refunded).await.status, 200);
    assert_eq!(notify(&stack, &refunded).await.status, 200);
    let got = stack.get(&format!("/refunds/{refund_id}"), None).await.body;
    assert_eq!(got["status"], "succeeded", "{got}");
    stack.delete_table().await;
}

#[tokio::test]
async fn a_capture_notified_before_its_answer_converges_and_a_hold_no_payment_owns_is_voided() {
    // Adyen takes 700 ms to answer the capture; its notification comes 200 ms in.
    let server = stand_in(Duration::from_millis(700)).await;
    let stack = adyen_stack(&server).await;
    let phone = random_phone();
    let first = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4111111111111111")).await;
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    let code = stack.code_sent_to(&phone);
    let early = notification("CAPTURE", &id, "CAP1", &psp_of(&id), 1999, true, HMAC_HEX);
    let (done, taken) = tokio::join!(stack.verify(&id, &code), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        notify(&stack, &early).await
    });
    assert_eq!(taken.status, 200);
    assert_eq!((done.status, done.body["status"].as_str()), (200, Some("succeeded")), "{}", done.body);
    assert_eq!(status_of(&stack, &id).await["status"], "succeeded");
    // The same for a repeat payment, whose authorisation's answer is stored with its capture:
    // the notice names the authorisation, so the payment keeps it (a refund needs it).
    let user = first.body["user_id"].as_str().unwrap().to_owned();
    let repeat = stack.call(Function::RepeatPayment, "/payments/repeat", &repeat_payment_body(&user), None).await;
    let rid = repeat.body["payment_id"].as_str().unwrap().to_owned();
    let code = stack.code_sent_to(&phone);
    let early = notification("CAPTURE", &rid, "CAP2", &psp_of(&rid), 1999, true, HMAC_HEX);
    let (done, taken) = tokio::join!(stack.verify(&rid, &code), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        notify(&stack, &early).await
    });
    assert_eq!(taken.status, 200);
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    let refund = stack.call(Function::PaymentOperations, &format!("/payments/{rid}/refunds"), &json!({}), None).await;
    assert_eq!((refund.status, refund.body["status"].as_str()), (201, Some("pending")), "{}", refund.body);

    // An AUTHORISATION for a payment that ended without it (its answer was lost, say): the
    // hold is voided by its pspReference.
    let declined = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), "4111111111111111")).await;
    let ended = declined.body["payment_id"].as_str().unwrap().to_owned();
    let canceled =
        stack.call(Function::PaymentOperations, &format!("/payments/{ended}/cancel"), &json!({}), None).await;
    assert_eq!(canceled.status, 200, "{}", canceled.body);
    let stray = notification("AUTHORISATION", &ended, "PSPSTRAY00000001", "", 1999, true, HMAC_HEX);
    assert_eq!(notify(&stack, &stray).await.status, 200);
    let voids: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.ends_with("/cancels"))
        .collect();
    assert!(voids.contains(&"/v71/payments/PSPSTRAY00000001/cancels".to_owned()), "{voids:?}");
    stack.delete_table().await;
}

/// An answer that comes after the adapter stopped waiting: Adyen did the work, the answer is lost.
struct Lost<R>(R);

impl<R: Respond> Respond for Lost<R> {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.respond(req).set_delay(Duration::from_millis(900))
    }
}

fn keys_of(requests: &[Request], suffix: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.url.path().ends_with(suffix))
        .map(|r| r.headers.get("idempotency-key").unwrap().to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_answer_lost_after_authorise_or_a_capture_timed_out_converges_under_the_same_keys() {
    // Every attempt of the first call loses its answer (3 attempts: the adapter's budget), then
    // Adyen answers again: as it would, under the same Idempotency-Key.
    let server = MockServer::start().await;
    let payments = || Mock::given(method("POST")).and(path("/v71/payments"));
    payments().respond_with(Lost(Authorise)).up_to_n_times(3).mount(&server).await;
    payments().respond_with(Authorise).mount(&server).await;
    let captures = || Mock::given(method("POST")).and(path_regex(r"^/v71/payments/[^/]+/captures$"));
    captures().respond_with(Lost(Received)).up_to_n_times(3).mount(&server).await;
    captures().respond_with(Received).mount(&server).await;
    let mut stack = Stack::new().await;
    let quick = RetryPolicy { attempts: 3, timeout: Duration::from_millis(300), pause: Duration::from_millis(10) };
    use_adyen_with(&mut stack, &server, quick);

    let phone = random_phone();
    let body = first_payment_body(&random_id("u"), &phone, "4111111111111111");
    let lost = stack.call(Function::FirstPayment, "/payments", &body, Some("pay-key-1")).await;
    // A clear answer to retry, nothing of the card in it.
    assert_eq!(code_of(&lost), (503, Some("temporarily_unavailable")), "{}", lost.body);
    assert!(!lost.body.to_string().contains("4111"), "{}", lost.body);
    stack.clock.advance(31);
    let retried = stack.call(Function::FirstPayment, "/payments", &body, Some("pay-key-1")).await;
    assert_eq!(retried.status, 201, "{}", retried.body);
    let id = retried.body["payment_id"].as_str().unwrap().to_owned();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(keys_of(&requests, "/v71/payments"), vec![id.clone(); 4], "one key for every attempt");

    // The capture's answers lost: the payment stays capturing; the verify's retry (same key)
    // captures again under the capture's own key; the notification finishes it.
    let code = stack.code_sent_to(&phone);
    let timed_out =
        stack.call(Function::VerifyCode, &format!("/payments/{id}/verify"), &json!({"code": code}), Some("v-1")).await;
    assert_eq!(code_of(&timed_out), (503, Some("temporarily_unavailable")), "{}", timed_out.body);
    assert_eq!(status_of(&stack, &id).await["status"], "capturing");
    stack.clock.advance(31);
    let again =
        stack.call(Function::VerifyCode, &format!("/payments/{id}/verify"), &json!({"code": code}), Some("v-1")).await;
    assert_eq!((again.status, again.body["status"].as_str()), (200, Some("capturing")), "{}", again.body);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(keys_of(&requests, "/captures"), vec![format!("{id}.capture"); 4]);
    let captured = notification("CAPTURE", &id, "CAP1", &psp_of(&id), 1999, true, HMAC_HEX);
    assert_eq!(notify(&stack, &captured).await.status, 200);
    assert_eq!(status_of(&stack, &id).await["status"], "succeeded");
    stack.delete_table().await;
}

#[tokio::test]
async fn an_authorisation_whose_answer_never_came_is_canceled_by_its_reference_when_it_expires() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v71/payments")).respond_with(Lost(Authorise)).mount(&server).await;
    Mock::given(method("POST")).and(path("/v71/cancels")).respond_with(Received).mount(&server).await;
    let mut stack = Stack::new().await;
    let quick = RetryPolicy { attempts: 2, timeout: Duration::from_millis(200), pause: Duration::from_millis(10) };
    use_adyen_with(&mut stack, &server, quick);
    let body = first_payment_body(&random_id("u"), &random_phone(), "4111111111111111");
    let lost = stack.call(Function::FirstPayment, "/payments", &body, None).await;
    assert_eq!(code_of(&lost), (503, Some("temporarily_unavailable")), "{}", lost.body);
    // Nobody retries: the sweeper, past the grace, cancels whatever Adyen may hold
    // under our reference (no pspReference was ever stored).
    stack.clock.advance(shared::domain::PAYMENT_TTL_SECS + 60);
    let swept = shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    assert_eq!(swept.voided, 1, "{swept:?}");
    let cancels: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v71/cancels")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    let payment = stack
        .scan()
        .await
        .into_iter()
        .find(|i| i.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) == Some("payment"))
        .unwrap();
    assert_eq!(cancels[0]["paymentReference"].as_str(), payment["payment_id"].as_s().ok().map(String::as_str));
    stack.delete_table().await;
}

#[tokio::test]
async fn a_payment_the_issuer_wants_to_authenticate_waits_for_the_pages_details_then_sends_its_code() {
    let server = stand_in(Duration::ZERO).await;
    let stack = adyen_stack(&server).await;
    let phone = random_phone();
    let first = stack.first_payment(&first_payment_body(&random_id("u"), &phone, THREE_DS_CARD)).await;
    assert_eq!((first.status, first.body["status"].as_str()), (201, Some("requires_action")), "{}", first.body);
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    let action = &first.body["next_action"];
    assert_eq!(action["type"], "authenticate_with_issuer");
    assert_eq!(action["acquirer_action"]["url"], "https://issuer.example/3ds?MD=abc");
    assert_eq!(action["details_url"], format!("/payments/{id}/details"));
    assert_eq!(stack.sms_count(&phone), 0, "no code before the acquirer authorises");

    // Not the action's result: refused, naming the field.
    let details = format!("/payments/{id}/details");
    let bad = stack.call(Function::VerifyCode, &details, &json!({"details": {}}), None).await;
    assert_eq!((bad.status, bad.body["param"].as_str()), (422, Some("details")), "{}", bad.body);
    // The page's result: authorised, the first code goes out, as after any authorisation.
    let done = stack.call(Function::VerifyCode, &details, &json!({"details": {"redirectResult": "ok"}}), None).await;
    assert_eq!((done.status, done.body["status"].as_str()), (200, Some("requires_verification")), "{}", done.body);
    assert_eq!(done.body["next_action"]["type"], "enter_verification_code");
    let verified = stack.verify(&id, &stack.code_sent_to(&phone)).await;
    assert_eq!(verified.body["status"], "capturing", "{}", verified.body);
    // The same details again: answered as it stands, nothing sent twice.
    let again = stack.call(Function::VerifyCode, &details, &json!({"details": {"redirectResult": "ok"}}), None).await;
    assert_eq!(again.body["status"], "capturing", "{}", again.body);

    // In a checkout session: the shopper's page gets the action and posts its result.
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let mut body = session_card_body(&random_phone());
    body["card"]["number"] = json!(THREE_DS_CARD);
    let paid =
        stack.call_as_shopper(Function::FirstPayment, &format!("/checkout/{sid}/payments"), &secret, &body, None).await;
    assert_eq!(paid.body["status"], "requires_action", "{}", paid.body);
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let url = paid.body["next_action"]["details_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/checkout/{sid}/payments/{pid}/details"));
    // Adyen sends the shopper back to the session's page.
    let asked = authorisation_sent(&server, &pid).await;
    assert_eq!(asked["returnUrl"], format!("https://pay.example.com/checkout/{sid}"));
    // Refused by the issuer after authentication: declined, no code.
    let refused = stack
        .call_as_shopper(Function::VerifyCode, &url, &secret, &json!({"details": {"redirectResult": "no"}}), None)
        .await;
    assert_eq!(refused.status, 402, "{}", refused.body);
    assert_eq!(status_of(&stack, &pid).await["failure_code"], "incorrect_cvc");
    stack.delete_table().await;
}

#[tokio::test]
async fn an_authorisation_adyen_answers_later_is_finished_by_its_notification() {
    let server = stand_in(Duration::ZERO).await;
    let stack = adyen_stack(&server).await;
    let phone = random_phone();
    let first = stack.first_payment(&first_payment_body(&random_id("u"), &phone, RECEIVED_CARD)).await;
    assert_eq!((first.status, first.body["status"].as_str()), (201, Some("authorizing")), "{}", first.body);
    assert!(first.body.get("next_action").is_none(), "{}", first.body);
    assert_eq!(stack.sms_count(&phone), 0, "no code before the acquirer authorises");
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    // AUTHORISATION: held, the first code goes out; the same notification again sends nothing.
    let authorised = notification("AUTHORISATION", &id, &psp_of(&id), "", 1999, true, HMAC_HEX);
    assert_eq!(notify(&stack, &authorised).await.status, 200);
    assert_eq!(status_of(&stack, &id).await["status"], "requires_verification");
    assert_eq!(notify(&stack, &authorised).await.status, 200);
    assert_eq!(stack.sms_count(&phone), 1);
    let done = stack.verify(&id, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "capturing", "{}", done.body);

    // A refusal by notification: failed, no code.
    let other = random_phone();
    let second = stack.first_payment(&first_payment_body(&random_id("u"), &other, RECEIVED_CARD)).await;
    let sid = second.body["payment_id"].as_str().unwrap().to_owned();
    let refused = notification("AUTHORISATION", &sid, &psp_of(&sid), "", 1999, false, HMAC_HEX);
    assert_eq!(notify(&stack, &refused).await.status, 200);
    let after = status_of(&stack, &sid).await;
    assert_eq!((after["status"].as_str(), after["failure_code"].as_str()), (Some("failed"), Some("card_declined")));
    assert_eq!(stack.sms_count(&other), 0);
    stack.delete_table().await;
}
