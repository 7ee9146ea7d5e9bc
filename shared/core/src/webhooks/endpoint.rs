//! A merchant's webhook endpoints (issue 24): where its events are sent, which ones, and the
//! secrets that sign them. All of a merchant's endpoints are one record, changed by one
//! conditional write (at most [`MAX_ENDPOINTS`]): listing them for a delivery is one read.
//! Secrets are kept sealed (the code key's derived keys, the endpoint's id as context); after a
//! rotation the old one keeps signing beside the new one for [`ROTATION_OVERLAP_SECS`].

use std::collections::BTreeSet;

use super::address::{check_endpoint_url, UrlRefusal};
use super::events::EventType;
use crate::domain::{EndpointId, FieldError};

/// Endpoints per merchant.
pub const MAX_ENDPOINTS: usize = 16;
/// How long a rotated-out secret keeps signing beside its successor.
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 3600;
const MAX_DESCRIPTION: usize = 200;

/// A secret as kept: sealed, and when it stops signing (none: until rotated out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub sealed: String,
    pub expires_at: Option<i64>,
}

/// Which events an endpoint takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscribed {
    /// `["*"]`: every type, present and future.
    All,
    Only(BTreeSet<EventType>),
}

impl Subscribed {
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(kinds) => kinds.iter().map(|k| k.as_str()).collect(),
        }
    }

    /// `["*"]` or a non-empty list of known types.
    pub fn parse(names: &[String]) -> Result<Self, FieldError> {
        let bad = |message: &str| FieldError::new("invalid_enabled_events", "enabled_events", message);
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 { Ok(Self::All) } else { Err(bad("\"*\" stands alone")) };
        }
        let kinds = names
            .iter()
            .map(|n| EventType::parse(n).ok_or_else(|| bad("an unknown event type")))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if kinds.is_empty() {
            return Err(bad("name at least one event type, or \"*\""));
        }
        Ok(Self::Only(kinds))
    }

    pub fn wants(&self, kind: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(kinds) => kinds.contains(&kind),
        }
    }
}

/// Why an endpoint stopped receiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disabled {
    /// The merchant disabled it (`PATCH {"enabled": false}`).
    ByMerchant,
    /// It answered `410 Gone`.
    Gone,
    /// Every attempt failed for five days.
    Failing,
}

impl Disabled {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ByMerchant => "disabled_by_merchant",
            Self::Gone => "endpoint_gone",
            Self::Failing => "failing_for_five_days",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::ByMerchant, Self::Gone, Self::Failing].into_iter().find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub url: String,
    pub events: Subscribed,
    pub description: Option<String>,
    pub disabled: Option<Disabled>,
    /// Newest first; each opened with the endpoint's id as context.
    pub secrets: Vec<SealedSecret>,
    pub created_at: i64,
    /// Since when every attempt to it failed (`None`: its latest attempt succeeded); five days
    /// of it disable the endpoint.
    pub failing_since: Option<i64>,
}

impl Endpoint {
    /// The secrets that sign at `now`.
    pub fn live_secrets(&self, now: i64) -> impl Iterator<Item = &SealedSecret> {
        self.secrets.iter().filter(move |s| s.expires_at.is_none_or(|t| now < t))
    }

    /// A new secret signs from now; the current ones keep signing for a day, expired ones go.
    pub fn rotate(&mut self, sealed: String, now: i64) {
        self.secrets.retain(|s| s.expires_at.is_none_or(|t| now < t));
        for s in &mut self.secrets {
            s.expires_at =
                Some(s.expires_at.map_or(now + ROTATION_OVERLAP_SECS, |t| t.min(now + ROTATION_OVERLAP_SECS)));
        }
        self.secrets.insert(0, SealedSecret { sealed, expires_at: None });
    }

    pub fn receives(&self, kind: EventType) -> bool {
        self.disabled.is_none() && self.events.wants(kind)
    }
}

/// The context a secret is sealed under: its endpoint.
pub fn secret_context(id: &EndpointId) -> String {
    format!("webhook-secret|{id}")
}

/// The URL rules as a field error (`param: url`).
pub fn endpoint_url(text: &str, local: bool) -> Result<String, FieldError> {
    match check_endpoint_url(text, local) {
        Ok(url) => Ok(url.as_str().to_owned()),
        Err(UrlRefusal::Invalid) => Err(FieldError::new("invalid_url", "url", "not an absolute URL")),
        Err(UrlRefusal::Scheme) => Err(FieldError::new("invalid_url", "url", "use https")),
        Err(UrlRefusal::Credentials) => {
            Err(FieldError::new("invalid_url", "url", "no user name or password in the URL"))
        }
        Err(UrlRefusal::Address(a)) => Err(FieldError::new(
            "forbidden_url",
            "url",
            format!("the host is a {} address, which is never called", a.as_str()),
        )),
    }
}

/// A description: optional, at most 200 characters, no control characters.
pub fn description(text: Option<&str>) -> Result<Option<String>, FieldError> {
    match text {
        None => Ok(None),
        Some(t) if t.chars().count() <= MAX_DESCRIPTION && !t.chars().any(char::is_control) => Ok(Some(t.to_owned())),
        Some(_) => {
            Err(FieldError::new("invalid_description", "description", "at most 200 characters, no control characters"))
        }
    }
}
