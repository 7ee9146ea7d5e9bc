//! The payment's state machine: every plan `decide` makes is a row of `TRANSITIONS`, the
//! diagram in docs/architecture.md is the one generated from that table, failures keep their
//! wire codes and answers, and what the table does not allow is refused.

use shared::domain::*;

use crate::domain::pending_payment;

const STATUSES: [PaymentStatus; 9] = [
    PaymentStatus::Authorizing,
    PaymentStatus::RequiresAction,
    PaymentStatus::RequiresVerification,
    PaymentStatus::RequiresCapture,
    PaymentStatus::Capturing,
    PaymentStatus::Succeeded,
    PaymentStatus::Failed,
    PaymentStatus::Expired,
    PaymentStatus::Canceled,
];

fn hash(n: u8) -> CodeHash {
    CodeHash { key_id: "a".into(), mac_hex: format!("{n:02x}") }
}

fn failures() -> Vec<Failure> {
    let mut all: Vec<Failure> = DeclineReason::ALL.into_iter().map(Failure::Declined).collect();
    all.extend([
        Failure::AcquirerUnavailable,
        Failure::CaptureFailed,
        Failure::CodeNotSent,
        Failure::TooManyAttempts,
        Failure::PayerLocked,
        Failure::OrderAlreadyPaid,
        Failure::Expired,
        Failure::Canceled,
    ]);
    all
}

/// The payment the test refunds' ids name (the state machine finds a refund by its id).
fn refunded() -> PaymentId {
    PaymentId::parse("pay_01jd8x9y2z3a4b5c6d7e8f9g0h").unwrap()
}

/// The refund id the test payments' pending refund has.
fn pending_refund_id(p: &PaymentId) -> RefundId {
    RefundId::for_payment(p, Some("pending1"))
}

fn refund(id: RefundId, amount: u64, at: i64) -> Refund {
    Refund::pending(id, amount, None, RefundMetadata::default(), at)
}

fn commands() -> Vec<Command> {
    let id = refunded();
    let fresh = RefundId::for_payment(&id, Some("fresh123"));
    let window_secs = DEFAULT_REFUND_WINDOW_SECS;
    let mut all = vec![
        Command::RefundPayment { refund: refund(fresh.clone(), 100, 0), window_secs },
        Command::RefundPayment { refund: refund(fresh, 1_000_000, 0), window_secs },
        Command::SettleRefund { id: pending_refund_id(&id), outcome: RefundSettlement::Succeeded },
        Command::SettleRefund {
            id: pending_refund_id(&id),
            outcome: RefundSettlement::Failed(RefundFailure::Declined),
        },
        Command::RecordAuthorization { authorization_id: "auth".into(), network_reference: None, code_hash: hash(1) },
        Command::RequireAction { action: r#"{"type":"redirect"}"#.into() },
        Command::PresentCode { matches: true },
        Command::PresentCode { matches: false },
        Command::StartCapture,
        Command::IssueCode { code_hash: hash(2) },
        Command::LiftCooldown { last_sent_at: 0 },
        Command::HoldFunds { authorization_id: "auth".into() },
        Command::RecordCapture,
        Command::RecordVoid,
        Command::ConfirmHold { capture_before: 2_000_000 },
        Command::RequestCapture { amount: 500 },
        Command::RequestCapture { amount: 1_000_000 },
    ];
    all.extend(failures().into_iter().map(Command::Fail));
    all.extend(
        CancellationReason::GIVEN.into_iter().chain([CancellationReason::AuthorizationExpired]).map(Command::Cancel),
    );
    all
}

/// Payments in every status, with and without a hold, at the start of their life and past it.
fn payments(now: i64) -> Vec<Payment> {
    let mut all = Vec::new();
    for status in STATUSES {
        for held in [false, true] {
            for attempts in [1, 5] {
                for method in [CaptureMethod::Automatic, CaptureMethod::Manual] {
                    let mut p = pending_payment(now);
                    p.status = status;
                    p.failure = (status == PaymentStatus::Failed).then_some(Failure::CaptureFailed);
                    p.verification.attempts_remaining = attempts;
                    p.hold = held.then(|| Hold { authorization_id: "auth".into(), state: HoldState::Held });
                    p.capture_method = method;
                    if status == PaymentStatus::Succeeded && held {
                        // Captured, with one refund pending.
                        p.refunds.push(refund(pending_refund_id(&refunded()), 100, now));
                    }
                    all.push(p);
                }
            }
        }
    }
    all
}

#[test]
fn every_plan_is_a_row_of_the_transition_table() {
    let start = 1_000_000;
    let mut seen = std::collections::HashSet::new();
    for at in [start + 1, start + CODE_TTL_SECS, start + PAYMENT_TTL_SECS] {
        for payment in payments(start) {
            for command in commands() {
                let Ok(plan) = payment.decide(command.clone(), at) else { continue };
                let mut p = payment.clone();
                for event in &plan.events {
                    let from = p.status;
                    p.apply(event, plan.at);
                    let row = (from, event.name(), p.status);
                    assert!(TRANSITIONS.contains(&row), "{command:?} from {from:?} gave {row:?}, not in TRANSITIONS");
                    seen.insert(row);
                }
            }
        }
    }
    // And every row is reachable: the table says nothing the machine does not do.
    for row in TRANSITIONS {
        assert!(seen.contains(row), "{row:?} is in TRANSITIONS but no decision makes it");
    }
}

#[test]
fn the_architecture_doc_shows_the_generated_state_diagram() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/architecture.md")).unwrap();
    let diagram = state_diagram();
    assert!(
        doc.contains(&format!("```mermaid\n{diagram}```")),
        "docs/architecture.md's state diagram is not the one TRANSITIONS generates; paste this:\n{diagram}"
    );
}

