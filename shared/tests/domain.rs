//! Unit tests of the pure domain and the keyed cryptography.

use shared::domain::*;
use shared::secrets::{CardVault, CodeContext, CodeHasher, Keyring};

const KEY_A: &str = "a:ZGV2LW9ubHktY29kZS1oYXNoLWtleS1ub3QtcHJvZCE=";
const KEY_B: &str = "b:ZGV2LW9ubHktY2FyZC1lbmNyeXB0aW9uLWtleS0hISE=";

fn id(s: &str) -> Identifier {
    Identifier::parse("x", s).unwrap()
}

fn cny(minor: i64) -> Money {
    Money::new("amount", minor, Currency::parse("currency", "CNY").unwrap()).unwrap()
}

#[test]
fn luhn_accepts_valid_and_rejects_invalid_numbers() {
    for ok in ["4242424242424242", "4000000000000002", "5555555555554444", "378282246310005", "4242 4242 4242 4242"] {
        assert!(CardNumber::parse("card.number", ok).is_ok(), "{ok}");
    }
    for bad in ["4242424242424241", "", "4242", "42424242424242424242", "4242x42424242424", "0000000000000001"] {
        let err = CardNumber::parse("card.number", bad).unwrap_err();
        assert_eq!((err.code, err.param.as_str()), ("invalid_card_number", "card.number"), "{bad}");
    }
}

#[test]
fn card_brand_and_last4() {
    let brand = |n: &str| CardNumber::parse("n", n).unwrap().brand();
    assert_eq!(brand("4242424242424242"), CardBrand::Visa);
    assert_eq!(brand("5555555555554444"), CardBrand::Mastercard);
    assert_eq!(brand("2223003122003222"), CardBrand::Mastercard);
    assert_eq!(brand("378282246310005"), CardBrand::Amex);
    assert_eq!(brand("6011111111111117"), CardBrand::Discover);
    assert_eq!(brand("3566002020360505"), CardBrand::Jcb);
    assert_eq!(brand("6200000000000005"), CardBrand::Unionpay);
    assert_eq!(CardNumber::parse("n", "4242424242424242").unwrap().last4(), "4242");
}

#[test]
fn card_number_never_prints() {
    let card = CardNumber::parse("n", "4242424242424242").unwrap();
    assert_eq!(format!("{card}"), "•••• 4242");
    assert!(!format!("{card:?}").contains("424242424242"));
    let cvc = Cvc::parse("card.cvc", "737").unwrap();
    assert!(!format!("{cvc:?}").contains("737"));
}

#[test]
fn cvc_is_three_or_four_digits() {
    assert!(Cvc::parse("card.cvc", "123").is_ok());
    assert!(Cvc::parse("card.cvc", "1234").is_ok());
    for bad in ["12", "12345", "12a", ""] {
        assert_eq!(Cvc::parse("card.cvc", bad).unwrap_err().code, "invalid_cvc");
    }
}

#[test]
fn expiry_is_valid_through_its_month() {
    let today = (2026, 11);
    assert!(Expiry::parse("card", 11, 2026, today).is_ok());
    assert!(Expiry::parse("card", 1, 2027, today).is_ok());
    let expired = Expiry::parse("card", 10, 2026, today).unwrap_err();
    assert_eq!((expired.code, expired.param.as_str()), ("card_expired", "card.exp_year"));
    assert_eq!(Expiry::parse("card", 13, 2030, today).unwrap_err().param, "card.exp_month");
    assert_eq!(Expiry::parse("card", 0, 2030, today).unwrap_err().param, "card.exp_month");
    assert_eq!(Expiry::parse("card", 12, 30, today).unwrap_err().param, "card.exp_year");
    assert_eq!(year_month(1_795_000_000), (2026, 11));
}

#[test]
fn phone_is_validated_and_masked() {
    let phone = Phone::parse("phone", "+8613800138000").unwrap();
    assert_eq!(phone.masked(), "+86*******8000");
    assert_eq!(format!("{phone}"), "+86*******8000");
    assert!(!format!("{phone:?}").contains("13800138000"));
    assert_eq!(Phone::parse("phone", "+14155552671").unwrap().masked(), "+1******2671");
    for bad in ["13800138000", "+86123", "+8613800138000123", "+86 138 0013 8000", "", "+"] {
        let err = Phone::parse("phone", bad).unwrap_err();
        assert_eq!((err.code, err.param.as_str()), ("invalid_phone", "phone"), "{bad}");
    }
}

