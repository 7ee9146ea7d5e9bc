//! Use cases over the in-memory adapters: the flows and their rules, fast.

use crate::common::{latest_code, memory_stack, unlimited_attempts};
use payments_testkit::{Away, LedgerAcquirer};
use shared::domain::*;
use shared::ports::{AttemptLimit, AttemptLimits, BusinessEvent};
use shared::usecases::*;
use unkeyed::{first_payment, repeat_payment, verify_code};

/// The keyed use cases as a request without an Idempotency-Key meets them: no inline key, so
/// the answer is the use case's result (a key seen before cannot happen).
mod unkeyed {
    use shared::domain::{Payment, PaymentId, VerificationCode};
    use shared::usecases::{self as uc, Attempt, Caller, Keyed, KeyedResult, Services, UseCaseError};

    fn result(keyed: KeyedResult<Payment>) -> Result<Payment, UseCaseError> {
        match keyed {
            Keyed::Ran(result, _) => result,
            Keyed::Seen(found) => panic!("no key was sent, yet one was seen: {found:?}"),
        }
    }

    pub async fn first_payment(
        svc: &Services,
        cmd: uc::FirstPaymentCommand,
        attempt: Option<&Attempt>,
    ) -> Result<Payment, UseCaseError> {
        result(uc::first_payment(svc, cmd, attempt).await)
    }

    pub async fn repeat_payment(
        svc: &Services,
        cmd: uc::RepeatPaymentCommand,
        attempt: Option<&Attempt>,
    ) -> Result<Payment, UseCaseError> {
        result(uc::repeat_payment(svc, cmd, attempt).await)
    }

    pub async fn verify_code(
        svc: &Services,
        caller: &Caller,
        id: &PaymentId,
        code: &VerificationCode,
        attempt: Option<&Attempt>,
    ) -> Result<Payment, UseCaseError> {
        result(uc::verify_code(svc, caller, id, code, attempt).await)
    }
}

fn ident(s: &str) -> Identifier {
    Identifier::parse("x", s).unwrap()
}

/// The merchant every payment here is for, as its server calls.
fn shop() -> Caller {
    Caller::Merchant(ident("shop-1"))
}

/// A fresh order id: an order is paid once, so every payment of a test has its own.
fn order() -> Identifier {
    static ORDERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    ident(&format!("o-{}", ORDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
}

fn first(user: &str, phone: &str, card: &str, save_card: bool) -> FirstPaymentCommand {
    FirstPaymentCommand {
        user_id: ident(user),
        merchant_id: ident("shop-1"),
        order_id: order(),
        money: Money::new("amount", 1999, Currency::parse("currency", "CNY").unwrap()).unwrap(),
        phone: Phone::parse("phone", phone).unwrap(),
        card: CardNumber::parse("card.number", card).unwrap(),
        expiry: Expiry { month: 12, year: 2030 },
        cvc: Cvc::parse("card.cvc", "123").unwrap(),
        save_card,
        capture_method: shared::domain::CaptureMethod::Automatic,
        source_ip: None,
        locale: None,
    }
}

fn repeat(user: &str, method: Option<MethodId>) -> RepeatPaymentCommand {
    RepeatPaymentCommand {
        user_id: ident(user),
        merchant_id: ident("shop-1"),
        order_id: order(),
        money: Money::new("amount", 500, Currency::parse("currency", "JPY").unwrap()).unwrap(),
        method_id: method,
        capture_method: shared::domain::CaptureMethod::Automatic,
        locale: None,
    }
}

fn code(s: &str) -> VerificationCode {
    VerificationCode::parse("code", s).unwrap()
}

fn wrong(right: &str) -> VerificationCode {
    code(&format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000))
}

const PHONE: &str = "+8613800138000";
const VISA: &str = "4242424242424242";
const MASTERCARD: &str = "5555555555554444";

#[tokio::test]
async fn first_payment_then_repeat_payment_complete_by_code() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    assert_eq!(p.status, PaymentStatus::RequiresVerification);
    assert!(stack.payments.saved_methods().is_empty(), "the card is saved only once the payment succeeds");
    let sms = &stack.sms.sent()[0].1;
    assert!(sms.ends_with(" is your code to pay CN¥19.99 to shop-1. Valid 5 min. Never share it."), "{sms}");

    let done = verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
    assert_eq!(done.sealed_card, None);
    let saved = stack.payments.saved_methods();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].last4.as_str(), saved[0].phone.expose()), ("4242", PHONE));

    let r = repeat_payment(svc, repeat("u-1", None), None).await.unwrap();
    assert_eq!(r.method.id, saved[0].id);
    assert_eq!(stack.sms.sent().len(), 2);
    assert!(stack.sms.sent()[1].1.contains("to pay JPY 500 to shop-1"));
    let done = verify_code(svc, &shop(), &r.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn card_is_not_saved_when_not_asked_or_when_the_payment_fails() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, false), None).await.unwrap();
    verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    let sent = stack.sms.sent().len();
    let err = first_payment(svc, first("u-1", PHONE, "4000000000000002", true), None).await.unwrap_err();
    assert!(matches!(&err, UseCaseError::Declined(p) if p.failure_code() == Some("card_declined")), "{err:?}");
    assert_eq!(stack.sms.sent().len(), sent, "a declined first payment sends no code");
    assert!(stack.payments.saved_methods().is_empty());
    assert!(matches!(repeat_payment(svc, repeat("u-1", None), None).await, Err(UseCaseError::NoSavedMethod)));
}

