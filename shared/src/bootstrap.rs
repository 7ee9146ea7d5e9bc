//! Cold start: configuration, AWS clients and adapters, built once per Lambda instance, and
//! the connections and tables a first request would otherwise pay for, warmed before it comes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use lambda_http::{Body, Request, Response};

use crate::adapters::clock::SystemClock;
use crate::adapters::dynamodb::{
    DynamoDeliveryStore, DynamoEndpointStore, DynamoEventStore, DynamoIdempotencyStore, DynamoPaymentStore,
};
use crate::adapters::emf::EmfMetrics;
use crate::adapters::sandbox_acquirer::SandboxAcquirer;
use crate::adapters::sns::SnsCodeSender;
use crate::config::{AcquirerChoice, Config, ConfigError, Keys};
use crate::domain::Phone;
use crate::secrets::{CardVault, CodeHasher, KeptSecrets};
use crate::usecases::{CodeServices, Ports, Services};

/// Services over DynamoDB, SNS and the sandbox acquirer, with the given AWS configuration
/// (the SDK honours `AWS_ENDPOINT_URL`, which points local runs at moto).
pub fn aws_services(config: &Config, aws: &aws_config::SdkConfig) -> Result<Services, ConfigError> {
    services_over(config, aws_sdk_dynamodb::Client::new(aws), sns_client(aws))
}

/// The SNS client: one attempt may take the whole operation's time. A `Publish` whose answer is
/// slow has most likely landed, and sending it again would text the shopper twice (the load
/// test saw moto answer past 2 s and the SDK's retry deliver a second SMS); errors that say it
/// did not land (throttling, a refused connection) are still retried within those 6 s.
pub fn sns_client(aws: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(OPERATION_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(aws).timeout_config(timeouts).build())
}

/// How long one AWS operation may take, its retries included (inside the functions' 10 s).
const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);

/// Services over the given clients (the round-trip benchmark counts their calls): the ports
/// and both keys, or a refusal to start where a key is missing.
pub fn services_over(
    config: &Config,
    dynamo: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
) -> Result<Services, ConfigError> {
    let card = config.card_keys.as_ref().ok_or(ConfigError::Missing("CARD_ENCRYPTION_KEYS"))?;
    let vault = CardVault::new(card);
    let ports = ports_over(config, dynamo, sns, Some(vault.clone()));
    Ok(Services::new(code_services(config, ports)?, vault))
}

/// The ports with the code key: what the public page's function runs on.
pub fn code_services(config: &Config, ports: Ports) -> Result<CodeServices, ConfigError> {
    let code = config.code_hash_keys.as_ref().ok_or(ConfigError::Missing("CODE_HASH_KEYS"))?;
    Ok(CodeServices::new(ports, CodeHasher::new(code)?, KeptSecrets::new(code)))
}

/// The ports over the given clients; the payment store seals and opens phone numbers with
/// `vault` (without one, it reads them masked and never writes one).
pub fn ports_over(
    config: &Config,
    dynamo: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    vault: Option<CardVault>,
) -> Ports {
    Ports {
        payments: Arc::new(DynamoPaymentStore::new(dynamo.clone(), &config.table_name, vault)),
        idempotency: Arc::new(DynamoIdempotencyStore::new(dynamo.clone(), &config.table_name)),
        events: Arc::new(DynamoEventStore::new(dynamo.clone(), &config.table_name)),
        endpoints: Arc::new(DynamoEndpointStore::new(dynamo.clone(), &config.table_name)),
        deliveries: Arc::new(DynamoDeliveryStore::new(dynamo, &config.table_name)),
        webhooks: Arc::new(crate::webhook_sender::HttpWebhookSender::new(
            config.settings.local_auth == crate::config::LocalAuth::MerchantHeader,
        )),
        sms_limits: config.sms_limits,
        attempt_limits: config.attempt_limits,
        sms: Arc::new(SnsCodeSender::new(sns, config.sms_sender_id.clone())),
        acquirer: match &config.acquirer {
            AcquirerChoice::Sandbox => Arc::new(SandboxAcquirer),
            AcquirerChoice::Adyen(adyen) => Arc::new(crate::adyen_http::acquirer(config, adyen)),
        },
        notices: config.adyen_hmac_key.clone().map(|key| {
            let account = match &config.acquirer {
                AcquirerChoice::Adyen(a) => a.merchant_account.clone(),
                AcquirerChoice::Sandbox => String::new(),
            };
            Arc::new(crate::adapters::adyen::notices::AdyenNotices::new(key, account))
                as Arc<dyn crate::ports::AcquirerNotices>
        }),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(EmfMetrics::new(&config.metrics_namespace, &config.function_name)),
        settings: config.settings.clone(),
    }
}

