//! SSM Parameter Store, for the one call the functions make: the keys, read at cold start. The
//! request is signed with SigV4 by `aws-sigv4` (the crate the SDK signs with) and sent through
//! the SDK's own HTTP connector (`aws-smithy-http-client`, this platform's TLS roots). The whole
//! `aws-sdk-ssm` crate cost 62 s of every clean build, alone on its critical path, and its code
//! in every function, for this one operation.

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use serde_json::{json, Value};

/// The Parameter Store of the SDK configuration's region (or its endpoint: moto, locally).
pub struct ParameterStore {
    connector: aws_smithy_http_client::Connector,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
}

impl ParameterStore {
    pub fn new(aws: &aws_config::SdkConfig) -> Result<Self, String> {
        let region = aws.region().map(ToString::to_string).ok_or("no AWS region configured")?;
        let endpoint = match aws.endpoint_url() {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://ssm.{region}.amazonaws.com"),
        };
        let credentials = aws.credentials_provider().ok_or("no AWS credentials configured")?;
        Ok(Self { connector: crate::bootstrap::https_connector(), endpoint, region, credentials })
    }

    /// A SecureString parameter's value, decrypted.
    pub async fn secure_string(&self, name: &str) -> Result<String, String> {
        let answer = self.call("GetParameter", &json!({ "Name": name, "WithDecryption": true })).await?;
        let value = answer.pointer("/Parameter/Value").and_then(Value::as_str);
        value.map(str::to_owned).ok_or_else(|| "the parameter has no value".into())
    }

    /// Stores `value` as a SecureString (under the account's default key): for tests and tools.
    pub async fn put_secure_string(&self, name: &str, value: &str) -> Result<(), String> {
        let body = json!({ "Name": name, "Value": value, "Type": "SecureString", "Overwrite": true });
        self.call("PutParameter", &body).await.map(|_| ())
    }

    /// One SSM JSON-protocol operation: signed, sent, its answer read (an error answer's type
    /// and message, never more).
    async fn call(&self, action: &str, body: &Value) -> Result<Value, String> {
        let body = body.to_string();
        let credentials = self.credentials.provide_credentials().await.map_err(|e| e.to_string())?;
        let identity = credentials.into();
        let uri = format!("{}/", self.endpoint);
        let host = uri.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default().to_owned();
        let target = format!("AmazonSSM.{action}");
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ssm")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable =
            SignableRequest::new("POST", &uri, headers.iter().copied(), SignableBody::Bytes(body.as_bytes()))
                .map_err(|e| e.to_string())?;
        let (instructions, _signature) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        let mut request = http::Request::builder().method("POST").uri(&uri);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(SdkBody::from(body)).map_err(|e| e.to_string())?;
        instructions.apply_to_request_http1x(&mut request);
        let request = aws_smithy_runtime_api::http::Request::try_from(request).map_err(|e| e.to_string())?;
        let response = self.connector.call(request).await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != 200 {
            let field = |name: &str| answer.get(name).and_then(Value::as_str);
            let kind = field("__type").unwrap_or("unknown");
            let message = field("message").or_else(|| field("Message")).unwrap_or("");
            return Err(format!("SSM {action}: {status} {kind} {message}"));
        }
        Ok(answer)
    }
}
