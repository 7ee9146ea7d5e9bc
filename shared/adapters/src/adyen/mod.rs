//! Adyen Checkout API v71 behind the acquirer port (issue 25, `ACQUIRER=adyen`).
//!
//! - Authorise: `POST /payments` with manual capture (`additionalData.manualCapture`), our
//!   payment id as `reference` and as `Idempotency-Key`. A first payment sends the card with its
//!   CVC (`Ecommerce`; `CardOnFile` and `storePaymentMethod` when the card is to be saved, under
//!   a `shopperReference` that is a keyed hash of (merchant, user)); a repeat payment sends the
//!   stored method's id (`ContAuth`, `CardOnFile`) with the first payment's network reference.
//! - Capture, cancel, refund: `POST /payments/{pspReference}/captures|cancels|refunds`, keyed
//!   `<payment id>.capture`, `<payment id>.cancel`, `<refund id>`; a cancel with no stored
//!   pspReference is `POST /cancels` by our payment id. Adyen answers `received`: a refund is
//!   `Pending` until its notification.
//! - A timeout, a 5xx or a 429 is sent again with the same key, within `budget`; a 4xx is never
//!   sent again, and only its `errorCode` is kept (never shown to a shopper, never its message).
//! - The API key is a header only: never in a log, an error or an answer.

pub mod notices;
pub mod notifications;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{Customer, Money, PaymentId, SessionId};
use crate::ports::{
    Acquirer, AcquirerError, Authorization, AuthorizationRequest, Capture, DetailsRequest, RefundOutcome,
    RefundRequest, StoredCredential,
};
use sha2::Digest as _;
use wire::{
    authorization_of, AmountRequest, CancelByReference, CancelRequest, CardDetails, CardUse, ModificationResponse,
    PaymentRequest, PaymentResponse, ServiceError, StoredCard,
};

/// Adyen's API key (`X-API-Key`); Debug shows nothing of it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Where and as whom the adapter calls Adyen. Debug shows neither key.
#[derive(Clone)]
pub struct AdyenConfig {
    /// `https://checkout-test.adyen.com/v71` or the live prefix's URL: configured, no default.
    pub endpoint: String,
    pub merchant_account: String,
    /// Where a 3-D Secure redirect would come back to (the API requires one).
    pub return_url: String,
    /// `None` in a function that never calls the acquirer (it is not given the key).
    pub api_key: Option<ApiKey>,
    /// The key of the shopper references' hash (derived from the platform's code key).
    pub reference_key: Vec<u8>,
}

impl std::fmt::Debug for AdyenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdyenConfig")
            .field("endpoint", &self.endpoint)
            .field("merchant_account", &self.merchant_account)
            .field("return_url", &self.return_url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// One HTTP exchange: the status and body, or why none came.
#[derive(Debug)]
pub enum Exchange {
    Answered {
        status: u16,
        body: Vec<u8>,
    },
    /// Connecting failed or the answer did not come in time: the request may or may not have
    /// reached Adyen.
    Lost(String),
}

/// How the adapter reaches Adyen: a POST of JSON with its headers (HTTP in the functions, a
/// stub or `wiremock` in tests).
#[async_trait]
pub trait AdyenTransport: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&str, &str)], body: Vec<u8>, timeout: Duration) -> Exchange;
}

pub struct AdyenAcquirer {
    config: AdyenConfig,
    transport: Arc<dyn AdyenTransport>,
    /// The attempts' schedule: each attempt's timeout, and the pauses between them.
    retry: RetryPolicy,
}

/// Attempts of one call: up to `attempts`, each waiting at most `timeout`, `pause` between
/// them (doubling): 3 × 2.5 s + 0.2 + 0.4 s stays inside a 10 s function.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub timeout: Duration,
    pub pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 3, timeout: Duration::from_millis(2500), pause: Duration::from_millis(200) }
    }
}

impl AdyenAcquirer {
    pub fn new(config: AdyenConfig, transport: Arc<dyn AdyenTransport>, retry: RetryPolicy) -> Self {
        Self { config, transport, retry }
    }