#[test]
fn stored_phones_come_back_by_their_country_code() {
    let phone = Phone::parse("phone", "+14155552671").unwrap();
    assert_eq!(phone.country_code(), 1);
    assert_eq!(Phone::from_stored("+14155552671", Some(1)).unwrap(), phone);
    // No code (items written before it was stored), or one the number does not start with
    // (a saved card bound to an older phone): the number is parsed, and the parse decides.
    assert_eq!(Phone::from_stored("+14155552671", None).unwrap(), phone);
    assert_eq!(Phone::from_stored("+14155552671", Some(86)).unwrap(), phone);
    assert_eq!(Phone::from_stored("+8613800138000", Some(1)).unwrap().masked(), "+86*******8000");
    for (bad, cc) in [("+86123", None), ("+86", Some(86)), ("8613800138000", Some(86)), ("+86x3800138000", Some(86))] {
        assert!(Phone::from_stored(bad, cc).is_err(), "{bad}");
    }
}

#[test]
fn currency_and_amount_rules() {
    assert_eq!(Currency::parse("currency", "JPY").unwrap().exponent(), 0);
    assert_eq!(Currency::parse("currency", "BHD").unwrap().exponent(), 3);
    for bad in ["cny", "ZZZ", "CN", "XAU", ""] {
        assert_eq!(Currency::parse("currency", bad).unwrap_err().code, "invalid_currency", "{bad}");
    }
    let c = Currency::parse("currency", "CNY").unwrap();
    assert!(Money::new("amount", 1, c).is_ok());
    assert!(Money::new("amount", 99_999_999, c).is_ok());
    for bad in [0, -1, 100_000_000] {
        assert_eq!(Money::new("amount", bad, c).unwrap_err().code, "invalid_amount");
    }
}

#[test]
fn money_formats_with_the_currency_decimals() {
    let fmt = |minor, code| Money::new("a", minor, Currency::parse("c", code).unwrap()).unwrap().to_string();
    assert_eq!(fmt(1999, "CNY"), "CNY 19.99");
    assert_eq!(fmt(5, "EUR"), "EUR 0.05");
    assert_eq!(fmt(1999, "JPY"), "JPY 1999");
    assert_eq!(fmt(1999, "BHD"), "BHD 1.999");
}

#[test]
fn identifiers_and_minted_ids() {
    assert!(Identifier::parse("user_id", "u-42.a:b_C").is_ok());
    for bad in ["", "has space", "é", &"x".repeat(65)] {
        let err = Identifier::parse("user_id", bad).unwrap_err();
        assert_eq!((err.code, err.param.as_str()), ("invalid_identifier", "user_id"));
    }
    let pid = PaymentId::new();
    assert!(pid.as_str().starts_with("pay_"));
    assert_eq!(PaymentId::parse(pid.as_str()), Some(pid));
    assert_eq!(PaymentId::parse("pay_"), None);
    assert_eq!(PaymentId::parse("pm_abc"), None);
    assert_eq!(PaymentId::parse("pay_../x"), None);
}

#[test]
fn codes_are_six_digits_and_never_print() {
    for _ in 0..200 {
        let code = VerificationCode::generate();
        assert_eq!(code.expose().len(), 6);
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        assert!(!format!("{code:?}").contains(code.expose()));
    }
    assert_eq!(VerificationCode::parse("code", "12345").unwrap_err().code, "invalid_code");
    assert_eq!(VerificationCode::parse("code", "12345a").unwrap_err().code, "invalid_code");
}

fn hasher() -> CodeHasher {
    CodeHasher::new(&Keyring::parse("k", KEY_A).unwrap()).unwrap()
}

