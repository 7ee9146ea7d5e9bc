//! The merchant's webhook events (issue 24): one by id, or a page, newest first. A merchant
//! sees only its own (another's event is "not found", as its payments are).

use super::{Caller, Ports, UseCaseError};
use crate::domain::EventId;
use crate::ports::{EventPage, EventQuery, StoredEvent};

pub async fn event(svc: &Ports, caller: &Caller, id: &EventId) -> Result<StoredEvent, UseCaseError> {
    svc.events.event(caller.merchant(), id).await?.ok_or(UseCaseError::EventNotFound)
}

pub async fn events(svc: &Ports, caller: &Caller, query: &EventQuery) -> Result<EventPage, UseCaseError> {
    Ok(svc.events.events(caller.merchant(), query).await?)
}