#[tokio::test]
async fn insufficient_funds_fails_the_payment_at_creation() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let err = first_payment(svc, first("u-1", PHONE, "4000000000009995", true), None).await.unwrap_err();
    let UseCaseError::Declined(failed) = err else { panic!("{err:?}") };
    assert_eq!((failed.status, failed.failure_code()), (PaymentStatus::Failed, Some("insufficient_funds")));
    assert_eq!((failed.sealed_card.as_deref(), failed.hold.as_ref()), (None, None), "nothing kept, nothing held");
    assert!(stack.sms.sent().is_empty());
    assert!(matches!(
        verify_code(svc, &shop(), &failed.id, &code("123456"), None).await,
        Err(UseCaseError::NotPending(_))
    ));
}

#[tokio::test]
async fn a_first_payment_holds_funds_before_its_code_and_captures_after_it() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let hold = p.hold.clone().expect("authorised at creation");
    assert_eq!(hold.state, HoldState::Held);
    assert!(p.network_reference.is_some(), "a stored credential's first authorisation returns its reference");
    let done = verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    assert_eq!((done.status, done.hold.map(|h| h.state)), (PaymentStatus::Succeeded, Some(HoldState::Captured)));
    let saved = stack.payments.saved_methods();
    assert_eq!(saved[0].network_reference, p.network_reference, "kept with the card for later payments");

    // A repeat payment holds nothing until the code; the code authorises (stored credential)
    // and captures.
    let r = repeat_payment(svc, repeat("u-1", None), None).await.unwrap();
    assert_eq!((r.status, r.hold.as_ref()), (PaymentStatus::RequiresVerification, None));
    assert_eq!(r.network_reference, p.network_reference);
    let done = verify_code(svc, &shop(), &r.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    assert_eq!(done.hold.map(|h| h.state), Some(HoldState::Captured));
}

#[tokio::test]
async fn a_capture_that_fails_fails_the_payment_voids_it_and_frees_the_order() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let mut cmd = first("u-1", PHONE, "4000000000000341", true);
    let order_id = cmd.order_id.clone();
    let p = first_payment(svc, cmd, None).await.unwrap();
    let err = verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap_err();
    let UseCaseError::Declined(failed) = err else { panic!("{err:?}") };
    assert_eq!(failed.failure_code(), Some(CAPTURE_FAILED));
    assert_eq!(failed.hold.map(|h| h.state), Some(HoldState::Voided));
    assert!(stack.payments.saved_methods().is_empty(), "a card whose capture failed is not kept");
    // The order was given up: another card pays it.
    cmd = first("u-1", PHONE, VISA, false);
    cmd.order_id = order_id;
    let again = first_payment(svc, cmd, None).await.unwrap();
    let done = verify_code(svc, &shop(), &again.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn five_wrong_codes_in_a_row_across_payments_lock_the_payer_out() {
    let (stack, clock) = unlimited_attempts();
    let svc = &stack.services;
    // Four wrong, then the right one: the count starts again.
    let p = first_payment(svc, first("u-1", PHONE, VISA, false), None).await.unwrap();
    let right = latest_code(&stack, PHONE);
    for _ in 0..4 {
        verify_code(svc, &shop(), &p.id, &wrong(&right), None).await.unwrap_err();
    }
    verify_code(svc, &shop(), &p.id, &code(&right), None).await.unwrap();
    // Then 3 + 2 over two payments: the fifth locks the payer.
    let a = first_payment(svc, first("u-1", PHONE, VISA, false), None).await.unwrap();
    let right_a = latest_code(&stack, PHONE);
    for _ in 0..3 {
        verify_code(svc, &shop(), &a.id, &wrong(&right_a), None).await.unwrap_err();
    }
    let b = first_payment(svc, first("u-1", PHONE, VISA, false), None).await.unwrap();
    let right_b = latest_code(&stack, PHONE);
    verify_code(svc, &shop(), &b.id, &wrong(&right_b), None).await.unwrap_err();
    let err = verify_code(svc, &shop(), &b.id, &wrong(&right_b), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::TooManyFailures { retry_after_secs: PAYER_LOCK_SECS }), "{err:?}");
    // Its pending payments ended and released what they held; the right code no longer helps.
    let err = verify_code(svc, &shop(), &a.id, &code(&right_a), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::TooManyFailures { .. }), "{err:?}");
    let a = payment_status(svc, &shop(), &a.id).await.unwrap();
    assert_eq!((a.status, a.failure_code()), (PaymentStatus::Failed, Some(PAYER_LOCKED)));
    assert_eq!(a.hold.map(|h| h.state), Some(HoldState::Voided));
    // A new payment for the same user is refused. The phone was only named by these first
    // payments, never proven: another user paying with it is not refused (issue 22: nobody
    // locks a victim's phone by naming it in a payment of their own).
    let err = first_payment(svc, first("u-1", "+8613800138009", VISA, false), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::TooManyFailures { .. }), "{err:?}");
    first_payment(svc, first("u-9", PHONE, VISA, false), None).await.unwrap();
    // Another merchant's payer with the same ids is not.
    let mut other = first("u-1", PHONE, VISA, false);
    other.merchant_id = ident("shop-2");
    first_payment(svc, other, None).await.unwrap();
    // An hour later the payer may pay again.
    clock.advance(PAYER_LOCK_SECS);
    let c = first_payment(svc, first("u-1", PHONE, VISA, false), None).await.unwrap();
    verify_code(svc, &shop(), &c.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
}

