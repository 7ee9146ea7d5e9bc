//! A merchant's webhook endpoints (issue 24): created with a secret shown once (kept sealed),
//! listed, changed, its secret rotated (the old one signs beside the new one for a day),
//! deleted. A merchant reaches only its own: its endpoints are one record under its id, so
//! another merchant's endpoint id is simply not there ("not found"). Every change is read,
//! changed and written under the record's version, retried when another change won.

use super::{Caller, CodeServices, Ports, UseCaseError};
use crate::domain::EndpointId;
use crate::ports::StoreError;
use crate::webhooks::endpoint::secret_context;
use crate::webhooks::{Disabled, Endpoint, Subscribed, WebhookSecret, MAX_ENDPOINTS};

/// What a new endpoint is (validated).
#[derive(Debug, Clone)]
pub struct EndpointAsk {
    pub url: String,
    pub events: Subscribed,
    pub description: Option<String>,
}

/// What a `PATCH` changes (validated); `None`: unchanged.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Subscribed>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// Tries of a change that keeps losing to concurrent ones before it answers "busy".
const TRIES: usize = 5;

/// Reads the caller's endpoints, applies `change`, writes them under the version read; again
/// on a lost race.
async fn change<T>(
    svc: &Ports,
    caller: &Caller,
    mut change: impl FnMut(&mut Vec<Endpoint>) -> Result<T, UseCaseError>,
) -> Result<T, UseCaseError> {
    for _ in 0..TRIES {
        let mut set = svc.endpoints.endpoints(caller.merchant()).await?;
        let out = change(&mut set.endpoints)?;
        match svc.endpoints.save(caller.merchant(), &set).await {
            Ok(()) => return Ok(out),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Unavailable("webhook endpoints kept changing".into()).into())
}

fn seal(svc: &CodeServices, id: &EndpointId, secret: &WebhookSecret) -> Result<String, UseCaseError> {
    svc.kept().seal(&secret_context(id), &secret.expose()).map_err(|e| UseCaseError::Unavailable(e.to_string()))
}

fn find<'a>(endpoints: &'a mut [Endpoint], id: &EndpointId) -> Result<&'a mut Endpoint, UseCaseError> {
    endpoints.iter_mut().find(|e| &e.id == id).ok_or(UseCaseError::EndpointNotFound)
}

pub async fn create_endpoint(
    svc: &CodeServices,
    caller: &Caller,
    ask: EndpointAsk,
) -> Result<(Endpoint, WebhookSecret), UseCaseError> {
    let id = EndpointId::new();
    let secret = WebhookSecret::generate();
    let endpoint = Endpoint {
        id: id.clone(),
        url: ask.url,
        events: ask.events,
        description: ask.description,
        disabled: None,
        secrets: vec![crate::webhooks::SealedSecret { sealed: seal(svc, &id, &secret)?, expires_at: None }],
        created_at: svc.clock.now(),
        failing_since: None,
    };
    change(svc, caller, |all| {
        if all.len() >= MAX_ENDPOINTS {
            return Err(UseCaseError::TooManyEndpoints);
        }
        all.push(endpoint.clone());
        Ok(())
    })
    .await?;
    Ok((endpoint, secret))
}

pub async fn list_endpoints(svc: &Ports, caller: &Caller) -> Result<Vec<Endpoint>, UseCaseError> {
    Ok(svc.endpoints.endpoints(caller.merchant()).await?.endpoints)
}

pub async fn get_endpoint(svc: &Ports, caller: &Caller, id: &EndpointId) -> Result<Endpoint, UseCaseError> {
    list_endpoints(svc, caller).await?.into_iter().find(|e| &e.id == id).ok_or(UseCaseError::EndpointNotFound)
}

pub async fn update_endpoint(
    svc: &Ports,
    caller: &Caller,
    id: &EndpointId,
    patch: &EndpointPatch,
) -> Result<Endpoint, UseCaseError> {
    change(svc, caller, |all| {
        let e = find(all, id)?;
        if let Some(url) = &patch.url {
            e.url.clone_from(url);
        }
        if let Some(events) = &patch.events {
            e.events = events.clone();
        }
        if let Some(description) = &patch.description {
            e.description.clone_from(description);
        }
        match patch.enabled {
            // Enabled again, whatever disabled it (a 410, five days failing): the merchant says
            // it is fixed.
            Some(true) => {
                e.disabled = None;
                e.failing_since = None;
            }
            Some(false) => e.disabled = Some(Disabled::ByMerchant),
            None => {}
        }
        Ok(e.clone())
    })
    .await
}

/// A new secret signs from now; the old one keeps signing beside it for 24 hours.
pub async fn rotate_secret(
    svc: &CodeServices,
    caller: &Caller,
    id: &EndpointId,
) -> Result<(Endpoint, WebhookSecret), UseCaseError> {
    let secret = WebhookSecret::generate();
    let sealed = seal(svc, id, &secret)?;
    let now = svc.clock.now();
    let endpoint = change(svc, caller, |all| {
        let e = find(all, id)?;
        e.rotate(sealed.clone(), now);
        Ok(e.clone())
    })
    .await?;
    Ok((endpoint, secret))
}

pub async fn delete_endpoint(svc: &Ports, caller: &Caller, id: &EndpointId) -> Result<(), UseCaseError> {
    change(svc, caller, |all| {
        let before = all.len();
        all.retain(|e| &e.id != id);
        if all.len() == before {
            return Err(UseCaseError::EndpointNotFound);
        }
        Ok(())
    })
    .await
}
