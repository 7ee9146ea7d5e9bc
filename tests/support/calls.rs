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
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// How many requests were sent so far: `since(mark)` gives the ones after it.
    pub fn mark(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The operations sent after `mark`, in order, as `service:Operation`.
    pub fn since(&self, mark: usize) -> Vec<String> {
        self.0.lock().unwrap()[mark..].to_vec()
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or_else(|| "unknown".to_owned(), |m| format!("{}:{}", m.service().to_lowercase(), m.name()));
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
