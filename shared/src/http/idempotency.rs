//! `Idempotency-Key`: the same key and body get the same answer again, with no new payment and
//! no new SMS; the same key with another body is refused; keys live 24 hours.

use std::future::Future;

use super::problem::Problem;
use super::reply::Reply;
use crate::ports::Claim;
use crate::secrets::CodeHasher;
use crate::usecases::{Attempt, Services};

/// The request as its fingerprint covers it: without the CVC, and with the card number
/// replaced by its keyed digest. The fingerprint is kept 24 hours; whoever holds the HMAC key
/// could otherwise recover a CVC from it by trying its 1,000-10,000 values (PCI DSS 3.3.1).
/// Two requests that differ only in their CVC are the same request.
pub fn without_card_secrets(hasher: &CodeHasher, body: &serde_json::Value) -> serde_json::Value {
    let mut body = body.clone();
    if let Some(card) = body.get_mut("card").and_then(serde_json::Value::as_object_mut) {
        card.remove("cvc");
        if let Some(serde_json::Value::String(number)) = card.get("number") {
            let digest = hasher.card_number_digest(number);
            card.insert("number".into(), digest.into());
        }
    }
    body
}

/// Runs `work` at most once per `key`; `scope` names the route (and payment) the key is for.
/// `work` gets the [`Attempt`]: stable across retries of this key, and whether it takes over
/// from an attempt that died.
pub async fn run_once<F, Fut>(
    svc: &Services,
    scope: &str,
    key: &str,
    body: &serde_json::Value,
    lock_until: i64,
    work: F,
) -> Reply
where
    F: FnOnce(Attempt) -> Fut,
    Fut: Future<Output = Reply>,
{
    let now = svc.clock.now();
    let scoped_key = format!("{scope}#{key}");
    // serde_json's map is ordered, so equal JSON bodies serialize alike whatever their key order.
    let hasher = match svc.hasher() {
        Ok(hasher) => hasher,
        Err(e) => return super::problem::from_use_case(e, now, &super::views::Urls::Merchant).into_reply(),
    };
    let fingerprint = hasher.request_fingerprint(scope, &without_card_secrets(hasher, body).to_string());
    let (token, attempt) = match svc.idempotency.claim(&scoped_key, &fingerprint, now, lock_until).await {
        Ok(Claim::Acquired { token, origin, recovering }) => {
            let seed = hasher.request_fingerprint(&scoped_key, &origin);
            (token, Attempt { seed, recovering })
        }
        Ok(Claim::Replay(stored)) => return Reply::replay(stored),
        Ok(Claim::KeyReused) => {
            return Problem::new(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
            .param("Idempotency-Key")
            .into_reply()
        }
        Ok(Claim::InProgress) => {
            return Problem::new(
                409,
                "request_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .retry_after(1)
            .into_reply()
        }
        Err(e) => return super::problem::from_use_case(e.into(), now, &super::views::Urls::Merchant).into_reply(),
    };

    let reply = work(attempt).await;
    let outcome = if reply.transient {
        svc.idempotency.release(&scoped_key, &token).await
    } else {
        svc.idempotency.complete(&scoped_key, &token, &reply.stored(), svc.clock.now()).await
    };
    if let Err(e) = outcome {
        // The answer stands; the claim lapses at its deadline and a retry then runs again.
        tracing::warn!(error = %e, "idempotency record not finalized");
    }
    reply
}
