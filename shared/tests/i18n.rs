//! The shopper's languages: every message in every locale, the SMS in one segment whatever the
//! name, amount and host, the page as one document per language under its CSP, and a session's
//! language from the merchant's request to the shopper's SMS.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;
use shared::domain::i18n::{catalogue, catalogue_source, placeholders};
use shared::domain::sms::{
    checkout_host_ok, display_name_ok, CHECKOUT_HOST_MAX_CHARS, DISPLAY_NAME_MAX_CHARS, NAME_MIN_CHARS,
};
use shared::domain::{code_sms, Currency, Locale, LocalePref, Money, OrderSummary, SmsEncoding, SmsSize};
use shared::lambda_http::{http, Body};

use crate::common;

const PAGE_HTML: &str = include_str!("../http/src/checkout/page.html");
const PAGE_JS: &str = include_str!("../http/src/checkout/page.js");

fn money(minor: u64, currency: &str) -> Money {
    Money { minor, currency: Currency::parse("c", currency).unwrap() }
}

/// Every key in every locale, each with the same placeholders; English's one/other pairs.
#[test]
fn every_key_exists_in_every_locale_with_the_same_placeholders() {
    let en = catalogue(Locale::En);
    assert!(en.len() > 90, "the catalogue parsed: {} keys", en.len());
    for locale in Locale::ALL {
        let theirs = catalogue(locale);
        let parsed: serde_json::Map<String, Value> = serde_json::from_str(catalogue_source(locale)).unwrap();
        assert_eq!(parsed.len(), theirs.len(), "{}: no key twice, every value a string", locale.tag());
        let (ours, keys): (BTreeSet<_>, BTreeSet<_>) = (en.keys().collect(), theirs.keys().collect());
        assert_eq!(ours.symmetric_difference(&keys).collect::<Vec<_>>(), Vec::<&&String>::new(), "{}", locale.tag());
        for (key, text) in theirs {
            assert!(!text.trim().is_empty(), "{} {key} is empty", locale.tag());
            let mut mine = placeholders(text);
            let mut english = placeholders(&en[key]);
            mine.sort_unstable();
            english.sort_unstable();
            assert_eq!(mine, english, "{} {key}: placeholders", locale.tag());
        }
    }
    for key in en.keys().filter(|k| k.ends_with(".one")) {
        assert!(en.contains_key(&key.replace(".one", ".other")), "{key} without its .other");
    }
}

/// What the page asks for exists: every `{{t:key}}` of its HTML and every `t("key")` of its
/// script. (The check can fail: a made-up key is caught.)
#[test]
fn every_message_the_page_uses_is_in_the_catalogue() {
    let en = catalogue(Locale::En);
    let exists = |key: &str| {
        let full = format!("page.{key}");
        en.contains_key(key) || en.contains_key(&full) || en.contains_key(&format!("{full}.other"))
    };
    let mut used = Vec::new();
    for part in PAGE_HTML.split("{{t:").skip(1) {
        used.push(part.split("}}").next().unwrap().to_owned());
    }
    for quote in ['"', '`'] {
        let call = format!("t({quote}");
        for (at, _) in PAGE_JS.match_indices(&call) {
            // `t(` itself, not the end of another name (`showResult(`, `get(`).
            let before = PAGE_JS[..at].chars().next_back().unwrap();
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue;
            }
            used.push(PAGE_JS[at + call.len()..].split(quote).next().unwrap().to_owned());
        }
    }
    // The script's tables name keys too (plain words for fields, declines).
    for part in PAGE_JS.split("\"field.").skip(1).chain(PAGE_JS.split("\"result.").skip(1)) {
        let key = part.split('"').next().unwrap();
        let prefix = if PAGE_JS.contains(&format!("\"field.{key}\"")) { "field" } else { "result" };
        used.push(format!("{prefix}.{key}"));
    }
    assert!(used.len() > 60, "found {} uses", used.len());
    let missing: Vec<_> = used.iter().filter(|k| !exists(k)).collect();
    assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    assert!(!exists("result.no_such_message"), "the check can fail");
}

