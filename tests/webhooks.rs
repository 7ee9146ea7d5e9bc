//! Webhook events (issue 24), against moto: every change of a payment and checkout session
//! reaches the table's stream, and the webhook-events function records the events it emits,
//! once each, whatever is seen twice; the merchant reads its own with `GET /events`.

use integration_tests::*;
use serde_json::{json, Value};

fn types_of(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_paid_checkout_records_its_events_once_and_the_merchant_reads_them() {
    let stack = Stack::streaming().await;
    let phone = random_phone();
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);

    // The event source mapping's batch: every change so far (the session's creation, the
    // payment's, its code, its success, the session's completion...).
    let batch = stack.read_stream().await;
    assert!(batch["Records"].as_array().unwrap().len() >= 3, "{batch}");
    let report = stack.record_batch(&batch).await;
    assert_eq!((report.recorded, report.seen_before, report.failed.len()), (2, 0, 0), "{report:?}");
    // The same batch again (a retried invocation): nothing new.
    let again = stack.record_batch(&batch).await;
    assert_eq!((again.recorded, again.seen_before), (0, 2), "{again:?}");
    // Nothing new on the stream since: an empty batch.
    assert_eq!(stack.drain_stream().await.recorded, 0);

    let page = stack.get("/events", None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut kinds = types_of(&page.body);
    kinds.sort();
    assert_eq!(kinds, ["checkout.session.completed", "payment.succeeded"]);
    for event in page.body["data"].as_array().unwrap() {
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["object"], "event");
        let object = &event["data"]["object"];
        let text = event.to_string();
        assert!(text.len() < 20 * 1024 && !text.contains(&phone[3..]) && !text.contains("4242424242424242"), "{text}");
        match event["type"].as_str().unwrap() {
            "payment.succeeded" => {
                let seen = (object["payment_id"].as_str(), object["status"].as_str());
                assert_eq!(seen, (Some(pid.as_str()), Some("succeeded")));
            }
            _ => assert_eq!(
                (object["id"].as_str(), object["status"].as_str(), object["payment_id"].as_str()),
                (Some(sid.as_str()), Some("complete"), Some(pid.as_str()))
            ),
        }
        // One by id, as listed.
        let id = event["id"].as_str().unwrap();
        let one = stack.get(&format!("/events/{id}"), None).await;
        assert_eq!((one.status, &one.body), (200, event));
        // Another merchant's event is not found.
        let other = stack.get(&format!("/events/{id}"), Some("shop-2")).await;
        assert_eq!(code_of(&other), (404, Some("event_not_found")));
    }
    // By type; another merchant sees none of them.
    let completed = stack.get("/events?type=checkout.session.completed", None).await;
    assert_eq!(types_of(&completed.body), ["checkout.session.completed"]);
    assert_eq!(types_of(&stack.get("/events", Some("shop-2")).await.body), Vec::<String>::new());
    let bad = stack.get("/events?type=payment.exploded", None).await;
    assert_eq!((bad.status, bad.body["param"].as_str()), (400, Some("type")));
}

