//! The functions as `cargo lambda watch` serves them (started by `make test`, which sets
//! `WATCH_ENDPOINT`), over HTTP: every route. (Every events/ fixture goes through the same
//! functions with `cargo lambda invoke --data-file`: scripts/invoke-events.sh.)

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

    let status = get(&format!("/payments/{id}")).await;
    assert_eq!((status.0, &status.1["status"]), (200, &json!("succeeded")), "{}", status.1);
    let (code, page) = get(&format!("/users/{user}/payments?limit=1")).await;
    assert_eq!((code, page["data"][0]["payment_id"].as_str()), (200, repeat["payment_id"].as_str()), "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (code, page) = get(&format!("/users/{user}/payments?limit=1&cursor={cursor}")).await;
    assert_eq!((code, page["data"][0]["payment_id"].as_str()), (200, Some(id.as_str())), "{page}");
}

async fn get(path: &str) -> (u16, Value) {
    let url = format!("{}/lambda-url/payment-status{path}", watch());
    let answer = http_client::request(Method::GET, &url, &[], "").await;
    (answer.status, answer.json())
}
