use super::commit::{commit, store, transition, Step};
use super::guards::{check_payer, count_failure, counted_payers, payer_keys, reset_failures, PAYER_LOCK_SECS};
use super::idempotency::{InlineKey, KeyProgress, Keyed, KeyedResult};
use super::lifecycle::{finish_capture, lock_out_payer, outcome_of, release_hold, saved_method, take_lease};
use super::send_code::code_context;
use super::{Attempt, Caller, Services, UseCaseError};
use crate::domain::{
    CaptureMethod, CodeCheck, Command, Failure, Payment, PaymentId, PaymentStatus, PhoneOrigin, VerificationCode,
};
use crate::ports::{
    AttemptSources, BusinessEvent, Guard, KeyFound, PayerChange, Rider, RiderRefusal, SavedMethod, StoreError,
    KEY_RETENTION_SECS,
};

/// Checks the code; on a match, claims the order and captures (a repeat payment is authorised
/// first), saving the card when asked. Every outcome that changes the payment is stored with a
/// version-checked write, so of two concurrent right codes exactly one moves it to capture.
pub async fn verify_code(
    svc: &Services,
    caller: &Caller,
    id: &PaymentId,
    code: &VerificationCode,
    attempt: Option<&Attempt>,
) -> KeyedResult<Payment> {
    let verify = Verify { svc, caller, id, code, attempt };
    // The fast way first: decide from the payment alone, with the payer's lock and the order
    // as conditions of the write. A write they refuse is decided again the careful way.
    match commit(|way: Option<Way>| verify.once(way.unwrap_or(Way::Fast))).await {
        Ok(keyed) => keyed,
        Err(e) => Err(e).into(),
    }
}

/// How an attempt decides. `Fast` reads the payment only (with the request's new key, if
/// any): a wrong code counts against the payer's guards only while neither is locked and the
/// count stays below the lock; a right code resets them only while neither is locked, and
/// claims the order. `Careful` reads the order and the guards first and writes the guards back
/// at their versions: the failure that locks the payer, a locked payer, a paid order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Fast,
    Careful,
}

/// One verification request: what every attempt of it shares.
struct Verify<'a> {
    svc: &'a Services,
    caller: &'a Caller,
    id: &'a PaymentId,
    code: &'a VerificationCode,
    attempt: Option<&'a Attempt>,
}

/// What the careful way reads before deciding: the order's holder and the payer's guards.
struct Read {
    order_holder: Option<PaymentId>,
    payers: Vec<Guard>,
}

/// A decided verification: the answer once written, and how the payer's guards change.
struct Decided {
    result: Result<(), UseCaseError>,
    locked_payer: bool,
    /// The write claims the order for the payment.
    claims_order: bool,
    payer: PayerWrite,
    /// The card the write saves (a manual-capture first payment's, whose funds it holds).
    saves: Option<SavedMethod>,
}

/// How the write changes the payer's guards: under a condition (fast), or at their versions.
enum PayerWrite {
    None,
    Count,
    Reset,
    Guards(Vec<Guard>),
}

