//! Business metrics in CloudWatch Embedded Metric Format: the documents CloudWatch must accept.

use serde_json::json;
use shared::adapters::emf::EmfMetrics;
use shared::ports::BusinessEvent;

#[test]
fn a_count_is_an_emf_document_with_its_function_dimension() {
    let emf = EmfMetrics::new("Payments/prod", "payments-prod-verify-code");
    let doc = emf.document(&BusinessEvent::CodeSent, 1_795_000_000_123);
    assert_eq!(
        doc,
        json!({
            "_aws": {
                "Timestamp": 1_795_000_000_123_i64,
                "CloudWatchMetrics": [{
                    "Namespace": "Payments/prod",
                    "Dimensions": [["Function"]],
                    "Metrics": [{"Name": "CodesSent", "Unit": "Count"}],
                }],
            },
            "Function": "payments-prod-verify-code",
            "CodesSent": 1,
        })
    );
}

#[test]
fn failed_payments_are_also_counted_by_failure_code() {
    let emf = EmfMetrics::new("Payments", "f");
    let doc = emf.document(&BusinessEvent::PaymentFailed { code: "card_declined".into() }, 0);
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function", "Code"]]));
    assert_eq!((&doc["Code"], &doc["PaymentsFailed"]), (&json!("card_declined"), &json!(1)));
}

#[test]
fn every_event_has_its_own_metric_name() {
    let events = [
        BusinessEvent::PaymentCreated,
        BusinessEvent::PaymentSucceeded,
        BusinessEvent::PaymentFailed { code: "x".into() },
        BusinessEvent::CodeSent,
        BusinessEvent::VerificationFailed,
        BusinessEvent::SmsRateLimited,
    ];
    let names: std::collections::BTreeSet<_> = events.iter().map(BusinessEvent::metric_name).collect();
    assert_eq!(names.len(), events.len());
}
