//! Issue 24's parts that decide alone: the Standard Webhooks v1 signature (the specification's
//! own test vector), its verifier (replays refused past five minutes, rotation's two signatures),
//! and the endpoint address rules (the SSRF list in IPv4, IPv6, decimal and hex host forms).
//! Nothing here opens a connection.

use std::net::IpAddr;

use shared::webhooks::*;

/// The specification's test vector (standard-webhooks, recomputed here).
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const TIMESTAMP: i64 = 1_649_367_553;
const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

#[test]
fn the_specifications_test_vector_signs_and_verifies() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    assert_eq!(sign(&[&secret], ID, TIMESTAMP, BODY.as_bytes()), SignatureHeader(SIGNATURE.into()));
    assert_eq!(verify(&secret, ID, &TIMESTAMP.to_string(), BODY.as_bytes(), SIGNATURE, TIMESTAMP), Ok(()));
    assert_eq!(secret.expose(), SECRET, "shown as it was given");
    assert_eq!(format!("{secret:?}"), "WebhookSecret(whsec_…)", "never in a log");
}

#[test]
fn a_replayed_or_altered_delivery_is_refused() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let ts = TIMESTAMP.to_string();
    let check = |body: &str, header: &str, now: i64| verify(&secret, ID, &ts, body.as_bytes(), header, now);
    assert_eq!(check(BODY, SIGNATURE, TIMESTAMP + 300), Ok(()));
    assert_eq!(check(BODY, SIGNATURE, TIMESTAMP + 301), Err(SignatureRefusal::TimestampOutOfTolerance));
    assert_eq!(check(BODY, SIGNATURE, TIMESTAMP - 301), Err(SignatureRefusal::TimestampOutOfTolerance));
    assert_eq!(
        check(&BODY.replace("test_user", "root"), SIGNATURE, TIMESTAMP),
        Err(SignatureRefusal::NoMatchingSignature)
    );
    assert_eq!(
        check(BODY, "v2,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=", TIMESTAMP),
        Err(SignatureRefusal::NoMatchingSignature)
    );
    let other_id = verify(&secret, "msg_other", &ts, BODY.as_bytes(), SIGNATURE, TIMESTAMP);
    assert_eq!(other_id, Err(SignatureRefusal::NoMatchingSignature));
    assert_eq!(verify(&secret, ID, "soon", BODY.as_bytes(), SIGNATURE, TIMESTAMP), Err(SignatureRefusal::BadTimestamp));
}

#[test]
fn during_a_rotation_both_secrets_sign_and_either_verifies() {
    let (old, new) = (WebhookSecret::parse(SECRET).unwrap(), WebhookSecret::generate());
    assert_ne!(old, new);
    assert!(new.expose().starts_with("whsec_") && WebhookSecret::parse(&new.expose()) == Some(new.clone()));
    let header = sign(&[&new, &old], ID, TIMESTAMP, BODY.as_bytes());
    assert_eq!(header.0.split(' ').count(), 2, "{header:?}");
    let ts = TIMESTAMP.to_string();
    for secret in [&old, &new] {
        assert_eq!(verify(secret, ID, &ts, BODY.as_bytes(), &header.0, TIMESTAMP), Ok(()));
    }
    let stranger = WebhookSecret::generate();
    assert_eq!(
        verify(&stranger, ID, &ts, BODY.as_bytes(), &header.0, TIMESTAMP),
        Err(SignatureRefusal::NoMatchingSignature)
    );
}

