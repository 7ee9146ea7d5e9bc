//! Logging: JSON lines (CloudWatch) by default, `LOG_FORMAT=text` for humans. Secrets cannot
//! reach a log line by accident: their types print masked.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub fn init() {
    init_writing_to(std::io::stdout);
}

/// As `init`, with the lines going to `writer` (benchmarks format them as in AWS and drop them).
pub fn init_writing_to<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(writer);
    let result = if std::env::var("LOG_FORMAT").as_deref() == Ok("text") {
        builder.without_time().try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    };
    // Already initialized (tests): keep the first subscriber.
    let _ = result;
}