#[tokio::test]
async fn wrong_codes_on_a_saved_cards_payments_lock_its_proven_phone() {
    // The phone a saved card is bound to was proven by a right code: five wrong codes in a row
    // on that card's repeat payments lock the phone too, for every user of it at the merchant.
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    let mut last = None;
    for wrongs in [3, 2] {
        let r = repeat_payment(svc, repeat("u-1", None), None).await.unwrap();
        let right = latest_code(&stack, PHONE);
        for _ in 0..wrongs {
            last = Some(verify_code(svc, &shop(), &r.id, &wrong(&right), None).await.unwrap_err());
        }
    }
    assert!(matches!(last, Some(UseCaseError::TooManyFailures { .. })), "{last:?}");
    let err = first_payment(svc, first("u-9", PHONE, VISA, false), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::TooManyFailures { .. }), "{err:?}");
}

#[tokio::test]
async fn one_card_across_users_meets_the_per_card_limit_before_the_acquirer() {
    // Card testing spreads one card over many users: the card's attempts are counted by its
    // number alone, approved or declined, across users and merchants.
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let per_card = AttemptLimits::default().per_card_daily;
    for i in 0..per_card {
        let mut cmd = first(&format!("u-{i}"), &format!("+86138001380{i:02}"), "4000000000000002", false);
        cmd.merchant_id = ident(if i % 2 == 0 { "shop-1" } else { "shop-2" });
        let err = first_payment(svc, cmd, None).await.unwrap_err();
        assert!(matches!(err, UseCaseError::Declined(_)), "{err:?}");
    }
    let err = first_payment(svc, first("u-next", "+8613800138099", "4000000000000002", false), None).await.unwrap_err();
    assert!(
        matches!(err, UseCaseError::TooManyPaymentAttempts { limit: AttemptLimit::Card, .. }),
        "refused before the acquirer: {err:?}"
    );
    assert_eq!(stack.metrics.count(&BusinessEvent::AttemptLimitReached), 1);
    assert_eq!(
        stack.metrics.count(&BusinessEvent::PaymentCreated),
        per_card as usize,
        "the refused one opened nothing"
    );
    // Another card of the same user is another count.
    first_payment(svc, first("u-next", "+8613800138099", VISA, false), None).await.unwrap();
}

