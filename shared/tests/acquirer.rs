//! The acquirer port's capture and refund, as the sandbox answers them and the ledger books them
//! (issue 23, item 5): a partial capture, refunds by refund id, and the refund test cards.

use payments_testkit::LedgerAcquirer;
use shared::adapters::sandbox_acquirer::{REFUND_FAILS_CARD, REFUND_PENDING_CARD};
use shared::domain::{CardNumber, Currency, Expiry, Money, PaymentId, RefundId};
use shared::ports::{
    Acquirer, Authorization, AuthorizationRequest, Capture, RefundFailure, RefundOutcome, RefundRequest,
    StoredCredential,
};

fn cny(minor: i64) -> Money {
    Money::new("amount", minor, Currency::parse("currency", "CNY").unwrap()).unwrap()
}

/// A payment of 10,000 authorised on `card` and captured for `capture`: its authorisation id.
async fn captured(acquirer: &LedgerAcquirer, id: &PaymentId, card: &str, capture: i64) -> String {
    let card = CardNumber::parse("card", card).unwrap();
    let customer = shared::domain::Customer {
        merchant_id: shared::domain::Identifier::parse("merchant_id", "shop-1").unwrap(),
        user_id: shared::domain::Identifier::parse("user_id", "u-1").unwrap(),
    };
    let request = AuthorizationRequest {
        payment_id: id,
        customer: &customer,
        session_id: None,
        money: &cny(10_000),
        card: &card,
        expiry: Expiry { month: 12, year: 2040 },
        cvc: None,
        credential: StoredCredential::None,
        three_ds: None,
    };
    let Authorization::Approved { authorization_id, .. } = acquirer.authorize(&request).await.unwrap() else {
        panic!("declined")
    };
    assert_eq!(acquirer.capture(id, &authorization_id, &cny(capture)).await.unwrap(), Capture::Captured);
    authorization_id
}

#[tokio::test]
async fn a_partial_capture_books_its_amount_once_and_a_refund_once_per_refund_id() {
    let acquirer = LedgerAcquirer::prompt();
    let id = PaymentId::new();
    let auth = captured(&acquirer, &id, "4242424242424242", 6_000).await;
    // A repeated capture of the payment books nothing more.
    acquirer.capture(&id, &auth, &cny(6_000)).await.unwrap();
    assert_eq!(acquirer.captured(id.as_str()), 6_000);
    let (first, second) = (RefundId::new(), RefundId::new());
    let (acquirer, id, auth) = (&acquirer, &id, auth.as_str());
    let refund = |refund_id: &RefundId, minor| {
        let refund_id = refund_id.clone();
        async move {
            let money = cny(minor);
            let request =
                RefundRequest { refund_id: &refund_id, payment_id: id, authorization_id: auth, money: &money };
            acquirer.refund(&request).await.unwrap()
        }
    };
    assert_eq!(refund(&first, 1_000).await, RefundOutcome::Succeeded);
    assert_eq!(refund(&first, 1_000).await, RefundOutcome::Succeeded, "a retry answers where it stands");
    assert_eq!(refund(&second, 2_500).await, RefundOutcome::Succeeded);
    assert_eq!(acquirer.refunded(id.as_str()), 3_500, "each refund id booked once");
    assert_eq!(acquirer.refunds()[first.as_str()].calls, 2);
}

#[tokio::test]
async fn the_refund_test_cards_fail_or_stay_pending_until_asked_again() {
    let acquirer = LedgerAcquirer::prompt();
    let (failing, pending) = (PaymentId::new(), PaymentId::new());
    let failing_auth = captured(&acquirer, &failing, REFUND_FAILS_CARD, 10_000).await;
    let pending_auth = captured(&acquirer, &pending, REFUND_PENDING_CARD, 10_000).await;
    let (money, r1, r2) = (cny(4_000), RefundId::new(), RefundId::new());
    let on_failing =
        RefundRequest { refund_id: &r1, payment_id: &failing, authorization_id: &failing_auth, money: &money };
    let on_pending =
        RefundRequest { refund_id: &r2, payment_id: &pending, authorization_id: &pending_auth, money: &money };
    assert_eq!(acquirer.refund(&on_failing).await.unwrap(), RefundOutcome::Failed(RefundFailure::Declined));
    assert_eq!(acquirer.refunded(failing.as_str()), 0, "a failed refund gives nothing back");
    assert_eq!(acquirer.refund(&on_pending).await.unwrap(), RefundOutcome::Pending);
    assert_eq!(acquirer.refunded(pending.as_str()), 4_000, "a pending refund counts against what is refundable");
    assert_eq!(acquirer.refund_status(&on_pending).await.unwrap(), RefundOutcome::Succeeded);
    assert_eq!(acquirer.refund_status(&on_failing).await.unwrap(), RefundOutcome::Failed(RefundFailure::Declined));
    for f in RefundFailure::ALL {
        assert_eq!(RefundFailure::parse(f.as_str()), Some(f));
    }
    assert_eq!(RefundId::parse(r1.as_str()), Some(r1.clone()));
    assert!(r1.as_str().starts_with("re_"));
}
