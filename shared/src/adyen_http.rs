//! The Adyen adapter's HTTP: a POST of JSON over the SDK's connector (rustls, the system's
//! roots), built on the first call (a function that never calls the acquirer loads no TLS
//! roots for it). No redirect is followed. The headers (the API key among them) are never
//! logged.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

use crate::adapters::adyen::{AdyenAcquirer, AdyenConfig, AdyenTransport, Exchange, RetryPolicy};
use crate::config::{AdyenSettings, Config};

/// The Adyen acquirer of `config`: its key (in the functions that hold the card key), and the
/// shopper references' key derived from the code key.
pub fn acquirer(config: &Config, adyen: &AdyenSettings) -> AdyenAcquirer {
    let reference_key = config
        .code_hash_keys
        .as_ref()
        .map(|k| k.derived("adyen shopper reference").current().1.to_vec())
        .unwrap_or_default();
    AdyenAcquirer::new(
        AdyenConfig {
            endpoint: adyen.endpoint.clone(),
            merchant_account: adyen.merchant_account.clone(),
            return_url: adyen.return_url.clone(),
            api_key: config.adyen_api_key.clone(),
            reference_key,
        },
        Arc::new(HttpTransport::default()),
        RetryPolicy::default(),
    )
}

#[derive(Default)]
pub struct HttpTransport {
    connector: std::sync::OnceLock<aws_smithy_http_client::Connector>,
}

impl HttpTransport {
    fn connector(&self) -> &aws_smithy_http_client::Connector {
        self.connector.get_or_init(|| {
            aws_smithy_http_client::Connector::builder()
                .connector_settings(
                    aws_smithy_runtime_api::client::http::HttpConnectorSettings::builder()
                        .connect_timeout(Duration::from_secs(2))
                        .build(),
                )
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build()
        })
    }
}

#[async_trait::async_trait]
impl AdyenTransport for HttpTransport {
    async fn post(&self, url: &str, headers: &[(&str, &str)], body: Vec<u8>, timeout: Duration) -> Exchange {
        let mut request = http::Request::builder().method("POST").uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match request
            .body(SdkBody::from(body))
            .map_err(|e| e.to_string())
            .and_then(|r| aws_smithy_runtime_api::http::Request::try_from(r).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => return Exchange::Lost(format!("request not built: {e}")),
        };
        let exchange = async {
            let answer = self.connector().call(request).await.map_err(|e| format!("{e}"))?;
            let status = answer.status().as_u16();
            let body = answer.into_body().collect().await.map_err(|e| format!("{e}"))?.to_bytes().to_vec();
            Ok::<_, String>(Exchange::Answered { status, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Exchange::Lost("timed out".into()),
            Ok(Err(e)) => Exchange::Lost(e),
            Ok(Ok(answered)) => answered,
        }
    }
}
