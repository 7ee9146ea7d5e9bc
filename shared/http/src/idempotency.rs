//! `Idempotency-Key`: the same key and body get the same answer again, with no new payment and
//! no new SMS; the same key with another body is refused; keys live 24 hours.

use std::future::Future;
use std::sync::Arc;

use super::problem::Problem;
use super::reply::Reply;
use crate::ports::{Claim, KeyRecord};
use crate::secrets::CodeHasher;
use crate::usecases::{Attempt, InlineKey, KeyState, RenderAnswer, Services};

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
///
/// With `render` (a route whose answer is the payment it writes), a key is first tried the
/// cheap way: the payment's own writes claim it and keep the answer ([`InlineKey`]), so the
/// key costs no call of its own. Where the key has a record already (a retry, or a request
/// racing this one), the record as read may answer alone (a replay); otherwise `work` runs
/// again the way below: the key claimed on its own first.
pub async fn run_once<F, Fut>(
    svc: &Services,
    scope: &str,
    key: &str,
    body: &serde_json::Value,
    lock_until: i64,
    render: Option<RenderAnswer>,
    work: F,
) -> Reply
where
    F: Fn(Attempt) -> Fut,
    Fut: Future<Output = Reply>,
{
    let now = svc.clock.now();
    let scoped_key = format!("{scope}#{key}");
    // serde_json's map is ordered, so equal JSON bodies serialize alike whatever their key order.
    let hasher = svc.hasher();
    let fingerprint = hasher.request_fingerprint(scope, &without_card_secrets(hasher, body).to_string());
    // What the key's record, as the admission read found it, decides alone (a replay, say).
    let mut decided = None;
    if let Some(render) = render {
        let record = KeyRecord {
            key: scoped_key.clone(),
            fingerprint: fingerprint.clone(),
            token: ulid::Ulid::new().to_string(),
            lock_until,
            now,
        };
        match inline(svc, hasher, record, render, &work).await {
            Ok(reply) => return reply,
            Err(found) => decided = found,
        }
    }
    let claim = match decided {
        Some(claim) => Ok(claim),
        None => svc.idempotency.claim(&scoped_key, &fingerprint, now, lock_until).await,
    };
    let (token, attempt) = match claim {
        Ok(Claim::Acquired { token, origin, recovering }) => {
            let seed = hasher.request_fingerprint(&scoped_key, &origin);
            (token, Attempt { seed, recovering, key: None })
        }
        Ok(Claim::Replay(stored)) => return Reply::replay(stored),
        Ok(Claim::KeyReused) => return key_reused(),
        Ok(Claim::InProgress) => return in_progress(),
        Err(e) => return super::problem::from_use_case(e.into(), now, &super::views::Urls::Merchant).into_reply(),
    };

    let reply = work(attempt).await;
    finish(svc, &scoped_key, &token, &reply).await;
    reply
}

/// The first try of a new key: the payment's own writes claim it and keep the answer. The
/// reply, or (`Err`) the key had a record already, with what that record decides alone.
async fn inline<F, Fut>(
    svc: &Services,
    hasher: &CodeHasher,
    record: KeyRecord,
    render: RenderAnswer,
    work: &F,
) -> Result<Reply, Option<Claim>>
where
    F: Fn(Attempt) -> Fut,
    Fut: Future<Output = Reply>,
{
    // The token is the origin retries derive the ids from, as a claim of its own makes it.
    let seed = hasher.request_fingerprint(&record.key, &record.token);
    let scoped_key = record.key.clone();
    let inline = Arc::new(InlineKey::new(record, render));
    let reply = work(Attempt { seed, recovering: false, key: Some(inline.clone()) }).await;
    match inline.state() {
        // Failed before its payment was written: nothing to keep (a retry runs again).
        KeyState::Untouched => Ok(reply),
        KeyState::Claimed | KeyState::Unsure => {
            finish(svc, &scoped_key, inline.token(), &reply).await;
            Ok(reply)
        }
        // Kept with the payment's last write.
        KeyState::Answered => Ok(reply),
        KeyState::Seen => Err(inline.decided()),
    }
}

fn key_reused() -> Reply {
    Problem::new(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
        .param("Idempotency-Key")
        .into_reply()
}

fn in_progress() -> Reply {
    Problem::new(409, "request_in_progress", "a request with this Idempotency-Key is still being processed")
        .retry_after(1)
        .into_reply()
}

/// Keeps `reply` under the key `token` holds, or gives the key back where the reply is
/// transient (a retry runs again).
async fn finish(svc: &Services, scoped_key: &str, token: &str, reply: &Reply) {
    let outcome = if reply.transient {
        svc.idempotency.release(scoped_key, token).await
    } else {
        svc.idempotency.complete(scoped_key, token, &reply.stored(), svc.clock.now()).await
    };
    if let Err(e) = outcome {
        // The answer stands; the claim lapses at its deadline and a retry then runs again.
        tracing::warn!(error = %e, "idempotency record not finalized");
    }
}