#[test]
fn the_browser_language_is_read_from_accept_language() {
    let of = Locale::from_accept_language;
    assert_eq!(of("zh-CN,zh;q=0.9,en;q=0.8"), Some(Locale::ZhCn));
    assert_eq!(of("en-GB,en;q=0.9"), Some(Locale::En));
    assert_eq!(of("fr-FR, zh-Hans;q=0.5, en;q=0.4"), Some(Locale::ZhCn));
    assert_eq!(of("de, en;q=0.1, zh;q=0"), Some(Locale::En), "q=0 refuses");
    assert_eq!(of("zh-TW"), None, "traditional Chinese is not simplified Chinese");
    assert_eq!(of("fr, de"), None);
    assert_eq!(of(""), None);
    assert_eq!(LocalePref::Auto.resolve(None, Locale::ZhCn), Locale::ZhCn, "else the merchant's default");
    assert_eq!(LocalePref::Auto.resolve(Some(Locale::En), Locale::ZhCn), Locale::En);
    assert_eq!(LocalePref::Fixed(Locale::ZhCn).resolve(Some(Locale::En), Locale::En), Locale::ZhCn);
    assert!(LocalePref::parse("locale", "fr").is_err());
}

#[test]
fn amounts_are_written_per_locale_by_their_currency_exponent() {
    assert_eq!(Locale::En.money(&money(199_999, "CNY")), "CN¥1,999.99");
    assert_eq!(Locale::ZhCn.money(&money(199_999, "CNY")), "¥1,999.99");
    assert_eq!(Locale::ZhCn.money(&money(5, "CNY")), "¥0.05");
    assert_eq!(Locale::En.money(&money(1_999, "JPY")), "JPY 1,999");
    assert_eq!(Locale::En.money(&money(1_999, "BHD")), "BHD 1.999");
    assert_eq!(Locale::ZhCn.money(&money(99_999_999, "USD")), "USD 999,999.99");
}

#[test]
fn sms_size_is_computed_not_assumed() {
    assert_eq!(SmsSize::of(&"a".repeat(160)), SmsSize { encoding: SmsEncoding::Gsm7, units: 160, segments: 1 });
    assert_eq!(SmsSize::of(&"a".repeat(161)).segments, 2);
    assert_eq!(SmsSize::of("€").units, 2, "the extension table takes two septets");
    assert_eq!(SmsSize::of("¥@#").encoding, SmsEncoding::Gsm7);
    assert_eq!(SmsSize::of(&"码".repeat(70)), SmsSize { encoding: SmsEncoding::Ucs2, units: 70, segments: 1 });
    assert_eq!(SmsSize::of(&"码".repeat(71)).segments, 2);
    assert_eq!(SmsSize::of("😀").units, 2, "outside the BMP: two UTF-16 units");
    assert_eq!(SmsSize::of(&format!("{}é", "a".repeat(159))).encoding, SmsEncoding::Gsm7);
    assert_eq!(SmsSize::of(&format!("{}ç", "a".repeat(60))).encoding, SmsEncoding::Ucs2, "ç is not GSM-7 (Ç is)");
}

