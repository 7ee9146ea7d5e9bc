//! `GET /checkout`: the page a merchant links a shopper to. HTML, CSS and a little plain JS,
//! embedded in the binary; the script and style are allowed by hash in the
//! Content-Security-Policy, so nothing else can run or load.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

use super::request::query_param;
use crate::domain::{year_month, CardBrand, Currency, Customer, FieldError, Identifier, Money};
use crate::ports::SavedMethod;
use crate::Services;

const PAGE: &str = include_str!("checkout/page.html");
const STYLE: &str = include_str!("checkout/page.css");
const SCRIPT: &str = include_str!("checkout/page.js");

/// The security headers, computed once: the CSP names the exact script and style by hash.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = |text: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text.as_bytes())));
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    )
});

/// `LOCAL_FUNCTION_URLS=true` (the local stack): the page calls each function under
/// `/lambda-url/<function>`, as `cargo lambda watch` serves them, instead of API Gateway's routes.
static LOCAL_FUNCTION_URLS: LazyLock<bool> =
    LazyLock::new(|| std::env::var("LOCAL_FUNCTION_URLS").is_ok_and(|v| v == "true"));

/// What the merchant's link asks the shopper to pay.
struct CheckoutOrder {
    user_id: Identifier,
    merchant_id: Identifier,
    order_id: Identifier,
    money: Money,
}

impl CheckoutOrder {
    fn from_query(req: &Request) -> Result<Self, FieldError> {
        let param = |name: &str| query_param(req, name).unwrap_or_default();
        let amount = param("amount");
        let minor = amount.parse::<i64>().map_err(|_| {
            FieldError::new("invalid_amount", "amount", "amount must be a whole number of minor units, e.g. 1999")
        })?;
        Ok(Self {
            user_id: Identifier::parse("user_id", &param("user_id"))?,
            merchant_id: Identifier::parse("merchant_id", &param("merchant_id"))?,
            order_id: Identifier::parse("order_id", &param("order_id"))?,
            money: Money::new("amount", minor, Currency::parse("currency", &param("currency"))?)?,
        })
    }
}

pub async fn checkout_page(svc: &Services, req: Request) -> Response<Body> {
    if req.method() != Method::GET {
        let mut r = html(405, &error_page("Use GET to open the checkout page."));
        r.headers_mut().insert("allow", HeaderValue::from_static("GET"));
        return r;
    }
    let order = match CheckoutOrder::from_query(&req) {
        Ok(order) => order,
        Err(e) => {
            return html(400, &error_page(&format!("This payment link is incomplete: {} ({}).", e.message, e.param)))
        }
    };
    // A returning shopper pays with the card saved last, unless it has expired.
    let customer = Customer { merchant_id: order.merchant_id.clone(), user_id: order.user_id.clone() };
    let saved = match svc.payments.find_method(&customer, None).await {
        Ok(found) => found.filter(|m| !m.expiry.is_expired(year_month(svc.clock.now()))),
        Err(e) => {
            tracing::warn!(error = %e, "saved cards unavailable; offering the card form");
            None
        }
    };
    tracing::info!(returning = saved.is_some(), "checkout page");
    html(200, &render(&order, saved.as_ref(), *LOCAL_FUNCTION_URLS))
}

fn render(order: &CheckoutOrder, saved: Option<&SavedMethod>, local: bool) -> String {
    let label = saved.map(|m| format!("{} •••• {}", brand_name(m.brand), m.last4)).unwrap_or_default();
    let hidden = |yes: bool| if yes { "hidden" } else { "" };
    // Every value the link brought in was validated above and is escaped again here.
    [
        ("{{AMOUNT}}", escape(&order.money.to_string())),
        ("{{AMOUNT_MINOR}}", order.money.minor.to_string()),
        ("{{CURRENCY}}", escape(order.money.currency.code())),
        ("{{MERCHANT}}", escape(order.merchant_id.as_str())),
        ("{{ORDER}}", escape(order.order_id.as_str())),
        ("{{USER}}", escape(order.user_id.as_str())),
        ("{{METHOD_ID}}", escape(saved.map(|m| m.id.as_str()).unwrap_or(""))),
        ("{{SAVED_LABEL}}", escape(&label)),
        ("{{SAVED_HIDDEN}}", hidden(saved.is_none()).to_owned()),
        ("{{FORM_HIDDEN}}", hidden(saved.is_some()).to_owned()),
        ("{{LOCAL}}", local.to_string()),
        // Last, so no other marker is looked for inside them (their hashes must not change).
        ("{{STYLE}}", STYLE.to_owned()),
        ("{{SCRIPT}}", SCRIPT.to_owned()),
    ]
    .iter()
    .fold(PAGE.to_owned(), |page, (marker, value)| page.replace(marker, value))
}

fn brand_name(brand: CardBrand) -> &'static str {
    match brand {
        CardBrand::Visa => "Visa",
        CardBrand::Mastercard => "Mastercard",
        CardBrand::Amex => "American Express",
        CardBrand::Discover => "Discover",
        CardBrand::Jcb => "JCB",
        CardBrand::Unionpay => "UnionPay",
        CardBrand::Diners => "Diners Club",
        CardBrand::Unknown => "Card",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn error_page(message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>Checkout</title><main><h1>Checkout</h1><p>{}</p></main></html>",
        escape(message)
    )
}

fn html(status: u16, page: &str) -> Response<Body> {
    let mut response = Response::new(Body::Text(page.to_owned()));
    *response.status_mut() =
        lambda_http::http::StatusCode::from_u16(status).unwrap_or(lambda_http::http::StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert("content-security-policy", csp);
    }
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000"));
    response
}