    /// The shopper reference Adyen keeps a saved card under: a keyed hash of (merchant, user),
    /// never the ids themselves.
    pub fn shopper_reference(&self, customer: &Customer) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.config.reference_key) else { return String::new() };
        mac.update(customer.merchant_id.as_str().as_bytes());
        mac.update(b"\x1f");
        mac.update(customer.user_id.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("shp_{}", hex::encode(digest.get(..20).unwrap_or_default()))
    }

    /// POSTs `body` to `path` under `key`, again on a timeout, a 5xx or a 429 (same key);
    /// the 2xx answer's body, or why there is none.
    async fn call(&self, path: &str, key: &str, body: &impl serde::Serialize) -> Result<Vec<u8>, AcquirerError> {
        let api_key = self.config.api_key.as_ref().ok_or_else(|| AcquirerError("no Adyen API key here".into()))?;
        let body = serde_json::to_vec(body).map_err(|e| AcquirerError(format!("request not encoded: {e}")))?;
        let url = format!("{}{path}", self.config.endpoint.trim_end_matches('/'));
        let headers = [("content-type", "application/json"), ("x-api-key", api_key.expose()), ("idempotency-key", key)];
        let mut pause = self.retry.pause;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            match self.transport.post(&url, &headers, body.clone(), self.retry.timeout).await {
                Exchange::Answered { status, body } if (200..300).contains(&status) => return Ok(body),
                Exchange::Answered { status, body } if status >= 500 || status == 429 => {
                    last = refusal(status, &body);
                }
                Exchange::Answered { status, body } => {
                    let refused = refusal(status, &body);
                    tracing::warn!(path, status, refused, "Adyen refused the request; not sent again");
                    return Err(AcquirerError(refused));
                }
                Exchange::Lost(why) => last = why,
            }
            tracing::warn!(path, attempt, error = %last, "Adyen call failed; sending again with the same key");
            if attempt < self.retry.attempts {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(AcquirerError(format!("Adyen unavailable: {last}")))
    }

    async fn modification(&self, path: &str, key: &str, body: &impl serde::Serialize) -> Result<(), AcquirerError> {
        let answer = self.call(path, key, body).await?;
        let parsed: ModificationResponse = parse(&answer)?;
        if parsed.status != "received" {
            return Err(AcquirerError(format!("Adyen answered status {:?}", parsed.status)));
        }
        Ok(())
    }

    fn card_use<'a>(
        &self,
        request: &'a AuthorizationRequest<'a>,
        shopper: &'a str,
    ) -> Result<CardUse<'a>, AcquirerError> {
        match request.credential {
            StoredCredential::Subsequent { network_reference } => network_reference
                .and_then(StoredCard::decode)
                .map(CardUse::Stored)
                .ok_or_else(|| AcquirerError("a saved card without its Adyen reference".into())),
            StoredCredential::None | StoredCredential::Initial => Ok(CardUse::Present {
                number: request.card.expose(),
                month: request.expiry.month,
                year: request.expiry.year,
                cvc: request.cvc.map(|c| c.expose_secret()),
                store_as: wire::wants_storing(&request.credential).then_some(shopper),
            }),
        }
    }
}

/// What a refused call says: its status and Adyen's `errorCode` (never its message).
fn refusal(status: u16, body: &[u8]) -> String {
    let error: ServiceError = serde_json::from_slice(body).unwrap_or_default();
    format!(
        "HTTP {status} errorCode {} ({})",
        error.error_code.as_deref().unwrap_or("none"),
        error.error_type.as_deref().unwrap_or("no type")
    )
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AcquirerError> {
    serde_json::from_slice(body).map_err(|e| AcquirerError(format!("an answer the contract does not allow: {e}")))
}

/// Where a 3-D Secure redirect returns: a session's payment to its checkout page (under the
/// configured URL: `<ADYEN_RETURN_URL>checkout/<session id>`), any other to the URL itself.
fn return_url(config: &AdyenConfig, session: Option<&SessionId>) -> String {
    let page = session.and_then(|s| {
        let base = url::Url::parse(&config.return_url).ok()?;
        base.join(&format!("checkout/{s}")).ok()
    });
    page.map_or_else(|| config.return_url.clone(), String::from)
}

fn payment_request<'a>(
    config: &'a AdyenConfig,
    request: &'a AuthorizationRequest<'a>,
    card: &'a CardUse<'a>,
) -> PaymentRequest<'a> {
    let (id, money) = (request.payment_id, request.money);
    let (interaction, model, store) = card.interaction();
    let mut additional = std::collections::BTreeMap::from([("manualCapture", "true".to_owned())]);
    let (method, shopper) = match card {
        CardUse::Present { number, month, year, cvc, store_as } => (
            CardDetails {
                kind: "scheme",
                number: Some(number),
                expiry_month: Some(format!("{month:02}")),
                expiry_year: Some(year.to_string()),
                cvc: *cvc,
                stored_payment_method_id: None,
            },
            *store_as,
        ),
        CardUse::Stored(stored) => {
            if let Some(ntx) = &stored.network_tx_reference {
                additional.insert("networkTxReference", ntx.clone());
            }
            (
                CardDetails {
                    kind: "scheme",
                    number: None,
                    expiry_month: None,
                    expiry_year: None,
                    cvc: None,
                    stored_payment_method_id: Some(&stored.stored_payment_method_id),
                },
                Some(stored.shopper_reference.as_str()),
            )
        }
    };
    PaymentRequest {
        merchant_account: &config.merchant_account,
        reference: id.as_str(),
        amount: wire::Amount::of(money),
        payment_method: method,
        shopper_interaction: interaction,
        recurring_processing_model: model,
        store_payment_method: store,
        shopper_reference: shopper,
        return_url: return_url(config, request.session_id),
        channel: matches!(card, CardUse::Present { .. }).then_some("Web"),
        authentication_data: matches!(card, CardUse::Present { .. })
            .then(|| serde_json::json!({"threeDSRequestData": {"nativeThreeDS": "disabled"}})),
        additional_data: additional,
    }
}

