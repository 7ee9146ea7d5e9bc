//! What a function is configured with, as the use cases and the HTTP layer read it: callers'
//! settings, which keys to load, which acquirer, and why a configuration is refused. Loading it
//! (environment, SSM) is `shared::config`'s.

use crate::domain::{
    Currency, FieldError, Locale, Money, ReturnUrl, SmsCountries, DEFAULT_REFUND_WINDOW_SECS, MAX_CAPTURE_WINDOW_SECS,
};
use crate::secrets::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("SSM parameter {0} could not be read: {1}")]
    Parameter(String, String),
    #[error("{0} must be a positive whole number")]
    Number(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("LOCAL_AUTH must be unset or `merchant-header`, not {0:?}")]
    LocalAuthMode(String),
    #[error(
        "LOCAL_AUTH=merchant-header trusts a request header for the merchant; it is for the local stack only \
         and needs an AWS endpoint on 127.0.0.1 (AWS_ENDPOINT_URL is {0:?})"
    )]
    LocalAuthOutsideLocal(String),
    #[error("MERCHANT_DISPLAY_NAMES must be a JSON object of merchant id to name (1 to 40 characters): {0}")]
    MerchantNames(String),
    #[error("MERCHANT_LOCALES must be a JSON object of merchant id to `en` or `zh-CN`: {0}")]
    MerchantLocales(String),
    #[error("CHECKOUT_HOST must be the checkout's lower-case host name (at most 40 characters), or empty: {0:?}")]
    CheckoutHost(String),
    #[error("{0} must list ISO 3166-1 alpha-2 country codes (`CN,HK`), or be `*`: {1}")]
    SmsCountries(&'static str, String),
    #[error("CURRENCIES must list ISO 4217 codes with minor units (`CNY,HKD`), or be `*`: {0:?} is not one")]
    Currencies(String),
    #[error("RETURN_URL_ORIGINS must be a JSON object of merchant id to a list of origins: {0}")]
    ReturnUrlOrigins(String),
    #[error("ACQUIRER {0:?} is not an acquirer this build has (sandbox, adyen)")]
    UnknownAcquirer(String),
    #[error("ADYEN_ENDPOINT must be an https URL (http only on 127.0.0.1, the local stand-in): {0:?}")]
    AdyenEndpoint(String),
    #[error("ADYEN_HMAC_KEY must be the notification HMAC key in hex, as Adyen's Customer Area shows it")]
    AdyenHmacKey,
    #[error(
        "ACQUIRER=sandbox approves every valid card and moves no money; it runs only with \
         ALLOW_SANDBOX_ACQUIRER=true, which the template forbids for the prod stage"
    )]
    SandboxNotAllowed,
}

/// Which acquirer authorises payments: a new acquirer is a new adapter behind the same port,
/// and a new variant here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquirerChoice {
    /// Approves every Luhn-valid card except its test cards; never in production.
    Sandbox,
    /// Adyen's Checkout API v71 (`shared/adapters/src/adyen`).
    Adyen(AdyenSettings),
}

/// Where and as whom the Adyen adapter calls: all configured, none defaulted (a stack never
/// takes live money by accident, nor test money in production). The API key and the
/// notifications' HMAC key are SSM SecureStrings, loaded with the other keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdyenSettings {
    /// `ADYEN_ENDPOINT`: `https://checkout-test.adyen.com/v71`, or the live URL with the
    /// account's prefix; `http://127.0.0.1:…` only for the local stand-in.
    pub endpoint: String,
    /// `ADYEN_MERCHANT_ACCOUNT`.
    pub merchant_account: String,
    /// `ADYEN_RETURN_URL`: where a 3-D Secure redirect comes back to.
    pub return_url: String,
}

impl AcquirerChoice {
    /// `ACQUIRER` and what it needs (`ALLOW_SANDBOX_ACQUIRER` for the sandbox, `ADYEN_*` for
    /// Adyen), read through `env`: there is no default.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match env("ACQUIRER").as_deref() {
            None | Some("") => Err(ConfigError::Missing("ACQUIRER")),
            Some("sandbox") if env("ALLOW_SANDBOX_ACQUIRER").as_deref() == Some("true") => Ok(Self::Sandbox),
            Some("sandbox") => Err(ConfigError::SandboxNotAllowed),
            Some("adyen") => {
                let need = |name: &'static str| env(name).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name));
                let endpoint = need("ADYEN_ENDPOINT")?;
                let parsed = url::Url::parse(&endpoint).ok();
                let local = parsed.as_ref().is_some_and(|u| u.scheme() == "http" && u.host_str() == Some("127.0.0.1"));
                if !(local || parsed.as_ref().is_some_and(|u| u.scheme() == "https")) {
                    return Err(ConfigError::AdyenEndpoint(endpoint));
                }
                Ok(Self::Adyen(AdyenSettings {
                    endpoint,
                    merchant_account: need("ADYEN_MERCHANT_ACCOUNT")?,
                    return_url: need("ADYEN_RETURN_URL")?,
                }))
            }
            Some(other) => Err(ConfigError::UnknownAcquirer(other.to_owned())),
        }
    }
}

