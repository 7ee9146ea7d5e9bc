//! The functions as `cargo lambda watch` serves them (started by `make test`, which sets
//! `WATCH_ENDPOINT`), over HTTP: every route, and every events/ fixture's request.

use integration_tests::*;
use serde_json::{json, Value};
use shared::lambda_http::http::Method;

fn watch() -> String {
    std::env::var("WATCH_ENDPOINT").expect("WATCH_ENDPOINT is not set: run the integration tests with `make test`")
}

async fn post(function: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let url = format!("{}/lambda-url/{function}{path}", watch());
    let answer = http_client::request(Method::POST, &url, headers, body).await;
    (answer.status, answer.json())
}

async fn post_json(function: &str, path: &str, body: &Value) -> (u16, Value) {
    post(function, path, &body.to_string(), &[("content-type", "application/json")]).await
}

#[tokio::test]
async fn every_route_over_http_first_verify_repeat_resend_verify() {
    let (user, phone) = (random_id("u"), random_phone());
    let (status, created) =
        post_json("first-payment", "/payments", &first_payment_body(&user, &phone, "4242424242424242")).await;
    assert_eq!(status, 201, "{created}");
    let id = created["payment_id"].as_str().unwrap().to_owned();
    let verify = created["next_action"]["verify_url"].as_str().unwrap().to_owned();
    let (status, done) = post_json("verify-code", &verify, &json!({"code": latest_code(&phone).await})).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("succeeded")), "{done}");
    assert_eq!(done["payment_id"], id.as_str());

    let (status, repeat) = post_json("repeat-payment", "/payments/repeat", &repeat_payment_body(&user)).await;
    assert_eq!(status, 201, "{repeat}");
    let resend = repeat["next_action"]["resend_url"].as_str().unwrap().to_owned();
    let (status, early) = post("verify-code", &resend, "", &[]).await;
    assert_eq!((status, early["code"].as_str()), (429, Some("resend_too_soon")), "{early}");
    let verify = repeat["next_action"]["verify_url"].as_str().unwrap().to_owned();
    let (status, done) = post_json("verify-code", &verify, &json!({"code": latest_code(&phone).await})).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("succeeded")), "{done}");
}

#[tokio::test]
async fn every_event_fixture_over_http_gives_its_documented_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected: u16 = name.trim_end_matches(".json").rsplit('.').next().unwrap().parse().unwrap();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let function = ["first-payment", "repeat-payment", "verify-code"]
            .into_iter()
            .find(|f| name.starts_with(f))
            .unwrap_or("verify-code");
        let mut headers: Vec<(String, String)> = event["headers"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "host")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        // A fixture's fixed Idempotency-Key would replay across runs; keep each run fresh.
        for (k, v) in headers.iter_mut() {
            if k == "idempotency-key" {
                *v = random_id("fixture");
            }
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, body) =
            post(function, event["rawPath"].as_str().unwrap(), event["body"].as_str().unwrap(), &headers).await;
        assert_eq!(status, expected, "{name}: {body}");
        checked += 1;
    }
    assert!(checked >= 10);
}
