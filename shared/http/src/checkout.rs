//! The `checkout-page` function: checkout sessions for the merchant's server, and for the
//! shopper's browser the page and its state.
//! - `POST /checkout/sessions`, `GET /checkout/sessions/{id}`, `POST /checkout/sessions/{id}/expire`
//!   (merchant);
//! - `GET /checkout/{session_id}`: the page, the same bytes for every id of a session's shape
//!   (no table read, so ids cannot be probed); `GET /checkout/{session_id}/state` (shopper).
//!
//! The page is HTML, CSS and a little plain JS embedded in the binary; the script and style are
//! allowed by hash in the Content-Security-Policy, so nothing else can run or load.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::auth::browser_locale;
use super::dto::{EmptyBody, SessionBody};
use super::handlers::{get, not_found, post};
use super::reply::Reply;
use super::request::{base_path, origin, query_param, route, Route};
use super::views::{session_view, state_view};
use crate::config::LocalAuth;
use crate::domain::{CheckoutSession, ClientSecret, Identifier, Locale, LocalePref, SessionId};
use crate::usecases::{self, CodeServices, SessionView, UseCaseError};

const PAGE: &str = include_str!("checkout/page.html");
const STYLE: &str = include_str!("checkout/page.css");
const SCRIPT: &str = include_str!("checkout/page.js");

/// The security headers, computed once: the CSP names the exact script and style by hash.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = |text: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text.as_bytes())));
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    )
});

/// The page in one language, built once per instance: every session in that language gets
/// these very bytes, plain and gzip-compressed. Its ~37 KB of HTML, style, script and messages
/// travel as about 12 KB to a browser that accepts gzip (API Gateway's HTTP API compresses
/// nothing itself). Locally it also keeps the answer under the size at which `cargo lambda
/// watch` now and then answers a bare 500 of its own (bench/watch-500 reproduces that without
/// any of our code).
pub struct LocalePage {
    pub html: String,
    pub gzip: Option<Vec<u8>>,
}

static PAGES: LazyLock<[LocalePage; 2]> = LazyLock::new(|| {
    Locale::ALL.map(|locale| {
        let html = page_html(locale);
        let gzip = gzipped(&html);
        LocalePage { html, gzip }
    })
});

/// The page in `locale`, as served.
pub fn locale_page(locale: Locale) -> &'static LocalePage {
    let [en, zh] = &*PAGES;
    match locale {
        Locale::En => en,
        Locale::ZhCn => zh,
    }
}

fn gzipped(text: &str) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(text.as_bytes()).ok()?;
    encoder.finish().ok()
}

/// The page's text in `locale`: `{{t:key}}` replaced by the message (escaped), the page's
/// messages as a JSON data block (not a script: the CSP's hashes do not concern it, and the
/// script is the same in every language).
fn page_html(locale: Locale) -> String {
    let mut out = String::with_capacity(PAGE.len() + 4096);
    let mut rest = PAGE;
    while let Some(open) = rest.find("{{t:") {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let Some(close) = after.find("}}") else { break };
        out.push_str(&escape(locale.text(after.get(4..close).unwrap_or(""))));
        rest = after.get(close + 2..).unwrap_or("");
    }
    out.push_str(rest);
    let messages = locale.page_messages().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
    out.replace("{{LANG}}", locale.tag())
        .replace("{{MESSAGES}}", &messages)
        .replace("{{STYLE}}", STYLE)
        .replace("{{SCRIPT}}", SCRIPT)
}

/// The language of a page request: the URL's `locale` (the session's, when it has a fixed one),
/// else the browser's `Accept-Language`, else the URL's `fallback` (the merchant's default),
/// else English.
fn page_locale(req: &Request) -> Locale {
    let asked = |name: &str| query_param(req, name).as_deref().and_then(Locale::parse);
    asked("locale").or_else(|| browser_locale(req)).or_else(|| asked("fallback")).unwrap_or(Locale::En)
}

