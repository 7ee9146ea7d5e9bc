//! openapi.yaml stays true to the code: it documents exactly the routes template.yaml serves,
//! and every answer the handlers give in the flows below (success and each kind of problem)
//! has a documented status and content type and validates against the documented schema.

use crate::common;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use shared::lambda_http::{http, Body, Response};

fn load_yaml(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    // CloudFormation's short tags (!Ref, !Sub…) read as plain values here.
    let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    serde_json::to_value(strip_tags(yaml)).unwrap()
}

fn strip_tags(v: serde_norway::Value) -> serde_norway::Value {
    use serde_norway::Value as Y;
    match v {
        Y::Tagged(t) => strip_tags(t.value),
        Y::Mapping(m) => Y::Mapping(m.into_iter().map(|(k, v)| (k, strip_tags(v))).collect()),
        Y::Sequence(s) => Y::Sequence(s.into_iter().map(strip_tags).collect()),
        other => other,
    }
}

/// Every (METHOD, path) openapi.yaml documents.
fn documented_routes(spec: &Value) -> BTreeSet<(String, String)> {
    spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect()
}

#[test]
fn the_spec_documents_exactly_the_routes_the_template_serves() {
    let spec = load_yaml("openapi.yaml");
    let template = load_yaml("template.yaml");
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let served: BTreeSet<(String, String)> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|r| r["Properties"]["Events"].as_object())
        .flat_map(|events| events.values())
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| {
            (
                e["Properties"]["Method"].as_str().unwrap().to_uppercase(),
                e["Properties"]["Path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(!served.is_empty());
    assert_eq!(documented, served);
    // Per-route throttles name routes the API serves, and every shopper's route (public, no
    // authorizer) has one of its own, below the default.
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let default_rate = api["DefaultRouteSettings"]["ThrottlingRateLimit"].as_f64().unwrap();
    let throttled: BTreeSet<(String, String)> = api["RouteSettings"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, settings)| {
            assert!(settings["ThrottlingRateLimit"].as_f64().unwrap() < default_rate, "{key}");
            let (method, path) = key.split_once(' ').unwrap();
            (method.to_owned(), path.to_owned())
        })
        .collect();
    assert!(throttled.is_subset(&served), "{:?}", throttled.difference(&served).collect::<Vec<_>>());
    let public: BTreeSet<(String, String)> = served
        .iter()
        .filter(|(_, path)| path.starts_with("/checkout/{session_id}") || path == "/acquirer/notifications")
        .cloned()
        .collect();
    assert_eq!(throttled, public);
}

/// Every function logs into a group the template keeps for `LogRetentionDays`; the API keeps an
/// access log; the sweeper runs one at a time.
#[test]
fn every_log_is_kept_for_a_while_and_the_sweeper_runs_alone() {
    let template = load_yaml("template.yaml");
    let resources = template["Resources"].as_object().unwrap();
    let functions: Vec<(&String, &Value)> =
        resources.iter().filter(|(_, r)| r["Type"] == "AWS::Serverless::Function").collect();
    assert_eq!(functions.len(), 9);
    for (name, f) in functions {
        let group = f["Properties"]["LoggingConfig"]["LogGroup"].as_str().unwrap_or_else(|| panic!("{name}"));
        let group = &resources[group];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{name}");
        assert_eq!(group["Properties"]["RetentionInDays"], "LogRetentionDays", "{name}");
    }
    let access = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["DestinationArn"].clone();
    assert!(access.to_string().contains("ApiAccessLogs"), "{access}");
    let sweeper = &resources["PaymentSweeperFunction"]["Properties"];
    assert_eq!(sweeper["ReservedConcurrentExecutions"], 1);
}

/// The route table is the API openapi.yaml documents: each route's method and path, its
/// success status among the documented answers, its caller kind from its path, no key on a
/// GET, and the path parsing to the route whose value it is.
#[test]
fn the_route_table_is_the_documented_api() {
    use shared::http::routes::{BodyRule, CallerKind, KeyPolicy, ROUTES};
    let spec = load_yaml("openapi.yaml");
    let documented = documented_routes(&spec);
    let table: BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.as_str().to_owned(), r.path.to_owned())).collect();
    assert_eq!(table, documented);
    for r in ROUTES {
        let op = &spec["paths"][r.path][r.method.as_str().to_lowercase()];
        assert!(op["responses"].get(r.ok_status.to_string()).is_some(), "{} {}: {}", r.method, r.path, r.ok_status);
        let shopper = r.path.starts_with("/checkout/{session_id}");
        assert_eq!(r.caller == CallerKind::Shopper, shopper, "{}", r.path);
        let acquirer = r.path.starts_with("/acquirer/");
        assert_eq!(r.caller == CallerKind::Acquirer, acquirer, "{}", r.path);
        // A GET or a DELETE changes nothing twice: no key, no body. The acquirer's
        // notifications take no key either: a notice seen twice changes nothing.
        let bodiless = r.method == http::Method::GET || r.method == http::Method::DELETE;
        assert_eq!(bodiless || acquirer, r.key == KeyPolicy::Unused, "{}", r.path);
        assert_eq!(bodiless, r.body == BodyRule::None, "{}", r.path);
        let concrete = r
            .path
            .replace("{payment_id}", "pay_01JD8X9Y2Z3A4B5C6D7E8F9G0H")
            .replace("{session_id}", "cs_01JD8X9Y2Z3A4B5C6D7E8F9G0H")
            .replace("{user_id}", "u-1")
            .replace("{payment_method_id}", "pm_01jd8x9y2z3a4b5c6d7e8f9g0h");
        let req = http::Request::builder().method(r.method.clone()).uri(concrete).body(Body::Empty).unwrap();
        let parsed = shared::http::route(&req).unwrap_or_else(|| panic!("{} does not parse", r.path));
        assert!(std::ptr::eq(parsed.spec(), r), "{} parses to {:?}", r.path, parsed.spec().path);
    }
}