#[tokio::test]
async fn a_merchants_decline_cap_adds_friction_to_new_cards_and_never_refuses_a_saved_card() {
    let (mut stack, _) = unlimited_attempts();
    // The production cap on a merchant's declines; no velocity limit before it.
    stack.services.attempt_limits =
        AttemptLimits { merchant_declines_hourly: MAX_MERCHANT_DECLINES_PER_HOUR, ..AttemptLimits::unlimited() };
    // A hundred payments to one block of numbers: its SMS cap is not what this is about.
    stack.services.sms_limits = shared::ports::SmsLimits::unlimited();
    let svc = &stack.services;
    let saved = first_payment(svc, first("u-loyal", "+8613800138077", VISA, true), None).await.unwrap();
    verify_code(svc, &shop(), &saved.id, &code(&latest_code(&stack, "+8613800138077")), None).await.unwrap();
    for i in 0..MAX_MERCHANT_DECLINES_PER_HOUR {
        let cmd = first(&format!("u-{i}"), &format!("+861380013{i:04}"), "4000000000000002", false);
        first_payment(svc, cmd, None).await.unwrap_err();
    }
    assert_eq!(stack.metrics.count(&BusinessEvent::DeclineCapReached), 0);
    // The saved card's repeat payment goes on.
    let r = repeat_payment(svc, repeat("u-loyal", None), None).await.unwrap();
    let r = verify_code(svc, &shop(), &r.id, &code(&latest_code(&stack, "+8613800138077")), None).await.unwrap();
    assert_eq!(r.status, PaymentStatus::Succeeded);
    // A new card still pays, under strict limits: two tries per card, so the tested card is
    // refused before the acquirer.
    first_payment(svc, first("u-new", "+8613800138066", MASTERCARD, false), None).await.unwrap();
    let err = first_payment(svc, first("u-x", "+8613800138055", "4000000000000002", false), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::TooManyPaymentAttempts { limit: AttemptLimit::Card, .. }), "{err:?}");
    assert!(stack.metrics.count(&BusinessEvent::DeclineCapReached) >= 1, "the alarm's metric");
}

#[tokio::test]
async fn the_sweeper_voids_and_expires_what_nobody_finished() {
    let (stack, clock) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let r_user = first_payment(svc, first("u-2", "+8613800138002", VISA, true), None).await.unwrap();
    verify_code(svc, &shop(), &r_user.id, &code(&latest_code(&stack, "+8613800138002")), None).await.unwrap();
    let nothing = sweep(svc, 25, 10).await.unwrap();
    assert_eq!(nothing.expired, 0, "nothing is due yet");
    clock.advance(PAYMENT_TTL_SECS);
    let report = sweep(svc, 25, 10).await.unwrap();
    assert_eq!((report.expired, report.failed), (1, 0), "{report:?}");
    let p = payment_status(svc, &shop(), &p.id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Expired);
    assert_eq!(p.hold.as_ref().map(|h| h.state), Some(HoldState::Voided), "its authorisation is released");
    assert_eq!(p.sealed_card, None, "no card ciphertext outlives its payment");
    assert_eq!(p.due_at(), None, "nothing left: out of the sweeper's index");
    assert_eq!(sweep(svc, 25, 10).await.unwrap().examined, 0);
}

#[tokio::test]
async fn the_sweeper_leaves_a_capture_to_its_verify_for_the_grace() {
    // A payment moved to capture moments before its expiry: the sweeper, due at the expiry, does
    // not capture under the verify that may still be capturing; after the grace it finishes it.
    let (mut stack, clock) = memory_stack();
    let p = first_payment(&stack.services, first("u-1", PHONE, VISA, false), None).await.unwrap();
    clock.advance(PAYMENT_TTL_SECS - 5);
    resend_code(&stack.services, &shop(), &p.id).await.unwrap();
    stack.services.acquirer =
        std::sync::Arc::new(LedgerAcquirer::prompt().away(Away { captures: true, ..Away::default() }));
    let code = code(&latest_code(&stack, PHONE));
    let err = verify_code(&stack.services, &shop(), &p.id, &code, None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::Unavailable(_)), "{err:?}");
    stack.services.acquirer = std::sync::Arc::new(shared::adapters::sandbox_acquirer::SandboxAcquirer);
    let svc = &stack.services;
    clock.advance(6);
    let report = sweep(svc, 25, 10).await.unwrap();
    assert_eq!((report.examined, report.captured), (1, 0), "{report:?}");
    assert_eq!(payment_status(svc, &shop(), &p.id).await.unwrap().status, PaymentStatus::Capturing);
    clock.advance(CAPTURE_GRACE_SECS);
    let report = sweep(svc, 25, 10).await.unwrap();
    assert_eq!(report.captured, 1, "{report:?}");
    assert_eq!(payment_status(svc, &shop(), &p.id).await.unwrap().status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn an_unkeyed_acquirer_timeout_is_voided_by_payment_id_after_the_grace() {
    // The acquirer booked the authorisation; its answer was lost. Without an Idempotency-Key
    // nobody can resume the payment: it fails, its authorisation in doubt, and the sweeper voids
    // it by payment id once the grace has passed (not before: the call could still land).
    let (mut stack, clock) = memory_stack();
    let acquirer =
        std::sync::Arc::new(LedgerAcquirer::prompt().away(Away { authorization_answers: true, ..Away::default() }));
    stack.services.acquirer = acquirer.clone();
    let svc = &stack.services;
    let err = first_payment(svc, first("u-1", PHONE, VISA, false), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::Unavailable(_)), "{err:?}");
    assert_eq!(acquirer.held().len(), 1, "the acquirer holds funds nobody has the id of");
    let report = sweep(svc, 25, 10).await.unwrap();
    assert_eq!((report.examined, report.voided), (0, 0), "{report:?}: not before the grace");
    clock.advance(AUTHORIZATION_GRACE_SECS);
    let report = sweep(svc, 25, 10).await.unwrap();
    assert_eq!(report.voided, 1, "{report:?}");
    assert!(acquirer.held().is_empty(), "{:?}", acquirer.ledger());
}