#[tokio::test]
async fn refunds_failures_and_a_merchant_ending_a_session_emit_their_events_newest_first_in_pages() {
    let stack = Stack::streaming().await;
    // A declined card: payment.failed.
    let declined = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), "4000000000000002")).await;
    assert_eq!(declined.status, 402, "{}", declined.body);
    // A payment, then a refund of part of it: payment.succeeded, refund.succeeded.
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    let id = p.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify(&id, &stack.code_sent_to(&phone)).await;
    let refund = stack
        .call(Function::PaymentOperations, &format!("/payments/{id}/refunds"), &json!({"amount": 500}), None)
        .await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    // A session the merchant ends unpaid: checkout.session.expired.
    let (sid, _) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let ended = stack
        .call_as("shop-1", Function::CheckoutPage, &format!("/checkout/sessions/{sid}/expire"), &json!({}), None)
        .await;
    assert_eq!(ended.status, 200, "{}", ended.body);

    let report = stack.drain_stream().await;
    assert_eq!((report.recorded, report.failed.len()), (4, 0), "{report:?}");
    let all = stack.get("/events", None).await.body;
    let mut kinds = types_of(&all);
    kinds.sort();
    assert_eq!(kinds, ["checkout.session.expired", "payment.failed", "payment.succeeded", "refund.succeeded"]);
    let refunded = all["data"].as_array().unwrap().iter().find(|e| e["type"] == "refund.succeeded").unwrap();
    assert_eq!(
        (&refunded["data"]["object"]["id"], &refunded["data"]["object"]["amount"]),
        (&refund.body["id"], &json!(500))
    );
    // Newest first, in pages of one that add up to the whole list.
    let times: Vec<&str> = all["data"].as_array().unwrap().iter().map(|e| e["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/events?limit=1".to_owned(),
            Some(c) => format!("/events?limit=1&cursor={c}"),
        };
        let page = stack.get(&path, None).await.body;
        paged.extend(page["data"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let listed: Vec<Value> = all["data"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(paged, listed);
}

#[tokio::test]
async fn a_session_that_runs_out_of_time_unpaid_expires_once_and_a_paid_one_never() {
    let stack = Stack::streaming().await;
    // Alone: nobody paid. Paid: complete. Pending: a payment awaiting its code at the deadline.
    let mut opened = Vec::new();
    for _ in 0..3 {
        opened.push(stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await);
    }
    let [(alone, _), (paid, paid_secret), (pending, pending_secret)] = <[_; 3]>::try_from(opened).unwrap();
    let phone = random_phone();
    let p = stack.pay_in_session(&paid, &paid_secret, &phone).await;
    let pid = p.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify_in_session(&paid, &paid_secret, &pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    let open = stack.pay_in_session(&pending, &pending_secret, &random_phone()).await;
    assert_eq!(open.status, 201, "{}", open.body);
    let sessions = shared::usecases::sweep_sessions;
    assert_eq!(sessions(&stack.services, 25, 10).await.unwrap(), 0, "nothing is over before its time");

    stack.clock.advance(shared::domain::SESSION_DEFAULT_SECS);
    // The sessions alone: the unpaid one ends, the paid one is retired, the pending one waits
    // for its payment (which expires no later than it).
    assert_eq!(sessions(&stack.services, 25, 10).await.unwrap(), 1);
    let items = stack.scan().await;
    let item = |id: &str| items.iter().find(|i| i["pk"].as_s().unwrap() == &format!("SESSION#{id}")).unwrap().clone();
    let (a, b, c) = (item(&alone), item(&paid), item(&pending));
    assert!(a.contains_key("ended_at") && !a.contains_key("gsi2pk"), "{a:?}");
    assert!(!b.contains_key("ended_at") && !b.contains_key("gsi2pk"), "a paid session is never ended: {b:?}");
    assert!(!c.contains_key("ended_at") && c.contains_key("gsi2pk"), "{c:?}");
    // The scheduled sweeper: the pending payment expires, then its session ends.
    let services: &'static shared::Services = Box::leak(Box::new(stack.services.clone()));
    let report = shared::jobs::sweeper(services, json!({})).await.unwrap();
    assert_eq!((report["expired"].as_u64(), report["sessions_expired"].as_u64()), (Some(1), Some(1)), "{report}");
    let again = shared::jobs::sweeper(services, json!({})).await.unwrap();
    assert_eq!((again["examined"].as_u64(), again["sessions_expired"].as_u64()), (Some(0), Some(0)), "{again}");

    let report = stack.drain_stream().await;
    assert_eq!(report.failed.len(), 0, "{report:?}");
    let all = stack.get("/events?limit=100", None).await.body;
    let of = |kind: &str| -> Vec<Value> {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["data"]["object"]["id"].clone())
            .collect()
    };
    let mut expired = of("checkout.session.expired");
    expired.sort_by_key(|v| v.as_str().map(str::to_owned));
    let mut want = vec![json!(alone), json!(pending)];
    want.sort_by_key(|v| v.as_str().map(str::to_owned));
    assert_eq!(expired, want);
    assert_eq!(of("checkout.session.completed"), [json!(paid)]);
    assert_eq!(of("payment.expired").len(), 1);
    let ended = all["data"].as_array().unwrap().iter().find(|e| e["data"]["object"]["id"] == json!(alone)).unwrap();
    assert_eq!(ended["data"]["object"]["status"], "expired", "{ended}");
}

fn endpoint_request(method: &str, path: &str, body: &Value) -> shared::lambda_http::Request {
    use shared::lambda_http::{http, Body};
    http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path}"))
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_merchant_registers_changes_rotates_and_deletes_its_webhook_endpoints_and_no_one_elses() {
    let stack = Stack::new().await;
    let create = |merchant: &'static str, body: Value, key: Option<&'static str>| {
        let stack = &stack;
        async move { stack.call_as(merchant, Function::PaymentOperations, "/webhook-endpoints", &body, key).await }
    };
    let made = create(
        "shop-1",
        json!({"url": "https://hooks.shop.example/payments", "enabled_events": ["payment.succeeded", "refund.failed"], "description": "orders"}),
        Some("we-1"),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("we_") && secret.starts_with("whsec_"), "{}", made.body);
    assert!(shared::webhooks::WebhookSecret::parse(&secret).is_some());
    assert_eq!(made.body["enabled_events"], json!(["payment.succeeded", "refund.failed"]));
    // The same key again: the same endpoint, the same secret (kept sealed, opened again).
    let replay = create("shop-1", json!({"url": "https://hooks.shop.example/payments", "enabled_events": ["payment.succeeded", "refund.failed"], "description": "orders"}), Some("we-1")).await;
    assert_eq!((replay.status, &replay.body), (201, &made.body));
    // The secret is stored sealed: not in the table in clear.
    let stored = format!("{:?}", stack.scan().await);
    assert!(!stored.contains(&secret) && !stored.contains(secret.trim_start_matches("whsec_")), "secret in clear");

    // Read back without the secret; another merchant sees none of it.
    let one = stack.get(&format!("/webhook-endpoints/{id}"), None).await;
    assert_eq!((one.status, one.body["status"].as_str(), one.body.get("secret")), (200, Some("enabled"), None));
    let listed = stack.get("/webhook-endpoints", None).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        code_of(&stack.get(&format!("/webhook-endpoints/{id}"), Some("shop-2")).await),
        (404, Some("webhook_endpoint_not_found"))
    );
    assert_eq!(stack.get("/webhook-endpoints", Some("shop-2")).await.body["data"], json!([]));
    let theirs = stack
        .send(
            Function::PaymentOperations,
            from_merchant(
                endpoint_request("PATCH", &format!("/webhook-endpoints/{id}"), &json!({"enabled": false})),
                "shop-2",
            ),
        )
        .await;
    assert_eq!(code_of(&theirs), (404, Some("webhook_endpoint_not_found")));

    // Changed: its events, then disabled, then enabled again.
    let patch = |body: Value| {
        stack.send(
            Function::PaymentOperations,
            from_merchant(endpoint_request("PATCH", &format!("/webhook-endpoints/{id}"), &body), "shop-1"),
        )
    };
    let changed = patch(json!({"enabled_events": ["*"], "description": null})).await;
    assert_eq!(
        (changed.status, &changed.body["enabled_events"], &changed.body["description"]),
        (200, &json!(["*"]), &Value::Null)
    );
    let off = patch(json!({"enabled": false})).await;
    assert_eq!(
        (off.body["status"].as_str(), off.body["disabled_reason"].as_str()),
        (Some("disabled"), Some("disabled_by_merchant"))
    );
    let on = patch(json!({"enabled": true})).await;
    assert_eq!(on.body["status"], "enabled");

    // Rotated: a new secret, shown once; the old one signs beside it for 24 hours.
    let rotated = stack
        .call_as(
            "shop-1",
            Function::PaymentOperations,
            &format!("/webhook-endpoints/{id}/rotate-secret"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    // (The 24 hours are the pure rule's, shared/tests/webhooks.rs.)
    assert!(rotated.body["previous_secret_expires_at"].is_string(), "{}", rotated.body);
    assert_eq!(made.body["previous_secret_expires_at"], Value::Null);

    // Deleted once; the second time, not found.
    let delete = || {
        stack.send(
            Function::PaymentOperations,
            from_merchant(endpoint_request("DELETE", &format!("/webhook-endpoints/{id}"), &json!({})), "shop-1"),
        )
    };
    assert_eq!(delete().await.body["deleted"], true);
    assert_eq!(code_of(&delete().await), (404, Some("webhook_endpoint_not_found")));
}

#[tokio::test]
async fn an_endpoint_url_never_names_the_platforms_own_network_and_a_merchant_has_at_most_sixteen() {
    let stack = Stack::new().await;
    for url in [
        "http://hooks.shop.example/",
        "https://user:pass@hooks.shop.example/",
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f.0.0.1/",
        "https://10.0.0.8/",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[fd00::1]/",
        "https://localhost/",
        "not a url",
    ] {
        let refused = stack
            .call_as(
                "shop-1",
                Function::PaymentOperations,
                "/webhook-endpoints",
                &json!({"url": url, "enabled_events": ["*"]}),
                None,
            )
            .await;
        assert_eq!((refused.status, refused.body["param"].as_str()), (422, Some("url")), "{url}: {}", refused.body);
    }
    for events in [json!([]), json!(["payment.exploded"]), json!(["*", "payment.succeeded"])] {
        let refused = stack
            .call_as(
                "shop-1",
                Function::PaymentOperations,
                "/webhook-endpoints",
                &json!({"url": "https://hooks.shop.example/", "enabled_events": events}),
                None,
            )
            .await;
        assert_eq!((refused.status, refused.body["param"].as_str()), (422, Some("enabled_events")), "{events}");
    }
    for n in 0..16 {
        let made = stack
            .call_as(
                "shop-1",
                Function::PaymentOperations,
                "/webhook-endpoints",
                &json!({"url": format!("https://hooks.shop.example/{n}"), "enabled_events": ["*"]}),
                None,
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    let over = stack
        .call_as(
            "shop-1",
            Function::PaymentOperations,
            "/webhook-endpoints",
            &json!({"url": "https://hooks.shop.example/17", "enabled_events": ["*"]}),
            None,
        )
        .await;
    assert_eq!(code_of(&over), (422, Some("too_many_webhook_endpoints")));
    // Another merchant's own count is its own.
    let theirs = stack
        .call_as(
            "shop-2",
            Function::PaymentOperations,
            "/webhook-endpoints",
            &json!({"url": "https://hooks.other.example/", "enabled_events": ["*"]}),
            None,
        )
        .await;
    assert_eq!(theirs.status, 201);
}

/// What a receiver got: each request's headers (names in lower case) and body.
type Got = Vec<(std::collections::HashMap<String, String>, String)>;

/// A webhook receiver on 127.0.0.1: answers each request with the next status of `script`
/// (then 200), and keeps what it got.
struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Got>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (kept, script) = (got.clone(), std::sync::Arc::new(std::sync::Mutex::new(script.into_iter())));
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (kept, script) = (kept.clone(), script.clone());
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        raw.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&raw).to_string();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                        let headers: std::collections::HashMap<String, String> = head
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                            .collect();
                        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                        if body.len() < length {
                            continue;
                        }
                        let status = script.lock().unwrap().next().unwrap_or(200);
                        kept.lock().unwrap().push((headers, body[..length].to_owned()));
                        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        let _ = socket.write_all(answer.as_bytes()).await;
                        return;
                    }
                });
            }
        });
        Self { url, got }
    }

    fn requests(&self) -> Got {
        self.got.lock().unwrap().clone()
    }
}