#[test]
fn the_address_rules_refuse_the_platforms_own_networks() {
    use AddressRefusal as R;
    let refused = [
        ("127.0.0.1", R::Loopback),
        ("127.255.0.9", R::Loopback),
        ("10.1.2.3", R::Private),
        ("172.16.0.1", R::Private),
        ("172.31.255.255", R::Private),
        ("192.168.1.1", R::Private),
        ("169.254.1.1", R::LinkLocal),
        ("169.254.169.254", R::Metadata),
        ("169.254.170.2", R::Metadata),
        ("100.64.0.1", R::SharedAddressSpace),
        ("100.127.255.254", R::SharedAddressSpace),
        ("224.0.0.1", R::Multicast),
        ("239.255.255.250", R::Multicast),
        ("0.0.0.0", R::Unspecified),
        ("0.1.2.3", R::Unspecified),
        ("255.255.255.255", R::Broadcast),
        ("240.0.0.1", R::Multicast),
        ("::1", R::Loopback),
        ("::", R::Unspecified),
        ("fe80::1", R::LinkLocal),
        ("fc00::1", R::UniqueLocal),
        ("fd12:3456::1", R::UniqueLocal),
        ("fd00:ec2::254", R::Metadata),
        ("ff02::1", R::Multicast),
        ("::ffff:127.0.0.1", R::Loopback),
        ("::ffff:169.254.169.254", R::Metadata),
        ("::ffff:10.0.0.1", R::Private),
        ("::10.0.0.1", R::Private),
    ];
    for (ip, why) in refused {
        assert_eq!(check_address(ip.parse::<IpAddr>().unwrap()), Err(why), "{ip}");
    }
    for ip in
        ["93.184.216.34", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700::6810:85e5", "::ffff:93.184.216.34"]
    {
        assert_eq!(check_address(ip.parse::<IpAddr>().unwrap()), Ok(()), "{ip}");
    }
}

#[test]
fn endpoint_urls_are_read_as_a_browser_reads_them_and_checked() {
    use AddressRefusal as R;
    let refused = [
        ("https://127.0.0.1/hook", UrlRefusal::Address(R::Loopback)),
        // Decimal, hex, octal and short IPv4 forms of loopback and the metadata address.
        ("https://2130706433/hook", UrlRefusal::Address(R::Loopback)),
        ("https://0x7f000001/hook", UrlRefusal::Address(R::Loopback)),
        ("https://0x7f.0.0.1/hook", UrlRefusal::Address(R::Loopback)),
        ("https://0177.0.0.1/hook", UrlRefusal::Address(R::Loopback)),
        ("https://127.1/hook", UrlRefusal::Address(R::Loopback)),
        ("https://2852039166/latest/meta-data", UrlRefusal::Address(R::Metadata)),
        ("https://0xa9fea9fe/", UrlRefusal::Address(R::Metadata)),
        ("https://[::1]/hook", UrlRefusal::Address(R::Loopback)),
        ("https://[::ffff:7f00:1]/hook", UrlRefusal::Address(R::Loopback)),
        ("https://[fd00:ec2::254]/", UrlRefusal::Address(R::Metadata)),
        ("https://localhost/hook", UrlRefusal::Address(R::Loopback)),
        ("https://api.localhost/hook", UrlRefusal::Address(R::Loopback)),
        ("http://shop.example/hook", UrlRefusal::Scheme),
        ("ftp://shop.example/hook", UrlRefusal::Scheme),
        ("https://user:pass@shop.example/hook", UrlRefusal::Credentials),
        ("not a url", UrlRefusal::Invalid),
    ];
    for (url, why) in refused {
        assert_eq!(check_endpoint_url(url, false), Err(why), "{url}");
    }
    let ok = check_endpoint_url("https://shop.example/hooks/payments", false).unwrap();
    assert_eq!(ok.domain(), Some("shop.example"), "a name is resolved and checked at each delivery");
    // Locally, the loopback receiver over plain HTTP, and nothing else on loopback.
    assert!(check_endpoint_url("http://127.0.0.1:9123/hook", true).is_ok());
    assert_eq!(check_endpoint_url("http://127.0.0.1:9123/hook", false), Err(UrlRefusal::Scheme));
    assert_eq!(check_endpoint_url("http://10.0.0.1/hook", true), Err(UrlRefusal::Scheme));
    assert_eq!(check_endpoint_url("https://127.0.0.2/hook", true), Err(UrlRefusal::Address(R::Loopback)));
}

mod events {
    //! Which events a change emits, from the payment before and after it.

    use shared::domain::*;
    use shared::webhooks::{payment_events, session_events, EventType};

    use crate::domain::pending_payment;

    fn kinds(before: Option<&Payment>, after: &Payment) -> Vec<EventType> {
        payment_events(before, after).into_iter().map(|e| e.kind).collect()
    }

    fn moved(p: &Payment, status: PaymentStatus) -> Payment {
        Payment { status, version: p.version + 1, ..p.clone() }
    }

    #[test]
    fn each_status_a_merchant_acts_on_emits_its_event_once() {
        let pending = pending_payment(1_000_000);
        assert!(kinds(None, &pending).is_empty(), "a new payment awaiting its code emits nothing");
        let capturing = moved(&pending, PaymentStatus::Capturing);
        assert!(kinds(Some(&pending), &capturing).is_empty());
        let paid = moved(&capturing, PaymentStatus::Succeeded);
        assert_eq!(kinds(Some(&capturing), &paid), vec![EventType::PaymentSucceeded]);
        assert!(kinds(Some(&paid), &paid).is_empty(), "no change, no event");
        for (status, kind) in [
            (PaymentStatus::Canceled, EventType::PaymentCanceled),
            (PaymentStatus::Expired, EventType::PaymentExpired),
            (PaymentStatus::Failed, EventType::PaymentFailed),
        ] {
            assert_eq!(kinds(Some(&pending), &moved(&pending, status)), vec![kind]);
        }
        let locked = Payment { failure: Some(Failure::PayerLocked), ..moved(&pending, PaymentStatus::Failed) };
        assert_eq!(kinds(Some(&pending), &locked), vec![EventType::PaymentFailed, EventType::PayerLocked]);
        // The same change seen twice (a stream record delivered again): the same ids.
        assert_eq!(payment_events(Some(&capturing), &paid), payment_events(Some(&capturing), &paid));
        let ids: Vec<_> = payment_events(Some(&pending), &locked).into_iter().map(|e| e.id).collect();
        assert!(ids[0] != ids[1] && ids[0].as_str().starts_with("evt_"), "{ids:?}");
    }

    #[test]
    fn a_session_completes_once_when_its_payment_holds_or_takes_the_funds() {
        let mut pending = pending_payment(1_000_000);
        pending.session_id = Some(SessionId::new());
        let paid = moved(&moved(&pending, PaymentStatus::Capturing), PaymentStatus::Succeeded);
        assert_eq!(
            kinds(Some(&moved(&pending, PaymentStatus::Capturing)), &paid),
            vec![EventType::PaymentSucceeded, EventType::CheckoutSessionCompleted]
        );
        // Manual capture: complete when held, not again when captured.
        let held = Payment { capture_before: Some(2_000_000), ..moved(&pending, PaymentStatus::RequiresCapture) };
        assert_eq!(
            kinds(Some(&pending), &held),
            vec![EventType::PaymentRequiresCapture, EventType::CheckoutSessionCompleted]
        );
        let capturing = moved(&held, PaymentStatus::Capturing);
        assert_eq!(
            kinds(Some(&capturing), &moved(&capturing, PaymentStatus::Succeeded)),
            vec![EventType::PaymentSucceeded]
        );
    }

    #[test]
    fn a_refund_emits_when_it_ends_not_while_pending() {
        let paid = moved(&pending_payment(1_000_000), PaymentStatus::Succeeded);
        let id = RefundId::for_payment(&paid.id, None);
        let mut refunding = paid.clone();
        refunding.refunds.push(Refund::pending(id.clone(), 100, None, RefundMetadata::default(), 1_000_010));
        assert!(kinds(Some(&paid), &refunding).is_empty());
        let mut refunded = refunding.clone();
        refunded
            .execute(Command::SettleRefund { id: id.clone(), outcome: RefundSettlement::Succeeded }, 1_000_020)
            .unwrap();
        let events = payment_events(Some(&refunding), &refunded);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].kind, events[0].refund.as_ref()), (EventType::RefundSucceeded, Some(&id)));
        let mut failed = refunding.clone();
        let outcome = RefundSettlement::Failed(RefundFailure::Declined);
        failed.execute(Command::SettleRefund { id, outcome }, 1_000_020).unwrap();
        assert_eq!(kinds(Some(&refunding), &failed), vec![EventType::RefundFailed]);
    }

    #[test]
    fn every_event_type_keeps_its_wire_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::PaymentRequiresCapture.as_str(), "payment.requires_capture");
    }

    #[test]
    fn a_session_ended_unpaid_expires_once() {
        let p = pending_payment(1_000_000);
        let open = CheckoutSession {
            id: SessionId::new(),
            merchant_id: p.merchant_id.clone(),
            user_id: p.user_id.clone(),
            order_id: p.order_id.clone(),
            money: p.money,
            return_url: None,
            secret_hash: CodeHash { key_id: "k".into(), mac_hex: "00".into() },
            created_at: 1_000_000,
            expires_at: 1_001_800,
            ended_at: None,
            payment_id: None,
            capture_method: CaptureMethod::Automatic,
            locale: Default::default(),
            cancel_url: None,
            summary: Default::default(),
            version: 1,
        };
        let ended = CheckoutSession { ended_at: Some(1_000_100), version: 2, ..open.clone() };
        let kinds = |before: Option<&CheckoutSession>, after: &CheckoutSession| {
            session_events(before, after).into_iter().map(|e| e.kind).collect::<Vec<_>>()
        };
        assert_eq!(kinds(Some(&open), &ended), vec![EventType::CheckoutSessionExpired]);
        assert!(kinds(Some(&ended), &ended).is_empty(), "once");
        assert!(kinds(Some(&open), &CheckoutSession { version: 2, ..open.clone() }).is_empty(), "paid: not ended");
        assert!(kinds(None, &open).is_empty());
    }
}

