//! AWS's JSON-protocol services, for the few calls made without their SDK crates: SSM Parameter
//! Store (the one call the functions make: the keys, read at cold start) and, for the local
//! stack and the tests, DynamoDB Streams (what an event source mapping reads in AWS). Each
//! request is signed with SigV4 by `aws-sigv4` (the crate the SDK signs with) and sent through
//! the SDK's own HTTP connector (`aws-smithy-http-client`, this platform's TLS roots). The whole
//! `aws-sdk-ssm` crate cost 62 s of every clean build, alone on its critical path, and its code
//! in every function, for one operation.

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use serde_json::{json, Value};

/// One JSON-protocol service of the SDK configuration's region (or its endpoint: moto, locally).
pub struct AwsJson {
    connector: aws_smithy_http_client::Connector,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    /// The signing name (`ssm`, `dynamodb`).
    service: &'static str,
    /// `X-Amz-Target`'s prefix (`AmazonSSM`, `DynamoDBStreams_20120810`).
    target: &'static str,
    content_type: &'static str,
}

impl AwsJson {
    /// `host` is the service's host name in AWS (`ssm`, `streams.dynamodb`).
    fn new(
        aws: &aws_config::SdkConfig,
        host: &str,
        service: &'static str,
        target: &'static str,
        content_type: &'static str,
    ) -> Result<Self, String> {
        let region = aws.region().map(ToString::to_string).ok_or("no AWS region configured")?;
        let endpoint = match aws.endpoint_url() {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{host}.{region}.amazonaws.com"),
        };
        let credentials = aws.credentials_provider().ok_or("no AWS credentials configured")?;
        Ok(Self {
            connector: crate::bootstrap::https_connector(),
            endpoint,
            region,
            credentials,
            service,
            target,
            content_type,
        })
    }

    /// DynamoDB Streams.
    pub fn dynamodb_streams(aws: &aws_config::SdkConfig) -> Result<Self, String> {
        Self::new(aws, "streams.dynamodb", "dynamodb", "DynamoDBStreams_20120810", "application/x-amz-json-1.0")
    }

    /// One operation: signed, sent, its answer read (an error answer's type and message, never
    /// more).
    pub async fn call(&self, action: &str, body: &Value) -> Result<Value, String> {
        let body = body.to_string();
        let credentials = self.credentials.provide_credentials().await.map_err(|e| e.to_string())?;
        let identity = credentials.into();
        let uri = format!("{}/", self.endpoint);
        let host = uri.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default().to_owned();
        let target = format!("{}.{action}", self.target);
        let headers = [("host", host.as_str()), ("content-type", self.content_type), ("x-amz-target", target.as_str())];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
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
            return Err(format!("{} {action}: {status} {kind} {message}", self.target));
        }
        Ok(answer)
    }
}

/// The Parameter Store of the SDK configuration's region (or its endpoint: moto, locally).
pub struct ParameterStore(AwsJson);

impl ParameterStore {
    pub fn new(aws: &aws_config::SdkConfig) -> Result<Self, String> {
        AwsJson::new(aws, "ssm", "ssm", "AmazonSSM", "application/x-amz-json-1.1").map(Self)
    }

    /// A SecureString parameter's value, decrypted.
    pub async fn secure_string(&self, name: &str) -> Result<String, String> {
        let answer = self.0.call("GetParameter", &json!({ "Name": name, "WithDecryption": true })).await?;
        let value = answer.pointer("/Parameter/Value").and_then(Value::as_str);
        value.map(str::to_owned).ok_or_else(|| "the parameter has no value".into())
    }

    /// Stores `value` as a SecureString (under the account's default key): for tests and tools.
    pub async fn put_secure_string(&self, name: &str, value: &str) -> Result<(), String> {
        let body = json!({ "Name": name, "Value": value, "Type": "SecureString", "Overwrite": true });
        self.0.call("PutParameter", &body).await.map(|_| ())
    }
}

/// A table's stream, read from its start, shard by shard, as an event source mapping reads it
/// (for the local stack's poller and the tests; in AWS the mapping does this).
pub struct StreamReader {
    streams: AwsJson,
    arn: String,
    /// Each shard's next iterator, once opened.
    iterators: std::collections::BTreeMap<String, Option<String>>,
}

impl StreamReader {
    /// The stream of `table` (its latest), from its oldest record.
    pub async fn open(aws: &aws_config::SdkConfig, table: &str) -> Result<Self, String> {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        let described = dynamo
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        let arn = described.table.and_then(|t| t.latest_stream_arn).ok_or_else(|| format!("{table} has no stream"))?;
        Ok(Self { streams: AwsJson::dynamodb_streams(aws)?, arn, iterators: Default::default() })
    }

    /// The records written since the last call (every shard's), as one batch as the event
    /// source mapping sends it (`{"Records": [...]}`).
    pub async fn next_batch(&mut self) -> Result<Value, String> {
        let described = self.streams.call("DescribeStream", &json!({ "StreamArn": self.arn })).await?;
        let shards =
            described.pointer("/StreamDescription/Shards").and_then(Value::as_array).cloned().unwrap_or_default();
        for shard in shards.iter().filter_map(|s| s.get("ShardId").and_then(Value::as_str)) {
            if !self.iterators.contains_key(shard) {
                let opened = self
                    .streams
                    .call(
                        "GetShardIterator",
                        &json!({ "StreamArn": self.arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" }),
                    )
                    .await?;
                let iterator = opened.get("ShardIterator").and_then(Value::as_str).map(str::to_owned);
                self.iterators.insert(shard.to_owned(), iterator);
            }
        }
        let mut records = Vec::new();
        for iterator in self.iterators.values_mut() {
            let Some(current) = iterator.clone() else { continue };
            let got = self.streams.call("GetRecords", &json!({ "ShardIterator": current, "Limit": 1000 })).await?;
            records.extend(got.get("Records").and_then(Value::as_array).cloned().unwrap_or_default());
            *iterator = got.get("NextShardIterator").and_then(Value::as_str).map(str::to_owned);
        }
        Ok(json!({ "Records": records }))
    }
}