#[async_trait]
impl Acquirer for AdyenAcquirer {
    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Authorization, AcquirerError> {
        let shopper = self.shopper_reference(request.customer);
        let card = self.card_use(request, &shopper)?;
        let body = payment_request(&self.config, request, &card);
        let answer: PaymentResponse = parse(&self.call("/payments", request.payment_id.as_str(), &body).await?)?;
        let stored_under = match &card {
            CardUse::Present { store_as, .. } => *store_as,
            CardUse::Stored(_) => None,
        };
        authorization_of(&answer, stored_under).map_err(AcquirerError)
    }

    async fn details(&self, request: &DetailsRequest<'_>) -> Result<Authorization, AcquirerError> {
        let details: serde_json::Value = serde_json::from_str(request.details)
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| AcquirerError("the action's details are not a JSON object".into()))?;
        // The same details, the same key: a retry gets the same answer.
        let digest = hex::encode(sha2::Sha256::digest(request.details.as_bytes()).get(..8).unwrap_or_default());
        let key = format!("{}.details.{digest}", request.payment_id);
        let body = wire::DetailsRequest { details };
        let answer: PaymentResponse = parse(&self.call("/payments/details", &key, &body).await?)?;
        let shopper = self.shopper_reference(request.customer);
        let stored_under = wire::wants_storing(&request.credential).then_some(shopper.as_str());
        authorization_of(&answer, stored_under).map_err(AcquirerError)
    }

    async fn capture(
        &self,
        payment_id: &PaymentId,
        authorization_id: &str,
        money: &Money,
    ) -> Result<Capture, AcquirerError> {
        let body = AmountRequest {
            merchant_account: &self.config.merchant_account,
            amount: wire::Amount::of(money),
            reference: payment_id.as_str(),
        };
        let path = format!("/payments/{authorization_id}/captures");
        self.modification(&path, &format!("{payment_id}.capture"), &body).await?;
        Ok(Capture::Pending)
    }

    async fn void(&self, payment_id: &PaymentId, authorization_id: &str) -> Result<(), AcquirerError> {
        let key = format!("{payment_id}.cancel");
        let account = &self.config.merchant_account;
        if authorization_id.is_empty() {
            let body = CancelByReference {
                merchant_account: account,
                payment_reference: payment_id.as_str(),
                reference: payment_id.as_str(),
            };
            return self.modification("/cancels", &key, &body).await;
        }
        let body = CancelRequest { merchant_account: account, reference: payment_id.as_str() };
        self.modification(&format!("/payments/{authorization_id}/cancels"), &key, &body).await
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError> {
        let body = AmountRequest {
            merchant_account: &self.config.merchant_account,
            amount: wire::Amount::of(request.money),
            reference: request.refund_id.as_str(),
        };
        let path = format!("/payments/{}/refunds", request.authorization_id);
        self.modification(&path, request.refund_id.as_str(), &body).await?;
        Ok(RefundOutcome::Pending)
    }

    /// Adyen has no refund status to ask: a refund stays pending until its `REFUND` or
    /// `REFUND_FAILED` notification settles it.
    async fn refund_status(&self, _request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError> {
        Ok(RefundOutcome::Pending)
    }
}
