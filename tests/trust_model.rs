//! Who may do what, tried the way an attacker would: every exploit of the old checkout link,
//! each now failing. The real handlers over the real AWS SDK against moto.

use integration_tests::*;
use serde_json::{json, Value};
use shared::lambda_http::{http, Body, Request};

/// A request with no authorizer context and no header: what the old page's callers could send.
fn bare(method: &str, path: &str, body: &Value, bearer: Option<&str>) -> Request {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path}"))
        .header("content-type", "application/json");
    if let Some(secret) = bearer {
        b = b.header("authorization", format!("Bearer {secret}"));
    }
    b.body(if method == "GET" { Body::Empty } else { Body::Text(body.to_string()) }).unwrap()
}

/// Every merchant route, with the function that serves it.
fn merchant_routes(payment: &str, session: &str) -> Vec<(Function, &'static str, String)> {
    vec![
        (Function::FirstPayment, "POST", "/payments".into()),
        (Function::RepeatPayment, "POST", "/payments/repeat".into()),
        (Function::VerifyCode, "POST", format!("/payments/{payment}/verify")),
        (Function::VerifyCode, "POST", format!("/payments/{payment}/resend")),
        (Function::PaymentStatus, "GET", format!("/payments/{payment}")),
        (Function::PaymentStatus, "GET", "/users/u-42/payments".into()),
        (Function::CheckoutPage, "POST", "/checkout/sessions".into()),
        (Function::CheckoutPage, "GET", format!("/checkout/sessions/{session}")),
        (Function::CheckoutPage, "POST", format!("/checkout/sessions/{session}/expire")),
    ]
}

#[tokio::test]
async fn merchant_routes_fail_closed_without_a_merchant() {
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());
    let paid = stack.first_payment(&first_payment_body(&user, &phone, "4242424242424242")).await;
    let payment = paid.body["payment_id"].as_str().unwrap().to_owned();
    let (session, secret) = stack.create_session("shop-1", &user, &random_id("o"), 1999).await;
    let before = stack.scan().await.len();
    let sent = stack.sms_count(&phone);
    let body = json!({"user_id": user, "merchant_id": "shop-1", "order_id": random_id("o"), "amount": 1, "currency": "CNY",
        "code": "123456", "phone": phone, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "1"}});

    for (function, method, path) in merchant_routes(&payment, &session) {
        // No credential at all; the page's client secret; a token without the merchant claim;
        // the local header on a deployed function (LOCAL_AUTH unset).
        let no_claim = {
            let req = from_merchant(bare(method, &path, &body, None), "x");
            strip_merchant_claim(req)
        };
        let mut header_only = bare(method, &path, &body, None);
        header_only.headers_mut().insert("x-local-merchant-id", "shop-1".parse().unwrap());
        for (what, req) in [
            ("nothing", bare(method, &path, &body, None)),
            ("client secret", bare(method, &path, &body, Some(&secret))),
            ("token without the claim", no_claim),
            ("local header, LOCAL_AUTH off", header_only),
        ] {
            let a = stack.send(function, req).await;
            assert_eq!(
                (a.status, a.body["code"].as_str()),
                (401, Some("unauthorized")),
                "{what}: {method} {path}: {}",
                a.body
            );
            assert_eq!(a.headers["content-type"], "application/problem+json");
        }
        // A malformed claim is named as such.
        let a = stack.send(function, from_merchant(bare(method, &path, &body, None), "not a merchant!")).await;
        assert_eq!((a.status, a.body["code"].as_str()), (403, Some("invalid_merchant_claim")), "{method} {path}");
    }
    assert_eq!(stack.scan().await.len(), before, "nothing was written");
    assert_eq!(stack.sms_count(&phone), sent, "nothing was sent");
}

fn strip_merchant_claim(mut req: Request) -> Request {
    use shared::lambda_http::request::RequestContext;
    use shared::lambda_http::RequestExt;
    if let Some(RequestContext::ApiGatewayV2(mut ctx)) = req.request_context_ref().cloned() {
        if let Some(jwt) = ctx.authorizer.as_mut().and_then(|a| a.jwt.as_mut()) {
            jwt.claims.remove("merchant_id");
        }
        req = req.with_request_context(RequestContext::ApiGatewayV2(ctx));
    }
    req
}