#[tokio::test]
async fn the_sweeper_and_a_retry_finishing_one_capture_take_a_lease_and_capture_once() {
    // A verify whose capture did not happen (the acquirer away) leaves its payment capturing;
    // past the grace, the sweeper and a retry of the right code both come to finish it. Each
    // takes the lease first: one calls the acquirer, the other leaves it (409 for the retry).
    let (mut stack, clock) = memory_stack();
    stack.services.acquirer =
        std::sync::Arc::new(LedgerAcquirer::prompt().away(Away { captures: true, ..Away::default() }));
    let p = first_payment(&stack.services, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let right = code(&latest_code(&stack, PHONE));
    let err = verify_code(&stack.services, &shop(), &p.id, &right, None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::Unavailable(_)), "{err:?}");
    let ledger = std::sync::Arc::new(LedgerAcquirer::prompt().capturing_in(std::time::Duration::from_millis(100)));
    stack.services.acquirer = ledger.clone();
    // At its expiry (when the sweeper's index has it due), long past the capture's grace.
    clock.advance(PAYMENT_TTL_SECS);
    let svc = &stack.services;
    let merchant = shop();
    let (swept, retried) = tokio::join!(sweep(svc, 25, 10), verify_code(svc, &merchant, &p.id, &right, None));
    let swept = swept.unwrap();
    assert_eq!(ledger.capture_calls(p.id.as_str()), 1, "captured once: {swept:?} {retried:?}");
    match retried {
        Ok(paid) => assert_eq!((paid.status, swept.captured), (PaymentStatus::Succeeded, 0)),
        Err(e) => assert!(matches!(e, UseCaseError::PaymentCapturing) && swept.captured == 1, "{e:?} {swept:?}"),
    }
    let p = payment_status(svc, &shop(), &p.id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn the_sweeper_pages_past_payments_it_cannot_finish() {
    // 30 expired payments whose voids keep failing sort before one that is simply due: a sweep
    // of 20-payment pages still reaches it (it used to stop at a page that made no progress).
    let (mut stack, clock) = unlimited_attempts();
    stack.services.acquirer =
        std::sync::Arc::new(LedgerAcquirer::prompt().away(Away { voids: true, ..Away::default() }));
    let svc = &stack.services;
    for i in 0..30 {
        first_payment(svc, first(&format!("u-{i}"), &format!("+86138001{i:05}"), VISA, false), None).await.unwrap();
    }
    clock.advance(PAYMENT_TTL_SECS);
    let report = sweep(svc, 25, 10).await.unwrap();
    assert_eq!((report.expired, report.voided), (30, 0), "{report:?}");
    let late = first_payment(svc, first("u-late", PHONE, VISA, false), None).await.unwrap();
    clock.advance(PAYMENT_TTL_SECS);
    let report = sweep(svc, 5, 10).await.unwrap();
    assert_eq!((report.examined, report.expired, report.voided), (31, 1, 0), "{report:?}");
    let late = payment_status(svc, &shop(), &late.id).await.unwrap();
    assert_eq!(late.status, PaymentStatus::Expired);
}

#[tokio::test]
async fn five_wrong_codes_lock_the_payment() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let right = latest_code(&stack, PHONE);
    for left in (1..5).rev() {
        let err = verify_code(svc, &shop(), &p.id, &wrong(&right), None).await.unwrap_err();
        assert!(
            matches!(err, UseCaseError::IncorrectCode { attempts_remaining } if attempts_remaining == left),
            "{err:?}"
        );
    }
    let err = verify_code(svc, &shop(), &p.id, &wrong(&right), None).await.unwrap_err();
    assert!(matches!(&err, UseCaseError::TooManyAttempts(p, _) if p.failure_code() == Some("too_many_attempts")));
    // Five in a row also locked the payer out: even the right code is not checked now.
    assert!(matches!(
        verify_code(svc, &shop(), &p.id, &code(&right), None).await,
        Err(UseCaseError::TooManyFailures { .. })
    ));
    assert_eq!(stack.metrics.count(&BusinessEvent::VerificationFailed), 5);
    assert_eq!(stack.metrics.count(&BusinessEvent::PaymentFailed { code: "too_many_attempts".into() }), 1);
    assert_eq!(stack.metrics.count(&BusinessEvent::PaymentSucceeded), 0);
}

#[tokio::test]
async fn resend_replaces_the_code_after_the_cooldown() {
    let (stack, clock) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let old = latest_code(&stack, PHONE);
    assert!(matches!(
        resend_code(svc, &shop(), &p.id).await,
        Err(UseCaseError::ResendTooSoon { retry_after_secs: 30 })
    ));
    clock.advance(RESEND_COOLDOWN_SECS);
    let resent = resend_code(svc, &shop(), &p.id).await.unwrap();
    assert_eq!(resent.verification.sends, 2);
    let new = latest_code(&stack, PHONE);
    if new != old {
        assert!(matches!(
            verify_code(svc, &shop(), &p.id, &code(&old), None).await,
            Err(UseCaseError::IncorrectCode { .. })
        ));
    }
    assert_eq!(verify_code(svc, &shop(), &p.id, &code(&new), None).await.unwrap().status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn expired_codes_are_refused_until_resent() {
    let (stack, clock) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    clock.advance(CODE_TTL_SECS);
    assert!(matches!(
        verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await,
        Err(UseCaseError::CodeExpired)
    ));
    resend_code(svc, &shop(), &p.id).await.unwrap();
    assert_eq!(
        verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap().status,
        PaymentStatus::Succeeded
    );
}

#[tokio::test]
async fn at_most_five_codes_per_payment() {
    let (stack, clock) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    for _ in 1..MAX_SENDS {
        clock.advance(RESEND_COOLDOWN_SECS);
        resend_code(svc, &shop(), &p.id).await.unwrap();
    }
    clock.advance(RESEND_COOLDOWN_SECS);
    assert!(matches!(resend_code(svc, &shop(), &p.id).await, Err(UseCaseError::SendLimitReached)));
    assert_eq!(stack.sms.sent().len(), usize::from(MAX_SENDS));
    assert_eq!(stack.metrics.count(&BusinessEvent::CodeSent), usize::from(MAX_SENDS));
}

#[tokio::test]
async fn unknown_payment_and_unknown_method() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    assert!(matches!(
        verify_code(svc, &shop(), &PaymentId::new(), &code("123456"), None).await,
        Err(UseCaseError::PaymentNotFound)
    ));
    assert!(matches!(resend_code(svc, &shop(), &PaymentId::new()).await, Err(UseCaseError::PaymentNotFound)));
    assert!(matches!(
        repeat_payment(svc, repeat("u-1", Some(MethodId::new())), None).await,
        Err(UseCaseError::MethodNotFound)
    ));
}

#[tokio::test]
async fn a_saved_card_keeps_the_phone_that_verified_it() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let victim = "+8613800138000";
    let attacker = "+8613900139000";
    let p = first_payment(svc, first("u-1", victim, VISA, true), None).await.unwrap();
    verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, victim)), None).await.unwrap();
    // Someone pays for the same user with the same card number from another phone.
    let p = first_payment(svc, first("u-1", attacker, VISA, true), None).await.unwrap();
    verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, attacker)), None).await.unwrap();
    let r = repeat_payment(svc, repeat("u-1", None), None).await.unwrap();
    assert_eq!(r.phone.number().unwrap().expose(), victim, "codes for the card still go to the phone that saved it");
    assert_eq!(stack.payments.saved_methods().len(), 1, "one card, one saved method");
}

