//! Configuration read once at cold start. Keys come from SSM Parameter Store (SecureString,
//! named by `*_PARAM`) in AWS, or straight from the environment in the local dev stack.

use std::collections::BTreeMap;

use crate::adapters::adyen::notifications::HmacKey;
use crate::adapters::adyen::ApiKey;
use crate::parameters::ParameterStore;

use crate::domain::SmsCountries;
use crate::ports::{AttemptLimits, SmsLimits};
use crate::secrets::Keyring;
pub use payments_core::settings::{
    AcquirerChoice, AdyenSettings, CaptureWindow, ConfigError, Currencies, Keys, LocalAuth, RefundWindow, Settings,
};

#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// `CODE_HASH_KEYS`: HMAC keys for codes, card fingerprints and request fingerprints (read
    /// only by a function that uses them).
    pub code_hash_keys: Option<Keyring>,
    /// `CARD_ENCRYPTION_KEYS`: AES-256-GCM keys for stored card and phone numbers (likewise).
    pub card_keys: Option<Keyring>,
    /// `SMS_SENDER_ID`: optional alphanumeric sender id where the destination supports it.
    pub sms_sender_id: Option<String>,
    /// `SMS_PHONE_HOURLY_CAP` (default 10), `SMS_PHONE_PLATFORM_HOURLY_CAP` (30),
    /// `SMS_PREFIX_HOURLY_CAP` (100), `SMS_SESSION_CAP` (10), `SMS_IP_HOURLY_CAP` (20) and
    /// `SMS_MERCHANT_HOURLY_CAP` (1000).
    pub sms_limits: SmsLimits,
    /// `ATTEMPTS_PER_SESSION` (default 5), `ATTEMPTS_PER_CARD_DAILY` (4),
    /// `ATTEMPTS_PER_PHONE_HOURLY` (5) and `ATTEMPTS_PER_IP_HOURLY` (20).
    pub attempt_limits: AttemptLimits,
    /// `METRICS_NAMESPACE` (default `Payments`): CloudWatch namespace of the business metrics.
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`, set by Lambda: the metrics' `Function` dimension.
    pub function_name: String,
    /// `LOCAL_AUTH` and `MERCHANT_DISPLAY_NAMES`.
    pub settings: Settings,
    /// `ACQUIRER` (with `ALLOW_SANDBOX_ACQUIRER` for the sandbox, `ADYEN_*` for Adyen).
    pub acquirer: AcquirerChoice,
    /// `ADYEN_API_KEY` or `ADYEN_API_KEY_PARAM` (an SSM SecureString): read with Adyen where
    /// it is configured (the template names it for the functions that call the acquirer).
    pub adyen_api_key: Option<ApiKey>,
    /// `ADYEN_HMAC_KEY` or `ADYEN_HMAC_KEY_PARAM` (hex, an SSM SecureString): read with Adyen
    /// where it is configured (the function serving the notification route).
    pub adyen_hmac_key: Option<HmacKey>,
}

fn cap(name: &'static str, default: u32) -> Result<u32, ConfigError> {
    env(name).map_or(Ok(default), |v| v.parse().ok().filter(|n| *n > 0).ok_or(ConfigError::Number(name)))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A secret from `NAME` (the value itself) or `NAME_PARAM` (an SSM SecureString holding it).
/// `ssm` is built once per cold start (one connection for every key); an error building it
/// matters only to a key read from SSM.
async fn secret(name: &'static str, ssm: &Result<ParameterStore, String>) -> Result<String, ConfigError> {
    let param_var = format!("{name}_PARAM");
    match (env(name), env(&param_var)) {
        (Some(value), _) => Ok(value),
        (None, Some(parameter)) => {
            let read = async { ssm.as_ref().map_err(Clone::clone)?.secure_string(&parameter).await };
            read.await.map_err(|e| ConfigError::Parameter(parameter.clone(), e))
        }
        (None, None) => Err(ConfigError::Missing(name)),
    }
}

/// Adyen's API key (where it is configured: the functions that call the acquirer) and its
/// notifications' HMAC key (the notification function's).
async fn adyen_keys(
    acquirer: &AcquirerChoice,
    ssm: &Result<ParameterStore, String>,
) -> Result<(Option<ApiKey>, Option<HmacKey>), ConfigError> {
    if matches!(acquirer, AcquirerChoice::Sandbox) {
        return Ok((None, None));
    }
    let api_key = match env("ADYEN_API_KEY").or_else(|| env("ADYEN_API_KEY_PARAM")) {
        Some(_) => Some(ApiKey::new(secret("ADYEN_API_KEY", ssm).await?)),
        None => None,
    };
    let hmac_key = match env("ADYEN_HMAC_KEY").or_else(|| env("ADYEN_HMAC_KEY_PARAM")) {
        Some(_) => Some(HmacKey::from_hex(&secret("ADYEN_HMAC_KEY", ssm).await?).ok_or(ConfigError::AdyenHmacKey)?),
        None => None,
    };
    Ok((api_key, hmac_key))
}

async fn keyring(name: &'static str, ssm: &Result<ParameterStore, String>) -> Result<Keyring, ConfigError> {
    Ok(Keyring::parse(name, &secret(name, ssm).await?)?)
}

impl Config {
    /// The configuration, with the keys `keys` names (and no others) read.
    pub async fn load(aws: &aws_config::SdkConfig, keys: Keys) -> Result<Self, ConfigError> {
        let ssm = &ParameterStore::new(aws);
        let optional = |wanted: bool, name: &'static str| async move {
            match wanted {
                true => keyring(name, ssm).await.map(Some),
                false => Ok(None),
            }
        };
        let acquirer = AcquirerChoice::from_env(env)?;
        let (code_hash_keys, card_keys, (adyen_api_key, adyen_hmac_key)) = tokio::try_join!(
            optional(keys.code, "CODE_HASH_KEYS"),
            optional(keys.card, "CARD_ENCRYPTION_KEYS"),
            adyen_keys(&acquirer, ssm)
        )?;
        Ok(Self {
            acquirer,
            adyen_api_key,
            adyen_hmac_key,
            table_name: env("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            code_hash_keys,
            card_keys,
            sms_sender_id: env("SMS_SENDER_ID"),
            sms_limits: SmsLimits {
                per_phone: cap("SMS_PHONE_HOURLY_CAP", SmsLimits::default().per_phone)?,
                phone_ceiling: cap("SMS_PHONE_PLATFORM_HOURLY_CAP", SmsLimits::default().phone_ceiling)?,
                per_prefix: cap("SMS_PREFIX_HOURLY_CAP", SmsLimits::default().per_prefix)?,
                per_session: cap("SMS_SESSION_CAP", SmsLimits::default().per_session)?,
                per_ip: cap("SMS_IP_HOURLY_CAP", SmsLimits::default().per_ip)?,
                per_merchant: cap("SMS_MERCHANT_HOURLY_CAP", SmsLimits::default().per_merchant)?,
            },
            attempt_limits: attempt_limits()?,
            metrics_namespace: env("METRICS_NAMESPACE").unwrap_or_else(|| "Payments".into()),
            function_name: env("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into()),
            settings: Settings {
                local_auth: LocalAuth::from_env(env("LOCAL_AUTH").as_deref(), aws.endpoint_url())?,
                merchant_names: match env("MERCHANT_DISPLAY_NAMES") {
                    None => Default::default(),
                    Some(json) => Settings::parse_merchant_names(&json)?,
                },
                merchant_locales: match env("MERCHANT_LOCALES") {
                    None => Default::default(),
                    Some(json) => Settings::parse_merchant_locales(&json)?,
                },
                checkout_host: Settings::parse_checkout_host(env("CHECKOUT_HOST").as_deref())?,
                sms_countries: sms_countries("SMS_COUNTRIES", env("SMS_COUNTRIES").as_deref().unwrap_or(""))?,
                merchant_sms_countries: merchant_sms_countries(env("MERCHANT_SMS_COUNTRIES").as_deref())?,
                currencies: Currencies::parse(env("CURRENCIES").as_deref().unwrap_or(""))
                    .map_err(ConfigError::Currencies)?,
                return_url_origins: match env("RETURN_URL_ORIGINS") {
                    None => Default::default(),
                    Some(json) => {
                        serde_json::from_str(&json).map_err(|e| ConfigError::ReturnUrlOrigins(e.to_string()))?
                    }
                },
                capture_window: CaptureWindow::hours(cap("CAPTURE_WINDOW_HOURS", 168)?),
                refund_window: RefundWindow::days(cap("REFUND_WINDOW_DAYS", 180)?),
            },
        })
    }
}

fn attempt_limits() -> Result<AttemptLimits, ConfigError> {
    let d = AttemptLimits::default();
    Ok(AttemptLimits {
        per_session: cap("ATTEMPTS_PER_SESSION", d.per_session)?,
        per_card_daily: cap("ATTEMPTS_PER_CARD_DAILY", d.per_card_daily)?,
        per_phone_hourly: cap("ATTEMPTS_PER_PHONE_HOURLY", d.per_phone_hourly)?,
        per_ip_hourly: cap("ATTEMPTS_PER_IP_HOURLY", d.per_ip_hourly)?,
        merchant_declines_hourly: cap("MERCHANT_DECLINES_HOURLY", d.merchant_declines_hourly)?,
    })
}

fn sms_countries(name: &'static str, list: &str) -> Result<SmsCountries, ConfigError> {
    SmsCountries::parse(list).map_err(|e| ConfigError::SmsCountries(name, e))
}

/// `MERCHANT_SMS_COUNTRIES`: a JSON object of merchant id to a country list.
fn merchant_sms_countries(json: Option<&str>) -> Result<BTreeMap<String, SmsCountries>, ConfigError> {
    const NAME: &str = "MERCHANT_SMS_COUNTRIES";
    let Some(json) = json else { return Ok(BTreeMap::new()) };
    let lists: BTreeMap<String, String> =
        serde_json::from_str(json).map_err(|e| ConfigError::SmsCountries(NAME, e.to_string()))?;
    lists.into_iter().map(|(merchant, list)| Ok((merchant, sms_countries(NAME, &list)?))).collect()
}