/// A streaming stack in the local mode: `http://127.0.0.1` endpoints are allowed, and called.
async fn local_stack() -> Stack {
    let mut stack = Stack::streaming().await;
    stack.services.settings.local_auth = shared::config::LocalAuth::MerchantHeader;
    stack.services.webhooks = std::sync::Arc::new(shared::webhook_sender::HttpWebhookSender::new(true));
    stack
}

async fn register(stack: &Stack, url: &str, events: Value) -> (String, shared::webhooks::WebhookSecret) {
    let made = stack
        .call_as(
            "shop-1",
            Function::PaymentOperations,
            "/webhook-endpoints",
            &json!({"url": url, "enabled_events": events}),
            None,
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = shared::webhooks::WebhookSecret::parse(made.body["secret"].as_str().unwrap()).unwrap();
    (made.body["id"].as_str().unwrap().to_owned(), secret)
}

async fn paid_payment(stack: &Stack) -> String {
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    let id = p.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify(&id, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    id
}

#[tokio::test]
async fn a_failed_delivery_is_tried_again_with_the_same_id_and_both_attempts_verify() {
    let stack = local_stack().await;
    let receiver = Receiver::start(vec![500]).await;
    let (endpoint, secret) = register(&stack, &receiver.url, json!(["payment.succeeded"])).await;
    let pid = paid_payment(&stack).await;

    let batch = stack.read_stream().await;
    assert_eq!(stack.record_batch(&batch).await.recorded, 1);
    assert_eq!(receiver.requests().len(), 1, "the first attempt, answered 500");
    // Not due yet: nothing is sent again, by the sweeper or by the same batch seen again.
    assert_eq!(shared::usecases::retry_deliveries(&stack.code_only_for_tests(), 10).await.unwrap(), 0);
    stack.record_batch(&batch).await;
    assert_eq!(receiver.requests().len(), 1);
    // 5 s later (±10 %), the sweeper tries again: 200.
    stack.clock.advance(6);
    assert_eq!(shared::usecases::retry_deliveries(&stack.code_only_for_tests(), 10).await.unwrap(), 1);
    let got = receiver.requests();
    assert_eq!(got.len(), 2);
    for (headers, body) in &got {
        let (id, ts, sig) = (&headers["webhook-id"], &headers["webhook-timestamp"], &headers["webhook-signature"]);
        assert_eq!(id, &got[0].0["webhook-id"], "the same id on every attempt");
        assert!(id.starts_with("evt_"));
        let now = ts.parse::<i64>().unwrap();
        shared::webhooks::verify(&secret, id, ts, body.as_bytes(), sig, now).unwrap();
        // The verifier refuses the same delivery 301 s later.
        assert!(shared::webhooks::verify(&secret, id, ts, body.as_bytes(), sig, now + 301).is_err());
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (event["type"].as_str(), event["data"]["object"]["payment_id"].as_str()),
            (Some("payment.succeeded"), Some(pid.as_str()))
        );
    }
    // Delivered: a batch seen again, a later sweep, send nothing more.
    stack.clock.advance(3600);
    stack.record_batch(&batch).await;
    assert_eq!(shared::usecases::retry_deliveries(&stack.code_only_for_tests(), 10).await.unwrap(), 0);
    assert_eq!(receiver.requests().len(), 2);
    // The attempts, as the merchant reads them: newest first, with status and latency.
    let attempts = stack.get(&format!("/webhook-endpoints/{endpoint}/deliveries"), None).await.body;
    let seen: Vec<(Value, Value)> =
        attempts["data"].as_array().unwrap().iter().map(|a| (a["attempt"].clone(), a["status"].clone())).collect();
    assert_eq!(seen, [(json!(2), json!(200)), (json!(1), json!(500))], "{attempts}");
    let theirs = stack.get(&format!("/webhook-endpoints/{endpoint}/deliveries"), Some("shop-2")).await;
    assert_eq!(code_of(&theirs), (404, Some("webhook_endpoint_not_found")));
    // Sent again on request: a third attempt, the same id.
    let event_id = got[0].0["webhook-id"].clone();
    let again = stack
        .call_as("shop-1", Function::PaymentOperations, &format!("/events/{event_id}/redeliver"), &json!({}), None)
        .await;
    assert_eq!((again.status, &again.body["redelivered_to"]), (200, &json!(1)), "{}", again.body);
    assert_eq!(receiver.requests().last().unwrap().0["webhook-id"], event_id);
    let theirs = stack
        .call_as("shop-2", Function::PaymentOperations, &format!("/events/{event_id}/redeliver"), &json!({}), None)
        .await;
    assert_eq!(code_of(&theirs), (404, Some("event_not_found")));
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_nothing_more_is_sent_to_it() {
    let stack = local_stack().await;
    let receiver = Receiver::start(vec![410]).await;
    let (id, _) = register(&stack, &receiver.url, json!(["*"])).await;
    paid_payment(&stack).await;
    stack.drain_stream().await;
    assert_eq!(receiver.requests().len(), 1);
    let endpoint = stack.get(&format!("/webhook-endpoints/{id}"), None).await.body;
    assert_eq!(
        (endpoint["status"].as_str(), endpoint["disabled_reason"].as_str()),
        (Some("disabled"), Some("endpoint_gone"))
    );
    paid_payment(&stack).await;
    stack.drain_stream().await;
    stack.clock.advance(3600);
    shared::usecases::retry_deliveries(&stack.code_only_for_tests(), 10).await.unwrap();
    assert_eq!(receiver.requests().len(), 1, "a disabled endpoint gets nothing");
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one() {
    let stack = local_stack().await;
    let receiver = Receiver::start(vec![]).await;
    let (endpoint, old) = register(&stack, &receiver.url, json!(["payment.succeeded"])).await;
    let rotated = stack
        .call_as(
            "shop-1",
            Function::PaymentOperations,
            &format!("/webhook-endpoints/{endpoint}/rotate-secret"),
            &json!({}),
            None,
        )
        .await;
    let new = shared::webhooks::WebhookSecret::parse(rotated.body["secret"].as_str().unwrap()).unwrap();
    let signed_by = |n: usize| {
        let (headers, body) = receiver.requests()[n].clone();
        let (id, ts, sig) = (&headers["webhook-id"], &headers["webhook-timestamp"], &headers["webhook-signature"]);
        let now = ts.parse::<i64>().unwrap();
        let by = |s: &shared::webhooks::WebhookSecret| {
            shared::webhooks::verify(s, id, ts, body.as_bytes(), sig, now).is_ok()
        };
        (sig.split(' ').count(), by(&old), by(&new))
    };
    paid_payment(&stack).await;
    stack.drain_stream().await;
    assert_eq!(signed_by(0), (2, true, true), "within the day: both sign");
    stack.clock.advance(24 * 3600);
    paid_payment(&stack).await;
    stack.drain_stream().await;
    assert_eq!(signed_by(1), (1, false, true), "a day later: the new one only");
}

/// The delivery store of a function that dies once after a send, before recording it.
struct DiesAfterSend {
    real: std::sync::Arc<dyn shared::ports::DeliveryStore>,
    died: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl shared::ports::DeliveryStore for DiesAfterSend {
    async fn open(
        &self,
        fresh: &shared::ports::Delivery,
    ) -> Result<shared::ports::Delivery, shared::ports::StoreError> {
        self.real.open(fresh).await
    }

    async fn record(
        &self,
        after: &shared::ports::Delivery,
        attempts_read: u32,
        attempt: Option<&shared::ports::AttemptRecord>,
    ) -> Result<(), shared::ports::StoreError> {
        if !self.died.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(shared::ports::StoreError::Unavailable("the function died".into()));
        }
        self.real.record(after, attempts_read, attempt).await
    }

    async fn due(&self, now: i64, limit: u8) -> Result<Vec<shared::ports::Delivery>, shared::ports::StoreError> {
        self.real.due(now, limit).await
    }

    async fn attempts(
        &self,
        merchant: &shared::domain::Identifier,
        endpoint: &shared::domain::EndpointId,
        limit: u8,
    ) -> Result<Vec<shared::ports::AttemptRecord>, shared::ports::StoreError> {
        self.real.attempts(merchant, endpoint, limit).await
    }
}

#[tokio::test]
async fn a_send_whose_record_is_lost_is_sent_again_with_the_same_id_never_lost() {
    let mut stack = local_stack().await;
    let real = stack.services.deliveries.clone();
    stack.services.deliveries = std::sync::Arc::new(DiesAfterSend { real, died: false.into() });
    let receiver = Receiver::start(vec![]).await;
    register(&stack, &receiver.url, json!(["payment.succeeded"])).await;
    paid_payment(&stack).await;
    let batch = stack.read_stream().await;
    // Sent, then the record failed: the stream record (and those after it) are reported failed,
    // and the mapping retries from it.
    let first = stack.record_batch(&batch).await;
    assert_eq!(receiver.requests().len(), 1);
    assert!(!first.failed.is_empty(), "{first:?}");
    let retried = stack.record_batch(&batch).await;
    assert!(retried.failed.is_empty(), "{retried:?}");
    let got = receiver.requests();
    assert_eq!(got.len(), 2, "sent again");
    assert_eq!(got[0].0["webhook-id"], got[1].0["webhook-id"], "with the same id");
    // Recorded now: nothing more.
    stack.record_batch(&batch).await;
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn an_endpoint_failing_every_attempt_for_five_days_is_disabled_and_the_merchant_hears_of_it() {
    let stack = local_stack().await;
    let failing = Receiver::start(vec![500; 100]).await;
    let (id, _) = register(&stack, &failing.url, json!(["payment.succeeded"])).await;
    // Another endpoint, which hears of the first one's disabling.
    let healthy = Receiver::start(vec![]).await;
    register(&stack, &healthy.url, json!(["webhook_endpoint.disabled"])).await;
    paid_payment(&stack).await;
    stack.drain_stream().await;
    assert_eq!(failing.requests().len(), 1);
    let endpoint = stack.get(&format!("/webhook-endpoints/{id}"), None).await.body;
    assert_eq!(endpoint["status"], "enabled", "failing, not yet for five days");
    // Five days later, still failing: disabled at that attempt.
    stack.clock.advance(5 * 86_400);
    paid_payment(&stack).await;
    stack.drain_stream().await;
    let endpoint = stack.get(&format!("/webhook-endpoints/{id}"), None).await.body;
    assert_eq!(endpoint["disabled_reason"], "failing_for_five_days", "{endpoint}");
    // The disabling is an event of its own (from the endpoints' change on the stream).
    stack.drain_stream().await;
    let events = stack.get("/events?type=webhook_endpoint.disabled", None).await.body;
    assert_eq!(events["data"][0]["data"]["object"]["id"], json!(id), "{events}");
    let heard = healthy.requests();
    assert_eq!(heard.len(), 1);
    assert!(heard[0].1.contains("webhook_endpoint.disabled"));
}