#[tokio::test]
async fn locally_the_merchant_header_counts_only_under_local_auth_and_claims_win() {
    let mut stack = Stack::new().await;
    stack.services.settings.local_auth = shared::config::LocalAuth::MerchantHeader;
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "CNY"});
    let mut req = bare("POST", "/checkout/sessions", &body, None);
    req.headers_mut().insert("x-local-merchant-id", "shop-2".parse().unwrap());
    let a = stack.send(Function::CheckoutPage, req).await;
    assert_eq!((a.status, a.body["merchant_id"].as_str()), (201, Some("shop-2")), "{}", a.body);
    // With an authorizer context, the header is not even looked at.
    let mut req = from_merchant(bare("POST", "/checkout/sessions", &body, None), "shop-1");
    req.headers_mut().insert("x-local-merchant-id", "shop-2".parse().unwrap());
    let a = stack.send(Function::CheckoutPage, req).await;
    assert_eq!((a.status, a.body["merchant_id"].as_str()), (201, Some("shop-1")), "{}", a.body); // Any authorizer context, even one without a JWT, rules the header out.
    let mut req = strip_merchant_claim(from_merchant(bare("POST", "/checkout/sessions", &body, None), "x"));
    req.headers_mut().insert("x-local-merchant-id", "shop-2".parse().unwrap());
    let a = stack.send(Function::CheckoutPage, req).await;
    assert_eq!((a.status, a.body["code"].as_str()), (401, Some("unauthorized")), "{}", a.body);
}

#[tokio::test]
async fn the_session_secret_pays_its_own_order_and_nothing_else() {
    let stack = Stack::new().await;
    let (victim, phone) = (random_id("u"), random_phone());
    // The victim has a saved card at shop-1.
    let first = stack.first_payment(&first_payment_body(&victim, &phone, "4242424242424242")).await;
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&id, &stack.code_sent_to(&phone)).await.status, 200);
    let sent = stack.sms_count(&phone);

    // The attacker is a shopper with a session of their own.
    let (attacker, attacker_phone) = (random_id("u"), random_phone());
    let order = random_id("o");
    let (sid, secret) = stack.create_session("shop-1", &attacker, &order, 1999).await;

    // It cannot read anyone's history, nor start a repeat payment for another user.
    let history = stack
        .send(Function::PaymentStatus, bare("GET", &format!("/users/{victim}/payments"), &json!({}), Some(&secret)))
        .await;
    assert_eq!(history.status, 401);
    let repeat = json!({"user_id": victim, "merchant_id": "shop-1", "order_id": "o-x", "amount": 1, "currency": "CNY"});
    let a = stack.send(Function::RepeatPayment, bare("POST", "/payments/repeat", &repeat, Some(&secret))).await;
    assert_eq!(a.status, 401);
    // Naming another user, the amount or the order in a session payment is refused.
    for (field, value) in [
        ("user_id", json!(victim)),
        ("amount", json!(1)),
        ("order_id", json!("o-x")),
        ("merchant_id", json!("shop-2")),
        ("currency", json!("JPY")),
    ] {
        let mut body = session_card_body(&attacker_phone);
        body[field] = value;
        let a = stack
            .call_as_shopper(Function::FirstPayment, &format!("/checkout/{sid}/payments"), &secret, &body, None)
            .await;
        assert_eq!((a.status, a.body["code"].as_str()), (400, Some("invalid_request")), "{field}: {}", a.body);
        let a = stack
            .call_as_shopper(
                Function::RepeatPayment,
                &format!("/checkout/{sid}/payments/repeat"),
                &secret,
                &json!({field: 1}),
                None,
            )
            .await;
        assert_eq!(a.status, 400, "{field}");
    }
    // The victim's saved card, named by id in the attacker's session: not this customer's.
    let victims_card = first.body["payment_method"]["id"].as_str().unwrap();
    let a = stack
        .call_as_shopper(
            Function::RepeatPayment,
            &format!("/checkout/{sid}/payments/repeat"),
            &secret,
            &json!({"payment_method_id": victims_card}),
            None,
        )
        .await;
    assert_eq!((a.status, a.body["code"].as_str()), (404, Some("payment_method_not_found")), "{}", a.body);
    // The victim's payment through the attacker's session, or through the merchant's route.
    for (path, body) in [
        (format!("/checkout/{sid}/payments/{id}/verify"), json!({"code": "123456"})),
        (format!("/checkout/{sid}/payments/{id}/resend"), json!({})),
    ] {
        let a = stack.call_as_shopper(Function::VerifyCode, &path, &secret, &body, None).await;
        assert_eq!((a.status, a.body["code"].as_str()), (404, Some("payment_not_found")), "{path}");
    }
    assert_eq!(stack.sms_count(&phone), sent, "no code went to the victim's phone");

    // What it can do: pay its own order, for the session's amount.
    let a = stack
        .call_as_shopper(
            Function::FirstPayment,
            &format!("/checkout/{sid}/payments"),
            &secret,
            &session_card_body(&attacker_phone),
            None,
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    // The shopper's view carries no merchant-internal id (issue 22).
    assert_eq!(
        (a.body["amount"].as_u64(), a.body["order_id"].as_str(), a.body.get("user_id")),
        (Some(1999), Some(order.as_str()), None)
    );
    let state = stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    assert_eq!(state.body["payment"]["payment_id"], a.body["payment_id"]);
    assert!(!state.body.to_string().contains(attacker.as_str()), "the user id in the state: {}", state.body);
    assert_eq!(a.body["session_id"], sid.as_str());
    let verify_url = a.body["next_action"]["verify_url"].as_str().unwrap();
    assert_eq!(verify_url, format!("/checkout/{sid}/payments/{}/verify", a.body["payment_id"].as_str().unwrap()));
}

