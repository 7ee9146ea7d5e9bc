//! Business metrics as CloudWatch Embedded Metric Format: one JSON line on stdout per event,
//! which CloudWatch Logs turns into a metric without any API call on the request path.

use std::io::Write;

use serde_json::{json, Value};

use crate::ports::{BusinessEvent, Metrics};

pub struct EmfMetrics {
    namespace: String,
    function: String,
}

impl EmfMetrics {
    pub fn new(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), function: function.into() }
    }

    /// The EMF document for one event at `timestamp_ms`. Every metric is counted per function;
    /// failed payments also per failure code.
    pub fn document(&self, event: &BusinessEvent, timestamp_ms: i64) -> Value {
        let name = event.metric_name();
        let mut dimensions = vec!["Function"];
        let mut doc = serde_json::Map::new();
        doc.insert("Function".into(), self.function.as_str().into());
        doc.insert(name.into(), 1.into());
        if let BusinessEvent::PaymentFailed { code } = event {
            dimensions.push("Code");
            doc.insert("Code".into(), code.as_str().into());
        }
        let aws = json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": self.namespace,
                "Dimensions": [dimensions],
                "Metrics": [{ "Name": name, "Unit": "Count" }],
            }],
        });
        doc.insert("_aws".into(), aws);
        Value::Object(doc)
    }
}

impl Metrics for EmfMetrics {
    fn record(&self, event: BusinessEvent) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let line = self.document(&event, now_ms).to_string();
        // One write of one line: CloudWatch reads each stdout line as one log event.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}