/// Whether the request's `Accept-Encoding` admits gzip (`gzip` listed without `q=0`).
fn accepts_gzip(req: &Request) -> bool {
    let Some(accepted) = req.headers().get("accept-encoding").and_then(|v| v.to_str().ok()) else { return false };
    accepted.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or("");
        let refused = fields.any(|f| f.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

pub async fn checkout_page(svc: &CodeServices, req: Request) -> Response<Body> {
    match route(&req) {
        Some(r @ Route::CreateSession) => create_session(svc, &req, &r).await,
        Some(ref r @ Route::GetSession(ref raw)) => {
            get(svc, &req, r, |ctx| async move {
                let id = SessionId::parse(raw).ok_or(UseCaseError::SessionNotFound)?;
                let view = usecases::merchant_session(svc, &ctx.caller, &id).await?;
                Ok(Reply::json(200, &session_view(&view, ctx.now)))
            })
            .await
        }
        Some(ref r @ Route::ExpireSession(ref raw)) => {
            let raw = raw.as_str();
            post(svc, &req, r, |_: EmptyBody, ctx, _| async move {
                let id = SessionId::parse(raw).ok_or(UseCaseError::SessionNotFound)?;
                let view = usecases::expire_session(svc, &ctx.caller, &id).await?;
                Ok(Reply::json(200, &session_view(&view, ctx.now)))
            })
            .await
        }
        Some(ref r @ Route::SessionState(_)) => {
            get(svc, &req, r, |ctx| async move {
                let session = ctx.session()?.clone();
                let name = svc.settings.merchant_name(session.merchant_id.as_str()).to_owned();
                let locale = usecases::spoken(svc, &session, ctx.caller.browser_locale());
                let (view, methods) = usecases::session_state(svc, session).await?;
                Ok(Reply::json(200, &state_view(&view, &methods, &name, locale, ctx.now)))
            })
            .await
        }
        Some(Route::CheckoutPage(raw)) => page(&req, &raw),
        _ if req.method() == Method::GET => html(404, &error_page(page_locale(&req), "error.not_found")),
        _ => not_found("use POST /checkout/sessions"),
    }
}

fn page(req: &Request, raw: &str) -> Response<Body> {
    let locale = page_locale(req);
    if req.method() != Method::GET {
        let mut r = html(405, &error_page(locale, "error.not_allowed"));
        r.headers_mut().insert("allow", HeaderValue::from_static("GET"));
        return r;
    }
    if SessionId::parse(raw).is_none() {
        return html(404, &error_page(locale, "error.not_found"));
    }
    tracing::info!(locale = locale.tag(), "checkout page");
    let page = locale_page(locale);
    let mut response = html(200, "");
    let gzip = page.gzip.as_ref().filter(|_| accepts_gzip(req));
    *response.body_mut() = match gzip {
        Some(compressed) => {
            response.headers_mut().insert("content-encoding", HeaderValue::from_static("gzip"));
            Body::Binary(compressed.clone())
        }
        None => Body::Text(page.html.clone()),
    };
    response.headers_mut().insert("vary", HeaderValue::from_static("accept-encoding, accept-language"));
    response
}

/// `POST /checkout/sessions`: the answer carries the client secret and the page's URL (the
/// secret in its fragment, which browsers never send to a server). Under an Idempotency-Key
/// the kept answer holds the secret sealed, never in clear.
async fn create_session(svc: &CodeServices, req: &Request, route: &Route) -> Response<Body> {
    // `cargo lambda watch` serves this function under `/lambda-url/checkout-page` and hands it
    // the path without that prefix: the local stack's page lives there.
    let base = match svc.settings.local_auth {
        LocalAuth::MerchantHeader => "/lambda-url/checkout-page".to_owned(),
        LocalAuth::Off => base_path(req),
    };
    let page_base = &format!("{}{base}", origin(req));
    post(svc, req, route, |body: SessionBody, ctx, attempt| async move {
        if let Some(raw) = &body.merchant_id {
            ctx.caller.require(&Identifier::parse("merchant_id", raw)?)?;
        }
        let cmd = body.validate(svc.settings.local_auth == LocalAuth::MerchantHeader)?;
        let (session, secret) = usecases::create_session(svc, &ctx.caller, cmd, attempt.as_ref()).await?;
        let view = SessionView { session, payment: None };
        let mut answer = session_view(&view, ctx.now);
        let url = format!("{page_base}/checkout/{}{}", view.session.id, page_query(svc, &view.session));
        let mut reply = Reply::json(201, &with_secret(answer.clone(), &url, &secret));
        if attempt.is_some() {
            let sealed = svc
                .kept()
                .seal(view.session.id.as_str(), secret.expose())
                .map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
            if let Some(fields) = answer.as_object_mut() {
                fields.insert("url".into(), url.into());
                fields.insert("sealed_client_secret".into(), sealed.into());
            }
            reply.kept_body = Some(answer.to_string());
        }
        Ok(reply)
    })
    .await
}

/// The page URL's query: the session's language when it is fixed, else the merchant's default
/// for a browser that names none of ours (`auto` sessions of an English-speaking merchant need
/// neither).
fn page_query(svc: &CodeServices, session: &CheckoutSession) -> String {
    match session.locale {
        LocalePref::Fixed(locale) => format!("?locale={}", locale.tag()),
        LocalePref::Auto => match svc.settings.merchant_locale(session.merchant_id.as_str()) {
            Locale::En => String::new(),
            other => format!("?fallback={}", other.tag()),
        },
    }
}

fn with_secret(mut answer: Value, url: &str, secret: &ClientSecret) -> Value {
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("client_secret".into(), secret.expose().into());
        fields.insert("url".into(), format!("{url}#{}", secret.expose()).into());
    }
    answer
}

/// A replayed session answer: the sealed secret opened and put back where it belongs.
pub(super) fn restore_secret(svc: &CodeServices, mut reply: Reply) -> Reply {
    let Ok(mut kept) = serde_json::from_str::<Value>(&reply.body) else { return reply };
    let Some(fields) = kept.as_object_mut() else { return reply };
    let Some(Value::String(sealed)) = fields.remove("sealed_client_secret") else { return reply };
    let id = fields.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
    let url = fields.get("url").and_then(Value::as_str).unwrap_or("").to_owned();
    match svc.kept().open(&id, &sealed).ok().as_deref().and_then(ClientSecret::parse) {
        Some(secret) => reply.body = with_secret(kept, &url, &secret).to_string(),
        None => {
            tracing::error!(session_id = %id, "kept session answer cannot be opened (key retired?)");
            reply.body = kept.to_string();
        }
    }
    reply
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// An error page in the checkout's own style (the stylesheet is allowed by its hash), its
/// `<key>.title` and `<key>.detail` in `locale`.
fn error_page(locale: Locale, key: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\">\
         <title>{t} · {c}</title><style>{STYLE}</style></head><body><main class=\"card\">\
         <h1>{t}</h1><p>{m}</p></main></body></html>",
        lang = locale.tag(),
        t = escape(locale.text(&format!("{key}.title"))),
        m = escape(locale.text(&format!("{key}.detail"))),
        c = escape(locale.text("page.title")),
    )
}

fn html(status: u16, page: &str) -> Response<Body> {
    let mut response = Response::new(Body::Text(page.to_owned()));
    *response.status_mut() =
        lambda_http::http::StatusCode::from_u16(status).unwrap_or(lambda_http::http::StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert("content-security-policy", csp);
    }
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000"));
    response
}