#[tokio::test]
async fn one_session_cannot_touch_another_sessions_payment() {
    let stack = Stack::new().await;
    let (phone_a, phone_b) = (random_phone(), random_phone());
    let (sid_a, secret_a) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1000).await;
    let (sid_b, secret_b) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 2000).await;
    let b = stack
        .call_as_shopper(
            Function::FirstPayment,
            &format!("/checkout/{sid_b}/payments"),
            &secret_b,
            &session_card_body(&phone_b),
            None,
        )
        .await;
    let pid_b = b.body["payment_id"].as_str().unwrap().to_owned();
    let code_b = stack.code_sent_to(&phone_b);
    stack.clock.advance(shared::domain::RESEND_COOLDOWN_SECS);

    // A's secret on B's payment through A's session: unknown. A's secret on B's session: refused.
    for (action, body) in [("verify", json!({"code": code_b})), ("resend", json!({}))] {
        let a = stack
            .call_as_shopper(
                Function::VerifyCode,
                &format!("/checkout/{sid_a}/payments/{pid_b}/{action}"),
                &secret_a,
                &body,
                None,
            )
            .await;
        assert_eq!((a.status, a.body["code"].as_str()), (404, Some("payment_not_found")), "{action}");
        let a = stack
            .call_as_shopper(
                Function::VerifyCode,
                &format!("/checkout/{sid_b}/payments/{pid_b}/{action}"),
                &secret_a,
                &body,
                None,
            )
            .await;
        assert_eq!((a.status, a.body["code"].as_str()), (401, Some("invalid_client_secret")), "{action}");
    }
    let state = stack.get_as_shopper(&format!("/checkout/{sid_b}/state"), Some(&secret_a)).await;
    assert_eq!(state.status, 401);
    assert_eq!(stack.sms_count(&phone_b), 1, "no resend happened");
    assert_eq!(stack.sms_count(&phone_a), 0);
    // B's own secret still completes B's payment with B's code.
    let done = stack
        .call_as_shopper(
            Function::VerifyCode,
            &format!("/checkout/{sid_b}/payments/{pid_b}/verify"),
            &secret_b,
            &json!({"code": code_b}),
            None,
        )
        .await;
    assert_eq!((done.status, done.body["status"].as_str()), (200, Some("succeeded")), "{}", done.body);
}