#[tokio::test]
async fn concurrent_right_codes_complete_the_payment_once() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let c = code(&latest_code(&stack, PHONE));
    let caller = shop();
    let results = futures::future::join_all((0..20).map(|_| verify_code(svc, &caller, &p.id, &c, None))).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(UseCaseError::NotPending(_)))));
    assert_eq!(stack.metrics.count(&BusinessEvent::PaymentSucceeded), 1, "counted once, like the win");
}

#[tokio::test]
async fn each_business_event_is_counted_once_it_is_stored() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let right = latest_code(&stack, PHONE);
    verify_code(svc, &shop(), &p.id, &wrong(&right), None).await.unwrap_err();
    verify_code(svc, &shop(), &p.id, &code(&right), None).await.unwrap();
    first_payment(svc, first("u-2", "+8613800138001", "4000000000000002", true), None).await.unwrap_err();
    use BusinessEvent as E;
    assert_eq!(
        stack.metrics.events(),
        [
            E::PaymentCreated,
            E::Authorised,
            E::CodeSent,
            E::VerificationFailed,
            E::PaymentSucceeded,
            E::PaymentCreated,
            E::PaymentFailed { code: "card_declined".into() },
        ]
    );
}

#[tokio::test]
async fn a_code_refused_by_the_sms_cap_is_counted_and_opens_nothing() {
    let (stack, _) = unlimited_attempts();
    let svc = &stack.services;
    let cap = shared::ports::SmsLimits::default().per_phone;
    for i in 0..cap {
        first_payment(svc, first(&format!("u-{i}"), PHONE, VISA, true), None).await.unwrap();
    }
    let err = first_payment(svc, first("u-over", PHONE, VISA, true), None).await.unwrap_err();
    assert!(matches!(err, UseCaseError::SmsRateLimited { .. }), "{err:?}");
    assert_eq!(stack.metrics.count(&BusinessEvent::SmsRateLimited), 1);
    assert_eq!(stack.metrics.count(&BusinessEvent::PaymentCreated), cap as usize);
}