impl Verify<'_> {
    fn key(&self) -> Option<&InlineKey> {
        Attempt::inline_key(self.attempt)
    }

    /// One attempt: read, decide, write. The attempt's write claims the new key; the capture's
    /// write keeps its answer.
    async fn once(&self, way: Way) -> Result<Step<KeyedResult<Payment>, Way>, UseCaseError> {
        let mut payment = match self.read().await? {
            Ok(payment) => payment,
            Err(found) => return Ok(Step::Done(Keyed::Seen(Some(found)))),
        };
        let now = self.svc.clock.now();
        let ctx = code_context(&payment, payment.verification.sends);
        let matches = self.svc.hasher().matches(&ctx, self.code, &payment.verification.code_hash);
        // The right code again on a payment it already moved to capture, from a retry (its
        // verify died, or lost the acquirer): finish the capture, under the same capture key. A
        // request racing the one that is capturing is answered as the loser it is.
        let recovering = Attempt::is_recovering(self.attempt);
        if matches && (payment.is_stale_capture(now) || (recovering && payment.status == PaymentStatus::Capturing)) {
            // Leased first: the sweeper (or another retry) may be finishing it right now.
            if !take_lease(self.svc, &payment, &ulid::Ulid::new().to_string()).await? {
                return Err(UseCaseError::PaymentCapturing);
            }
            return Ok(Step::Done(finish_capture(self.svc, payment, None).await.0.into()));
        }
        let read = match way {
            Way::Careful => Some(self.read_careful(&payment, now).await?),
            Way::Fast => None,
        };
        let check = payment.check_code(matches, now);
        let decided_by_code = matches!(check, CodeCheck::Accepted | CodeCheck::Incorrect { .. } | CodeCheck::LockedOut);
        if way == Way::Fast && !decided_by_code && payment.status != PaymentStatus::Succeeded {
            // An ended or expired payment answers as it stands, unless its payer is locked out:
            // only the careful way reads that (these answers are rare, the extra read is too).
            return Ok(Step::Again(Way::Careful));
        }
        let decided = match check {
            // A retry of a verify that died after completing the payment with this very code:
            // answer what that attempt would have answered.
            CodeCheck::NotPending if recovering && matches => return Ok(Step::Done(outcome_of(payment).into())),
            CodeCheck::NotPending => return Err(UseCaseError::NotPending(Box::new(payment))),
            CodeCheck::CodeExpired => return Err(UseCaseError::CodeExpired),
            CodeCheck::PaymentExpired => Decided {
                payer: PayerWrite::unchanged(read),
                ..Decided::answer(Err(UseCaseError::NotPending(Box::new(payment.clone()))))
            },
            CodeCheck::LockedOut | CodeCheck::Incorrect { .. } => wrong_code(&mut payment, check, read, now)?,
            CodeCheck::Accepted => {
                right_code(&mut payment, read, self.svc.settings.capture_window.capture_before(now), now)?
            }
        };
        self.write(payment, decided, way, now).await
    }

    /// The payment, if the caller may see it; or (`Err`) the record of the request's new key,
    /// read with it: the key was used before (or is being used now), the way of a retry.
    async fn read(&self) -> Result<Result<Payment, KeyFound>, UseCaseError> {
        let read = match self.key() {
            Some(k) => self.svc.payments.get_with_key(self.id, k.key()).await,
            None => self.svc.payments.get(self.id).await.map(|p| (p, None)),
        };
        let (stored, seen) = read?;
        if let Some(found) = seen {
            return Ok(Err(found));
        }
        // Another merchant's payment is answered as if it did not exist.
        stored.filter(|p| self.caller.may_see(p)).map(Ok).ok_or(UseCaseError::PaymentNotFound)
    }

    /// The careful way's one read: the order's holder and the payer's lock-out guards. A
    /// locked-out payer's codes are not even checked (a finished payment still answers as it
    /// stands).
    async fn read_careful(&self, payment: &Payment, now: i64) -> Result<Read, UseCaseError> {
        let keys = payer_keys(self.svc, payment);
        let admission = self.svc.payments.admission(&payment.merchant_id, &payment.order_id, &keys, None).await?;
        if payment.status != PaymentStatus::Succeeded {
            check_payer(&admission.guards, now)?;
        }
        Ok(Read { order_holder: admission.order_holder, payers: admission.guards })
    }

    /// Writes the decided payment with its riders, then answers (capturing, or releasing
    /// whatever an ended payment holds).
    async fn write(
        &self,
        mut payment: Payment,
        decided: Decided,
        way: Way,
        now: i64,
    ) -> Result<Step<KeyedResult<Payment>, Way>, UseCaseError> {
        let keys = payer_keys(self.svc, &payment);
        let expires_at = now + KEY_RETENTION_SECS;
        let mut riders: Vec<Rider> = decided.claims_order.then_some(Rider::ClaimOrder).into_iter().collect();
        riders.extend(decided.saves.as_ref().map(Rider::SaveCard));
        match &decided.payer {
            PayerWrite::None => {}
            PayerWrite::Count => {
                let (counted, _) = keys.split_at(counted_payers(&payment, keys.len()));
                riders.push(Rider::Payer(PayerChange::count(counted, now, expires_at)));
            }
            PayerWrite::Reset => riders.push(Rider::Payer(PayerChange::Reset { keys: &keys, now, expires_at })),
            PayerWrite::Guards(guards) => riders.extend(guards.iter().map(Rider::GuardAt)),
        }
        // A wrong code's write is the request's whole work: it claims the key with the answer
        // (a retry of an answer lost after it landed replays it, and never counts the code
        // twice); any other claims it for the capture's write (or the end) to answer.
        let (claim, claimed) = match (self.key(), &decided.result) {
            (None, _) => (None, KeyProgress::Untouched),
            (Some(key), Err(UseCaseError::IncorrectCode { attempts_remaining })) => (
                Some(key.settle(UseCaseError::IncorrectCode { attempts_remaining: *attempts_remaining })),
                KeyProgress::Settled,
            ),
            (Some(key), _) => (Some(key.claim()), KeyProgress::Claimed),
        };
        riders.extend(claim.as_ref().map(Rider::Key));
        match store(self.svc, &mut payment, &riders).await {
            // Another request with this key got there first: the way of a retry.
            Err(StoreError::Refused(RiderRefusal::Key(found))) if claim.is_some() => {
                Ok(Step::Done(Keyed::Seen(found.map(|f| *f))))
            }
            Err(StoreError::Refused(RiderRefusal::Key(_))) => Err(UseCaseError::Contention),
            Err(StoreError::Conflict) => Ok(Step::Again(way)),
            // Locked payer, the failure that locks, or a paid order: decide with them read.
            Err(StoreError::Refused(_)) => Ok(Step::Again(Way::Careful)),
            // Whether the claim landed is unknown: the key is given back (a settled one needs
            // nothing: it holds its answer, or nothing at all).
            Err(e @ StoreError::Unavailable(_)) if claim.is_some() => {
                let progress = if claimed == KeyProgress::Settled { claimed } else { KeyProgress::Unsure };
                Ok(Step::Done(Keyed::Ran(Err(e.into()), progress)))
            }
            Err(e) => Err(e.into()),
            Ok(()) => {
                let (result, answered) = self.written(payment, decided).await;
                Ok(Step::Done(Keyed::Ran(result, claimed.then(answered))))
            }
        }
    }

    /// What a stored verification answers, and whether the capture's write kept the answer
    /// under the request's new key.
    async fn written(&self, payment: Payment, decided: Decided) -> (Result<Payment, UseCaseError>, KeyProgress) {
        let svc = self.svc;
        tracing::info!(payment_id = %payment.id, status = payment.status.as_str(),
            failure_code = payment.failure_code().unwrap_or(""), "verification stored");
        count_outcome(svc, &payment, &decided.result);
        if is_wrong_code(&decided.result) {
            self.count_against_address(&payment).await;
        }
        if decided.locked_payer {
            tracing::warn!(payment_id = %payment.id, "payer locked out after consecutive wrong codes");
            lock_out_payer(svc, &payment).await;
        }
        match decided.result {
            // A manual capture's funds stay held for the merchant: nothing to capture now (the
            // request's key keeps this answer after).
            Ok(()) if payment.status == PaymentStatus::RequiresCapture => {
                tracing::info!(payment_id = %payment.id, "funds held for the merchant's capture");
                (Ok(payment), KeyProgress::Untouched)
            }
            Ok(()) => finish_capture(svc, payment, self.key()).await,
            Err(e) => {
                // Whatever an ended payment holds is released now (or by the sweeper).
                let payment = release_hold(svc, payment).await;
                let e = match e {
                    UseCaseError::OrderAlreadyPaid(_) => UseCaseError::OrderAlreadyPaid(Some(Box::new(payment))),
                    UseCaseError::TooManyAttempts(_, paused) => {
                        UseCaseError::TooManyAttempts(Box::new(payment), paused)
                    }
                    UseCaseError::NotPending(_) => UseCaseError::NotPending(Box::new(payment)),
                    e => e,
                };
                (Err(e), KeyProgress::Untouched)
            }
        }
    }
}