/// For both languages, the longest display name allowed (Latin, Chinese, emoji), the largest
/// amounts and a host of the longest allowed length: one segment, the code, the whole amount,
/// at least the name's first characters; the WebOTP line for a usual host.
#[test]
fn every_code_sms_fits_one_segment_in_both_languages() {
    let long_latin = "Lotus Tea House & Gardens of Hangzhou Ltd"[..DISPLAY_NAME_MAX_CHARS].to_owned();
    let long_chinese: String = "杭州西湖龙井茶叶有限公司".chars().cycle().take(DISPLAY_NAME_MAX_CHARS).collect();
    let long_emoji: String = "🍵".repeat(DISPLAY_NAME_MAX_CHARS);
    let names = [long_latin.as_str(), long_chinese.as_str(), long_emoji.as_str(), "Lotus Tea House", "莲花茶馆", "A"];
    for name in names {
        assert!(display_name_ok(name), "{name}");
    }
    assert!(!display_name_ok(&"x".repeat(DISPLAY_NAME_MAX_CHARS + 1)));
    let long_host = format!("{}.example.cn", "p".repeat(CHECKOUT_HOST_MAX_CHARS - 11));
    assert!(checkout_host_ok(&long_host) && !checkout_host_ok(&format!("x{long_host}")));
    let amounts = [money(99_999_999, "CNY"), money(999_999_999, "BHD"), money(999_999, "CNY"), money(1, "CNY")];
    let mut checked = 0;
    for locale in Locale::ALL {
        for name in names {
            for amount in &amounts {
                for host in [None, Some("pay.example.cn"), Some(long_host.as_str())] {
                    let text = code_sms(locale, "123456", name, amount, host);
                    let size = SmsSize::of(&text);
                    assert_eq!(size.segments, 1, "{} {size:?}: {text}", locale.tag());
                    assert!(text.starts_with("123456"), "{text}");
                    assert!(text.contains(&locale.money(amount)), "the whole amount: {text}");
                    let head: String = name.chars().take(NAME_MIN_CHARS).collect();
                    assert!(text.contains(&head), "at least the name's first characters: {text}");
                    if let Some(host) = host {
                        let webotp = text.ends_with(&format!("\n@{host} #123456"));
                        // With a usual host, a short name and an amount up to CN¥9,999.99 the
                        // WebOTP line always fits, in English when the name is Latin (a Chinese
                        // name makes an English SMS UCS-2: 70 units; beside the largest amounts
                        // it may not).
                        let usual = amount.currency.code() == "CNY" && amount.minor <= 999_999;
                        let fits = locale == Locale::ZhCn || name.is_ascii();
                        if host == "pay.example.cn" && name.chars().count() <= 8 && usual && fits {
                            assert!(webotp, "{text}");
                        }
                    } else {
                        assert!(!text.contains('@'), "{text}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * 6 * 4 * 3);
    // A name that fits is shown whole; one that does not is cut with an ellipsis.
    let zh = code_sms(Locale::ZhCn, "123456", "莲花茶馆", &money(1999, "CNY"), Some("pay.example.cn"));
    assert_eq!(zh, "123456是向莲花茶馆支付¥19.99的验证码，5分钟内有效，请勿泄露。\n@pay.example.cn #123456");
    let en = code_sms(Locale::En, "123456", &long_latin, &money(1999, "CNY"), Some("pay.example.cn"));
    assert_eq!(SmsSize::of(&en).encoding, SmsEncoding::Gsm7, "{en}");
    let cut = code_sms(Locale::ZhCn, "123456", &long_chinese, &money(99_999_999, "CNY"), None);
    assert!(cut.contains('…') && SmsSize::of(&cut).segments == 1, "{cut}");
}

#[test]
fn line_items_must_add_up_to_the_amount() {
    let m = money(1999, "CNY");
    let item = |name: &str, q: i64, a: i64| (name.to_owned(), q, a);
    let ok = OrderSummary::new(Some("Tea"), &[item("Oolong", 2, 1500), item("Pot", 1, 499)], &m).unwrap();
    assert_eq!(ok.line_items.len(), 2);
    let refused = |d: Option<&str>, items: &[(String, i64, i64)]| OrderSummary::new(d, items, &m).unwrap_err();
    let e = refused(None, &[item("Oolong", 1, 1500)]);
    assert_eq!((e.code, e.param.as_str()), ("line_items_total_mismatch", "line_items"));
    let e = refused(None, &vec![item("x", 1, 0); 21]);
    assert_eq!(e.code, "too_many_line_items");
    assert_eq!(refused(None, &[item("x", 0, 1999)]).param, "line_items[0].quantity");
    assert_eq!(refused(None, &[item("x", 1, -1)]).param, "line_items[0].amount");
    assert_eq!(refused(None, &[item(" ", 1, 1999)]).param, "line_items[0].name");
    assert_eq!(refused(None, &[item(&"x".repeat(101), 1, 1999)]).param, "line_items[0].name");
    assert_eq!(refused(Some(&"d".repeat(501)), &[]).param, "description");
    assert_eq!(refused(Some("a\u{7}b"), &[]).param, "description");
    assert!(OrderSummary::new(None, &[], &m).unwrap().line_items.is_empty(), "none is fine");
}

/// One document per language: its `lang`, its words, the same script (the CSP's hash holds
/// for both), the messages as data; under 20 KB on the wire.
#[tokio::test]
async fn the_page_is_one_document_per_language_under_its_csp() {
    let (stack, _) = common::memory_stack();
    let get = |query: &str, language: Option<&str>| {
        let mut b = http::Request::get(format!("/checkout/cs_01jfmv2xkq3x8z4b6n7m9p0r2s{query}"))
            .header("accept-encoding", "gzip");
        if let Some(l) = language {
            b = b.header("accept-language", l);
        }
        shared::http::checkout_page(&stack.services, b.body(Body::Empty).unwrap())
    };
    let lang_of = |html: &str| html.split("<html lang=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let unzip = |bytes: &[u8]| {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).unwrap();
        out
    };
    for (query, language, expected) in [
        ("", None, "en"),
        ("", Some("zh-CN,zh;q=0.9"), "zh-CN"),
        ("?locale=zh-CN", Some("en"), "zh-CN"),
        ("?locale=en", Some("zh-CN"), "en"),
        ("?fallback=zh-CN", Some("fr"), "zh-CN"),
        ("?fallback=zh-CN", Some("en-US"), "en"),
    ] {
        let r = get(query, language).await;
        assert_eq!(r.status(), 200);
        assert!(r.body().len() < 20 * 1024, "{} bytes on the wire", r.body().len());
        assert_eq!(lang_of(&unzip(r.body().as_ref())), expected, "{query} {language:?}");
    }
    let csp = get("", None).await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    for locale in Locale::ALL {
        let page = shared::http::locale_page(locale);
        assert!(!page.html.contains("{{"), "every placeholder filled");
        assert!(page.html.contains(&format!("<title>{}</title>", locale.text("page.title"))));
        let script = page.html.split("<script>").nth(1).unwrap().split("</script>").next().unwrap();
        assert_eq!(script, PAGE_JS, "the same script in every language");
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()));
        assert!(csp.contains(&format!("'sha256-{hash}'")), "the CSP allows it");
        let data = page.html.split("<script type=\"application/json\" id=\"messages\">").nth(1).unwrap();
        let messages: serde_json::Map<String, Value> =
            serde_json::from_str(data.split("</script>").next().unwrap()).unwrap();
        assert_eq!(messages["page.heading.paused"], locale.text("page.heading.paused"));
        assert!(messages.keys().all(|k| k.starts_with("page.")), "only the page's messages");
        let wire = page.gzip.as_ref().unwrap().len();
        assert!(wire < 20 * 1024);
        println!("checkout page {}: {} bytes, {wire} gzipped", locale.tag(), page.html.len());
    }
    let zh = get("?locale=zh-CN", None).await;
    assert!(unzip(zh.body().as_ref()).contains("银行卡信息"));
    let missing = http::Request::get("/checkout/nope").header("accept-language", "zh-CN").body(Body::Empty).unwrap();
    let r = shared::http::checkout_page(&stack.services, missing).await;
    assert_eq!(r.status(), 404);
    assert!(std::str::from_utf8(r.body().as_ref()).unwrap().contains("页面不存在"));
}

async fn create_session(stack: &payments_testkit::MemoryStack, body: Value) -> Value {
    let req = http::Request::post("/checkout/sessions")
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap();
    let r = shared::http::checkout_page(&stack.services, common::as_merchant(req, "shop-1")).await;
    let answer: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!(r.status(), 201, "{answer}");
    answer
}

async fn shopper(
    stack: &payments_testkit::MemoryStack,
    method: &str,
    uri: &str,
    secret: &str,
    language: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut b = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "application/json");
    if let Some(l) = language {
        b = b.header("accept-language", l);
    }
    let req = b.body(body.map_or(Body::Empty, |v| Body::Text(v.to_string()))).unwrap();
    let r = if method == "GET" {
        shared::http::checkout_page(&stack.services, req).await
    } else {
        shared::http::first_payment(&stack.services, req).await
    };
    (r.status().as_u16(), serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null))
}

/// A session's language, from the merchant's request to the shopper's SMS: fixed, `auto` from
/// the browser, `auto` falling back to the merchant's default; the SMS names the merchant as
/// the page does and ends with the WebOTP line.
#[tokio::test]
async fn a_session_speaks_its_language_on_the_page_and_in_the_sms() {
    let (mut stack, _) = common::memory_stack();
    stack.services.settings.merchant_names.insert("shop-1".into(), "莲花茶馆".into());
    stack.services.settings.merchant_locales.insert("shop-1".into(), Locale::ZhCn);
    stack.services.settings.checkout_host = Some("pay.example.cn".into());
    let card = json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"});
    let cases = [
        (json!({"locale": "zh-CN"}), Some("en-US"), Locale::ZhCn, "?locale=zh-CN"),
        (json!({"locale": "en"}), None, Locale::En, "?locale=en"),
        (json!({}), Some("en-GB,en"), Locale::En, "?fallback=zh-CN"),
        (json!({}), Some("fr"), Locale::ZhCn, "?fallback=zh-CN"),
    ];
    for (i, (extra, language, expected, query)) in cases.into_iter().enumerate() {
        let mut body = json!({"user_id": format!("u-l{i}"), "order_id": format!("o-l{i}"), "amount": 1999,
            "currency": "CNY", "return_url": "https://shop.example/orders/1",
            "description": "Tea", "line_items": [{"name": "Oolong", "quantity": 2, "amount": 1999}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let created = create_session(&stack, body).await;
        let (sid, secret) = (created["id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
        assert!(created["url"].as_str().unwrap().contains(&format!("/checkout/{sid}{query}#")), "{created}");
        let (status, state) = shopper(&stack, "GET", &format!("/checkout/{sid}/state"), secret, language, None).await;
        assert_eq!(status, 200, "{state}");
        assert_eq!(state["locale"], expected.tag(), "case {i}");
        assert_eq!(state["amount_display"], expected.money(&money(1999, "CNY")));
        assert_eq!(state["line_items"][0]["amount_display"], state["amount_display"]);
        assert_eq!(state["back_url"], "https://shop.example/", "return_url's origin without a cancel_url");
        assert_eq!(state["merchant_name"], "莲花茶馆");
        let phone = format!("+861380013{i:04}");
        let body = json!({"phone": phone, "card": card});
        let (status, paid) =
            shopper(&stack, "POST", &format!("/checkout/{sid}/payments"), secret, language, Some(body)).await;
        assert_eq!(status, 201, "{paid}");
        let sent = stack.sms.sent();
        let sms = &sent.iter().rev().find(|(to, _)| *to == phone).unwrap().1;
        let code = &sms[..6];
        let expected_sms = match expected {
            Locale::ZhCn => {
                format!("{code}是向莲花茶馆支付¥19.99的验证码，5分钟内有效，请勿泄露。\n@pay.example.cn #{code}")
            }
            // A Chinese name makes the English SMS UCS-2 (70 units): the short message keeps
            // the WebOTP line.
            Locale::En => format!("{code}: pay CN¥19.99 to 莲花茶馆. Never share it.\n@pay.example.cn #{code}"),
        };
        assert_eq!(sms, &expected_sms, "case {i}");
        assert_eq!(SmsSize::of(sms).segments, 1);
        assert_eq!(paid["reference"].as_str().unwrap().len(), 9, "{paid}");
    }
    let mut bad = json!({"user_id": "u-x", "order_id": "o-x", "amount": 1999, "currency": "CNY", "locale": "fr"});
    let req = |body: &Value| {
        let r = http::Request::post("/checkout/sessions")
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap();
        shared::http::checkout_page(&stack.services, common::as_merchant(r, "shop-1"))
    };
    let r = req(&bad).await;
    let answer: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!((r.status().as_u16(), answer["code"].as_str()), (422, Some("invalid_locale")), "{answer}");
    bad["locale"] = json!("auto");
    bad["cancel_url"] = json!("javascript:alert(1)");
    let answer: Value = serde_json::from_slice(req(&bad).await.body().as_ref()).unwrap();
    assert_eq!(answer["param"], "cancel_url", "{answer}");
    // The way back obeys the merchant's allowed origins, as return_url does.
    bad["cancel_url"] = json!("https://elsewhere.example/cart");
    bad["return_url"] = json!("https://shop.example/orders/1");
    let mut stack = stack;
    stack.services.settings.return_url_origins.insert("shop-1".into(), vec!["https://shop.example".into()]);
    let r = http::Request::post("/checkout/sessions")
        .header("content-type", "application/json")
        .body(Body::Text(bad.to_string()))
        .unwrap();
    let r = shared::http::checkout_page(&stack.services, common::as_merchant(r, "shop-1")).await;
    let answer: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!(
        (answer["code"].as_str(), answer["param"].as_str()),
        (Some("invalid_return_url"), Some("cancel_url")),
        "{answer}"
    );
}

/// A merchant's server's payment speaks the language it names, else the merchant's default.
#[tokio::test]
async fn a_merchants_payment_speaks_its_locale_else_the_merchants_default() {
    let (mut stack, _) = common::memory_stack();
    stack.services.settings.merchant_locales.insert("shop-1".into(), Locale::ZhCn);
    let pay = |i: u32, locale: Option<&str>| {
        let mut body = json!({"user_id": format!("u-m{i}"), "phone": format!("+86138001300{i:02}"),
            "merchant_id": "shop-1", "order_id": format!("o-m{i}"), "amount": 1999, "currency": "CNY",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
        if let Some(l) = locale {
            body["locale"] = json!(l);
        }
        let req = http::Request::post("/payments")
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap();
        shared::http::first_payment(&stack.services, common::as_merchant(req, "shop-1"))
    };
    for (i, locale, chinese) in [(1, None, true), (2, Some("en"), false), (3, Some("zh-CN"), true)] {
        let r = pay(i, locale).await;
        assert_eq!(r.status(), 201, "{:?}", r.body());
        let sent = stack.sms.sent();
        let sms = &sent.last().unwrap().1;
        assert_eq!(sms.contains("验证码"), chinese, "{locale:?}: {sms}");
    }
    let r = pay(4, Some("fr")).await;
    let answer: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!((r.status().as_u16(), answer["param"].as_str()), (422, Some("locale")), "{answer}");
}