#[tokio::test]
async fn the_page_and_the_state_reveal_nothing_without_the_secret() {
    let stack = Stack::new().await;
    let (user, order) = (random_id("u"), random_id("o"));
    let (sid, secret) = stack.create_session("shop-1", &user, &order, 4321).await;
    let (other, _) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 10).await;

    let page = |id: &str| {
        let req: Request =
            http::Request::get(format!("https://api.example.com/checkout/{id}")).body(Body::Empty).unwrap();
        shared::http::checkout_page(&stack.services, req)
    };
    let bytes = |r: shared::lambda_http::Response<Body>| (r.status().as_u16(), r.body().as_ref().to_vec());
    let mark = stack.calls.mark();
    let (a, b, unknown) =
        (bytes(page(&sid).await), bytes(page(&other).await), bytes(page("cs_0000000000000000000000000a").await));
    assert_eq!(a.0, 200);
    assert_eq!(a, b, "every session gets the same page");
    assert_eq!(a, unknown, "an unknown session's id gets the same page: ids cannot be probed");
    assert!(stack.calls.since(mark).is_empty(), "the page reads nothing");
    let html = String::from_utf8(a.1).unwrap();
    for secret_ish in [user.as_str(), order.as_str(), "4321", "43.21", secret.as_str()] {
        assert!(!html.contains(secret_ish), "{secret_ish} in the page");
    }
    assert_eq!(bytes(page("not-a-session").await).0, 404);
    assert_eq!(bytes(page("").await).0, 404, "the old query-string page is gone");
    let old: Request = http::Request::get(
        "https://api.example.com/checkout?merchant_id=shop-1&order_id=o&amount=1&currency=CNY&user_id=u",
    )
    .body(Body::Empty)
    .unwrap();
    assert_eq!(shared::http::checkout_page(&stack.services, old).await.status().as_u16(), 404);

    // The state: missing secret, wrong secret, unknown session, malformed id: one answer.
    let wrong = "A".repeat(43);
    let answers = [
        stack.get_as_shopper(&format!("/checkout/{sid}/state"), None).await,
        stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&wrong)).await,
        stack.get_as_shopper("/checkout/cs_0000000000000000000000000a/state", Some(&secret)).await,
        stack.get_as_shopper("/checkout/nope/state", Some(&secret)).await,
    ];
    for a in &answers {
        assert_eq!((a.status, &a.body), (401, &answers[0].body));
        assert_eq!(a.body["code"], "invalid_client_secret");
    }
    let ok = stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    assert_eq!(
        (ok.status, ok.body["amount"].as_u64(), ok.body["merchant_name"].as_str()),
        (200, Some(4321), Some("shop-1"))
    );
    assert!(ok.body.get("user_id").is_none(), "{}", ok.body);
}

#[tokio::test]
async fn another_merchant_cannot_see_or_end_a_session() {
    let stack = Stack::new().await;
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let seen = stack.get_session(&format!("/checkout/sessions/{sid}"), "shop-2").await;
    assert_eq!((seen.status, seen.body["code"].as_str()), (404, Some("session_not_found")));
    let ended = stack
        .call_as("shop-2", Function::CheckoutPage, &format!("/checkout/sessions/{sid}/expire"), &json!({}), None)
        .await;
    assert_eq!((ended.status, ended.body["code"].as_str()), (404, Some("session_not_found")));
    let mine = stack.get_session(&format!("/checkout/sessions/{sid}"), "shop-1").await;
    assert_eq!((mine.status, mine.body["status"].as_str()), (200, Some("open")));
    assert!(mine.body.get("client_secret").is_none() && !mine.body.to_string().contains(&secret));
    // A merchant cannot open a session for another merchant either.
    let body = json!({"merchant_id": "shop-2", "user_id": "u", "order_id": "o", "amount": 1, "currency": "CNY"});
    let a = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, None).await;
    assert_eq!((a.status, a.body["code"].as_str()), (403, Some("merchant_mismatch")));
}

