//! Delivering a recorded event to the merchant's endpoints (issue 24), at least once. Each
//! (event, endpoint) pair has one delivery record, opened before the first attempt (a
//! conditional put: opened once however often the event is seen) and changed only under the
//! number of attempts read. An attempt sends the event with Standard Webhooks' headers (the
//! event's id as `webhook-id`, on every attempt), signed by every live secret of the endpoint.
//! A delivery still pending is tried again when it is due: by the webhook-events function when
//! it sees the event again (a retried batch: a send whose record was lost is sent again, with
//! the same id), and by the sweeper from the due index.

use super::{Caller, CodeServices, UseCaseError};
use crate::domain::{EndpointId, EventId};
use crate::ports::{Answered, AttemptRecord, Delivery, DeliveryState, Outgoing, StoreError, StoredEvent};
use crate::webhooks::endpoint::secret_context;
use crate::webhooks::{next_attempt, retry_after_secs, sign, Attempted, Disabled, Endpoint, Next, WebhookSecret};

/// Every delivery of `event`: one record per endpoint that receives its type, each pending one
/// attempted now if `send_now` (all endpoints at once: an event takes as long as its slowest
/// endpoint, 10 s at most); otherwise they stay due, for the sweeper.
pub async fn deliver_event(svc: &CodeServices, event: &StoredEvent, send_now: bool) -> Result<(), StoreError> {
    let now = svc.clock.now();
    let endpoints = svc.endpoints.endpoints(&event.merchant_id).await?.endpoints;
    let mut due = Vec::new();
    for endpoint in endpoints.iter().filter(|e| e.receives(event.kind)) {
        let delivery = svc.deliveries.open(&Delivery::new(event, &endpoint.id, now)).await?;
        if send_now && delivery.is_due(now) {
            due.push((endpoint, delivery));
        }
    }
    futures::future::join_all(due.into_iter().map(|(e, d)| attempt(svc, e, event, d))).await.into_iter().collect()
}

/// The deliveries due now (the sweeper's): each attempted again; how many were.
pub async fn retry_deliveries(svc: &CodeServices, limit: u8) -> Result<usize, StoreError> {
    let now = svc.clock.now();
    let mut tried = 0;
    for delivery in svc.deliveries.due(now, limit).await? {
        let Some(event) = svc.events.event(&delivery.merchant_id, &delivery.event_id).await? else { continue };
        let endpoints = svc.endpoints.endpoints(&delivery.merchant_id).await?.endpoints;
        let Some(endpoint) = endpoints.iter().find(|e| e.id == delivery.endpoint_id && e.disabled.is_none()) else {
            // Deleted or disabled since: nothing more to send to it.
            svc.deliveries.record(&delivery.ended(DeliveryState::Failed), delivery.attempts, None).await?;
            continue;
        };
        if delivery.is_due(now) {
            attempt(svc, endpoint, &event, delivery).await?;
            tried += 1;
        }
    }
    Ok(tried)
}

/// The secrets that sign now, opened (one that cannot be opened is skipped, and said).
fn live_secrets(svc: &CodeServices, endpoint: &Endpoint, now: i64) -> Vec<WebhookSecret> {
    endpoint
        .live_secrets(now)
        .filter_map(|s| match svc.kept().open(&secret_context(&endpoint.id), &s.sealed) {
            Ok(text) => WebhookSecret::parse(&text),
            Err(_) => {
                tracing::error!(endpoint = %endpoint.id, "a webhook secret cannot be opened (key retired?)");
                None
            }
        })
        .collect()
}

/// The request an attempt sends.
pub fn outgoing(endpoint: &Endpoint, event: &StoredEvent, secrets: &[WebhookSecret], now: i64) -> Outgoing {
    let refs: Vec<&WebhookSecret> = secrets.iter().collect();
    let signature = sign(&refs, event.id.as_str(), now, event.body.as_bytes());
    Outgoing {
        url: endpoint.url.clone(),
        headers: vec![
            ("webhook-id".into(), event.id.to_string()),
            ("webhook-timestamp".into(), now.to_string()),
            ("webhook-signature".into(), signature.0),
        ],
        body: event.body.clone(),
    }
}