#[test]
fn ended_payments_stay_ended() {
    for payment in payments(1_000_000).into_iter().filter(|p| !p.status.is_open()) {
        for command in commands() {
            if let Ok(plan) = payment.decide(command.clone(), 1_000_001) {
                // Voided, or a captured payment's refunds: the status stays what it is.
                for event in &plan.events {
                    let refund_event = matches!(
                        event,
                        Event::RefundRequested(_) | Event::RefundSucceeded { .. } | Event::RefundFailed { .. }
                    );
                    let allowed =
                        *event == Event::Voided || (refund_event && payment.status == PaymentStatus::Succeeded);
                    assert!(allowed, "{command:?} on {:?} gave {event:?}", payment.status);
                }
                let mut after = payment.clone();
                after.apply_plan(&plan);
                assert_eq!(after.status, payment.status);
            }
        }
    }
}

#[test]
fn what_the_table_does_not_allow_is_refused() {
    let mut p = pending_payment(1_000_000);
    // A payment awaiting its code is not captured without the code that starts its capture.
    assert_eq!(
        p.decide(Command::RecordCapture, 1_000_001),
        Err(Refusal::NotAllowed { from: PaymentStatus::RequiresVerification })
    );
    // Nor can a capturing payment expire: its capture is finished, by its verify or the sweeper.
    p.execute(Command::StartCapture, 1_000_001).unwrap();
    assert_eq!(
        p.decide(Command::Fail(Failure::Expired), 1_000_002),
        Err(Refusal::NotAllowed { from: PaymentStatus::Capturing })
    );
    assert_eq!(p.decide(Command::PresentCode { matches: true }, 1_000_002), Err(Refusal::NotPending));
}

#[test]
fn failures_keep_their_wire_codes_and_answers() {
    for failure in failures() {
        if failure.status() == PaymentStatus::Failed {
            assert_eq!(Failure::parse(failure.code()), Some(failure), "{failure:?}");
        } else {
            assert_eq!(Failure::parse(failure.code()), None, "{failure:?} is a status, never a stored failure code");
        }
    }
    let answers: Vec<(&str, u16)> = failures().iter().map(|f| (f.code(), f.answer().http_status())).collect();
    assert_eq!(
        answers,
        vec![
            ("card_declined", 402),
            ("insufficient_funds", 402),
            ("expired_card", 402),
            ("incorrect_cvc", 402),
            ("limit_exceeded", 402),
            ("suspected_fraud", 402),
            ("acquirer_unavailable", 402),
            ("capture_failed", 402),
            ("code_not_sent", 409),
            ("too_many_attempts", 409),
            ("too_many_failures", 409),
            ("order_already_paid", 409),
            ("payment_expired", 409),
            ("payment_canceled", 409),
        ]
    );
    assert_eq!(Failure::parse("some_new_code"), None, "an unknown stored code is never taken for a decline");
}

mod money_operations {
    //! Random sequences of the money operations' commands on a manual-capture payment (issue
    //! 23): whatever the order, what is captured never exceeds what was authorised, only a
    //! succeeded payment shows a captured amount, an ended payment stays ended, and a hold is
    //! never both captured and canceled.

    use proptest::prelude::*;
    use shared::domain::*;