#[tokio::test]
async fn a_new_payment_in_a_session_cancels_the_pending_one_in_the_same_write() {
    let stack = Stack::new().await;
    let (phone, user) = (random_phone(), random_id("u"));
    let (sid, secret) = stack.create_session("shop-1", &user, &random_id("o"), 1999).await;
    let path = format!("/checkout/{sid}/payments");
    let body = session_card_body(&phone);
    let pay = || stack.call_as_shopper(Function::FirstPayment, &path, &secret, &body, None);
    let first = pay().await;
    let p1 = first.body["payment_id"].as_str().unwrap().to_owned();
    let old_code = stack.code_sent_to(&phone);
    let second = pay().await;
    assert_eq!(second.status, 201);
    let p2 = second.body["payment_id"].as_str().unwrap().to_owned();
    assert_ne!(p1, p2);
    let old = stack.get(&format!("/payments/{p1}"), None).await;
    assert_eq!(old.body["status"], "canceled");
    // The canceled payment's code completes nothing, by either route.
    let a = stack
        .call_as_shopper(
            Function::VerifyCode,
            &format!("/checkout/{sid}/payments/{p1}/verify"),
            &secret,
            &json!({"code": old_code}),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    let a = stack.verify(&p1, &old_code).await;
    assert_eq!((a.status, a.body["code"].as_str()), (409, Some("payment_not_pending")));
    let state = stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    assert_eq!(state.body["payment"]["payment_id"], p2.as_str());
}

#[tokio::test]
async fn no_payment_outlives_its_session() {
    let stack = Stack::new().await;
    let phone = random_phone();
    // Session ended by time.
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "CNY", "expires_in": 300});
    let created = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, None).await;
    let (sid, secret) =
        (created.body["id"].as_str().unwrap().to_owned(), created.body["client_secret"].as_str().unwrap().to_owned());
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let code = stack.code_sent_to(&phone);
    stack.clock.advance(301);
    let a = stack.verify_in_session(&sid, &secret, &pid, &code).await;
    assert_eq!((a.status, a.body["code"].as_str()), (410, Some("session_expired")), "{}", a.body);
    // Through the merchant's route the payment has expired with its session.
    let a = stack.verify(&pid, &code).await;
    assert_eq!((a.status, a.body["payment"]["status"].as_str()), (409, Some("expired")), "{}", a.body);
    let again = stack.pay_in_session(&sid, &secret, &phone).await;
    assert_eq!((again.status, again.body["code"].as_str()), (410, Some("session_expired")));
    let seen = stack.get_session(&format!("/checkout/sessions/{sid}"), "shop-1").await;
    assert_eq!(seen.body["status"], "expired");

    // Session ended by its merchant: its pending payment is canceled with it.
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let ended = stack
        .call_as("shop-1", Function::CheckoutPage, &format!("/checkout/sessions/{sid}/expire"), &json!({}), None)
        .await;
    assert_eq!(
        (ended.status, ended.body["status"].as_str(), ended.body["payment_status"].as_str()),
        (200, Some("expired"), Some("canceled")),
        "{}",
        ended.body
    );
    let a = stack.verify(&pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(a.status, 409);
    let state = stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    assert_eq!(state.body["status"], "expired");
}

#[tokio::test]
async fn a_paid_session_is_complete_and_takes_no_second_payment() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded");
    let again = stack
        .call_as_shopper(
            Function::RepeatPayment,
            &format!("/checkout/{sid}/payments/repeat"),
            &secret,
            &json!({}),
            None,
        )
        .await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("session_completed")));
    let seen = stack.get_session(&format!("/checkout/sessions/{sid}"), "shop-1").await;
    assert_eq!(
        (seen.body["status"].as_str(), seen.body["payment_id"].as_str(), seen.body["payment_status"].as_str()),
        (Some("complete"), Some(pid.as_str()), Some("succeeded"))
    );
    let end = stack
        .call_as("shop-1", Function::CheckoutPage, &format!("/checkout/sessions/{sid}/expire"), &json!({}), None)
        .await;
    assert_eq!((end.status, end.body["code"].as_str()), (409, Some("session_completed")));
    assert_eq!(stack.sms_count(&phone), 1);
}

