//! `POST /acquirer/notifications`: the acquirer's signed notifications (issue 25). Nothing is
//! read before every item's signature checks against the acquirer's key; a batch with one that
//! does not is refused (401) and counted. Each notice then drives its payment's state machine
//! (a notice seen twice changes nothing); the batch is answered as the acquirer expects
//! (`[accepted]`), or with 503 where a notice could not be applied (the acquirer sends it again).

use lambda_http::{Body, Request, Response};

use super::handlers::not_found;
use super::problem::Problem;
use super::request::{route, Route};
use crate::ports::{BusinessEvent, NoticeRefusal};
use crate::usecases::{apply_notice, NoticeOutcome, Services};

pub async fn acquirer_notifications(svc: &Services, req: Request) -> Response<Body> {
    if !matches!(route(&req), Some(Route::AcquirerNotifications)) {
        return not_found("use POST /acquirer/notifications");
    }
    // Without the acquirer's key this function takes no notification (fails closed).
    let Some(notices) = svc.notices.as_ref() else {
        return not_found("this stack takes no acquirer notifications");
    };
    let read = notices.read(req.body().as_ref());
    let list = match read {
        Ok(list) => list,
        Err(refusal) => {
            svc.metrics.record(BusinessEvent::NotificationRefused);
            tracing::warn!(error = %refusal, "acquirer notification refused");
            let problem = match refusal {
                NoticeRefusal::Unsigned(_) => {
                    Problem::new(401, "notification_signature_invalid", "a notification's signature does not check")
                }
                NoticeRefusal::Malformed(_) => {
                    Problem::new(400, "notification_malformed", "the body is not a notification batch")
                }
            };
            return problem.into_reply().into_response();
        }
    };
    let mut applied = 0;
    for notice in &list {
        match apply_notice(svc, notice).await {
            Ok(NoticeOutcome::Applied) => applied += 1,
            Ok(NoticeOutcome::Unchanged) => {}
            Err(e) => {
                tracing::warn!(error = %e, ?notice, "notification not applied; the acquirer sends it again");
                return Problem::new(503, "temporarily_unavailable", "try again").into_reply().into_response();
            }
        }
    }
    tracing::info!(items = list.len(), applied, "acquirer notifications taken");
    let mut response = Response::new(Body::from(notices.accepted()));
    *response.status_mut() = lambda_http::http::StatusCode::OK;
    response.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("text/plain"));
    response
}