async fn attempt(
    svc: &CodeServices,
    endpoint: &Endpoint,
    event: &StoredEvent,
    delivery: Delivery,
) -> Result<(), StoreError> {
    let now = svc.clock.now();
    let answered: Answered =
        svc.webhooks.send(&outgoing(endpoint, event, &live_secrets(svc, endpoint, now), now)).await;
    let outcome = match answered.status {
        Some(200..=299) => Attempted::Delivered,
        status => Attempted::Failed { status, retry_after_secs: retry_after_secs(answered.retry_after.as_deref()) },
    };
    let number = usize::try_from(delivery.attempts).unwrap_or(usize::MAX).saturating_add(1);
    let jitter = rand::random::<f64>() * 2.0 - 1.0;
    // Since when every attempt to the endpoint failed: five days of it disable the endpoint.
    let failing_since = match outcome {
        Attempted::Delivered => None,
        Attempted::Failed { .. } => Some(endpoint.failing_since.unwrap_or(now)),
    };
    let next = next_attempt(number, outcome, now, failing_since, jitter);
    let record = AttemptRecord {
        event_id: event.id.clone(),
        endpoint_id: endpoint.id.clone(),
        number: delivery.attempts + 1,
        at: now,
        status: answered.status,
        error: answered.error.clone(),
        latency_ms: answered.latency_ms,
    };
    tracing::info!(
        event = %event.id, endpoint = %endpoint.id, attempt = record.number,
        status = ?answered.status, latency_ms = answered.latency_ms, "webhook attempt"
    );
    let after = delivery.after_attempt(now, &next);
    svc.deliveries.record(&after, delivery.attempts, Some(&record)).await?;
    let disabled = (next == Next::DisableEndpoint).then_some(if answered.status == Some(410) {
        Disabled::Gone
    } else {
        Disabled::Failing
    });
    // The endpoint's record is written only when this changes it: it starts or stops failing,
    // or is disabled.
    if failing_since != endpoint.failing_since || disabled.is_some() {
        change_endpoint(svc, &event.merchant_id, &endpoint.id, |e| {
            e.failing_since = failing_since.and(e.failing_since.or(failing_since));
            if disabled.is_some() {
                e.disabled = disabled;
            }
        })
        .await?;
    }
    Ok(())
}

/// Changes one endpoint of the merchant's record (gone: nothing), under its version.
async fn change_endpoint(
    svc: &CodeServices,
    merchant: &crate::domain::Identifier,
    id: &EndpointId,
    change: impl Fn(&mut Endpoint),
) -> Result<(), StoreError> {
    for _ in 0..5 {
        let mut set = svc.endpoints.endpoints(merchant).await?;
        let Some(e) = set.endpoints.iter_mut().find(|e| &e.id == id) else { return Ok(()) };
        change(e);
        if let Some(reason) = e.disabled {
            tracing::warn!(endpoint = %id, reason = reason.as_str(), "webhook endpoint disabled");
        }
        match svc.endpoints.save(merchant, &set).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}

/// An endpoint's latest attempts, newest first (`GET /webhook-endpoints/{id}/deliveries`).
pub async fn endpoint_attempts(
    svc: &super::Ports,
    caller: &Caller,
    id: &EndpointId,
    limit: u8,
) -> Result<Vec<crate::ports::AttemptRecord>, UseCaseError> {
    let endpoint = super::get_endpoint(svc, caller, id).await?;
    Ok(svc.deliveries.attempts(caller.merchant(), &endpoint.id, limit).await?)
}

/// Sends `event` again to every endpoint that receives it now (`POST /events/{id}/redeliver`):
/// how many.
pub async fn redeliver(svc: &CodeServices, caller: &Caller, id: &EventId) -> Result<usize, UseCaseError> {
    let event = super::event(svc, caller, id).await?;
    let now = svc.clock.now();
    let endpoints = svc.endpoints.endpoints(caller.merchant()).await?.endpoints;
    let mut opened = Vec::new();
    for endpoint in endpoints.iter().filter(|e| e.receives(event.kind)) {
        opened.push((endpoint, svc.deliveries.open(&Delivery::new(&event, &endpoint.id, now)).await?));
    }
    let sent = opened.len();
    // All at once: the request waits for the slowest endpoint (10 s at most), not their sum.
    let results = futures::future::join_all(opened.into_iter().map(|(e, d)| attempt(svc, e, &event, d))).await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(sent)
}