impl Verify<'_> {
    /// A wrong code of a payment whose phone came with the request (a first payment) counts
    /// against the shopper's address too: it uses up one of the address's hourly card attempts
    /// (`ATTEMPTS_PER_IP_HOURLY`), so guesses and new cards from one address share one budget.
    /// It refuses nothing itself (the next card attempt from the address is what it refuses): an
    /// address's failures never lock out a payer, whom an address shared by many (a carrier's
    /// NAT) would otherwise let a stranger lock out.
    async fn count_against_address(&self, payment: &Payment) {
        let Some(ip) = self.caller.source_ip() else { return };
        if payment.phone_origin != PhoneOrigin::Request {
            return;
        }
        let svc = self.svc;
        let keys = svc.hasher().source_ip_keys(ip);
        let from = AttemptSources {
            session: None,
            cards: &[],
            merchant: &payment.merchant_id,
            phones: &[],
            source_ips: &keys,
        };
        let charge = svc.attempt_limits.charge(&from, svc.clock.now());
        if let Err(e) = svc.payments.count_attempts(&charge).await {
            tracing::warn!(payment_id = %payment.id, error = %e, "wrong code not counted against the address");
        }
    }
}

impl PayerWrite {
    /// The careful way writes the guards it read back at their versions, changed or not (a
    /// guard that moved since makes the write lose the race).
    fn unchanged(read: Option<Read>) -> Self {
        read.map_or(Self::None, |r| Self::Guards(r.payers))
    }
}