/// How a merchant route learns its caller besides the JWT authorizer's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalAuth {
    /// Only the authorizer's claims (every deployed stage).
    #[default]
    Off,
    /// `LOCAL_AUTH=merchant-header`: where a request has no authorizer context, the
    /// `X-Local-Merchant-Id` header names the merchant (`cargo lambda watch` passes no
    /// authorizer context). Only the local scripts set it.
    MerchantHeader,
}

impl LocalAuth {
    /// The mode `LOCAL_AUTH` asks for, refused unless the AWS endpoint is on 127.0.0.1: a
    /// function that trusts a header must never run against real AWS.
    pub fn from_env(value: Option<&str>, aws_endpoint: Option<&str>) -> Result<Self, ConfigError> {
        match value {
            None | Some("") => Ok(Self::Off),
            Some("merchant-header") => {
                let host =
                    aws_endpoint.and_then(|e| url::Url::parse(e).ok()).and_then(|u| u.host_str().map(str::to_owned));
                if host.as_deref() == Some("127.0.0.1") {
                    Ok(Self::MerchantHeader)
                } else {
                    Err(ConfigError::LocalAuthOutsideLocal(aws_endpoint.unwrap_or("").to_owned()))
                }
            }
            Some(other) => Err(ConfigError::LocalAuthMode(other.to_owned())),
        }
    }
}

/// What the HTTP layer needs besides the use cases' services.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub local_auth: LocalAuth,
    /// `MERCHANT_DISPLAY_NAMES`: `{"merchant id": "name shoppers see"}`; the id otherwise.
    pub merchant_names: std::collections::BTreeMap<String, String>,
    /// `SMS_COUNTRIES`: the countries this deployment sends codes to (`CN,HK`; unset: any).
    pub sms_countries: SmsCountries,
    /// `MERCHANT_SMS_COUNTRIES`: `{"merchant id": "CN,HK"}`, each within the deployment's.
    pub merchant_sms_countries: std::collections::BTreeMap<String, SmsCountries>,
    /// `CURRENCIES`: the currencies this deployment takes (`CNY,HKD`; unset or `*`: any ISO 4217
    /// currency with minor units).
    pub currencies: Currencies,
    /// `RETURN_URL_ORIGINS`: `{"merchant id": ["https://shop.example"]}`: where a merchant's
    /// checkout sessions may send the shopper back to. A merchant without a list may name any
    /// https address whose host is a plain name.
    pub return_url_origins: std::collections::BTreeMap<String, Vec<String>>,
    /// `CAPTURE_WINDOW_HOURS`: how long a manual-capture payment's funds stay held for the
    /// merchant's capture (at most, and by default, 7 days).
    pub capture_window: CaptureWindow,
    /// `REFUND_WINDOW_DAYS`: how long after its capture a payment may be refunded (180 days by
    /// default; 1 to 540).
    pub refund_window: RefundWindow,
    /// `MERCHANT_LOCALES`: `{"merchant id": "zh-CN"}`: the language a merchant's shoppers are
    /// spoken to when neither the session nor the browser says (English otherwise).
    pub merchant_locales: std::collections::BTreeMap<String, Locale>,
    /// `CHECKOUT_HOST`: the host the checkout page is served from, for the SMS's WebOTP line
    /// (`@host #code`); unset: no such line.
    pub checkout_host: Option<String>,
}

/// How long after its capture a payment may be refunded: 1 to 540 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundWindow(i64);

impl RefundWindow {
    pub const MAX_DAYS: u32 = 540;

    pub fn days(days: u32) -> Self {
        Self(i64::from(days.clamp(1, Self::MAX_DAYS)) * 86_400)
    }

    pub fn secs(&self) -> i64 {
        self.0
    }
}

impl Default for RefundWindow {
    fn default() -> Self {
        Self(DEFAULT_REFUND_WINDOW_SECS)
    }
}

/// How long a manual-capture payment's funds stay held: 1 hour to 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureWindow(i64);

impl CaptureWindow {
    /// `hours`, at most 7 days.
    pub fn hours(hours: u32) -> Self {
        Self((i64::from(hours) * 3_600).clamp(3_600, MAX_CAPTURE_WINDOW_SECS))
    }

    /// Until when funds held at `now` may be captured.
    pub fn capture_before(&self, now: i64) -> i64 {
        now + self.0
    }
}

