//! Every events/ fixture goes through lambda_http's own parser into the real handler and gets
//! the status its name documents (`<name>.<status>.json`).

use crate::common;

use shared::lambda_http::request::from_str;

#[tokio::test]
async fn every_event_fixture_gives_its_documented_status() {
    let (stack, _) = common::memory_stack();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut checked = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("payment-sweeper") {
            // A scheduled event, no HTTP request: invoked locally by scripts/invoke-events.sh
            // and in process by tests/lifecycle.rs.
            assert!(serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&path).unwrap()).is_ok());
            continue;
        }
        let expected: u16 = name.trim_end_matches(".json").rsplit('.').next().unwrap().parse().unwrap();
        let req = from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let svc = &stack.services;
        let response = if name.starts_with("first-payment") || name.starts_with("session-payment") {
            shared::http::first_payment(svc, req).await
        } else if name.starts_with("repeat-payment") {
            shared::http::repeat_payment(svc, req).await
        } else if name.starts_with("verify-code") || name.starts_with("resend-code") {
            shared::http::verify_code(svc, req).await
        } else if name.starts_with("payment-status")
            || name.starts_with("payment-history")
            || name.starts_with("payment-methods-list")
            || name.starts_with("refund-get")
            || name.starts_with("refunds-list")
        {
            shared::http::payment_status(svc, req).await
        } else if name.starts_with("payment-methods-delete") || name.starts_with("refund-create") {
            shared::http::payment_operations(svc, req).await
        } else if name.starts_with("checkout-") {
            shared::http::checkout_page(svc, req).await
        } else {
            panic!("{name}: no function for this fixture");
        };
        assert_eq!(response.status().as_u16(), expected, "{name}: {:?}", response.body());
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        if expected >= 400 {
            assert_eq!(content_type, "application/problem+json", "{name}");
            assert_eq!(body["status"], expected, "{name}");
            assert!(
                body["code"].is_string() && body["type"].is_string() && body["detail"].is_string(),
                "{name}: {body}"
            );
        } else {
            assert_eq!(content_type, "application/json", "{name}");
            let is_payment = body["payment_id"].as_str().is_some_and(|id| id.starts_with("pay_"));
            assert!(is_payment || body["object"] == "list" || body["object"] == "checkout_session", "{name}: {body}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures found in {}", dir.display());
}
