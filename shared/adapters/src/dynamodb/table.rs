//! The table's shape, for local stacks and tests (template.yaml declares the same for AWS).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

/// What the history index (`gsi1`, by merchant and user) projects: what a history answer shows,
/// and nothing secret. template.yaml declares the same list (a test compares them).
pub const HISTORY_PROJECTION: &[&str] = &[
    "payment_id",
    "status",
    "user_id",
    "merchant_id",
    "order_id",
    "amount",
    "currency",
    "session_id",
    "payment_method_id",
    "brand",
    "last4",
    "exp_month",
    "exp_year",
    "phone_masked",
    "code_expires_at",
    "attempts_remaining",
    "sends",
    "last_sent_at",
    "failure_code",
    "capture_method",
    "amount_to_capture",
    "capture_before",
    "cancellation_reason",
    "captured_at",
    "refunds",
    "created_at",
    "updated_at",
    "expires_at",
    "version",
];

pub fn client(aws: &aws_config::SdkConfig) -> Client {
    Client::new(aws)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, String> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| e.to_string())
}

fn string_attr(name: &str) -> Result<AttributeDefinition, String> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())
}

/// What the events index (`gsi3`) projects: an event as `GET /events` shows it.
pub const EVENTS_PROJECTION: &[&str] = &["event_id", "event_type", "merchant_id", "created_at", "event"];

/// Whether the table streams its changes (old and new images), as the deployed one does for
/// the webhook events. A test's own table streams only where the test reads the stream: moto
/// keeps every record of every table in memory, at a cost on each write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    On,
    Off,
}

/// The three indexes: history (`gsi1`), the sweeper's due index (`gsi2`), the events (`gsi3`).
fn indexes() -> Result<[GlobalSecondaryIndex; 3], String> {
    let gsi = GlobalSecondaryIndex::builder()
        .index_name("gsi1")
        .key_schema(key("gsi1pk", KeyType::Hash)?)
        .key_schema(key("gsi1sk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(HISTORY_PROJECTION.iter().map(|a| (*a).to_owned()).collect()))
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    // Sparse: only payments with something left for the sweeper carry gsi2pk.
    let due = GlobalSecondaryIndex::builder()
        .index_name("gsi2")
        .key_schema(key("gsi2pk", KeyType::Hash)?)
        .key_schema(key("gsi2sk", KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
        .map_err(|e| e.to_string())?;
    let events = GlobalSecondaryIndex::builder()
        .index_name("gsi3")
        .key_schema(key("gsi3pk", KeyType::Hash)?)
        .key_schema(key("gsi3sk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(EVENTS_PROJECTION.iter().map(|a| (*a).to_owned()).collect()))
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    Ok([gsi, due, events])
}

/// Creates the table with TTL on `ttl` (and its stream, if `stream`); a table that already
/// exists is left as it is.
pub async fn create_table(client: &Client, name: &str, stream: Stream) -> Result<(), String> {
    let [gsi, due, events] = indexes()?;
    let streaming = StreamSpecification::builder()
        .stream_enabled(stream == Stream::On)
        .set_stream_view_type((stream == Stream::On).then_some(StreamViewType::NewAndOldImages))
        .build()
        .map_err(|e| e.to_string())?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string_attr("pk")?)
        .attribute_definitions(string_attr("sk")?)
        .attribute_definitions(string_attr("gsi1pk")?)
        .attribute_definitions(string_attr("gsi1sk")?)
        .attribute_definitions(string_attr("gsi2pk")?)
        .attribute_definitions(string_attr("gsi2sk")?)
        .global_secondary_indexes(gsi)
        .attribute_definitions(string_attr("gsi3pk")?)
        .attribute_definitions(string_attr("gsi3sk")?)
        .global_secondary_indexes(due)
        .global_secondary_indexes(events)
        .stream_specification(streaming)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ResourceInUseException") => return Ok(()),
        Err(e) => return Err(DisplayErrorContext(e).to_string()),
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| DisplayErrorContext(e).to_string())?;
    Ok(())
}
