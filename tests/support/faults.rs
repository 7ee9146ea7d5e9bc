//! Fault injection at the SDK's HTTP client: requests that match a rule fail the way AWS and
//! networks fail, before (or after) reaching moto. Everything above it is production code: the
//! SDK's retries and timeouts, the adapters' error mapping, the use cases, the handlers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 ThrottlingException (DynamoDB) / Throttling (SNS); the request never lands.
    Throttle,
    /// 500 InternalServerError; the request never lands.
    ServerError,
    /// No answer at all, until the SDK's timeouts give up; the request never lands.
    Timeout,
    /// The request lands, then the answer is lost (500): the ambiguous failure.
    AnswerLost,
    /// The call never returns: the invocation dies here (a Lambda timeout).
    Hang,
}

#[derive(Debug, Clone)]
struct Rule {
    /// Every one of these must occur in the request's `X-Amz-Target` header and body.
    matches: Vec<String>,
    fault: Fault,
}

/// Which requests fail, and how. Cloning shares the plan.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rule: Arc<Mutex<Option<Rule>>>,
    hits: Arc<Mutex<usize>>,
    hung: Arc<tokio::sync::Notify>,
}

impl FaultPlan {
    /// From now on, every request matching all of `matches` fails with `fault`.
    pub fn arm(&self, matches: &[&str], fault: Fault) {
        *self.rule.lock().unwrap() = Some(Rule { matches: matches.iter().map(|m| (*m).to_owned()).collect(), fault });
        *self.hits.lock().unwrap() = 0;
    }

    pub fn disarm(&self) {
        *self.rule.lock().unwrap() = None;
    }

    /// How many requests the armed rule failed.
    pub fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }

    /// Resolves once a request hung: the moment the invocation is to die.
    pub async fn hung(&self) {
        self.hung.notified().await
    }

    pub fn client_around(&self, real: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(FaultyClient { plan: self.clone(), real })
    }

    fn fault_for(&self, request: &HttpRequest) -> Option<Fault> {
        let rule = self.rule.lock().unwrap().clone()?;
        let target = request.headers().get("x-amz-target").unwrap_or("");
        let body = request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        let text = format!("{target} {body}");
        if rule.matches.iter().all(|m| text.contains(m.as_str())) {
            *self.hits.lock().unwrap() += 1;
            Some(rule.fault)
        } else {
            None
        }
    }
}

#[derive(Debug)]
struct FaultyClient {
    plan: FaultPlan,
    real: SharedHttpClient,
}

impl HttpClient for FaultyClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            plan: self.plan.clone(),
            real: self.real.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    plan: FaultPlan,
    real: SharedHttpConnector,
}

fn error_response(status: u16, code: &str, is_json: bool) -> HttpResponse {
    let body = if is_json {
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected fault"}}"#)
    } else {
        format!(
            r#"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected fault</Message></Error><RequestId>x</RequestId></ErrorResponse>"#
        )
    };
    let mut response = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    let content_type = if is_json { "application/x-amz-json-1.0" } else { "text/xml" };
    response.headers_mut().insert("content-type", content_type);
    response.headers_mut().insert("x-amzn-errortype", code.to_owned());
    response
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let is_json = request.headers().get("x-amz-target").is_some();
        match self.plan.fault_for(&request) {
            None => self.real.call(request),
            Some(Fault::Throttle) => {
                let code = if is_json { "ThrottlingException" } else { "Throttling" };
                HttpConnectorFuture::ready(Ok(error_response(400, code, is_json)))
            }
            Some(Fault::ServerError) => {
                HttpConnectorFuture::ready(Ok(error_response(500, "InternalServerError", is_json)))
            }
            Some(fault @ (Fault::Timeout | Fault::Hang)) => {
                if fault == Fault::Hang {
                    self.plan.hung.notify_one();
                }
                HttpConnectorFuture::new(async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!("the SDK's timeout or the invocation's death ends this first")
                })
            }
            Some(Fault::AnswerLost) => {
                let sent = self.real.call(request);
                HttpConnectorFuture::new(async move {
                    let _landed = sent.await;
                    Ok(error_response(500, "InternalServerError", is_json))
                })
            }
        }
    }
}