#[test]
fn merchant_sms_shards_split_the_cap_exactly_and_never_outnumber_it() {
    use shared::ports::{SmsLimits, MERCHANT_SMS_SHARDS};
    for cap in [0, 1, 2, 3, 7, 8, 9, 12, 1000, 1001, u32::MAX] {
        let limits = SmsLimits { per_phone: 10, per_merchant: cap, ..SmsLimits::default() };
        let n = limits.merchant_shards();
        assert_eq!(n, MERCHANT_SMS_SHARDS.min(cap), "N ≤ the cap");
        let shares: Vec<u64> = (0..n).map(|i| u64::from(limits.shard_cap(i))).collect();
        assert_eq!(shares.iter().sum::<u64>(), u64::from(cap), "cap {cap}: {shares:?}");
        assert!(shares.iter().all(|s| *s >= 1), "every shard holds at least one: {shares:?}");
        assert_eq!(limits.shard_cap(n), 0, "no shard past the last");
        let shop = ident("shop-1");
        let to = shared::ports::SmsSources { phones: &["k".to_owned()], prefixes: &[], session: None, source_ips: &[] };
        match limits.charge(&to, &shop, 7200, 13) {
            None => assert_eq!(cap, 0),
            Some(c) => assert_eq!((c.shard, c.shard_cap, c.hour), (13 % n, limits.shard_cap(13 % n), 2)),
        }
    }
}

#[tokio::test]
async fn a_sharded_merchant_cap_is_never_exceeded_and_refuses_only_with_two_shards_full() {
    let (mut stack, _) = unlimited_attempts();
    let limits = shared::ports::SmsLimits { per_merchant: 20, ..shared::ports::SmsLimits::unlimited() };
    stack.services.sms_limits = limits;
    let svc = &stack.services;
    let mut outcomes = Vec::new();
    for i in 0..60 {
        let ok = match first_payment(svc, first(&format!("u-{i}"), PHONE, VISA, false), None).await {
            Ok(_) => true,
            Err(UseCaseError::SmsRateLimited { .. }) => false,
            Err(e) => panic!("{e:?}"),
        };
        outcomes.push(ok);
    }
    let opened = outcomes.iter().filter(|ok| **ok).count();
    assert!(opened <= 20, "never over the cap: {opened}");
    // Shares 3,3,3,3,2,2,2,2: a refusal needs the shard tried and one other full, so the
    // first refusal comes after at least 2 × 2 payments.
    let first_refusal = outcomes.iter().position(|ok| !ok).unwrap();
    assert!(first_refusal >= 4, "{first_refusal}");
    assert_eq!(stack.sms.sent().len(), opened);
    assert_eq!(stack.metrics.count(&BusinessEvent::SmsRateLimited), 60 - opened);
}

