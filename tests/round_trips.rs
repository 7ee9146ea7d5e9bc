//! AWS round trips per API request, counted by an SDK interceptor against moto. The counts
//! are the design's (BENCHMARKS.md explains each one above the minimum): a change that adds a
//! request to a path has to change them here, on purpose.

use integration_tests::round_trips::measure;
use integration_tests::Stack;

#[tokio::test]
async fn each_request_makes_the_round_trips_it_is_designed_to() {
    let stack = Stack::new().await;
    let measured = measure(&stack).await;
    let expected: &[(&str, u16, usize)] = &[
        // Opening a payment reads the order, the payer's lock-out guards and the decline caps
        // in one BatchGetItem. A first payment is stored `authorizing` with its code's SMS
        // counted in the same transaction (the phone's counter and one shard of the
        // merchant's), before the acquirer is called, then stored authorised; a repeat payment
        // reads its saved card, then writes one transaction with the admission's checks (order,
        // payer's guards, decline caps) as its conditions, read only where they refuse (nothing
        // is authorised before its code). A resend is
        // the payment read and one transaction (new code, SMS counted). A verification reads
        // the payment only: a wrong code is one transaction (attempt, the payer's counts under
        // the condition that neither is locked nor about to lock); a right code one
        // transaction (code spent, order claimed, payer's counts reset unless locked), then
        // the capture's write. A new Idempotency-Key on a route that opens a payment is
        // claimed in the payment's own transaction (its record read with the admission read);
        // a first payment is stored authorised before its SMS (issue 22: no code goes out for a
        // payment ended while its acquirer call was in flight), so it keeps its answer with a
        // write of its own after the SMS, as a repeat payment does. A replay is answered from the admission read (a repeat payment's
        // from the record its refused claim returns). A verification reads
        // the key with the payment, claims it in the attempt's transaction and keeps the answer
        // in the capture's write.
        ("first payment", 201, 3),
        ("verify, wrong code", 422, 2),
        ("resend code", 200, 2),
        ("verify, right code", 200, 3),
        ("first payment, Idempotency-Key", 201, 4),
        ("first payment, replayed key", 201, 1),
        ("verify, Idempotency-Key", 200, 3),
        ("repeat payment", 201, 2),
        ("repeat payment, Idempotency-Key", 201, 3),
        ("repeat payment, replayed key", 201, 2),
        ("payment status", 200, 1),
        ("payment history", 200, 1),
        // Sessions: the order is checked at creation too; a shopper's route reads its session
        // first (its secret's hash), then does what the merchant's route does.
        ("create checkout session", 201, 2),
        ("session state (shopper)", 200, 2),
        ("session payment (shopper)", 201, 4),
        ("session verify, right code (shopper)", 200, 4),
        ("read checkout session (merchant)", 200, 2),
        // Manual captures (issue 23): the right code confirms the hold in its one write (the
        // order claimed, the card saved). A capture is claimed by one conditional write that
        // moves the payment to `capturing` before the acquirer (no read: its condition is the
        // rule, and a cancel racing it loses), then recorded; a cancel is one conditional write
        // too, then its void recorded with its order given back.
        ("verify, right code (manual capture)", 200, 2),
        ("capture (manual)", 200, 2),
        // A refund is one conditional write that adds it (its condition is the rule, so no
        // read comes first), then its answer's write after the acquirer; a key costs its claim
        // and its kept answer; a refund of what is left reads how much that is first.
        ("refund", 201, 2),
        ("refund, Idempotency-Key", 201, 4),
        ("refund of what is left", 201, 3),
        ("verify, right code (manual capture)", 200, 2),
        ("cancel (manual)", 200, 2),
    ];
    // Issue 14's bounds, the first payment's and the right code's with or without a key too;
    // issue 21's: a keyed repeat payment 3 (it was 4); issue 22's: one more for a keyed first
    // payment (its authorisation stored before its SMS, its answer after).
    let bounds: &[(&str, usize)] = &[
        ("first payment", 3),
        ("first payment, Idempotency-Key", 4),
        ("verify, Idempotency-Key", 3),
        ("verify, wrong code", 2),
        ("resend code", 2),
        ("verify, right code", 3),
        ("repeat payment", 3),
        ("repeat payment, Idempotency-Key", 3),
        ("payment status", 1),
        ("payment history", 1),
        ("session payment (shopper)", 4),
        ("session verify, right code (shopper)", 4),
        ("capture (manual)", 2),
        ("cancel (manual)", 2),
        // Issue 23's: a refund ≤ 2 (plus the acquirer).
        ("refund", 2),
    ];
    for (name, bound) in bounds {
        let r = measured.iter().find(|r| r.kind.name == *name).unwrap();
        assert!(r.dynamodb() <= *bound, "{name}: {} DynamoDB calls, bound {bound}", r.dynamodb());
    }
    let got: Vec<(&str, u16, usize)> = measured.iter().map(|r| (r.kind.name, r.status, r.dynamodb())).collect();
    assert_eq!(got, expected, "{:#?}", measured.iter().map(|r| (r.kind.name, &r.calls)).collect::<Vec<_>>());
    for r in &measured {
        // Exactly one SMS per code sent, none otherwise.
        assert_eq!(r.sns(), usize::from(r.kind.sends_code), "{}: {:?}", r.kind.name, r.calls);
        assert!(r.dynamodb() >= r.kind.minimum_dynamodb, "{}: below the stated minimum", r.kind.name);
    }
    stack.delete_table().await;
}