#[tokio::test]
async fn the_merchant_cannot_end_a_session_while_its_payment_is_being_captured() {
    // The capture takes 600 ms at the acquirer; the merchant's expire comes 200 ms into it. It
    // is refused (the shopper is being charged); once captured, the session is complete.
    let mut stack = Stack::new().await;
    let slow = payments_testkit::LedgerAcquirer::prompt().capturing_in(std::time::Duration::from_millis(600));
    stack.services.acquirer = std::sync::Arc::new(slow);
    let phone = random_phone();
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let expire = format!("/checkout/sessions/{sid}/expire");
    let code = stack.code_sent_to(&phone);
    let verify = stack.verify_in_session(&sid, &secret, &pid, &code);
    let end = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stack.call_as("shop-1", Function::CheckoutPage, &expire, &json!({}), None).await
    };
    let (done, end) = tokio::join!(verify, end);
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    assert_eq!((end.status, end.body["code"].as_str()), (409, Some("payment_capturing")), "{}", end.body);
    assert_eq!(end.headers["retry-after"], "1");
    let again = stack.call_as("shop-1", Function::CheckoutPage, &expire, &json!({}), None).await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("session_completed")));
}

#[tokio::test]
async fn a_session_replayed_under_its_key_returns_the_same_secret_kept_sealed() {
    let stack = Stack::new().await;
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "CNY",
        "return_url": "https://shop.example.com/back?o=1"});
    let first =
        stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, Some("session-key-1")).await;
    let again =
        stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, Some("session-key-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotency-replayed"], "true");
    assert_eq!(first.body, again.body, "the same session, the same secret, the same url");
    let secret = first.body["client_secret"].as_str().unwrap();
    assert_eq!(
        first.body["url"],
        format!("https://api.example.com/checkout/{}#{secret}", first.body["id"].as_str().unwrap())
    );
    // The table holds neither the secret nor anything that shows it in clear.
    let dump = format!("{:?}", stack.scan().await);
    assert!(!dump.contains(secret), "the client secret is stored in clear");
    assert!(dump.contains("sealed_client_secret"), "the kept answer holds it sealed");
    // A bad return_url says what is wrong; http only on 127.0.0.1 under LOCAL_AUTH.
    for url in [
        "http://shop.example.com/",
        "http://127.0.0.1:9000/",
        "javascript:alert(1)",
        "https://user:pw@shop.example.com/",
    ] {
        let mut bad = body.clone();
        bad["return_url"] = json!(url);
        let a = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &bad, None).await;
        assert_eq!(
            (a.status, a.body["code"].as_str(), a.body["param"].as_str()),
            (422, Some("invalid_return_url"), Some("return_url")),
            "{url}"
        );
    }
    let mut short = body.clone();
    short["expires_in"] = json!(60);
    let a = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &short, None).await;
    assert_eq!((a.status, a.body["param"].as_str()), (422, Some("expires_in")));
}

#[tokio::test]
async fn a_second_session_for_a_paid_order_is_refused() {
    let stack = Stack::new().await;
    let (user, phone, order) = (random_id("u"), random_phone(), random_id("o"));
    let (sid, secret) = stack.create_session("shop-1", &user, &order, 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&phone)).await;
    let body = json!({"user_id": user, "order_id": order, "amount": 1999, "currency": "CNY"});
    let a = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, None).await;
    assert_eq!((a.status, a.body["code"].as_str()), (409, Some("order_already_paid")));
}