impl Default for CaptureWindow {
    fn default() -> Self {
        Self(MAX_CAPTURE_WINDOW_SECS)
    }
}

/// The currencies a deployment takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Currencies {
    #[default]
    Any,
    Only(std::collections::BTreeSet<String>),
}

impl Currencies {
    /// `CNY,HKD` or `*` (any); an unknown or malformed code is refused.
    pub fn parse(list: &str) -> Result<Self, String> {
        let list = list.trim();
        if list.is_empty() || list == "*" {
            return Ok(Self::Any);
        }
        let codes = list
            .split(',')
            .map(str::trim)
            .map(|code| Currency::parse("currency", code).map(|c| c.code().to_owned()).map_err(|_| code.to_owned()))
            .collect::<Result<_, _>>()?;
        Ok(Self::Only(codes))
    }

    pub fn admits(&self, currency: &Currency) -> bool {
        match self {
            Self::Any => true,
            Self::Only(codes) => codes.contains(currency.code()),
        }
    }
}

impl Settings {
    /// The countries `merchant`'s codes may go to: the deployment's, and the merchant's own
    /// list within them.
    pub fn sms_countries_for(&self, merchant_id: &str) -> SmsCountries {
        match self.merchant_sms_countries.get(merchant_id) {
            Some(own) => self.sms_countries.and(own),
            None => self.sms_countries.clone(),
        }
    }

    /// Refuses a currency this deployment does not take (422 `currency_not_allowed`).
    pub fn check_currency(&self, money: &Money) -> Result<(), FieldError> {
        if self.currencies.admits(&money.currency) {
            return Ok(());
        }
        Err(FieldError::new("currency_not_allowed", "currency", "this currency is not accepted here"))
    }

    /// Refuses a return address `merchant_id` may not send shoppers to (422
    /// `invalid_return_url`): outside its listed origins, or, without a list, a host that is
    /// not a plain name.
    /// Where a session may send the shopper back to (`param`: `return_url` or `cancel_url`).
    pub fn check_return_url(&self, param: &str, merchant_id: &str, url: &ReturnUrl) -> Result<(), FieldError> {
        let allowed = match self.return_url_origins.get(merchant_id) {
            Some(origins) => origins.iter().any(|o| o.trim_end_matches('/') == url.origin()),
            None => url.has_plain_host(),
        };
        if allowed {
            return Ok(());
        }
        Err(FieldError::new(
            "invalid_return_url",
            param,
            format!(
                "{param} must be an address of one of the merchant's origins (an https address with a plain host name)"
            ),
        ))
    }

    pub fn merchant_name<'a>(&'a self, merchant_id: &'a str) -> &'a str {
        self.merchant_names.get(merchant_id).map_or(merchant_id, String::as_str)
    }

    /// The merchant's default language.
    pub fn merchant_locale(&self, merchant_id: &str) -> Locale {
        self.merchant_locales.get(merchant_id).copied().unwrap_or(Locale::En)
    }

    /// `MERCHANT_DISPLAY_NAMES` as configured: every name 1 to 40 characters (the SMS fits one
    /// segment for the longest).
    pub fn parse_merchant_names(json: &str) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
        let names: std::collections::BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| ConfigError::MerchantNames(e.to_string()))?;
        match names.iter().find(|(_, name)| !crate::domain::sms::display_name_ok(name)) {
            Some((id, _)) => Err(ConfigError::MerchantNames(format!(
                "the name of {id:?} is blank, too long or has a control character"
            ))),
            None => Ok(names),
        }
    }

    /// `MERCHANT_LOCALES` as configured.
    pub fn parse_merchant_locales(json: &str) -> Result<std::collections::BTreeMap<String, Locale>, ConfigError> {
        let raw: std::collections::BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| ConfigError::MerchantLocales(e.to_string()))?;
        raw.into_iter()
            .map(|(id, tag)| match Locale::parse(&tag) {
                Some(l) => Ok((id, l)),
                None => Err(ConfigError::MerchantLocales(format!("{tag:?} for {id:?}"))),
            })
            .collect()
    }

    /// `CHECKOUT_HOST` as configured (empty: none).
    pub fn parse_checkout_host(raw: Option<&str>) -> Result<Option<String>, ConfigError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(host) if crate::domain::sms::checkout_host_ok(host) => Ok(Some(host.to_owned())),
            Some(host) => Err(ConfigError::CheckoutHost(host.to_owned())),
        }
    }
}

/// The keys a function reads at cold start: only those it uses (IAM grants it no others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    pub code: bool,
    pub card: bool,
}

impl Keys {
    pub const ALL: Self = Self { code: true, card: true };
    pub const NONE: Self = Self { code: false, card: false };
    pub const CODE: Self = Self { code: true, card: false };
}

impl Default for Keys {
    fn default() -> Self {
        Self::ALL
    }
}
