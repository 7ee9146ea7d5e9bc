use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::StoreError;

/// Maps an SDK failure: a lost condition is a `Conflict`, anything else is `Unavailable`.
pub(super) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let lost_condition =
        err.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ConditionalCheckFailedException");
    if lost_condition {
        StoreError::Conflict
    } else {
        StoreError::Unavailable(DisplayErrorContext(err).to_string())
    }
}

pub(super) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