    use crate::domain::pending_payment;

    fn command() -> impl Strategy<Value = Command> {
        let reasons = CancellationReason::GIVEN.to_vec();
        prop_oneof![
            (0i64..20_000).prop_map(|d| Command::ConfirmHold { capture_before: 1_000_000 + d }),
            (0u64..3_000).prop_map(|amount| Command::RequestCapture { amount }),
            Just(Command::RecordCapture),
            Just(Command::RecordVoid),
            Just(Command::StartCapture),
            Just(Command::HoldFunds { authorization_id: "auth-2".into() }),
            prop::sample::select(reasons).prop_map(Command::Cancel),
            Just(Command::Cancel(CancellationReason::AuthorizationExpired)),
            Just(Command::Fail(Failure::CaptureFailed)),
            Just(Command::Fail(Failure::Expired)),
            Just(Command::Fail(Failure::Canceled)),
            ((0u64..1_500), any::<u8>()).prop_map(|(amount, n)| Command::RefundPayment {
                refund: Refund::pending(refund_id(n), amount, None, RefundMetadata::default(), 1_000_000),
                window_secs: DEFAULT_REFUND_WINDOW_SECS,
            }),
            (any::<u8>(), any::<bool>()).prop_map(|(n, ok)| Command::SettleRefund {
                id: refund_id(n % 16),
                outcome: if ok {
                    RefundSettlement::Succeeded
                } else {
                    RefundSettlement::Failed(RefundFailure::Declined)
                },
            }),
        ]
    }

    /// One of a few refund ids of the test payment (so settlements find refunds, and a repeated
    /// id is refused).
    fn refund_id(n: u8) -> RefundId {
        RefundId::for_payment(
            &PaymentId::parse("pay_01jd8x9y2z3a4b5c6d7e8f9g0h").unwrap(),
            Some(&format!("r{:07}", n % 16)),
        )
    }

    fn is_ended(s: PaymentStatus) -> bool {
        !s.is_open()
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn captured_never_exceeds_authorised_and_ended_stays_ended(
            commands in prop::collection::vec(command(), 1..24),
            held in any::<bool>(),
        ) {
            let start = 1_000_000;
            let mut p = pending_payment(start);
            p.capture_method = CaptureMethod::Manual;
            p.hold = held.then(|| Hold { authorization_id: "auth".into(), state: HoldState::Held });
            let authorised = p.money.minor;
            for (i, command) in commands.into_iter().enumerate() {
                let before = p.clone();
                let at = start + 10 * i64::try_from(i).unwrap();
                let Ok(plan) = p.execute(command.clone(), at) else {
                    prop_assert_eq!(&p, &before, "a refused command changes nothing");
                    continue;
                };
                let mut replay = before.clone();
                for event in &plan.events {
                    let from = replay.status;
                    replay.apply(event, plan.at);
                    prop_assert!(TRANSITIONS.contains(&(from, event.name(), replay.status)), "{:?}", command);
                }
                if is_ended(before.status) {
                    prop_assert_eq!(p.status, before.status, "an ended payment stays ended: {:?}", command);
                }
                if let Some(amount) = p.amount_to_capture {
                    prop_assert!(amount > 0 && amount <= authorised, "to capture {}", amount);
                }
                prop_assert_eq!(p.amount_captured().is_some(), p.status == PaymentStatus::Succeeded);
                prop_assert!(p.amount_captured().unwrap_or(0) <= authorised);
                let captured = p.hold.as_ref().is_some_and(|h| h.state == HoldState::Captured);
                prop_assert!(!(captured && p.status == PaymentStatus::Canceled), "captured and canceled: {:?}", command);
                if p.status == PaymentStatus::RequiresCapture {
                    prop_assert!(p.capture_before.is_some() && p.sealed_card.is_none() && !p.save_card);
                }
                // Refunds that have not failed never exceed what was captured; only a captured
                // payment has any; at most 10; a settled refund stays settled.
                prop_assert!(p.amount_refunded() <= p.amount_captured().unwrap_or(0), "refunded {}", p.amount_refunded());
                prop_assert!(p.refunds.is_empty() || p.status == PaymentStatus::Succeeded);
                prop_assert!(p.refunds.len() <= MAX_REFUNDS);
                for r in &before.refunds {
                    let now = p.refund(&r.id);
                    prop_assert!(now.is_some());
                    if r.status != RefundStatus::Pending {
                        prop_assert_eq!(now.map(|n| n.status), Some(r.status));
                    }
                }
            }
        }
    }
}
