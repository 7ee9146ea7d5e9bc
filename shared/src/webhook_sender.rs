//! Sends one webhook delivery: a POST, 10 s at most, no redirect followed, and only ever to a
//! public address. The connector's resolver answers only the addresses the rules allow
//! (`webhooks::check_address`), as each connection is made: a name that answers a public
//! address to a check and a private one to the connection (DNS rebinding) cannot slip through.
//! A URL naming an address is checked before (`check_endpoint_url`); locally `http://127.0.0.1`
//! passes that check and needs no resolver. Certificates are checked against the system's roots
//! (a merchant's endpoint is not AWS's).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_types::body::SdkBody;

use crate::ports::{Answered, Outgoing, WebhookSender};
use crate::webhooks::delivery::ATTEMPT_TIMEOUT_SECS;
use crate::webhooks::{check_address, check_endpoint_url};

/// Resolves a name to its public addresses only; none: the connection is refused.
#[derive(Debug, Clone, Copy)]
struct PublicOnly;

impl ResolveDns for PublicOnly {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move {
            let found = tokio::net::lookup_host((name, 0)).await.map_err(ResolveDnsError::new)?;
            let public: Vec<IpAddr> = found.map(|a| a.ip()).filter(|ip| check_address(*ip).is_ok()).collect();
            if public.is_empty() {
                return Err(ResolveDnsError::new(std::io::Error::other(format!("{name}: no public address"))));
            }
            Ok(public)
        })
    }
}

pub struct HttpWebhookSender {
    /// Built on the first send: every function has a sender, only webhook-events, the sweeper
    /// and a redelivery use it, and the others' cold start should not load TLS roots for it.
    connector: std::sync::OnceLock<aws_smithy_http_client::Connector>,
    /// The local stack: `http://127.0.0.1` allowed.
    local: bool,
}

impl HttpWebhookSender {
    pub fn new(local: bool) -> Self {
        Self { connector: std::sync::OnceLock::new(), local }
    }

    fn connector(&self) -> &aws_smithy_http_client::Connector {
        self.connector.get_or_init(|| {
            aws_smithy_http_client::Connector::builder()
                .connector_settings(
                    aws_smithy_runtime_api::client::http::HttpConnectorSettings::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .read_timeout(Duration::from_secs(ATTEMPT_TIMEOUT_SECS))
                        .build(),
                )
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_with_resolver(PublicOnly)
        })
    }

    fn request(&self, out: &Outgoing) -> Result<aws_smithy_runtime_api::http::Request, String> {
        let url = check_endpoint_url(&out.url, self.local).map_err(|e| format!("refused URL: {e:?}"))?;
        let mut request = http::Request::builder().method("POST").uri(url.as_str());
        for (name, value) in &out.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .header("content-type", "application/json")
            .header("user-agent", "payments-webhooks/1")
            .body(SdkBody::from(out.body.clone()))
            .map_err(|e| e.to_string())?;
        aws_smithy_runtime_api::http::Request::try_from(request).map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, out: &Outgoing) -> Answered {
        let started = Instant::now();
        let took = |started: Instant| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let request = match self.request(out) {
            Ok(r) => r,
            Err(e) => return Answered { status: None, retry_after: None, error: Some(e), latency_ms: 0 },
        };
        let sent =
            tokio::time::timeout(Duration::from_secs(ATTEMPT_TIMEOUT_SECS), self.connector().call(request)).await;
        match sent {
            Err(_) => {
                Answered { status: None, retry_after: None, error: Some("timed out".into()), latency_ms: took(started) }
            }
            Ok(Err(e)) => {
                Answered { status: None, retry_after: None, error: Some(format!("{e}")), latency_ms: took(started) }
            }
            Ok(Ok(answer)) => Answered {
                status: Some(answer.status().as_u16()),
                retry_after: answer.headers().get("retry-after").map(str::to_owned),
                error: None,
                latency_ms: took(started),
            },
        }
    }
}