impl Decided {
    /// Written as decided, with no rider.
    fn answer(result: Result<(), UseCaseError>) -> Self {
        Self { result, locked_payer: false, claims_order: false, payer: PayerWrite::None, saves: None }
    }
}

/// A wrong code counts against the payer too, in the same transaction: the 5th in a row,
/// across payments, locks them out.
fn wrong_code(payment: &mut Payment, check: CodeCheck, read: Option<Read>, now: i64) -> Result<Decided, UseCaseError> {
    let (locked_payer, payer) = match read {
        Some(mut read) => {
            let n = counted_payers(payment, read.payers.len());
            let (counted, _) = read.payers.split_at_mut(n);
            (count_failure(counted, now), PayerWrite::Guards(read.payers))
        }
        None => (false, PayerWrite::Count),
    };
    let paused = locked_payer.then_some(PAYER_LOCK_SECS);
    let result = match check {
        // The payment's own last attempt: it has failed, as it always did.
        CodeCheck::LockedOut => Err(UseCaseError::TooManyAttempts(Box::new(payment.clone()), paused)),
        _ if locked_payer => {
            transition(payment, Command::Fail(Failure::PayerLocked), now)?;
            Err(UseCaseError::TooManyFailures { retry_after_secs: PAYER_LOCK_SECS })
        }
        CodeCheck::Incorrect { attempts_remaining } => Err(UseCaseError::IncorrectCode { attempts_remaining }),
        CodeCheck::Accepted | CodeCheck::CodeExpired | CodeCheck::PaymentExpired | CodeCheck::NotPending => {
            Err(UseCaseError::TooManyAttempts(Box::new(payment.clone()), paused))
        }
    };
    Ok(Decided { result, locked_payer, claims_order: false, payer, saves: None })
}

/// The right code: the order is checked before anything is captured (a paid order fails this
/// payment); else one write spends the code, claims the order for this payment and starts the
/// payer's count of wrong codes again. (A repeat payment's decline caps were checked when it
/// was opened.)
///
/// A manual-capture first payment (its funds already held) stops there: the same write
/// confirms the hold until `capture_before` and saves its card (if asked), which the payment
/// then no longer keeps.
fn right_code(
    payment: &mut Payment,
    read: Option<Read>,
    capture_before: i64,
    now: i64,
) -> Result<Decided, UseCaseError> {
    if let Some(holder) = read.as_ref().and_then(|r| r.order_holder.as_ref()) {
        if holder != &payment.id {
            transition(payment, Command::Fail(Failure::OrderAlreadyPaid), now)?;
            let result = Err(UseCaseError::OrderAlreadyPaid(None));
            return Ok(Decided { payer: PayerWrite::unchanged(read), ..Decided::answer(result) });
        }
    }
    let saves = if payment.capture_method == CaptureMethod::Manual && payment.hold.is_some() {
        let saves = saved_method(payment, now)?;
        transition(payment, Command::ConfirmHold { capture_before }, now)?;
        saves
    } else {
        transition(payment, Command::StartCapture, now)?;
        None
    };
    let payer = match read {
        Some(read) => PayerWrite::Guards(reset_failures(&read.payers)),
        None => PayerWrite::Reset,
    };
    Ok(Decided { result: Ok(()), locked_payer: false, claims_order: true, payer, saves })
}

/// Whether a stored verification's answer says its code was wrong.
fn is_wrong_code(result: &Result<(), UseCaseError>) -> bool {
    matches!(
        result,
        Err(UseCaseError::IncorrectCode { .. }
            | UseCaseError::TooManyAttempts(..)
            | UseCaseError::TooManyFailures { .. })
    )
}

/// The business events of a stored verification: a wrong code, and a payment ended by it.
fn count_outcome(svc: &Services, payment: &Payment, result: &Result<(), UseCaseError>) {
    if is_wrong_code(result) {
        svc.metrics.record(BusinessEvent::VerificationFailed);
    }
    if payment.status == PaymentStatus::Failed {
        svc.metrics.record(BusinessEvent::PaymentFailed { code: payment.failure_code().unwrap_or("failed").into() });
    }
}