#[test]
fn code_hash_is_bound_to_payment_amount_currency_merchant_and_send() {
    let h = hasher();
    let (pid, other_pid) = (PaymentId::new(), PaymentId::new());
    let (money, merchant) = (cny(1999), id("shop-1"));
    let code = VerificationCode::parse("code", "123456").unwrap();
    let ctx = |p: &'static str| -> (PaymentId, Money, Identifier, u8) {
        match p {
            "payment" => (other_pid.clone(), money, merchant.clone(), 1),
            "amount" => (pid.clone(), cny(2000), merchant.clone(), 1),
            "currency" => {
                (pid.clone(), Money::new("a", 1999, Currency::parse("c", "EUR").unwrap()).unwrap(), merchant.clone(), 1)
            }
            "merchant" => (pid.clone(), money, id("shop-2"), 1),
            "send" => (pid.clone(), money, merchant.clone(), 2),
            _ => (pid.clone(), money, merchant.clone(), 1),
        }
    };
    let stored = {
        let (p, m, mer, s) = ctx("same");
        h.hash(&CodeContext { payment_id: &p, money: &m, merchant_id: &mer, send_seq: s }, &code)
    };
    assert!(!stored.mac_hex.contains("123456"));
    for (case, expected) in [
        ("same", true),
        ("payment", false),
        ("amount", false),
        ("currency", false),
        ("merchant", false),
        ("send", false),
    ] {
        let (p, m, mer, s) = ctx(case);
        let c = CodeContext { payment_id: &p, money: &m, merchant_id: &mer, send_seq: s };
        assert_eq!(h.matches(&c, &code, &stored), expected, "{case}");
    }
    let (p, m, mer, s) = ctx("same");
    let c = CodeContext { payment_id: &p, money: &m, merchant_id: &mer, send_seq: s };
    assert!(!h.matches(&c, &VerificationCode::parse("code", "123457").unwrap(), &stored));
}

#[test]
fn rotated_code_keys_still_verify_old_hashes() {
    let old = CodeHasher::new(&Keyring::parse("k", KEY_A).unwrap()).unwrap();
    let rotated = CodeHasher::new(&Keyring::parse("k", &format!("{KEY_B},{KEY_A}")).unwrap()).unwrap();
    let removed = CodeHasher::new(&Keyring::parse("k", KEY_B).unwrap()).unwrap();
    let (pid, money, merchant) = (PaymentId::new(), cny(100), id("m"));
    let ctx = CodeContext { payment_id: &pid, money: &money, merchant_id: &merchant, send_seq: 1 };
    let code = VerificationCode::generate();
    let stored = old.hash(&ctx, &code);
    assert_eq!(stored.key_id, "a");
    assert!(rotated.matches(&ctx, &code, &stored));
    assert!(!removed.matches(&ctx, &code, &stored));
    assert_eq!(rotated.hash(&ctx, &code).key_id, "b");
}

fn customer(merchant: &str, user: &str) -> Customer {
    Customer { merchant_id: id(merchant), user_id: id(user) }
}

#[test]
fn card_vault_round_trips_and_binds_to_the_customer() {
    let vault = CardVault::new(&Keyring::parse("k", KEY_B).unwrap());
    let card = CardNumber::parse("n", "4242424242424242").unwrap();
    let mine = customer("shop-1", "u-1");
    let sealed = vault.seal(&mine, &card).unwrap();
    assert!(sealed.starts_with("v1.b."));
    assert!(!sealed.contains("4242424242424242"));
    assert_ne!(sealed, vault.seal(&mine, &card).unwrap(), "fresh nonce each time");
    assert_eq!(vault.open(&mine, &sealed).unwrap(), card);
    assert!(vault.open(&customer("shop-1", "u-2"), &sealed).is_err(), "bound to its user");
    assert!(vault.open(&customer("shop-2", "u-1"), &sealed).is_err(), "bound to its merchant");
    assert!(vault.open(&mine, &sealed.replace("v1.b.", "v1.a.")).is_err());
    assert!(vault.open(&mine, "garbage").is_err());
}

#[test]
fn card_fingerprints_differ_per_merchant_and_user() {
    let hasher = CodeHasher::new(&Keyring::parse("k", KEY_A).unwrap()).unwrap();
    let card = CardNumber::parse("n", "4242424242424242").unwrap();
    let at = |m: &str, u: &str| hasher.card_fingerprint(&customer(m, u), &card);
    assert_eq!(at("shop-1", "u-1"), at("shop-1", "u-1"), "the same card is recognised again");
    assert_ne!(at("shop-1", "u-1"), at("shop-2", "u-1"), "another merchant's customer");
    assert_ne!(at("shop-1", "u-1"), at("shop-1", "u-2"), "another user");
    assert!(!at("shop-1", "u-1").contains("4242"));
}

