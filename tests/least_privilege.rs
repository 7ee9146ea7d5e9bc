//! Least privilege, checked against what the code does (issue 22, item 7): every DynamoDB
//! access each function makes in the flows below (each transaction item as the IAM action it
//! is checked as) is allowed by its statements in template.yaml, on the table only for the
//! item kinds its `dynamodb:LeadingKeys` condition names; every table statement has that
//! condition; and no statement grants an action the function never uses.

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::calls::Access;
use integration_tests::*;
use serde_json::json;

/// A function's DynamoDB statements: actions, the resource (`None`: the table; an index's
/// name), and the leading-key patterns (`PAY#*`) where a condition names them.
#[derive(Debug)]
struct Grant {
    actions: Vec<String>,
    index: Option<String>,
    leading_keys: Option<Vec<String>>,
}

fn template() -> serde_norway::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A YAML value with its CloudFormation tag dropped (`!GetAtt X` → `X`).
fn untagged(v: &serde_norway::Value) -> serde_norway::Value {
    match v {
        serde_norway::Value::Tagged(t) => t.value.clone(),
        other => other.clone(),
    }
}

fn strings(v: &serde_norway::Value) -> Vec<String> {
    match untagged(v) {
        serde_norway::Value::String(s) => vec![s],
        serde_norway::Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn grants(template: &serde_norway::Value, function: &str) -> Vec<Grant> {
    let policies = template["Resources"][function]["Properties"]["Policies"].as_sequence().unwrap();
    policies
        .iter()
        .filter_map(|p| p.get("Statement").and_then(|s| s.as_sequence()))
        .flatten()
        .filter_map(|st| {
            let actions: Vec<String> =
                strings(&st["Action"]).into_iter().filter(|a| a.starts_with("dynamodb:")).collect();
            if actions.is_empty() {
                return None;
            }
            let resource = strings(&st["Resource"]).join(",");
            let index = resource.split_once("/index/").map(|(_, i)| i.to_owned());
            let leading_keys = st
                .get("Condition")
                .and_then(|c| c.get("ForAllValues:StringLike"))
                .and_then(|c| c.get("dynamodb:LeadingKeys"))
                .map(strings);
            Some(Grant { actions, index, leading_keys })
        })
        .collect()
}

fn allows(grant: &Grant, access: &Access) -> bool {
    let keys_ok = match &grant.leading_keys {
        None => true,
        Some(patterns) => access
            .leading_keys
            .iter()
            .all(|k| patterns.iter().any(|p| p.strip_suffix('*').is_some_and(|prefix| k.starts_with(prefix)))),
    };
    grant.actions.contains(&access.action) && grant.index == access.index && keys_ok
}

/// Flows that reach every DynamoDB access of every function: the round-trip journey, declines,
/// a failed capture, a lock-out, sessions ended and paid, a key rotation, and the sweeper.
async fn exercise(stack: &mut Stack) -> Vec<(&'static str, Vec<Access>)> {
    integration_tests::round_trips::measure(stack).await;
    // A first payment declined; a capture that fails (its order given back).
    stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), "4000000000000002")).await;
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4000000000000341")).await;
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    // A saved card's repeat payments with five wrong codes: the payer is locked out and their
    // open payments end.
    let (user, phone) = (random_id("u"), random_phone());
    let p = stack.first_payment(&first_payment_body(&user, &phone, &random_card())).await;
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    for wrongs in [3, 2] {
        let r = stack.repeat_payment(&repeat_payment_body(&user)).await;
        let wrong = wrong_code(&stack.code_sent_to(&phone));
        for _ in 0..wrongs {
            stack.verify(r.body["payment_id"].as_str().unwrap(), &wrong).await;
        }
    }
    // Locked out: the repeat payment's conditions refuse, and it reads why.
    assert_eq!(stack.repeat_payment(&repeat_payment_body(&user)).await.status, 429);
    // A saved card paying in a session (the session's decline cap a condition of the write).
    let (user, phone) = (random_id("u"), random_phone());
    let p = stack.first_payment(&first_payment_body(&user, &phone, &random_card())).await;
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    let (sid, secret) = stack.create_session("shop-1", &user, &random_id("o"), 1999).await;
    let path = format!("/checkout/{sid}/payments/repeat");
    let r = stack.call_as_shopper(Function::RepeatPayment, &path, &secret, &json!({}), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A verify whose capture did not happen (the acquirer away): the sweeper finishes it,
    // saving the card.
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    let away = payments_testkit::Away { captures: true, ..Default::default() };
    let sandbox = std::mem::replace(
        &mut stack.services.acquirer,
        std::sync::Arc::new(payments_testkit::LedgerAcquirer::prompt().away(away)),
    );
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    stack.services.acquirer = sandbox;
    // A session created under an Idempotency-Key (its answer kept).
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "CNY"});
    stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, Some("s-key")).await;
    // A session paid, another replaced and ended by the merchant, one paid with a declined card.
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    stack.pay_in_session(&sid, &secret, &random_phone()).await;
    stack.pay_in_session(&sid, &secret, &random_phone()).await;
    stack
        .call_as("shop-1", Function::CheckoutPage, &format!("/checkout/sessions/{sid}/expire"), &json!({}), None)
        .await;
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    stack.pay_in_session_from(&sid, &secret, "4000000000000002", "198.51.100.1").await;
    stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret)).await;
    // Manual captures: one captured in part, one canceled, both under Idempotency-Keys.
    for (what, body) in [("capture", json!({"amount": 1000})), ("cancel", json!({"reason": "duplicate"}))] {
        let phone = random_phone();
        let mut manual = first_payment_body(&random_id("u"), &phone, &random_card());
        manual["capture_method"] = json!("manual");
        let p = stack.first_payment(&manual).await;
        let id = p.body["payment_id"].as_str().unwrap().to_owned();
        stack.verify(&id, &stack.code_sent_to(&phone)).await;
        let key = format!("{what}-{id}");
        let done = stack.call(Function::PaymentOperations, &format!("/payments/{id}/{what}"), &body, Some(&key)).await;
        assert_eq!(done.status, 200, "{}", done.body);
    }
    // A manual repeat payment captured: its card's last use is recorded by the capture.
    let (user, phone) = (random_id("u"), random_phone());
    let p = stack.first_payment(&first_payment_body(&user, &phone, &random_card())).await;
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    let mut repeat = repeat_payment_body(&user);
    repeat["capture_method"] = json!("manual");
    let r = stack.repeat_payment(&repeat).await;
    let id = r.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify(&id, &stack.code_sent_to(&phone)).await;
    let done = stack.call(Function::PaymentOperations, &format!("/payments/{id}/capture"), &json!({}), None).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    // Refunds: one keyed, one of what is left, one left pending for the sweeper; then read.
    let refunds = format!("/payments/{id}/refunds");
    let refunded = stack.call(Function::PaymentOperations, &refunds, &json!({"amount": 100}), Some("refund-1")).await;
    assert_eq!(refunded.status, 201, "{}", refunded.body);
    stack.call(Function::PaymentOperations, &refunds, &json!({}), None).await;
    stack.get(&refunds, None).await;
    stack.get(&format!("/refunds/{}", refunded.body["id"].as_str().unwrap()), None).await;
    let pending_phone = random_phone();
    let pending = stack
        .first_payment(&first_payment_body(
            &random_id("u"),
            &pending_phone,
            shared::adapters::sandbox_acquirer::REFUND_PENDING_CARD,
        ))
        .await;
    let pending = pending.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify(&pending, &stack.code_sent_to(&pending_phone)).await;
    let left = stack.call(Function::PaymentOperations, &format!("/payments/{pending}/refunds"), &json!({}), None).await;
    assert_eq!(left.body["status"], "pending", "{}", left.body);
    // A merchant lists a customer's saved cards and forgets one.
    let listed = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    let method = listed.body["data"][0]["id"].as_str().unwrap().to_owned();
    stack.delete_as("shop-1", &format!("/users/{user}/payment-methods/{method}")).await;
    // A code key rotation: a first payment looks for the card saved under the old key.
    stack.rotate_code_key();
    stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), &random_card())).await;
    // Boxed: the exercise's future is large (a debug build's test thread has 2 MB of stack).
    Box::pin(adyen_notifications(stack)).await;
    let mut accesses = std::mem::take(&mut *stack.accesses.lock().unwrap());
    // The sweeper: expiries, voids, a capture left by a verify that died (as a stale one).
    stack.clock.advance(shared::domain::PAYMENT_TTL_SECS + 60);
    let mark = stack.calls.access_mark();
    shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    accesses.push(("PaymentSweeperFunction", stack.calls.accesses_since(mark)));
    accesses
}