#[tokio::test]
async fn concurrent_payments_in_one_session_leave_one_pending_payment() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let path = format!("/checkout/{sid}/payments");
    let body = session_card_body(&phone);
    let answers = futures::future::join_all(
        (0..6).map(|_| stack.call_as_shopper(Function::FirstPayment, &path, &secret, &body, None)),
    )
    .await;
    let created: Vec<String> =
        answers.iter().filter(|a| a.status == 201).map(|a| a.body["payment_id"].as_str().unwrap().to_owned()).collect();
    assert!(!created.is_empty());
    for a in answers.iter().filter(|a| a.status != 201) {
        assert_eq!((a.status, a.body["code"].as_str()), (409, Some("request_conflict")), "{}", a.body);
    }
    let state = stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    let latest = state.body["payment"]["payment_id"].as_str().unwrap();
    let mut pending = 0;
    for id in &created {
        let status = stack.get(&format!("/payments/{id}"), None).await.body["status"].as_str().unwrap().to_owned();
        if id == latest {
            assert_eq!(status, "requires_verification");
        } else {
            assert_eq!(status, "canceled", "{id}: every payment but the session's latest is canceled");
        }
        pending += usize::from(status == "requires_verification");
    }
    assert_eq!(pending, 1, "{created:?}");
}

#[tokio::test]
async fn wrong_codes_in_an_attackers_session_cannot_lock_the_victims_phone() {
    // The attacker pays in a session of their own with the victim's phone (which they cannot
    // read) and enters five wrong codes: the attacker is locked out, the victim is not.
    let stack = Stack::new().await;
    let (victim, victim_phone) = (random_id("u"), random_phone());
    let saved = stack.first_payment(&first_payment_body(&victim, &victim_phone, "4242424242424242")).await;
    let sid_v = saved.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&sid_v, &stack.code_sent_to(&victim_phone)).await.status, 200);

    let attacker = random_id("u");
    let (sid, secret) = stack.create_session("shop-1", &attacker, &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &victim_phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let wrong = wrong_code(&stack.code_sent_to(&victim_phone));
    let mut last = None;
    for _ in 0..5 {
        last = Some(stack.verify_in_session(&sid, &secret, &pid, &wrong).await);
    }
    let last = last.unwrap();
    // The payment's own fifth: it fails; the attacker (this user) is now locked out.
    assert_eq!((last.status, last.body["code"].as_str()), (422, Some("too_many_attempts")), "{}", last.body);
    let mut again = first_payment_body(&attacker, &random_phone(), "4242424242424242");
    again["order_id"] = json!(random_id("o"));
    let refused = stack.first_payment(&again).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("too_many_failures")));

    // The victim pays: their saved card's repeat payment, and a first payment with their phone.
    let repeat = stack.repeat_payment(&repeat_payment_body(&victim)).await;
    assert_eq!(repeat.status, 201, "{}", repeat.body);
    let mut first = first_payment_body(&victim, &victim_phone, "4242424242424242");
    first["order_id"] = json!(random_id("o"));
    assert_eq!(stack.first_payment(&first).await.status, 201);
}