#[test]
fn keyrings_reject_malformed_specs_and_never_print_keys() {
    for bad in ["", "nokey", "a:notbase64!!", "a:c2hvcnQ=", ":ZGV2LW9ubHktY29kZS1oYXNoLWtleS1ub3QtcHJvZCE="] {
        assert!(Keyring::parse("K", bad).is_err(), "{bad}");
    }
    let ring = Keyring::parse("K", KEY_A).unwrap();
    assert!(!format!("{ring:?}").contains("ZGV2"));
}

pub(crate) fn pending_payment(now: i64) -> Payment {
    let card = CardNumber::parse("n", "4242424242424242").unwrap();
    Payment {
        id: PaymentId::new(),
        status: PaymentStatus::RequiresVerification,
        user_id: id("u"),
        merchant_id: id("m"),
        order_id: id("o"),
        money: cny(1999),
        session_id: None,
        locale: shared::domain::Locale::En,
        method: MethodSummary {
            id: MethodId::new(),
            brand: card.brand(),
            last4: card.last4(),
            expiry: Expiry { month: 12, year: 2030 },
        },
        phone: PayerPhone::new(Phone::parse("phone", "+8613800138000").unwrap(), "phone-key".into()),
        phone_origin: PhoneOrigin::Request,
        sealed_card: Some("sealed".into()),
        fingerprint: "fp".into(),
        save_card: true,
        verification: Verification::first(CodeHash { key_id: "a".into(), mac_hex: "00".into() }, now),
        hold: None,
        network_reference: None,
        action: None,
        failure: None,
        capture_method: shared::domain::CaptureMethod::Automatic,
        amount_to_capture: None,
        capture_before: None,
        cancellation_reason: None,
        captured_at: None,
        refunds: Vec::new(),
        created_at: now,
        updated_at: now,
        expires_at: now + PAYMENT_TTL_SECS,
        version: 0,
    }
}

#[test]
fn wrong_codes_count_down_and_the_fifth_fails_the_payment() {
    let now = 1_000_000;
    let mut p = pending_payment(now);
    for left in (1..MAX_ATTEMPTS).rev() {
        assert_eq!(p.check_code(false, now), CodeCheck::Incorrect { attempts_remaining: left });
    }
    assert_eq!(p.check_code(false, now), CodeCheck::LockedOut);
    assert_eq!(p.status, PaymentStatus::Failed);
    assert_eq!(p.failure_code(), Some("too_many_attempts"));
    assert_eq!(p.sealed_card, None, "card data is dropped when a payment ends");
    assert_eq!(p.check_code(true, now), CodeCheck::NotPending);
}

#[test]
fn right_code_is_accepted_then_single_use() {
    let now = 1_000_000;
    let mut p = pending_payment(now);
    assert_eq!(p.check_code(true, now + 10), CodeCheck::Accepted);
    p.execute(Command::StartCapture, now + 10).unwrap();
    p.execute(Command::RecordCapture, now + 10).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.check_code(true, now + 11), CodeCheck::NotPending);
}

#[test]
fn an_authorizing_payment_takes_no_code_yet() {
    let now = 1_000_000;
    let mut p = pending_payment(now);
    p.status = PaymentStatus::Authorizing;
    assert_eq!(p.check_code(true, now + 1), CodeCheck::NotPending);
    assert_eq!(p.check_code(false, now + 1), CodeCheck::NotPending);
    assert_eq!(p.verification.attempts_remaining, MAX_ATTEMPTS, "nothing counted");
    assert_eq!(p.check_resend(now + RESEND_COOLDOWN_SECS), Err(ResendRefusal::NotPending));
    p.status = PaymentStatus::RequiresVerification;
    assert_eq!(p.check_code(true, now + 1), CodeCheck::Accepted);
}