#[tokio::test]
async fn a_merchant_cannot_see_or_touch_another_merchants_payment() {
    let (stack, clock) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    let right = code(&latest_code(&stack, PHONE));
    let other = Caller::Merchant(ident("shop-9"));
    assert!(matches!(verify_code(svc, &other, &p.id, &right, None).await, Err(UseCaseError::PaymentNotFound)));
    clock.advance(RESEND_COOLDOWN_SECS);
    assert!(matches!(resend_code(svc, &other, &p.id).await, Err(UseCaseError::PaymentNotFound)));
    let stored = svc.payments.get(&p.id).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.verification.sends), (p.version, 1), "nothing changed");

    let own = Caller::Merchant(ident("shop-1"));
    assert_eq!(verify_code(svc, &own, &p.id, &right, None).await.unwrap().status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn a_saved_card_belongs_to_one_merchants_customer() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    let p = first_payment(svc, first("u-1", PHONE, VISA, true), None).await.unwrap();
    verify_code(svc, &shop(), &p.id, &code(&latest_code(&stack, PHONE)), None).await.unwrap();
    let saved = stack.payments.saved_methods();
    assert_eq!(saved.len(), 1);

    // The same user_id at another merchant is another customer: no card, by default or by id.
    let mut elsewhere = repeat("u-1", None);
    elsewhere.merchant_id = ident("shop-2");
    assert!(matches!(repeat_payment(svc, elsewhere, None).await, Err(UseCaseError::NoSavedMethod)));
    let mut by_id = repeat("u-1", Some(saved[0].id.clone()));
    by_id.merchant_id = ident("shop-2");
    assert!(matches!(repeat_payment(svc, by_id, None).await, Err(UseCaseError::MethodNotFound)));
    assert_eq!(stack.sms.sent().len(), 1, "no code went out for the other merchant");
    // At its own merchant the card still pays.
    assert!(repeat_payment(svc, repeat("u-1", None), None).await.is_ok());
}

#[tokio::test]
async fn an_order_is_paid_once() {
    let (stack, _) = memory_stack();
    let svc = &stack.services;
    // Two payments opened for one order before either completes (two tabs, say).
    let for_order = |phone, save| FirstPaymentCommand { order_id: ident("o-once"), ..first("u-1", phone, VISA, save) };
    let a = first_payment(svc, for_order(PHONE, true), None).await.unwrap();
    let a_code = latest_code(&stack, PHONE);
    let other_phone = "+8613800138001";
    let b = first_payment(svc, for_order(other_phone, false), None).await.unwrap();
    let b_code = latest_code(&stack, other_phone);

    let paid = verify_code(svc, &shop(), &a.id, &code(&a_code), None).await.unwrap();
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    // The second right code finds the order paid: its payment fails, uncharged.
    match verify_code(svc, &shop(), &b.id, &code(&b_code), None).await {
        Err(UseCaseError::OrderAlreadyPaid(Some(p))) => {
            assert_eq!((p.status, p.failure_code()), (PaymentStatus::Failed, Some("order_already_paid")));
            assert_eq!(p.sealed_card, None);
        }
        other => panic!("expected order_already_paid, got {other:?}"),
    }
    assert!(stack.metrics.events().contains(&BusinessEvent::PaymentFailed { code: "order_already_paid".into() }));

    // A new payment for the paid order is refused before any code is sent.
    let sent = stack.sms.sent().len();
    assert!(matches!(
        first_payment(svc, for_order(PHONE, false), None).await,
        Err(UseCaseError::OrderAlreadyPaid(None))
    ));
    let mut again = repeat("u-1", None);
    again.order_id = ident("o-once");
    assert!(matches!(repeat_payment(svc, again, None).await, Err(UseCaseError::OrderAlreadyPaid(None))));
    assert_eq!(stack.sms.sent().len(), sent);
    // Another merchant's order with the same id is its own.
    let mut theirs = for_order(PHONE, false);
    theirs.merchant_id = ident("shop-2");
    assert!(first_payment(svc, theirs, None).await.is_ok());
}

/// The checkout page travels gzip-compressed to a browser that accepts it, as the very same
/// bytes; a client that does not (or refuses it with `q=0`) gets it as it is.
#[tokio::test]
async fn the_checkout_page_is_gzipped_for_browsers_that_accept_it() {
    use shared::lambda_http::{http, Body};
    use std::io::Read;
    let (stack, _) = memory_stack();
    let get = |encoding: Option<&str>| {
        let mut b = http::Request::get("/checkout/cs_01jfmv2xkq3x8z4b6n7m9p0r2s");
        if let Some(e) = encoding {
            b = b.header("accept-encoding", e);
        }
        shared::http::checkout_page(&stack.services, b.body(Body::Empty).unwrap())
    };
    let plain = get(None).await;
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let html = plain.body().as_ref().to_vec();
    for refused in ["identity", "gzip;q=0", "br"] {
        assert!(get(Some(refused)).await.headers().get("content-encoding").is_none(), "{refused}");
    }
    let zipped = get(Some("gzip, deflate, br")).await;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding, accept-language");
    let compressed = zipped.body().as_ref().to_vec();
    assert!(compressed.len() * 2 < html.len(), "{} of {} bytes", compressed.len(), html.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice()).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, html, "the same page");
}
