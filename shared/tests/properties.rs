//! Property tests of request parsing and every validator: 1,000 generated cases each
//! (`PROPTEST_CASES` overrides). Nothing may panic; what is accepted is exactly what the rules
//! say; secrets never print.

use crate::common;

use proptest::prelude::*;
use shared::domain::*;
use shared::lambda_http::{http, Body};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Appends the Luhn check digit to `body`.
fn with_check_digit(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn card_numbers_with_a_right_check_digit_are_accepted(body in "[0-9]{11,18}") {
        let number = with_check_digit(&body);
        let card = CardNumber::parse("card.number", &number).unwrap();
        prop_assert_eq!(card.last4(), &number[number.len() - 4..]);
        let printed = format!("{card:?} {card}");
        prop_assert!(!printed.contains(&number[..number.len() - 4]));
    }

    #[test]
    fn any_single_digit_error_is_caught(body in "[0-9]{11,18}", pos in 0usize..19, delta in 1u8..10) {
        let number = with_check_digit(&body);
        let pos = pos % number.len();
        let mut bytes = number.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(CardNumber::parse("card.number", &changed).unwrap_err().code, "invalid_card_number");
    }

    #[test]
    fn card_number_parsing_never_panics(raw in any::<String>()) {
        if let Err(e) = CardNumber::parse("card.number", &raw) {
            prop_assert_eq!(e.code, "invalid_card_number");
        }
    }

    #[test]
    fn cvc_is_exactly_three_or_four_digits(raw in any::<String>()) {
        let ok = (3..=4).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(Cvc::parse("card.cvc", &raw).is_ok(), ok);
    }

    #[test]
    fn expiry_accepts_exactly_the_months_not_yet_past(month in -5i64..20, year in 1990i64..2110, this_year in 2020i32..2090, this_month in 1u8..=12) {
        let result = Expiry::parse("card", month, year, (this_year, this_month));
        let valid = (1..=12).contains(&month) && (2000..=2100).contains(&year);
        let current = (year as i32, month as u8) >= (this_year, this_month);
        prop_assert_eq!(result.is_ok(), valid && current, "{:?}", result);
    }

    #[test]
    fn phone_parsing_never_panics_and_masks(raw in "\\+?[0-9 ]{0,18}|\\PC{0,20}") {
        if let Ok(phone) = Phone::parse("phone", &raw) {
            let masked = phone.masked();
            let e164 = phone.expose();
            prop_assert!(e164.starts_with('+'));
            prop_assert_eq!(&masked[masked.len() - 4..], &e164[e164.len() - 4..]);
            prop_assert_eq!(masked.len(), e164.len());
            // Printing shows the masked form only.
            prop_assert_eq!(format!("{phone}"), masked.clone());
            prop_assert_eq!(format!("{phone:?}"), format!("Phone({masked})"));
            // Read back with its stored country code, it is the same phone, without metadata.
            prop_assert_eq!(Phone::from_stored(e164, Some(phone.country_code())).unwrap(), phone.clone());
        }
    }

    #[test]
    fn valid_chinese_mobiles_are_accepted_and_masked(rest in "[0-9]{8}", prefix in prop::sample::select(vec!["138", "139", "150", "186", "187"])) {
        let raw = format!("+86{prefix}{rest}");
        let phone = Phone::parse("phone", &raw).unwrap();
        prop_assert_eq!(phone.masked(), format!("+86*******{}", &raw[raw.len() - 4..]));
    }

    #[test]
    fn identifiers_follow_the_alphabet_and_length(raw in any::<String>()) {
        let ok = (1..=64).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
        prop_assert_eq!(Identifier::parse("user_id", &raw).is_ok(), ok);
    }

    #[test]
    fn identifiers_in_the_alphabet_are_accepted(raw in "[A-Za-z0-9_.:-]{1,64}") {
        prop_assert!(Identifier::parse("user_id", &raw).is_ok());
    }

    #[test]
    fn amounts_are_accepted_exactly_in_range(minor in any::<i64>()) {
        let cny = Currency::parse("currency", "CNY").unwrap();
        prop_assert_eq!(Money::new("amount", minor, cny).is_ok(), (1..=99_999_999).contains(&minor));
    }

    #[test]
    fn money_formatting_round_trips(minor in 1i64..=99_999_999, code in prop::sample::select(vec!["CNY", "JPY", "BHD", "EUR", "KRW", "KWD", "USD"])) {
        let currency = Currency::parse("currency", code).unwrap();
        // Within the currency's own ceiling (999,999 whole units).
        let minor = 1 + (minor - 1) % i64::try_from(currency.max_minor()).unwrap();
        let text = Money::new("amount", minor, currency).unwrap().to_string();
        let (shown_code, number) = text.split_once(' ').unwrap();
        prop_assert_eq!(shown_code, code);
        let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
        prop_assert_eq!(decimals, usize::from(currency.exponent()));
        prop_assert_eq!(number.replace('.', "").parse::<i64>().unwrap(), minor);
    }

    #[test]
    fn currency_parsing_never_panics(raw in any::<String>()) {
        if let Ok(c) = Currency::parse("currency", &raw) {
            prop_assert_eq!(c.code(), raw.as_str());
        }
    }

    #[test]
    fn codes_are_exactly_six_digits(raw in any::<String>()) {
        let ok = raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(VerificationCode::parse("code", &raw).is_ok(), ok);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "\\PC{0,24}".prop_map(serde_json::Value::from),
        "[0-9]{3,19}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A first-payment body with some fields replaced, removed or added at random.
fn mangled_first_payment() -> impl Strategy<Value = serde_json::Value> {
    let fields = ["user_id", "phone", "merchant_id", "order_id", "amount", "currency", "card", "save_card", "extra"];
    (prop::collection::vec((prop::sample::select(fields.to_vec()), prop::option::of(json_value())), 0..4))
        .prop_map(|edits| {
            let mut body = serde_json::json!({
                "user_id": "u-1", "phone": "+8613800138000", "merchant_id": "m", "order_id": "o", "amount": 100,
                "currency": "CNY", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
            });
            for (field, value) in edits {
                match value {
                    Some(v) => body[field] = v,
                    None => {
                        body.as_object_mut().unwrap().remove(field);
                    }
                }
            }
            body
        })
}

fn request(body: &str, content_type: &str, key: Option<&str>) -> http::Request<Body> {
    let mut builder = http::Request::builder().method("POST").uri("/payments").header("content-type", content_type);
    if let Some(k) = key {
        builder = builder.header("idempotency-key", k);
    }
    builder.body(Body::Text(body.to_owned())).unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the body, the first-payment handler answers 201 or a 4xx problem, never 5xx.
    #[test]
    fn request_parsing_answers_4xx_or_success_never_5xx(body in mangled_first_payment(), key in prop::option::of("[ -~]{0,8}")) {
        let (stack, _) = common::memory_stack();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let response = rt.block_on(shared::http::first_payment(&stack.services, request(&body.to_string(), "application/json", key.as_deref())));
        let status = response.status().as_u16();
        prop_assert!(status == 201 || (400..500).contains(&status), "{} for {}", status, body);
        let answer: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        if status >= 400 {
            prop_assert!(answer["code"].is_string());
            prop_assert_eq!(answer["status"].as_u64(), Some(u64::from(status)));
        }
        prop_assert!(!answer.to_string().contains("4242424242424242"));
    }

    /// Arbitrary bytes under any content type: never a 5xx.
    #[test]
    fn arbitrary_bodies_never_answer_5xx(body in "\\PC{0,64}", content_type in prop::sample::select(vec!["application/json", "text/plain", "", "application/problem+json; charset=utf-8"])) {
        let (stack, _) = common::memory_stack();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for handler in 0..3 {
            let req = request(&body, content_type, None);
            let response = rt.block_on(async {
                match handler {
                    0 => shared::http::first_payment(&stack.services, req).await,
                    1 => shared::http::repeat_payment(&stack.services, req).await,
                    _ => shared::http::verify_code(&stack.services, req).await,
                }
            });
            prop_assert!((400..500).contains(&response.status().as_u16()), "{}", response.status());
        }
    }
}

/// A card number or CVC in the wrong shape (a JSON number, a key) is refused without being
/// echoed: serde's message quotes the value, the answer does not.
#[tokio::test]
async fn a_malformed_card_field_is_never_echoed() {
    let (mut stack, _) = common::memory_stack();
    stack.services.settings.local_auth = shared::config::LocalAuth::MerchantHeader;
    let base = serde_json::json!({
        "user_id": "u-1", "phone": "+8613800138000", "merchant_id": "m", "order_id": "o", "amount": 100,
        "currency": "CNY", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
    });
    let mut as_number = base.clone();
    as_number["card"]["number"] = serde_json::json!(4242424242424242u64);
    let mut cvc_number = base.clone();
    cvc_number["card"]["cvc"] = serde_json::json!(987);
    let mut as_key = base.clone();
    as_key["card"]["4242424242424242"] = serde_json::json!(1);
    let mut as_array = base.clone();
    as_array["card"]["number"] = serde_json::json!([4242, 4242, 4242, 4242]);
    for (body, param) in
        [(as_number, "card.number"), (cvc_number, "card.cvc"), (as_key, "card"), (as_array, "card.number")]
    {
        let mut req = request(&body.to_string(), "application/json", None);
        req.headers_mut().insert("x-local-merchant-id", "m".parse().unwrap());
        let response = shared::http::first_payment(&stack.services, req).await;
        let answer: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(response.status().as_u16(), 400, "{answer}");
        let text = answer.to_string();
        for secret in ["4242", "987"] {
            assert!(!text.contains(secret), "echoed {secret}: {text}");
        }
        assert!(answer["param"].as_str().is_some_and(|p| p.starts_with(param)), "{answer}");
    }
}
