//! `make bench`: the AWS requests each kind of API request makes, counted against moto (the
//! SDK interceptor in support/calls.rs), next to the fewest possible. Writes
//! `target/bench/round_trips.json` for BENCHMARKS.md.
// Test support may unwrap, panic and index: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use integration_tests::calls::tally;
use integration_tests::round_trips::measure;
use integration_tests::Stack;
use serde_json::json;

#[tokio::main]
async fn main() {
    let stack = Stack::new().await;
    let measured = measure(&stack).await;
    stack.delete_table().await;
    let rows: serde_json::Value = measured
        .iter()
        .map(|r| {
            let (dynamodb, sns, calls) = tally(&r.calls);
            println!(
                "{:<34} {} dynamodb={dynamodb} (min {}) sns={sns}  {calls}",
                r.kind.name, r.status, r.kind.minimum_dynamodb
            );
            json!({
                "request": r.kind.name, "status": r.status, "dynamodb": dynamodb, "sns": sns, "calls": calls,
                "minimum_dynamodb": r.kind.minimum_dynamodb, "minimum_why": r.kind.minimum_why, "sends_code": r.kind.sends_code,
            })
        })
        .collect();
    integration_tests::write_bench_json("round_trips.json", &rows);
}