mod delivery {
    //! When a delivery is tried again.

    use shared::webhooks::delivery::{DISABLE_AFTER_SECS, JITTER};
    use shared::webhooks::{next_attempt, retry_after_secs, Attempted, Next, RETRY_DELAYS_SECS};

    const T: i64 = 1_700_000_000;

    fn failed(status: u16) -> Attempted {
        Attempted::Failed { status: Some(status), retry_after_secs: None }
    }

    #[test]
    fn failures_follow_the_schedule_then_give_up() {
        let waits: Vec<i64> = (1..=7)
            .map(|n| match next_attempt(n, failed(500), T, Some(T), 0.0) {
                Next::RetryAt(at) => at - T,
                other => panic!("attempt {n}: {other:?}"),
            })
            .collect();
        assert_eq!(waits, vec![5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]);
        assert_eq!(next_attempt(8, failed(500), T, Some(T), 0.0), Next::GiveUp);
        assert_eq!(next_attempt(1, Attempted::Delivered, T, Some(T), 0.0), Next::Done);
        let timeout = Attempted::Failed { status: None, retry_after_secs: None };
        assert_eq!(next_attempt(1, timeout, T, None, 0.0), Next::RetryAt(T + 5));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for (n, wait) in RETRY_DELAYS_SECS.iter().enumerate() {
            for draw in [-1.0, -0.5, 0.5, 1.0, 7.0] {
                let Next::RetryAt(at) = next_attempt(n + 1, failed(502), T, Some(T), draw) else { panic!() };
                let bound = (*wait as f64 * JITTER).round() as i64;
                assert!((at - T - wait).abs() <= bound, "attempt {}: {} vs {wait}", n + 1, at - T);
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_gone_disables_and_five_days_of_failures_disable() {
        let busy = Attempted::Failed { status: Some(429), retry_after_secs: Some(120) };
        assert_eq!(next_attempt(1, busy, T, Some(T), 0.0), Next::RetryAt(T + 120));
        let down = Attempted::Failed { status: Some(503), retry_after_secs: Some(2) };
        assert_eq!(next_attempt(2, down, T, Some(T), 0.0), Next::RetryAt(T + 300), "never sooner than the schedule");
        let ignored = Attempted::Failed { status: Some(500), retry_after_secs: Some(9_999) };
        assert_eq!(next_attempt(1, ignored, T, Some(T), 0.0), Next::RetryAt(T + 5), "only on 429 and 503");
        assert_eq!(next_attempt(1, failed(410), T, None, 0.0), Next::DisableEndpoint);
        let since = T - DISABLE_AFTER_SECS;
        assert_eq!(next_attempt(3, failed(500), T, Some(since), 0.0), Next::DisableEndpoint);
        assert_eq!(next_attempt(3, failed(500), T, Some(since + 1), 0.0), Next::RetryAt(T + 1_800));
        assert_eq!(retry_after_secs(Some(" 120 ")), Some(120));
        assert_eq!(retry_after_secs(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(retry_after_secs(None), None);
    }
}

#[test]
fn a_rotated_out_secret_signs_beside_the_new_one_for_24_hours_then_stops() {
    use shared::webhooks::{Endpoint, SealedSecret, Subscribed, ROTATION_OVERLAP_SECS};
    let mut e = Endpoint {
        id: shared::domain::EndpointId::new(),
        url: "https://hooks.example/".into(),
        events: Subscribed::All,
        description: None,
        disabled: None,
        secrets: vec![SealedSecret { sealed: "first".into(), expires_at: None }],
        created_at: 1_000,
        failing_since: None,
    };
    let now = 2_000;
    e.rotate("second".into(), now);
    let live = |e: &Endpoint, at: i64| e.live_secrets(at).map(|s| s.sealed.clone()).collect::<Vec<_>>();
    assert_eq!(live(&e, now), ["second", "first"]);
    assert_eq!(live(&e, now + ROTATION_OVERLAP_SECS - 1), ["second", "first"]);
    assert_eq!(live(&e, now + ROTATION_OVERLAP_SECS), ["second"]);
    assert_eq!(ROTATION_OVERLAP_SECS, 24 * 3600);
    // A second rotation within the day: the first keeps its deadline, the second gets a day.
    e.rotate("third".into(), now + 100);
    assert_eq!(live(&e, now + ROTATION_OVERLAP_SECS - 1), ["third", "second", "first"]);
    assert_eq!(live(&e, now + ROTATION_OVERLAP_SECS + 50), ["third", "second"]);
    assert_eq!(live(&e, now + 100 + ROTATION_OVERLAP_SECS), ["third"]);
    // An expired one is dropped at the next rotation.
    e.rotate("fourth".into(), now + 3 * ROTATION_OVERLAP_SECS);
    assert_eq!(e.secrets.len(), 2);
}

#[test]
fn the_readmes_verifier_passes_the_specifications_vector_and_refuses_301_seconds_off() {
    // The verifier README shows and `make webhooks-listen` runs (Python, standard library only).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("python3")
        .arg(root.join("scripts/webhooks_listen.py"))
        .arg("--check")
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
