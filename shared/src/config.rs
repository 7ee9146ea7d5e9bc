//! Configuration read once at cold start. Keys come from SSM Parameter Store (SecureString,
//! named by `*_PARAM`) in AWS, or straight from the environment in the local dev stack.

use aws_sdk_ssm::error::DisplayErrorContext;

use crate::ports::SmsLimits;
use crate::secrets::{KeyError, Keyring};

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
    #[error("MERCHANT_DISPLAY_NAMES must be a JSON object of merchant id to name: {0}")]
    MerchantNames(String),
    #[error("ACQUIRER {0:?} is not an acquirer this build has (sandbox)")]
    UnknownAcquirer(String),
    #[error(
        "ACQUIRER=sandbox approves every valid card and moves no money; it runs only with \
         ALLOW_SANDBOX_ACQUIRER=true, which the template forbids for the prod stage"
    )]
    SandboxNotAllowed,
}

/// Which acquirer authorises payments. Only the sandbox exists so far; a real acquirer is a new
/// adapter behind the same port, and a new variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquirerChoice {
    /// Approves every Luhn-valid card except its test cards; never in production.
    Sandbox,
}

impl AcquirerChoice {
    /// `ACQUIRER` and `ALLOW_SANDBOX_ACQUIRER`: there is no default, and the sandbox needs the
    /// explicit permission.
    pub fn from_env(acquirer: Option<&str>, allow_sandbox: Option<&str>) -> Result<Self, ConfigError> {
        match acquirer {
            None | Some("") => Err(ConfigError::Missing("ACQUIRER")),
            Some("sandbox") if allow_sandbox == Some("true") => Ok(Self::Sandbox),
            Some("sandbox") => Err(ConfigError::SandboxNotAllowed),
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
}

impl Settings {
    pub fn merchant_name<'a>(&'a self, merchant_id: &'a str) -> &'a str {
        self.merchant_names.get(merchant_id).map_or(merchant_id, String::as_str)
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
}

impl Default for Keys {
    fn default() -> Self {
        Self::ALL
    }
}

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
    /// `SMS_PHONE_HOURLY_CAP` (default 10) and `SMS_MERCHANT_HOURLY_CAP` (default 1000).
    pub sms_limits: SmsLimits,
    /// `METRICS_NAMESPACE` (default `Payments`): CloudWatch namespace of the business metrics.
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`, set by Lambda: the metrics' `Function` dimension.
    pub function_name: String,
    /// `LOCAL_AUTH` and `MERCHANT_DISPLAY_NAMES`.
    pub settings: Settings,
    /// `ACQUIRER` (with `ALLOW_SANDBOX_ACQUIRER` for the sandbox).
    pub acquirer: AcquirerChoice,
}

fn cap(name: &'static str, default: u32) -> Result<u32, ConfigError> {
    env(name).map_or(Ok(default), |v| v.parse().ok().filter(|n| *n > 0).ok_or(ConfigError::Number(name)))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A keyring from `NAME` (the value itself) or `NAME_PARAM` (an SSM SecureString holding it).
async fn keyring(name: &'static str, ssm: &aws_sdk_ssm::Client) -> Result<Keyring, ConfigError> {
    let param_var = format!("{name}_PARAM");
    let spec = match (env(name), env(&param_var)) {
        (Some(value), _) => value,
        (None, Some(parameter)) => {
            let out = ssm
                .get_parameter()
                .name(&parameter)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| ConfigError::Parameter(parameter.clone(), DisplayErrorContext(e).to_string()))?;
            out.parameter.and_then(|p| p.value).ok_or_else(|| ConfigError::Parameter(parameter, "no value".into()))?
        }
        (None, None) => return Err(ConfigError::Missing(name)),
    };
    Ok(Keyring::parse(name, &spec)?)
}

impl Config {
    /// The configuration, with the keys `keys` names (and no others) read.
    pub async fn load(aws: &aws_config::SdkConfig, keys: Keys) -> Result<Self, ConfigError> {
        let ssm = aws_sdk_ssm::Client::new(aws);
        let optional = |wanted: bool, name: &'static str| {
            let ssm = &ssm;
            async move {
                match wanted {
                    true => keyring(name, ssm).await.map(Some),
                    false => Ok(None),
                }
            }
        };
        let (code_hash_keys, card_keys) =
            tokio::try_join!(optional(keys.code, "CODE_HASH_KEYS"), optional(keys.card, "CARD_ENCRYPTION_KEYS"))?;
        Ok(Self {
            acquirer: AcquirerChoice::from_env(env("ACQUIRER").as_deref(), env("ALLOW_SANDBOX_ACQUIRER").as_deref())?,
            table_name: env("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            code_hash_keys,
            card_keys,
            sms_sender_id: env("SMS_SENDER_ID"),
            sms_limits: SmsLimits {
                per_phone: cap("SMS_PHONE_HOURLY_CAP", SmsLimits::default().per_phone)?,
                per_merchant: cap("SMS_MERCHANT_HOURLY_CAP", SmsLimits::default().per_merchant)?,
            },
            metrics_namespace: env("METRICS_NAMESPACE").unwrap_or_else(|| "Payments".into()),
            function_name: env("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into()),
            settings: Settings {
                local_auth: LocalAuth::from_env(env("LOCAL_AUTH").as_deref(), aws.endpoint_url())?,
                merchant_names: match env("MERCHANT_DISPLAY_NAMES") {
                    None => Default::default(),
                    Some(json) => serde_json::from_str(&json).map_err(|e| ConfigError::MerchantNames(e.to_string()))?,
                },
            },
        })
    }
}
