//! How the `Idempotency-Key`'s answers look over HTTP. Its life (claim, inline key, replay,
//! completion) is the use cases' [`crate::usecases::idempotency`].

use super::problem::Problem;
use super::reply::Reply;
use super::views::Urls;
use crate::ports::StoredResponse;
use crate::usecases::{KeptAnswer, KeyRefusal};

impl KeptAnswer for Reply {
    fn is_transient(&self) -> bool {
        self.transient
    }

    fn to_stored(&self) -> StoredResponse {
        self.stored()
    }

    fn replay(stored: StoredResponse) -> Self {
        Reply::replay(stored)
    }

    fn refused(refusal: KeyRefusal) -> Self {
        match refusal {
            KeyRefusal::Reused => {
                Problem::new(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
                    .param("Idempotency-Key")
            }
            KeyRefusal::InProgress => {
                Problem::new(409, "request_in_progress", "a request with this Idempotency-Key is still being processed")
                    .retry_after(1)
            }
            // The key's store failed (a 503 or a 409 to retry): the answer names no payment, so
            // neither a time nor a session's routes shape it.
            KeyRefusal::Unavailable(e) => super::problem::from_use_case(e, 0, &Urls::Merchant),
        }
        .into_reply()
    }
}
