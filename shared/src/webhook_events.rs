//! The webhook-events function's work (issue 24): each change the table's stream carries (a
//! payment's or a checkout session's, old and new image) becomes the events it emits, each
//! recorded once under its id (a digest of the change): a record seen twice, or a batch
//! delivered again, records nothing new. The event is derived from the change itself, so there
//! is no change without its event even when the function that wrote it died right after. Each
//! event is then delivered to the merchant's endpoints that take it (`usecases::deliver_event`).

use serde_json::{json, Value};

use crate::adapters::dynamodb::stream::{Changed, StreamBatch, StreamRecord};
use crate::domain::{CheckoutSession, Payment};
use crate::http::events::{event_body, Subject, MAX_EVENT_BYTES};
use crate::ports::{StoreError, StoredEvent};
use crate::usecases::SessionView;
use crate::webhooks::{endpoint_events, payment_events, session_events, Emitted, EventType};
use crate::{CodeServices, Ports};

/// How long a batch sends deliveries itself (the function's timeout is 30 s; one send takes 10 s
/// at most).
const SEND_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

/// What one batch did: events recorded (new), seen before, and the records that failed (by
/// sequence number: the event source mapping retries from the first, bisecting).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    pub recorded: usize,
    pub seen_before: usize,
    pub failed: Vec<String>,
}

impl BatchReport {
    /// The answer an event source mapping with `ReportBatchItemFailures` reads.
    pub fn answer(&self) -> Value {
        let failures: Vec<Value> = self.failed.iter().map(|s| json!({ "itemIdentifier": s })).collect();
        json!({ "batchItemFailures": failures, "recorded": self.recorded, "seen_before": self.seen_before })
    }
}

/// Records the events of every record of `batch`, in order. After a record fails, the rest are
/// reported failed too, so the events of one payment are never recorded out of order.
pub async fn record_batch(svc: &CodeServices, batch: &StreamBatch) -> BatchReport {
    let started = std::time::Instant::now();
    let mut report = BatchReport::default();
    for record in &batch.records {
        if !report.failed.is_empty() {
            report.failed.push(record.change.sequence_number.clone());
            continue;
        }
        // Past the budget, events are recorded and their deliveries opened, due now: the sweeper
        // sends them within the minute (slow endpoints never hold the stream past its timeout).
        let send_now = started.elapsed() < SEND_BUDGET;
        match record_one(svc, record, send_now).await {
            Ok((new, old)) => {
                report.recorded += new;
                report.seen_before += old;
            }
            Err(e) => {
                tracing::error!(error = %e, record = %record.event_id, "stream record not recorded: retried");
                report.failed.push(record.change.sequence_number.clone());
            }
        }
    }
    report
}

/// The events of one record, recorded: (new, seen before).
async fn record_one(svc: &CodeServices, record: &StreamRecord, send_now: bool) -> Result<(usize, usize), StoreError> {
    let events = match record.changed()? {
        Changed::Payment { before, after } => of_payment(svc, before.as_deref(), &after).await?,
        Changed::Session { before, after } => of_session(svc, before.as_deref(), *after).await?,
        Changed::Endpoints { merchant, before, after, version } => {
            // At the change's time: the disabling attempt's, as the endpoint's record keeps it.
            let at = svc.clock.now();
            endpoint_events(&before, &after, version)
                .iter()
                .filter_map(|(e, id)| {
                    after.iter().find(|x| &x.id == id).map(|x| stored(e, &merchant, at, &Subject::Endpoint(x)))
                })
                .collect()
        }
        Changed::Other => Vec::new(),
    };
    let (mut new, mut old) = (0, 0);
    for event in &events {
        if event.body.len() > MAX_EVENT_BYTES {
            tracing::warn!(event = %event.id, bytes = event.body.len(), "an event is over 20 KB");
        }
        if svc.events.record(event).await? {
            tracing::info!(event = %event.id, kind = event.kind.as_str(), "event recorded");
            new += 1;
        } else {
            old += 1;
        }
        // Seen before or not: a delivery whose send was not recorded (the function died) is
        // pending and due, and is sent again, with the same id.
        crate::usecases::deliver_event(svc, event, send_now).await?;
    }
    Ok((new, old))
}

fn stored(e: &Emitted, merchant: &crate::domain::Identifier, at: i64, subject: &Subject<'_>) -> StoredEvent {
    StoredEvent {
        id: e.id.clone(),
        kind: e.kind,
        merchant_id: merchant.clone(),
        created_at: at,
        body: event_body(e, at, subject),
    }
}

async fn of_payment(svc: &Ports, before: Option<&Payment>, after: &Payment) -> Result<Vec<StoredEvent>, StoreError> {
    let at = after.updated_at;
    let mut out = Vec::new();
    for e in payment_events(before, after) {
        let event = match e.kind {
            EventType::CheckoutSessionCompleted => {
                let Some(id) = &after.session_id else { continue };
                let Some(session) = svc.payments.get_session(id).await? else { continue };
                let view = SessionView { session, payment: Some(after.clone()) };
                stored(&e, &after.merchant_id, at, &Subject::Session(&view))
            }
            EventType::RefundSucceeded | EventType::RefundFailed => {
                let Some(refund) = e.refund.as_ref().and_then(|id| after.refund(id)) else { continue };
                stored(&e, &after.merchant_id, at, &Subject::Refund(after, refund))
            }
            EventType::CheckoutSessionExpired
            | EventType::PaymentRequiresCapture
            | EventType::PaymentSucceeded
            | EventType::PaymentFailed
            | EventType::PaymentCanceled
            | EventType::PaymentExpired
            | EventType::PayerLocked => stored(&e, &after.merchant_id, at, &Subject::Payment(after)),
            // A payment's change never emits it (the endpoints' record does).
            EventType::WebhookEndpointDisabled => continue,
        };
        out.push(event);
    }
    Ok(out)
}

async fn of_session(
    svc: &Ports,
    before: Option<&CheckoutSession>,
    after: CheckoutSession,
) -> Result<Vec<StoredEvent>, StoreError> {
    let emitted = session_events(before, &after);
    if emitted.is_empty() {
        return Ok(Vec::new());
    }
    let payment = match &after.payment_id {
        Some(id) => svc.payments.get(id).await?,
        None => None,
    };
    let at = after.ended_at.unwrap_or(after.expires_at);
    let merchant = after.merchant_id.clone();
    let view = SessionView { session: after, payment };
    Ok(emitted.iter().map(|e| stored(e, &merchant, at, &Subject::Session(&view))).collect())
}