/// What a function's handler runs on, built at cold start from the configuration: the keys it
/// loads follow from the type its handler asks for ([`Ports`]: none; [`CodeServices`]: the code
/// key; [`Services`]: both), so a
/// function cannot load fewer keys than its use cases need.
pub trait Capabilities: Sized + Send + Sync + 'static {
    /// The keys to load.
    const KEYS: Keys;

    fn build(config: &Config, dynamo: aws_sdk_dynamodb::Client, sns: aws_sdk_sns::Client) -> Result<Self, ConfigError>;
}

impl Capabilities for Ports {
    const KEYS: Keys = Keys::NONE;

    fn build(config: &Config, dynamo: aws_sdk_dynamodb::Client, sns: aws_sdk_sns::Client) -> Result<Self, ConfigError> {
        Ok(ports_over(config, dynamo, sns, None))
    }
}

impl Capabilities for CodeServices {
    const KEYS: Keys = Keys::CODE;

    fn build(config: &Config, dynamo: aws_sdk_dynamodb::Client, sns: aws_sdk_sns::Client) -> Result<Self, ConfigError> {
        code_services(config, ports_over(config, dynamo, sns, None))
    }
}

impl Capabilities for Services {
    const KEYS: Keys = Keys::ALL;

    fn build(config: &Config, dynamo: aws_sdk_dynamodb::Client, sns: aws_sdk_sns::Client) -> Result<Self, ConfigError> {
        services_over(config, dynamo, sns)
    }
}

/// What a function prepares at cold start besides its services.
#[derive(Debug, Clone, Copy, Default)]
pub struct Warmup {
    /// It sends codes: open the SNS connection now.
    pub sns: bool,
    /// It validates phone numbers from requests: decode the phone metadata now.
    pub phone_metadata: bool,
}

/// A Lambda's `main`: logging, services and warm-up at cold start, then every request to
/// `handler`. The services live as long as the process, hence `'static`.
pub async fn serve<C, H, F>(warmup: Warmup, handler: H) -> Result<(), lambda_http::Error>
where
    C: Capabilities,
    H: Fn(&'static C, Request) -> F,
    F: Future<Output = Response<Body>> + Send,
{
    crate::telemetry::init();
    let services = services_from_env::<C>(warmup).await.inspect_err(|e| {
        // Refusing to start (a missing key, LOCAL_AUTH away from 127.0.0.1) says why, once.
        tracing::error!(error = %e, "cold start refused: the function does not start");
    })?;
    let services: &'static C = Box::leak(Box::new(services));
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let answer = handler(services, req);
        async move { Ok::<_, lambda_http::Error>(answer.await) }
    }))
    .await
}

/// A scheduled function's `main` (not behind API Gateway): logging, services and warm-up at
/// cold start, then every event to `job`, whose JSON answer is the invocation's result.
pub async fn run_job<C, H, F>(warmup: Warmup, job: H) -> Result<(), lambda_http::Error>
where
    C: Capabilities,
    H: Fn(&'static C, serde_json::Value) -> F,
    F: Future<Output = Result<serde_json::Value, lambda_http::Error>> + Send,
{
    crate::telemetry::init();
    let services = services_from_env::<C>(warmup).await.inspect_err(|e| {
        tracing::error!(error = %e, "cold start refused: the function does not start");
    })?;
    let services: &'static C = Box::leak(Box::new(services));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| job(services, event.payload),
    ))
    .await
}