/// Adyen as the acquirer (issue 25): a capture and a refund finished by their notifications, a
/// capture failed by one, a stray authorisation voided.
async fn adyen_notifications(stack: &mut Stack) {
    use crate::adyen::{notification, notify, psp_of, HMAC_HEX};
    let server = crate::adyen::stand_in(std::time::Duration::ZERO).await;
    crate::adyen::use_adyen(stack, &server);
    let (user, phone) = (random_id("u"), random_phone());
    let first = stack.first_payment(&first_payment_body(&user, &phone, "4111111111111111")).await;
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify(&id, &stack.code_sent_to(&phone)).await;
    let psp = psp_of(&id);
    assert_eq!(notify(stack, &notification("CAPTURE", &id, "C1", &psp, 1999, true, HMAC_HEX)).await.status, 200);
    let refund = stack.call(Function::PaymentOperations, &format!("/payments/{id}/refunds"), &json!({}), None).await;
    let refund_id = refund.body["id"].as_str().unwrap().to_owned();
    assert_eq!(notify(stack, &notification("REFUND", &refund_id, "R1", &psp, 1999, true, HMAC_HEX)).await.status, 200);
    let repeat = stack.call(Function::RepeatPayment, "/payments/repeat", &repeat_payment_body(&user), None).await;
    let rid = repeat.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify(&rid, &stack.code_sent_to(&phone)).await;
    let failed = notification("CAPTURE_FAILED", &rid, "C2", &psp_of(&rid), 1999, true, HMAC_HEX);
    assert_eq!(notify(stack, &failed).await.status, 200);
    let stray = notification("AUTHORISATION", &rid, "PSPSTRAY", "", 1999, true, HMAC_HEX);
    assert_eq!(notify(stack, &stray).await.status, 200);
    // Authorisations Adyen answered later: one approved (its code sent), one refused (counted).
    for success in [true, false] {
        let body = first_payment_body(&random_id("u"), &random_phone(), crate::adyen::RECEIVED_CARD);
        let later = stack.first_payment(&body).await.body["payment_id"].as_str().unwrap().to_owned();
        let answer = notification("AUTHORISATION", &later, &psp_of(&later), "", 1999, success, HMAC_HEX);
        assert_eq!(notify(stack, &answer).await.status, 200);
    }
}