struct Spec {
    doc: Value,
}

impl Spec {
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str() {
            Some(r) => self.resolve(self.doc.pointer(r.trim_start_matches('#')).unwrap()),
            None => v,
        }
    }

    /// Checks one answer of `method path` (a spec path template) against the spec.
    fn check(&self, method: &str, path: &str, response: &Response<Body>) -> Value {
        let status = response.status().as_u16().to_string();
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let documented =
            op["responses"].get(&status).unwrap_or_else(|| panic!("{method} {path}: {status} is not documented"));
        let content_type = response.headers()["content-type"].to_str().unwrap();
        let media = &self.resolve(documented)["content"][content_type];
        assert!(media.is_object(), "{method} {path} {status}: content type {content_type} is not documented");
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "$ref": media["schema"]["$ref"],
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}\n{body}");
        body
    }
}

/// A merchant's server's POST (shop-1's token).
fn post(uri: &str, body: &str, content_type: Option<&str>) -> shared::lambda_http::Request {
    common::as_merchant(raw_post(uri, body, content_type, None), "shop-1")
}

/// A POST as sent, with a bearer token if given (a shopper's client secret).
fn raw_post(uri: &str, body: &str, content_type: Option<&str>, bearer: Option<&str>) -> shared::lambda_http::Request {
    let mut b = http::Request::builder().method("POST").uri(uri);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    if let Some(secret) = bearer {
        b = b.header("authorization", format!("Bearer {secret}"));
    }
    b.body(Body::Text(body.to_owned())).unwrap()
}

/// A first payment's body; each for an order of its own (an order is paid once).
fn first_body(card: &str, user: &str) -> Value {
    static ORDERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let order = format!("o-{}", ORDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    json!({"user_id": user, "phone": "+8613800138000", "merchant_id": "shop-1", "order_id": order, "amount": 1999,
        "currency": "CNY", "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123", "holder_name": "Li Lei"}})
}

