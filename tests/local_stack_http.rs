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

/// As the merchant's server calls locally: `cargo lambda watch` passes no authorizer context, so
/// the functions (under `LOCAL_AUTH=merchant-header`) read the merchant from this header.
const SHOP_1: (&str, &str) = ("x-local-merchant-id", "shop-1");

async fn post_json(function: &str, path: &str, body: &Value) -> (u16, Value) {
    post(function, path, &body.to_string(), &[("content-type", "application/json"), SHOP_1]).await
}

#[tokio::test]
async fn every_route_over_http_first_verify_repeat_resend_verify() {
    let (user, phone) = (random_id("u"), random_phone());
    let (status, created) =
        post_json("first-payment", "/payments", &first_payment_body(&user, &phone, "4242424242424242")).await;
    assert_eq!(status, 201, "{created}");
    let id = created["payment_id"].as_str().unwrap().to_owned();
    let verify = created["next_action"]["verify_url"].as_str().unwrap().to_owned();
    let (status, done) = post_json("verify-code", &verify, &json!({"code": local_stack_code(&phone).await})).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("succeeded")), "{done}");
    assert_eq!(done["payment_id"], id.as_str());

    let (status, repeat) = post_json("repeat-payment", "/payments/repeat", &repeat_payment_body(&user)).await;
    assert_eq!(status, 201, "{repeat}");
    let resend = repeat["next_action"]["resend_url"].as_str().unwrap().to_owned();
    let (status, early) = post("verify-code", &resend, "", &[SHOP_1]).await;
    assert_eq!((status, early["code"].as_str()), (429, Some("resend_too_soon")), "{early}");
    let verify = repeat["next_action"]["verify_url"].as_str().unwrap().to_owned();
    let (status, done) = post_json("verify-code", &verify, &json!({"code": local_stack_code(&phone).await})).await;
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
    let answer = http_client::request(Method::GET, &url, &[SHOP_1], "").await;
    (answer.status, answer.json())
}

#[tokio::test]
async fn without_a_merchant_every_merchant_route_is_refused() {
    let body = first_payment_body(&random_id("u"), &random_phone(), "4242424242424242").to_string();
    let (status, answer) = post("first-payment", "/payments", &body, &[("content-type", "application/json")]).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("unauthorized")), "{answer}");
    let url = format!("{}/lambda-url/payment-status/users/u-42/payments", watch());
    let answer = http_client::request(Method::GET, &url, &[], "").await;
    assert_eq!(answer.status, 401);
    let url = format!("{}/lambda-url/payment-status/users/u-42/payments", watch());
    let answer = http_client::request(Method::GET, &url, &[("x-local-merchant-id", "not a merchant!")], "").await;
    assert_eq!((answer.status, answer.json()["code"].as_str()), (403, Some("invalid_merchant_claim")));
    // The merchant's operations too (a saved card is never forgotten for a caller without one).
    let url = format!("{}/lambda-url/payment-operations/users/u-42/payment-methods/pm_01jd8x9y2z", watch());
    let answer = http_client::request(Method::DELETE, &url, &[], "").await;
    assert_eq!((answer.status, answer.json()["code"].as_str()), (401, Some("unauthorized")));
    let answer = http_client::request(Method::DELETE, &url, &[("x-local-merchant-id", "shop-1")], "").await;
    assert_eq!((answer.status, answer.json()["code"].as_str()), (404, Some("payment_method_not_found")));
}

/// The session flow as a merchant and a shopper's browser drive it over HTTP: the merchant
/// creates a session; its url opens the page; the page's routes take the secret only.
#[tokio::test]
async fn a_checkout_session_over_http_from_creation_to_the_merchant_confirming_it() {
    let (user, phone, order) = (random_id("u"), random_phone(), random_id("o"));
    let body = json!({"user_id": user, "order_id": order, "amount": 2500, "currency": "CNY",
        "return_url": "https://shop.example.com/done"});
    let (status, session) = post_json("checkout-page", "/checkout/sessions", &body).await;
    assert_eq!(status, 201, "{session}");
    let (id, secret) = (session["id"].as_str().unwrap(), session["client_secret"].as_str().unwrap());
    let url = session["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/lambda-url/checkout-page/checkout/{id}#{secret}", watch()));

    // cargo lambda watch now and then answers the ~17 KB page with its own bare 500 while the
    // function served it (issue 14, item 5): such an answer is retried; any other stands.
    let mut page = http_client::request(Method::GET, url.split('#').next().unwrap(), &[], "").await;
    for _ in 0..2 {
        if page.status != 500 || !String::from_utf8_lossy(&page.body).contains("https://httpstatuses.com/500") {
            break;
        }
        page = http_client::request(Method::GET, url.split('#').next().unwrap(), &[], "").await;
    }
    assert_eq!(page.status, 200);
    let state_url = format!("{}/lambda-url/checkout-page/checkout/{id}/state", watch());
    let bearer = format!("Bearer {secret}");
    let auth = ("authorization", bearer.as_str());
    let state = http_client::request(Method::GET, &state_url, &[auth], "").await;
    assert_eq!((state.status, state.json()["merchant_name"].as_str()), (200, Some("Lotus Tea House")));
    // The merchant's header opens nothing on a shopper's route.
    let refused = http_client::request(Method::GET, &state_url, &[SHOP_1], "").await;
    assert_eq!((refused.status, refused.json()["code"].as_str()), (401, Some("invalid_client_secret")));

    let pay = json!({"phone": phone, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
    let (status, payment) = post(
        "first-payment",
        &format!("/checkout/{id}/payments"),
        &pay.to_string(),
        &[("content-type", "application/json"), auth],
    )
    .await;
    assert_eq!(status, 201, "{payment}");
    let verify = payment["next_action"]["verify_url"].as_str().unwrap().to_owned();
    assert!(verify.starts_with(&format!("/checkout/{id}/payments/")), "{verify}");
    let code = json!({"code": local_stack_code(&phone).await}).to_string();
    let (status, done) = post("verify-code", &verify, &code, &[("content-type", "application/json"), auth]).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("succeeded")), "{done}");

    let confirm = format!("{}/lambda-url/checkout-page/checkout/sessions/{id}", watch());
    let confirmed = http_client::request(Method::GET, &confirm, &[SHOP_1], "").await.json();
    assert_eq!(
        (confirmed["status"].as_str(), confirmed["payment_status"].as_str()),
        (Some("complete"), Some("succeeded"))
    );
    assert!(confirmed.get("client_secret").is_none(), "{confirmed}");
}