/// Everything a function needs, from the environment. While the keys are read, the DynamoDB
/// connection (and, per `warmup`, SNS's and the phone metadata) is made ready: in AWS the
/// first call to each endpoint pays its TLS handshake, which belongs to the cold start, not to
/// a shopper's request.
pub async fn services_from_env<C: Capabilities>(warmup: Warmup) -> Result<C, ConfigError> {
    let started = Instant::now();
    let aws = aws_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let sns = sns_client(&aws);
    let phones = warmup.phone_metadata.then(|| tokio::task::spawn_blocking(Phone::load_metadata));
    let (config, dynamodb_warm, sns_warm) =
        tokio::join!(Config::load(&aws, C::KEYS), warm_dynamodb(&dynamo), async { warmup.sns && warm_sns(&sns).await });
    let config = config?;
    if config.settings.local_auth == crate::config::LocalAuth::MerchantHeader {
        tracing::warn!("LOCAL_AUTH=merchant-header: merchant routes trust X-Local-Merchant-Id (local stack only)");
    }
    if let Some(loading) = phones {
        // A panic in the phone library loses only the warm-up; requests still validate.
        let _ = loading.await;
    }
    tracing::info!(
        table = %config.table_name,
        dynamodb_warm,
        sns_warm,
        phone_metadata = warmup.phone_metadata,
        init_ms = started.elapsed().as_millis() as u64,
        "cold start: services ready"
    );
    C::build(&config, dynamo, sns)
}

/// A warm-up is worth a short wait, never a failed or long cold start.
const WARMUP_TIMEOUT: Duration = Duration::from_millis(1500);

/// One `GetItem` of a key no item has (half a read unit): opens the DynamoDB connection.
async fn warm_dynamodb(dynamo: &aws_sdk_dynamodb::Client) -> bool {
    let Ok(table) = std::env::var("TABLE_NAME") else { return false };
    let key = || AttributeValue::S("warmup".into());
    warm("DynamoDB", dynamo.get_item().table_name(table).key("pk", key()).key("sk", key()).send()).await
}

/// One `GetSMSAttributes`: opens the SNS connection without sending anything.
async fn warm_sns(sns: &aws_sdk_sns::Client) -> bool {
    warm("SNS", sns.get_sms_attributes().attributes("DefaultSMSType").send()).await
}

/// Whether `call` answered in time; a failure is logged, never returned.
async fn warm<T, E: std::error::Error + 'static>(service: &str, call: impl Future<Output = Result<T, E>>) -> bool {
    match tokio::time::timeout(WARMUP_TIMEOUT, call).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(service, error = %DisplayErrorContext(e), "cold start: warm-up failed");
            false
        }
        Err(_) => {
            tracing::warn!(service, "cold start: warm-up timed out");
            false
        }
    }
}

/// The one HTTP client every AWS client uses: hyper 1 with rustls on ring (HTTPS in AWS, plain
/// HTTP to the local emulator). The SDK's own default would bring aws-lc; one crypto provider
/// keeps the build and the bootstrap smaller.
///
/// It trusts the roots AWS endpoints chain to (Amazon Trust Services and the Starfield root
/// that cross-signs them, `shared/certs/aws-roots.pem`), not the system's whole store: loading
/// and parsing the system's ~145 roots took 5.6–9.7 ms of every cold start (measured in
/// bench/NOTES.md), and the functions talk to nothing but AWS. `AWS_TLS_ROOTS=native` trusts
/// the system's store instead (an endpoint behind another CA, e.g. a TLS-inspecting proxy).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    match tls_context() {
        Some(context) => builder.tls_context(context).build_https(),
        None => builder.build_https(),
    }
}

/// The same TLS connector the SDK clients get ([`https_client`]), for the one call made without
/// an SDK client (SSM's GetParameter: `crate::parameters`).
pub fn https_connector() -> aws_smithy_http_client::Connector {
    let builder = aws_smithy_http_client::Connector::builder().tls_provider(Provider::Rustls(CryptoMode::Ring));
    match tls_context() {
        Some(context) => builder.tls_context(context).build(),
        None => builder.build(),
    }
}

/// Trust only the AWS roots; `None`: the system's (`AWS_TLS_ROOTS=native`, or the roots refused).
fn tls_context() -> Option<TlsContext> {
    if std::env::var("AWS_TLS_ROOTS").is_ok_and(|v| v == "native") {
        return None;
    }
    let amazon = TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_ROOTS);
    match TlsContext::builder().with_trust_store(amazon).build() {
        Ok(context) => Some(context),
        Err(e) => {
            tracing::warn!(error = %e, "AWS root certificates refused; trusting the system's roots");
            None
        }
    }
}

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority – G2, as PEM.
pub const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// The SDK's defaults with this platform's HTTP client and timeouts: an attempt gets 2 s, an
/// operation (3 attempts with the standard retry's backoff) 6 s, inside the functions' 10 s
/// timeout.
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(2))
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).timeout_config(timeouts)
}

/// The AWS configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config_loader().load().await
}