#[tokio::test]
async fn a_shopper_sees_a_decline_as_card_declined_and_the_merchant_sees_why() {
    // The issuer's reason tells a card tester which cards are live (funds, limits): the shopper
    // gets the one thing they can act on; the merchant keeps the reason.
    let stack = Stack::new().await;
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let body = json!({"phone": random_phone(), "card": {"number": "4000000000009995", "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
    let a =
        stack.call_as_shopper(Function::FirstPayment, &format!("/checkout/{sid}/payments"), &secret, &body, None).await;
    assert_eq!((a.status, a.body["code"].as_str()), (402, Some("card_declined")), "{}", a.body);
    assert_eq!(a.body["payment"]["failure_code"], "card_declined");
    let state = stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    assert_eq!(state.body["payment"]["failure_code"], "card_declined");
    let pid = a.body["payment_id"].as_str().unwrap();
    let merchant = stack.get(&format!("/payments/{pid}"), None).await;
    assert_eq!(merchant.body["failure_code"], "insufficient_funds", "{}", merchant.body);
}

#[tokio::test]
async fn a_return_url_goes_only_to_a_plain_host_or_the_merchants_own_origins() {
    let mut stack = Stack::new().await;
    stack.services.settings.return_url_origins =
        std::collections::BTreeMap::from([("shop-2".to_owned(), vec!["https://pay.shop-two.example".to_owned()])]);
    let session = |merchant: &'static str, url: &'static str| {
        let stack = &stack;
        async move {
            let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999,
                "currency": "CNY", "return_url": url});
            stack.call_as(merchant, Function::CheckoutPage, "/checkout/sessions", &body, None).await
        }
    };
    // No list: any https address whose host is a plain name; never an address literal or a
    // punycode look-alike.
    for url in [
        "https://192.0.2.10/back",
        "https://[2001:db8::1]/back",
        "https://xn--pple-43d.com/back",
        "https://shop.xn--80ak6aa92e.com/",
    ] {
        let a = session("shop-1", url).await;
        assert_eq!((a.status, a.body["code"].as_str()), (422, Some("invalid_return_url")), "{url}: {}", a.body);
    }
    assert_eq!(session("shop-1", "https://shop.example.com/back").await.status, 201);
    // A list: its origins only.
    assert_eq!(session("shop-2", "https://pay.shop-two.example/done?o=1").await.status, 201);
    for url in [
        "https://shop.example.com/back",
        "https://pay.shop-two.example.evil.example/",
        "https://pay.shop-two.example:8443/",
    ] {
        let a = session("shop-2", url).await;
        assert_eq!((a.status, a.body["code"].as_str()), (422, Some("invalid_return_url")), "{url}: {}", a.body);
    }
}

#[tokio::test]
async fn amounts_are_capped_per_currency_and_currencies_by_the_deployment() {
    async fn pay_in(stack: &Stack, amount: u64, currency: &str) -> Answer {
        let mut body = first_payment_body(&random_id("u"), &random_phone(), &random_card());
        body["amount"] = json!(amount);
        body["currency"] = json!(currency);
        stack.first_payment(&body).await
    }
    let mut stack = Stack::new().await;
    // 999,999 whole units, whatever the exponent.
    for (currency, max) in [("CNY", 99_999_999u64), ("JPY", 999_999), ("BHD", 999_999_999), ("CLF", 9_999_999_999)] {
        assert_eq!(pay_in(&stack, max, currency).await.status, 201, "{currency} {max}");
        let over = pay_in(&stack, max + 1, currency).await;
        assert_eq!((over.status, over.body["param"].as_str()), (422, Some("amount")), "{currency}: {}", over.body);
    }
    stack.services.settings.currencies = shared::config::Currencies::parse("CNY,HKD").unwrap();
    let refused = pay_in(&stack, 1999, "USD").await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str(), refused.body["param"].as_str()),
        (422, Some("currency_not_allowed"), Some("currency"))
    );
    assert_eq!(pay_in(&stack, 1999, "HKD").await.status, 201);
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "USD"});
    let a = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, None).await;
    assert_eq!(a.body["code"], "currency_not_allowed");
}

#[tokio::test]
async fn the_page_shows_a_returning_shoppers_saved_card_without_the_card_key() {
    // The checkout-page function holds the code key only (its store has no card key here, as
    // deployed): a saved card is listed by brand and last four digits, nothing of it opened.
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());
    let (sid, secret) = stack.create_session("shop-1", &user, &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    let (next, next_secret) = stack.create_session("shop-1", &user, &random_id("o"), 500).await;
    let state = stack.get_as_shopper(&format!("/checkout/{next}/state"), Some(&next_secret)).await;
    assert_eq!(state.status, 200, "{}", state.body);
    let cards = state.body["saved_payment_methods"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "{}", state.body);
    assert_eq!((cards[0]["brand"].as_str(), cards[0]["last4"].as_str()), (Some("visa"), Some("4242")));
    assert!(cards[0]["id"].as_str().unwrap().starts_with("pm_"), "{}", state.body);
    assert!(!state.body.to_string().contains(&phone[3..]), "{}", state.body);
}