#[test]
fn codes_expire_after_five_minutes_and_resend_renews_them() {
    let now = 1_000_000;
    let mut p = pending_payment(now);
    assert_eq!(p.check_code(true, now + CODE_TTL_SECS), CodeCheck::CodeExpired);
    assert!(p.is_pending());
    p.check_resend(now + CODE_TTL_SECS).unwrap();
    p.execute(
        Command::IssueCode { code_hash: CodeHash { key_id: "a".into(), mac_hex: "01".into() } },
        now + CODE_TTL_SECS,
    )
    .unwrap();
    assert_eq!(p.verification.sends, 2);
    assert_eq!(p.check_code(true, now + CODE_TTL_SECS + 1), CodeCheck::Accepted);
}

#[test]
fn resend_has_a_cooldown_and_a_limit_and_keeps_the_attempt_count() {
    let now = 1_000_000;
    let mut p = pending_payment(now);
    assert_eq!(p.check_resend(now + 10), Err(ResendRefusal::TooSoon { retry_after_secs: RESEND_COOLDOWN_SECS - 10 }));
    assert_eq!(p.check_code(false, now + 1), CodeCheck::Incorrect { attempts_remaining: MAX_ATTEMPTS - 1 });
    let mut t = now;
    while p.verification.sends < MAX_SENDS {
        t += RESEND_COOLDOWN_SECS;
        p.check_resend(t).unwrap();
        p.execute(Command::IssueCode { code_hash: CodeHash { key_id: "a".into(), mac_hex: "02".into() } }, t).unwrap();
    }
    assert_eq!(p.verification.attempts_remaining, MAX_ATTEMPTS - 1, "a resend hands out no fresh guesses");
    assert_eq!(p.check_resend(t + RESEND_COOLDOWN_SECS), Err(ResendRefusal::SendLimitReached));
    // With no sends left, the payment expires with its last code.
    assert_eq!(p.check_code(true, t + CODE_TTL_SECS), CodeCheck::PaymentExpired);
    assert_eq!(p.status, PaymentStatus::Expired);
}

#[test]
fn payments_expire_at_their_deadline() {
    let now = 1_000_000;
    let mut p = pending_payment(now);
    assert_eq!(p.check_resend(now + PAYMENT_TTL_SECS), Err(ResendRefusal::PaymentExpired));
    assert_eq!(p.status, PaymentStatus::Expired);
    assert_eq!(p.check_resend(now + PAYMENT_TTL_SECS), Err(ResendRefusal::NotPending));
}

#[test]
fn declines_fail_the_payment_with_the_reason() {
    let mut p = pending_payment(1);
    // A first payment is declined while it is authorised, before any code.
    p.status = PaymentStatus::Authorizing;
    p.execute(Command::Fail(Failure::Declined(DeclineReason::InsufficientFunds)), 2).unwrap();
    assert_eq!((p.status, p.failure_code()), (PaymentStatus::Failed, Some("insufficient_funds")));
    assert_eq!(PaymentStatus::parse(p.status.as_str()), Some(PaymentStatus::Failed));
}

#[test]
fn codes_go_only_to_mobile_numbers_of_allowed_countries() {
    let any = SmsCountries::Any;
    let check = |raw: &str, countries: &SmsCountries| {
        Phone::parse("phone", raw).unwrap().check_sms_destination("phone", countries).map_err(|e| e.code)
    };
    // Mobiles (China), and a number whose country cannot tell mobile from fixed (US).
    assert_eq!(check("+8613800138000", &any), Ok(()));
    assert_eq!(check("+14155552671", &any), Ok(()));
    assert_eq!(check("+447400123456", &any), Ok(()));
    // The pumping numbers: UK premium rate, an Iridium satellite phone, a Latvian fixed line.
    for pumped in ["+449098790000", "+881612345678", "+37167000000"] {
        assert_eq!(check(pumped, &any), Err("phone_not_mobile"), "{pumped}");
    }
    // A deployment's list, and a merchant's within it.
    let deployment = SmsCountries::parse("cn, HK,GB").unwrap();
    assert_eq!(check("+447400123456", &deployment), Ok(()));
    assert_eq!(check("+14155552671", &deployment), Err("phone_country_not_allowed"));
    let merchant = deployment.and(&SmsCountries::parse("CN,US").unwrap());
    assert_eq!(merchant, SmsCountries::parse("CN").unwrap());
    assert_eq!(check("+447400123456", &merchant), Err("phone_country_not_allowed"));
    assert_eq!(SmsCountries::parse("*"), Ok(SmsCountries::Any));
    assert!(SmsCountries::parse("CHN").is_err());
}