#[test]
fn each_function_may_do_exactly_what_its_code_does_to_the_table() {
    // Every flow of every function in one future: a debug build's is deeper than a test
    // thread's 2 MB of stack, so it runs on a thread of its own with more.
    let run =
        || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(check_every_function());
    let thread = std::thread::Builder::new().stack_size(16 << 20).spawn(run).unwrap();
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

async fn check_every_function() {
    let mut stack = Stack::new().await;
    let observed = exercise(&mut stack).await;
    let template = template();
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut refused = Vec::new();
    for (function, accesses) in &observed {
        let grants = grants(&template, function);
        for access in accesses {
            used.entry(function).or_default().insert(access.action.clone());
            if !grants.iter().any(|g| allows(g, access)) {
                refused.push(format!("{function}: {access:?}"));
            }
        }
    }
    refused.sort();
    refused.dedup();
    // `SHOW_ACCESSES=1 … -- least_privilege --nocapture` lists what each function did.
    if std::env::var("SHOW_ACCESSES").is_ok() {
        let mut all: BTreeMap<(&str, String, Option<String>), BTreeSet<String>> = BTreeMap::new();
        for (function, accesses) in &observed {
            for a in accesses {
                all.entry((function, a.action.clone(), a.index.clone())).or_default().extend(a.leading_keys.clone());
            }
        }
        for (k, v) in all {
            println!("{k:?} {v:?}");
        }
    }
    assert!(refused.is_empty(), "IAM would refuse:\n{}", refused.join("\n"));
    let functions: Vec<&str> = [
        "FirstPaymentFunction",
        "RepeatPaymentFunction",
        "VerifyCodeFunction",
        "PaymentStatusFunction",
        "PaymentOperationsFunction",
        "CheckoutPageFunction",
        "PaymentSweeperFunction",
        "AcquirerNotificationsFunction",
    ]
    .into();
    for function in functions {
        let used = used.get(function).cloned().unwrap_or_default();
        for grant in grants(&template, function) {
            if grant.index.is_none() {
                assert!(grant.leading_keys.is_some(), "{function}: a table statement without dynamodb:LeadingKeys");
            }
            for action in &grant.actions {
                assert!(used.contains(action), "{function} is granted {action} and never uses it");
            }
        }
    }
    stack.delete_table().await;
}
