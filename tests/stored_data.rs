//! What reaches the table: no card number, CVC, code or client secret in clear, after every kind
//! of flow.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::*;

fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.clone()),
        AttributeValue::M(m) => m.values().for_each(|v| strings(v, out)),
        AttributeValue::L(l) => l.iter().for_each(|v| strings(v, out)),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => out.extend(v.iter().cloned()),
        _ => {}
    }
}

#[tokio::test]
async fn no_card_number_cvc_code_or_phone_number_is_stored_in_clear() {
    let stack = Stack::new().await;
    let user = random_id("u");
    let mut codes = Vec::new();
    let mut phones = Vec::new();
    let cards = ["4242424242424242", "4000000000000002", "5555555555554444"];
    for card in cards {
        let phone = random_phone();
        phones.push(phone.clone());
        let created = stack
            .call(Function::FirstPayment, "/payments", &first_payment_body(&user, &phone, card), Some(&random_id("k")))
            .await;
        // The declined card is refused at creation (402, no code); its payment is stored too.
        assert_eq!(created.status, if card == "4000000000000002" { 402 } else { 201 });
        if created.status == 402 {
            continue;
        }
        let id = created.body["payment_id"].as_str().unwrap().to_owned();
        let code = stack.code_sent_to(&phone);
        let _ = stack.verify(&id, &wrong_code(&code)).await;
        let _ = stack
            .call(
                Function::VerifyCode,
                &format!("/payments/{id}/verify"),
                &serde_json::json!({"code": code}),
                Some(&random_id("k")),
            )
            .await;
        codes.push(code);
    }
    // A pending payment (card still held, encrypted) and a repeat payment.
    let phone = random_phone();
    phones.push(phone.clone());
    stack.first_payment(&first_payment_body(&random_id("u"), &phone, "6011111111111117")).await;
    codes.push(stack.code_sent_to(&phone));
    let repeat = stack.repeat_payment(&repeat_payment_body(&user)).await;
    assert_eq!(repeat.status, 201);
    // A checkout session, created under an Idempotency-Key (its kept answer), paid by card.
    let session =
        serde_json::json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "CNY"});
    let created = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &session, Some("s-1")).await;
    let (sid, secret) =
        (created.body["id"].as_str().unwrap(), created.body["client_secret"].as_str().unwrap().to_owned());
    let phone = random_phone();
    phones.push(phone.clone());
    let card = serde_json::json!({"phone": phone, "card": {"number": "5555555555554444", "exp_month": 12, "exp_year": 2040, "cvc": "737"}});
    let paid = stack
        .call_as_shopper(Function::FirstPayment, &format!("/checkout/{sid}/payments"), &secret, &card, Some("s-2"))
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    codes.push(stack.code_sent_to(&phone));

    let items = stack.scan().await;
    let kinds: std::collections::BTreeSet<String> = items.iter().map(|i| i["entity"].as_s().unwrap().clone()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "attempt_counter",
            "checkout_session",
            "guard",
            "idempotency_key",
            "order",
            "payment",
            "payment_method",
            "sms_quota"
        ]
    );
    for item in &items {
        assert!(!item.keys().any(|k| k.contains("cvc") || k == "code"), "{:?}", item.keys());
        for (name, value) in item {
            let mut values = Vec::new();
            strings(value, &mut values);
            // Keyed hashes are hex: a six-digit run can occur there by chance, and is no code.
            // A decline counter's key holds the card's keyed fingerprint, a payer's the phone's,
            // a velocity counter's the card's, the phone's or the address's.
            let keyed_hash = name == "code_mac"
                || name == "fingerprint"
                || (name == "pk" && ["guard", "attempt_counter"].contains(&item["entity"].as_s().unwrap().as_str()));
            for v in &values {
                for card in cards.iter().chain(["6011111111111117"].iter()) {
                    assert!(!v.contains(card), "card number in clear in {item:?}");
                    assert!(!v.contains(&card[..12]), "card digits in clear");
                }
                assert_ne!(v, "737", "CVC stored");
                assert!(!v.contains(&secret), "client secret in clear in {name}");
                for phone in &phones {
                    // Masked forms keep the country code and the last four digits only.
                    assert!(!v.contains(&phone[3..]), "phone number in clear in {name}: {v}");
                }
                for code in codes.iter().filter(|_| !keyed_hash) {
                    assert!(!v.contains(code.as_str()), "code in clear in {name}: {v}");
                }
            }
        }
    }
}

/// The Idempotency-Key's fingerprint, kept 24 hours, covers no card secret: trying every CVC
/// with the HMAC key against the whole request finds no match (the fingerprint leaves the CVC
/// out and covers the card number only as a keyed digest).
#[tokio::test]
async fn no_idempotency_fingerprint_can_be_matched_against_cvc_candidates() {
    let stack = Stack::new().await;
    let body = first_payment_body(&random_id("u"), &random_phone(), "4242424242424242");
    let created = stack.call(Function::FirstPayment, "/payments", &body, Some("fp-1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let items = stack.scan().await;
    let key = items.iter().find(|i| i["entity"].as_s().is_ok_and(|e| e == "idempotency_key")).unwrap();
    let stored = key["fingerprint"].as_s().unwrap().clone();
    let scope = "m:shop-1/first-payment";
    let mut candidate = body.clone();
    for cvc in 0..10_000 {
        for text in [format!("{cvc:03}"), format!("{cvc:04}")] {
            candidate["card"]["cvc"] = serde_json::json!(text);
            assert_ne!(stack.services.hasher().request_fingerprint(scope, &candidate.to_string()), stored, "{text}");
        }
    }
    // The same request with another CVC is the same request: replayed, not refused.
    candidate["card"]["cvc"] = serde_json::json!("999");
    let again = stack.call(Function::FirstPayment, "/payments", &candidate, Some("fp-1")).await;
    assert_eq!((again.status, &again.body), (201, &created.body));
}

#[tokio::test]
async fn the_keys_are_read_from_ssm_secure_strings_with_a_signed_request() {
    // The functions read their keys at cold start from SSM (`CODE_HASH_KEYS_PARAM`, …) with one
    // SigV4-signed GetParameter (shared::parameters), here against moto's SSM.
    let aws = integration_tests::aws_config(None).await;
    let store = shared::parameters::ParameterStore::new(&aws).unwrap();
    let name = format!("/payments/test/{}", random_id("keys"));
    let keys = "k1:ZGV2LW9ubHktY29kZS1oYXNoLWtleS1ub3QtcHJvZCE=";
    store.put_secure_string(&name, keys).await.unwrap();
    assert_eq!(store.secure_string(&name).await.unwrap(), keys);
    let missing = store.secure_string("/payments/test/none").await.unwrap_err();
    assert!(missing.contains("ParameterNotFound"), "{missing}");
}
