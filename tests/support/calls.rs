//! Every AWS request the stack's adapters send, by operation: an SDK interceptor on their
//! DynamoDB and SNS clients. Counted before each transmission, so a retried call counts once
//! per attempt, which is what a round trip is.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>, Arc<Mutex<Vec<Access>>>);

/// What one DynamoDB request asks IAM for: each action (a transaction's items each count as
/// their own: `PutItem`, `UpdateItem`, `ConditionCheckItem`), on the table or an index, with
/// the partition keys it names (as `PAY#`-style prefixes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub action: String,
    pub index: Option<String>,
    pub leading_keys: Vec<String>,
}

impl CallLog {
    /// How many requests were sent so far: `since(mark)` gives the ones after it.
    pub fn mark(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The operations sent after `mark`, in order, as `service:Operation`.
    pub fn since(&self, mark: usize) -> Vec<String> {
        self.0.lock().unwrap()[mark..].to_vec()
    }

    /// How many accesses were recorded so far: `accesses_since(mark)` gives the ones after.
    pub fn access_mark(&self) -> usize {
        self.1.lock().unwrap().len()
    }

    pub fn accesses_since(&self, mark: usize) -> Vec<Access> {
        self.1.lock().unwrap()[mark..].to_vec()
    }
}

/// The partition-key prefix of a key (`PAY#…` → `PAY#`).
fn prefix(key: &str) -> Option<String> {
    let (kind, _) = key.split_once('#')?;
    (!kind.is_empty() && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')).then(|| format!("{kind}#"))
}

/// The `pk` values of a request body's items and keys, and a query's key values.
fn leading_keys(body: &serde_json::Value, out: &mut Vec<String>) {
    match body {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "pk" || k == ":pk" {
                    if let Some(p) = v["S"].as_str().and_then(prefix) {
                        out.push(p);
                    }
                }
                leading_keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| leading_keys(v, out)),
        _ => {}
    }
}

/// The IAM accesses of one DynamoDB request.
fn accesses(operation: &str, body: &serde_json::Value) -> Vec<Access> {
    let one = |action: &str, part: &serde_json::Value| {
        let mut keys = Vec::new();
        leading_keys(part, &mut keys);
        keys.sort();
        keys.dedup();
        Access {
            action: format!("dynamodb:{action}"),
            index: part["IndexName"].as_str().map(str::to_owned),
            leading_keys: keys,
        }
    };
    if operation != "TransactWriteItems" {
        return vec![one(operation, body)];
    }
    let items = body["TransactItems"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let (kind, part) = item.as_object()?.iter().next()?;
            let action = match kind.as_str() {
                "Put" => "PutItem",
                "Update" => "UpdateItem",
                "Delete" => "DeleteItem",
                "ConditionCheck" => "ConditionCheckItem",
                _ => return None,
            };
            Some(one(action, part))
        })
        .collect()
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or_else(|| "unknown".to_owned(), |m| format!("{}:{}", m.service().to_lowercase(), m.name()));
        if let Some(name) = operation.strip_prefix("dynamodb:") {
            let body: serde_json::Value =
                context.request().body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
            self.1.lock().unwrap().extend(accesses(name, &body));
        }
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// `calls` counted by operation, `dynamodb` and `sns` apart: `(dynamodb, sns, "2× UpdateItem, …")`.
pub fn tally(calls: &[String]) -> (usize, usize, String) {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for call in calls {
        match counts.iter_mut().find(|(op, _)| op == call) {
            Some((_, n)) => *n += 1,
            None => counts.push((call.clone(), 1)),
        }
    }
    let dynamodb = calls.iter().filter(|c| c.starts_with("dynamodb:")).count();
    let sns = calls.iter().filter(|c| c.starts_with("sns:")).count();
    let text = counts.iter().map(|(op, n)| format!("{n}× {op}")).collect::<Vec<_>>().join(", ");
    (dynamodb, sns, text)
}