#[tokio::test]
async fn every_kind_of_answer_conforms_to_the_spec() {
    let spec = Spec { doc: load_yaml("openapi.yaml") };
    let (stack, clock) = common::memory_stack();
    let svc = &stack.services;
    let first =
        |body: Value| shared::http::first_payment(svc, post("/payments", &body.to_string(), Some("application/json")));
    let repeat = |body: Value| {
        shared::http::repeat_payment(svc, post("/payments/repeat", &body.to_string(), Some("application/json")))
    };
    let verify = |id: &str, code: &str| {
        shared::http::verify_code(
            svc,
            post(&format!("/payments/{id}/verify"), &json!({"code": code}).to_string(), Some("application/json")),
        )
    };
    let resend = |id: &str| shared::http::verify_code(svc, post(&format!("/payments/{id}/resend"), "", None));
    const FIRST: &str = "/payments";
    const REPEAT: &str = "/payments/repeat";
    const VERIFY: &str = "/payments/{payment_id}/verify";
    const RESEND: &str = "/payments/{payment_id}/resend";

    let mut statuses = BTreeSet::new();
    let mut seen = |path: &str, r: &Response<Body>| {
        statuses.insert((path.to_owned(), r.status().as_u16()));
    };

    // No saved card yet: 404 with guidance.
    let r =
        repeat(json!({"user_id": "u-1", "merchant_id": "m", "order_id": "o", "amount": 5, "currency": "CNY"})).await;
    seen(REPEAT, &r);
    spec.check("post", REPEAT, &r);
    // Created.
    let r = first(first_body("4242424242424242", "u-1")).await;
    seen(FIRST, &r);
    let id = spec.check("post", FIRST, &r)["payment_id"].as_str().unwrap().to_owned();
    let code = common::latest_code(&stack, "+8613800138000");
    // Wrong code, resend too soon, then success, then not pending.
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for r in [verify(&id, &wrong).await, verify(&id, "12ab").await] {
        seen(VERIFY, &r);
        spec.check("post", VERIFY, &r);
    }
    let r = resend(&id).await;
    seen(RESEND, &r);
    spec.check("post", RESEND, &r);
    clock.advance(30);
    let r = resend(&id).await;
    seen(RESEND, &r);
    spec.check("post", RESEND, &r);
    let code = common::latest_code(&stack, "+8613800138000");
    for r in [verify(&id, &code).await, verify(&id, &code).await, resend(&id).await] {
        seen(VERIFY, &r);
        spec.check("post", VERIFY, &r);
    }
    // Repeat payment with the saved card.
    let r =
        repeat(json!({"user_id": "u-1", "merchant_id": "shop-1", "order_id": "o2", "amount": 5, "currency": "JPY"}))
            .await;
    seen(REPEAT, &r);
    spec.check("post", REPEAT, &r);
    // A decline (at creation: 402, no code sent) and a lock-out (another payer: the fifth
    // wrong code locks theirs, 429 after).
    let r = first(first_body("4000000000000002", "u-2")).await;
    seen(FIRST, &r);
    let declined = spec.check("post", FIRST, &r)["payment_id"].as_str().unwrap().to_owned();
    let r = verify(&declined, "123456").await;
    seen(VERIFY, &r);
    spec.check("post", VERIFY, &r);
    let mut locked_body = first_body("4242424242424242", "u-3");
    locked_body["phone"] = json!("+8613800138003");
    let r = first(locked_body).await;
    let locked = spec.check("post", FIRST, &r)["payment_id"].as_str().unwrap().to_owned();
    for _ in 0..6 {
        let r = verify(&locked, "000000").await;
        seen(VERIFY, &r);
        spec.check("post", VERIFY, &r);
    }
    // Bad input of every kind.
    let mut bad_card = first_body("4242424242424241", "u-4");
    for r in [
        first(bad_card.clone()).await,
        shared::http::first_payment(svc, post(FIRST, "{", Some("application/json"))).await,
        shared::http::first_payment(svc, post(FIRST, "x", Some("text/plain"))).await,
        shared::http::first_payment(svc, post(FIRST, &"x".repeat(20_000), Some("application/json"))).await,
        shared::http::first_payment(svc, http::Request::builder().method("GET").uri(FIRST).body(Body::Empty).unwrap())
            .await,
    ] {
        seen(FIRST, &r);
        if r.status() == 405 {
            assert_eq!(r.headers()["allow"], "POST");
            continue; // An undocumented method has no operation to check against.
        }
        spec.check("post", FIRST, &r);
    }
    bad_card["extra"] = json!(1);
    let r = first(bad_card).await;
    spec.check("post", FIRST, &r);
    let r = verify("pay_unknown0000", "123456").await;
    seen(VERIFY, &r);
    spec.check("post", VERIFY, &r);

    // Status and history.
    const STATUS: &str = "/payments/{payment_id}";
    const HISTORY: &str = "/users/{user_id}/payments";
    let get = |uri: String| {
        shared::http::payment_status(
            svc,
            common::as_merchant(http::Request::get(uri).body(Body::Empty).unwrap(), "shop-1"),
        )
    };
    for r in [
        get(format!("/payments/{id}")).await,
        get(format!("/payments/{locked}")).await,
        get("/payments/pay_x".into()).await,
    ] {
        seen(STATUS, &r);
        spec.check("get", STATUS, &r);
    }
    let r = get("/users/u-1/payments?limit=1".into()).await;
    seen(HISTORY, &r);
    let page = spec.check("get", HISTORY, &r);
    assert_eq!((page["data"].as_array().unwrap().len(), &page["has_more"]), (1, &json!(true)), "{page}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let r = get(format!("/users/u-1/payments?limit=1&cursor={cursor}")).await;
    assert_eq!(spec.check("get", HISTORY, &r)["data"][0]["payment_id"], json!(id), "the older of u-1's two payments");
    for uri in ["/users/u-1/payments?limit=0", "/users/u-1/payments?cursor=nope", "/users/no%20such/payments"] {
        let r = get(uri.into()).await;
        seen(HISTORY, &r);
        spec.check("get", HISTORY, &r);
    }

    // A claimless request: 401.
    let r = shared::http::first_payment(
        svc,
        raw_post(FIRST, &first_body(VISA, "u-5").to_string(), Some("application/json"), None),
    )
    .await;
    seen(FIRST, &r);
    spec.check("post", FIRST, &r);
    let r = get_raw(svc, "/payments/pay_x").await;
    spec.check("get", STATUS, &r);

    // Checkout sessions: the merchant's routes, then the shopper's.
    const SESSIONS: &str = "/checkout/sessions";
    const SESSION: &str = "/checkout/sessions/{session_id}";
    const EXPIRE: &str = "/checkout/sessions/{session_id}/expire";
    const STATE: &str = "/checkout/{session_id}/state";
    const PAY: &str = "/checkout/{session_id}/payments";
    const PAY_SAVED: &str = "/checkout/{session_id}/payments/repeat";
    const S_VERIFY: &str = "/checkout/{session_id}/payments/{payment_id}/verify";
    const S_RESEND: &str = "/checkout/{session_id}/payments/{payment_id}/resend";
    let checkout = |req: shared::lambda_http::Request| shared::http::checkout_page(svc, req);
    // The first session has every optional field (language, way back, order summary).
    let session_body = |user: &str, order: &str| {
        let mut body = json!({"user_id": user, "order_id": order, "amount": 1999, "currency": "CNY"});
        if order == "o-s1" {
            body["locale"] = json!("zh-CN");
            body["cancel_url"] = json!("https://shop.example/cart");
            body["description"] = json!("Tea for two");
            body["line_items"] = json!([{"name": "Oolong", "quantity": 2, "amount": 1500}, {"name": "Pot", "quantity": 1, "amount": 499}]);
        }
        body
    };
    let r = checkout(post(SESSIONS, &session_body("u-1", "o-s1").to_string(), Some("application/json"))).await;
    seen(SESSIONS, &r);
    let created = spec.check("post", SESSIONS, &r);
    let (sid, secret) =
        (created["id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
    for body in [
        json!({"user_id": "u-1", "order_id": "o", "amount": 1, "currency": "CNY", "expires_in": 10}),
        json!({"user_id": "u-1"}),
        json!({"user_id": "u-1", "order_id": "o", "amount": 1999, "currency": "CNY",
               "line_items": [{"name": "Oolong", "quantity": 1, "amount": 1000}]}),
    ] {
        let r = checkout(post(SESSIONS, &body.to_string(), Some("application/json"))).await;
        seen(SESSIONS, &r);
        spec.check("post", SESSIONS, &r);
    }
    let get_session =
        |uri: String| checkout(common::as_merchant(http::Request::get(uri).body(Body::Empty).unwrap(), "shop-1"));
    for r in
        [get_session(format!("/checkout/sessions/{sid}")).await, get_session("/checkout/sessions/cs_nope".into()).await]
    {
        seen(SESSION, &r);
        spec.check("get", SESSION, &r);
    }
    let state = |secret: Option<&str>| {
        let mut b = http::Request::get(format!("/checkout/{sid}/state"));
        if let Some(s) = secret {
            b = b.header("authorization", format!("Bearer {s}"));
        }
        checkout(b.body(Body::Empty).unwrap())
    };
    for r in [state(Some(&secret)).await, state(None).await] {
        seen(STATE, &r);
        spec.check("get", STATE, &r);
    }
    let shopper_post =
        |uri: String, body: Value| raw_post(&uri, &body.to_string(), Some("application/json"), Some(&secret));
    let card = json!({"number": VISA, "exp_month": 12, "exp_year": 2040, "cvc": "123"});
    let r = shared::http::first_payment(
        svc,
        shopper_post(format!("/checkout/{sid}/payments"), json!({"phone": PHONE, "card": card, "amount": 1})),
    )
    .await;
    seen(PAY, &r);
    spec.check("post", PAY, &r);
    let r =
        shared::http::repeat_payment(svc, shopper_post(format!("/checkout/{sid}/payments/repeat"), json!({}))).await;
    seen(PAY_SAVED, &r);
    let pid = spec.check("post", PAY_SAVED, &r)["payment_id"].as_str().unwrap_or_else(|| panic!("{r:?}")).to_owned();
    let r =
        shared::http::verify_code(svc, shopper_post(format!("/checkout/{sid}/payments/{pid}/resend"), json!({}))).await;
    seen(S_RESEND, &r);
    spec.check("post", S_RESEND, &r);
    let r = shared::http::verify_code(
        svc,
        shopper_post(format!("/checkout/{sid}/payments/{id}/verify"), json!({"code": "123456"})),
    )
    .await;
    seen(S_VERIFY, &r);
    spec.check("post", S_VERIFY, &r);
    let code = common::latest_code(&stack, PHONE);
    let r = shared::http::verify_code(
        svc,
        shopper_post(format!("/checkout/{sid}/payments/{pid}/verify"), json!({"code": code})),
    )
    .await;
    seen(S_VERIFY, &r);
    spec.check("post", S_VERIFY, &r);
    let r = shared::http::first_payment(
        svc,
        shopper_post(format!("/checkout/{sid}/payments"), json!({"phone": PHONE, "card": card})),
    )
    .await;
    seen(PAY, &r);
    assert_eq!(spec.check("post", PAY, &r)["code"], "session_completed");
    let r = checkout(post(&format!("/checkout/sessions/{sid}/expire"), "", None)).await;
    seen(EXPIRE, &r);
    spec.check("post", EXPIRE, &r);
    // A second session, ended by its merchant: the shopper is told it expired.
    let r = checkout(post(SESSIONS, &session_body("u-1", "o-s2").to_string(), Some("application/json"))).await;
    let second = spec.check("post", SESSIONS, &r);
    let (sid2, secret2) =
        (second["id"].as_str().unwrap().to_owned(), second["client_secret"].as_str().unwrap().to_owned());
    let r = checkout(post(&format!("/checkout/sessions/{sid2}/expire"), "", None)).await;
    spec.check("post", EXPIRE, &r);
    let r = shared::http::repeat_payment(
        svc,
        raw_post(&format!("/checkout/{sid2}/payments/repeat"), "{}", Some("application/json"), Some(&secret2)),
    )
    .await;
    seen(PAY_SAVED, &r);
    assert_eq!(spec.check("post", PAY_SAVED, &r)["code"], "session_expired");

    // Saved cards: listed (with the last use of the repeat payment above), forgotten, and
    // forgotten again (404).
    const METHODS: &str = "/users/{user_id}/payment-methods";
    const METHOD: &str = "/users/{user_id}/payment-methods/{payment_method_id}";
    let r = get("/users/u-1/payment-methods".into()).await;
    seen(METHODS, &r);
    let list = spec.check("get", METHODS, &r);
    let pm = list["data"][0]["id"].as_str().unwrap_or_else(|| panic!("{list}")).to_owned();
    let delete = |uri: String| {
        let req = common::as_merchant(http::Request::delete(uri).body(Body::Empty).unwrap(), "shop-1");
        shared::http::payment_operations(svc, req)
    };
    let uri = format!("/users/u-1/payment-methods/{pm}");
    for uri in [uri.clone(), uri, "/users/u-1/payment-methods/nope".into(), "/users/no%20such/payment-methods/x".into()]
    {
        let r = delete(uri).await;
        seen(METHOD, &r);
        spec.check("delete", METHOD, &r);
    }

    let covered: BTreeSet<u16> = statuses.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        covered,
        BTreeSet::from([200, 201, 400, 401, 402, 403, 404, 405, 409, 410, 413, 415, 422, 429]),
        "{statuses:?}"
    );
}

const VISA: &str = "4242424242424242";
const PHONE: &str = "+8613800138000";

async fn get_raw(svc: &shared::Services, uri: &str) -> Response<Body> {
    shared::http::payment_status(svc, http::Request::get(uri).body(Body::Empty).unwrap()).await
}
