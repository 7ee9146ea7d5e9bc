//! Issuing a code: store its hash (the previous code stops working at once) with its SMS
//! counted against the caps in the same write, then send it.

use super::commit::{store, stored_with, transition, Raced, Step};
use super::guards::phone_keys;
use super::{Services, UseCaseError};
use crate::domain::{code_sms, Command, Payment, SessionId, VerificationCode};
use crate::ports::{
    until_next_hour, BusinessEvent, Rider, RiderRefusal, SendError, SmsCharge, SmsCounter, SmsSources, SmsText,
    StoreError,
};
use crate::secrets::CodeContext;
use crate::settings::Settings;

/// The SMS, in the payment's language, naming the merchant as its shoppers know it; the code
/// is its first run of six digits (and, where the checkout's host is configured, its WebOTP
/// line's).
pub(crate) fn sms_text(settings: &Settings, code: &VerificationCode, payment: &Payment) -> SmsText {
    SmsText(code_sms(
        payment.locale,
        code.expose(),
        settings.merchant_name(payment.merchant_id.as_str()),
        &payment.money,
        settings.checkout_host.as_deref(),
    ))
}

pub(crate) fn code_context(payment: &Payment, send_seq: u8) -> CodeContext<'_> {
    CodeContext { payment_id: &payment.id, money: &payment.money, merchant_id: &payment.merchant_id, send_seq }
}

/// Writes that busy counters sent elsewhere are tried at most this many times in all.
const MAX_CHARGE_TRIES: u32 = 3;

/// Runs `write`, which stores a code of `payment`, with that code's SMS counted in it: the
/// phone's hourly counter and one shard of the merchant's, picked at random. A shard at its
/// share of the cap sends the write to one other shard; a second full shard, or the phone at
/// its cap, refuses with `sms_rate_limited` (nothing was written). A counter that a concurrent
/// transaction was changing is tried again on another shard. The outer error is the refusal;
/// the inner one is the write's own failure (a conflict on the payment, say).
pub(crate) async fn write_charged<F, Fut>(
    svc: &Services,
    payment: &Payment,
    source_ips: &[String],
    now: i64,
    mut write: F,
) -> Result<Result<(), StoreError>, UseCaseError>
where
    F: FnMut(SmsCharge) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let limits = svc.sms_limits;
    let phones = phone_keys(svc, payment);
    let prefixes = payment.phone.number().map(|p| svc.hasher().phone_prefix_keys(p)).unwrap_or_default();
    let to = SmsSources {
        phones: &phones,
        prefixes: &prefixes,
        session: payment.session_id.as_ref().map(SessionId::as_str),
        source_ips,
    };
    let first = rand::random::<u32>();
    let mut full_shards = 0;
    for attempt in 0..MAX_CHARGE_TRIES {
        let Some(charge) = limits.charge(&to, &payment.merchant_id, now, first.wrapping_add(attempt)) else {
            break;
        };
        match write(charge).await {
            Err(StoreError::Refused(RiderRefusal::Sms { counter: SmsCounter::MerchantShard, busy: false }))
                if full_shards == 0 =>
            {
                full_shards += 1;
            }
            Err(StoreError::Refused(RiderRefusal::Sms { busy: false, .. })) => break,
            Err(StoreError::Refused(RiderRefusal::Sms { busy: true, .. })) if attempt + 1 < MAX_CHARGE_TRIES => {
                tracing::info!(payment_id = %payment.id, "SMS counter busy; trying another shard");
            }
            // Busy every time: contention, not a cap (the client may retry).
            Err(StoreError::Refused(RiderRefusal::Sms { busy: true, .. })) => return Err(UseCaseError::Contention),
            // A velocity counter a concurrent transaction was changing: the write again.
            Err(StoreError::Refused(RiderRefusal::Attempts { busy: true, .. })) if attempt + 1 < MAX_CHARGE_TRIES => {
                tracing::info!(payment_id = %payment.id, "attempt counter busy; writing again");
            }
            Err(StoreError::Refused(RiderRefusal::Attempts { busy: true, .. })) => {
                return Err(UseCaseError::Contention)
            }
            other => return Ok(other),
        }
    }
    tracing::warn!(payment_id = %payment.id, sent_to = %payment.phone, merchant_id = %payment.merchant_id, "SMS cap reached");
    svc.metrics.record(BusinessEvent::SmsRateLimited);
    Err(UseCaseError::SmsRateLimited { retry_after_secs: until_next_hour(now) })
}

/// Issues a fresh code for `payment` (as read, at its stored version) and sends it, asked from
/// `source_ips` (a shopper's route's address digests; none otherwise).
pub(crate) async fn reissue_code(
    svc: &Services,
    mut payment: Payment,
    source_ips: &[String],
    now: i64,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    let previous_send = payment.verification.last_sent_at;
    let code = VerificationCode::generate();
    let hash = svc.hasher().hash(&code_context(&payment, payment.next_send_seq()), &code);
    transition(&mut payment, Command::IssueCode { code_hash: hash }, now)?;
    // The new code's hash and its SMS counted, in one write.
    let stored = write_charged(svc, &payment, source_ips, now, |charge| {
        let (payments, payment) = (&svc.payments, &payment);
        async move { payments.transact(payment, &[Rider::Sms(&charge)]).await }
    })
    .await;
    match stored? {
        Err(StoreError::Conflict) => return Ok(Step::Again(Raced)),
        Err(e) => return Err(e.into()),
        Ok(()) => payment = stored_with(payment),
    }
    let sent = match payment.phone.number() {
        Some(number) => svc.sms.send(number, &sms_text(&svc.settings, &code, &payment)).await,
        None => Err(SendError("the payment no longer keeps its phone number".into())),
    };
    if let Err(e) = sent {
        tracing::warn!(payment_id = %payment.id, error = %e, "code not delivered");
        // Lift the cooldown this send started, so the shopper may ask again at once. The
        // send still counts toward the payment's limit.
        let mut retry = payment.clone();
        let lifted = transition(&mut retry, Command::LiftCooldown { last_sent_at: previous_send }, now);
        if let Err(e) = async {
            lifted?;
            Ok::<_, UseCaseError>(store(svc, &mut retry, &[]).await?)
        }
        .await
        {
            tracing::warn!(payment_id = %payment.id, error = %e, "could not lift resend cooldown");
        }
        return Err(UseCaseError::Unavailable(format!("sms: {e}")));
    }
    svc.metrics.record(BusinessEvent::CodeSent);
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, sends = payment.verification.sends, "code sent");
    Ok(Step::Done(payment))
}
