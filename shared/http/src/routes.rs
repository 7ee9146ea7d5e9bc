//! Every route of the API as one value: its name (logs, Idempotency-Key scope), method, path,
//! the one kind of caller it serves, its success status, what an `Idempotency-Key` does on it,
//! and what body it takes. The handlers dispatch on these values; `shared/tests/openapi.rs`
//! checks the table against openapi.yaml.

use lambda_http::http::Method;

use super::request::{CodeAction, EndpointAction, Route};

/// Who may call a route. Which one a request is treated as follows from its route, never from
/// the credential it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// The merchant's server: a JWT verified by API Gateway, carrying its merchant id.
    Merchant,
    /// The shopper's browser, holding the client secret of the session in the path.
    Shopper,
    /// The acquirer (Adyen), posting its notifications: no JWT and no session; each item is
    /// signed with the acquirer's HMAC key, checked by its own handler before anything is read.
    Acquirer,
}

/// What an `Idempotency-Key` does on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Not read: the route changes nothing (a GET).
    Unused,
    /// Claimed on its own before the route runs; the answer kept after it.
    Claimed,
    /// Claimed and answered by the payment's own writes (the answer is the payment): no call
    /// of its own. Where the key was seen before, it is claimed on its own.
    WithPayment,
}

/// What body a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// None is read (a GET).
    None,
    /// A JSON object.
    Json,
    /// A JSON object, or nothing (read as `{}`).
    JsonOrEmpty,
}

/// What a replayed answer (kept under an `Idempotency-Key`) needs before it goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Nothing: it goes out as kept.
    AsKept,
    /// The client secret it keeps sealed is opened and put back (a checkout session).
    OpenSecret,
    /// The signing secret it keeps sealed is opened and put back (a webhook endpoint's, shown
    /// at its creation and rotation only).
    OpenEndpointSecret,
}

/// One route.
#[derive(Debug)]
pub struct RouteSpec {
    pub name: &'static str,
    pub method: Method,
    /// The path as openapi.yaml and template.yaml write it.
    pub path: &'static str,
    pub caller: CallerKind,
    pub ok_status: u16,
    pub key: KeyPolicy,
    pub body: BodyRule,
    pub replay: Replay,
}

const fn post(name: &'static str, path: &'static str, caller: CallerKind, ok_status: u16) -> RouteSpec {
    RouteSpec {
        name,
        method: Method::POST,
        path,
        caller,
        ok_status,
        key: KeyPolicy::Claimed,
        body: BodyRule::Json,
        replay: Replay::AsKept,
    }
}

/// A route that reads (GET) or deletes (DELETE): no key and no body (deleting twice deletes
/// once; the second answers 404).
const fn bodiless(method: Method, name: &'static str, path: &'static str, caller: CallerKind) -> RouteSpec {
    RouteSpec {
        name,
        method,
        path,
        caller,
        ok_status: 200,
        key: KeyPolicy::Unused,
        body: BodyRule::None,
        replay: Replay::AsKept,
    }
}

const fn get(name: &'static str, path: &'static str, caller: CallerKind) -> RouteSpec {
    bodiless(Method::GET, name, path, caller)
}

const fn delete(name: &'static str, path: &'static str, caller: CallerKind) -> RouteSpec {
    bodiless(Method::DELETE, name, path, caller)
}

impl RouteSpec {
    const fn with_payment(mut self) -> Self {
        self.key = KeyPolicy::WithPayment;
        self
    }

    const fn empty_body(mut self) -> Self {
        self.body = BodyRule::JsonOrEmpty;
        self
    }

    const fn opening_secret(mut self) -> Self {
        self.replay = Replay::OpenSecret;
        self
    }

    const fn revealing_endpoint_secret(mut self) -> Self {
        self.replay = Replay::OpenEndpointSecret;
        self
    }
}

use CallerKind::{Acquirer, Merchant, Shopper};

pub static CREATE_PAYMENT: RouteSpec = post("first-payment", "/payments", Merchant, 201).with_payment();
pub static REPEAT_PAYMENT: RouteSpec = post("repeat-payment", "/payments/repeat", Merchant, 201).with_payment();
pub static VERIFY: RouteSpec = post("verify", "/payments/{payment_id}/verify", Merchant, 200).with_payment();
pub static RESEND: RouteSpec = post("resend", "/payments/{payment_id}/resend", Merchant, 200).empty_body();
pub static DETAILS: RouteSpec = post("payment-details", "/payments/{payment_id}/details", Merchant, 200);
pub static GET_PAYMENT: RouteSpec = get("payment-status", "/payments/{payment_id}", Merchant);
pub static CAPTURE_PAYMENT: RouteSpec = post("capture", "/payments/{payment_id}/capture", Merchant, 200).empty_body();
pub static CANCEL_PAYMENT: RouteSpec = post("cancel", "/payments/{payment_id}/cancel", Merchant, 200).empty_body();
pub static CREATE_REFUND: RouteSpec =
    post("create-refund", "/payments/{payment_id}/refunds", Merchant, 201).empty_body();
pub static LIST_REFUNDS: RouteSpec = get("list-refunds", "/payments/{payment_id}/refunds", Merchant);
pub static GET_REFUND: RouteSpec = get("get-refund", "/refunds/{refund_id}", Merchant);
pub static CREATE_ENDPOINT: RouteSpec =
    post("create-webhook-endpoint", "/webhook-endpoints", Merchant, 201).revealing_endpoint_secret();
pub static LIST_ENDPOINTS: RouteSpec = get("list-webhook-endpoints", "/webhook-endpoints", Merchant);
pub static GET_ENDPOINT: RouteSpec = get("get-webhook-endpoint", "/webhook-endpoints/{endpoint_id}", Merchant);
pub static UPDATE_ENDPOINT: RouteSpec = RouteSpec {
    name: "update-webhook-endpoint",
    method: Method::PATCH,
    path: "/webhook-endpoints/{endpoint_id}",
    caller: Merchant,
    ok_status: 200,
    key: KeyPolicy::Claimed,
    body: BodyRule::Json,
    replay: Replay::AsKept,
};
pub static DELETE_ENDPOINT: RouteSpec = delete("delete-webhook-endpoint", "/webhook-endpoints/{endpoint_id}", Merchant);
pub static ROTATE_SECRET: RouteSpec =
    post("rotate-webhook-secret", "/webhook-endpoints/{endpoint_id}/rotate-secret", Merchant, 200)
        .empty_body()
        .revealing_endpoint_secret();
pub static ENDPOINT_DELIVERIES: RouteSpec =
    get("list-webhook-deliveries", "/webhook-endpoints/{endpoint_id}/deliveries", Merchant);
pub static REDELIVER: RouteSpec = post("redeliver-event", "/events/{event_id}/redeliver", Merchant, 200).empty_body();
pub static LIST_EVENTS: RouteSpec = get("list-events", "/events", Merchant);
pub static GET_EVENT: RouteSpec = get("get-event", "/events/{event_id}", Merchant);
pub static HISTORY: RouteSpec = get("payment-status", "/users/{user_id}/payments", Merchant);
pub static PAYMENT_METHODS: RouteSpec = get("payment-methods", "/users/{user_id}/payment-methods", Merchant);
pub static FORGET_PAYMENT_METHOD: RouteSpec =
    delete("forget-payment-method", "/users/{user_id}/payment-methods/{payment_method_id}", Merchant);
pub static CREATE_SESSION: RouteSpec = post("create-session", "/checkout/sessions", Merchant, 201).opening_secret();
pub static GET_SESSION: RouteSpec = get("get-session", "/checkout/sessions/{session_id}", Merchant);
pub static EXPIRE_SESSION: RouteSpec =
    post("expire-session", "/checkout/sessions/{session_id}/expire", Merchant, 200).empty_body();
pub static CHECKOUT_PAGE: RouteSpec = get("checkout-page", "/checkout/{session_id}", Shopper);
pub static SESSION_STATE: RouteSpec = get("session-state", "/checkout/{session_id}/state", Shopper);
pub static SESSION_PAY: RouteSpec =
    post("session-payment", "/checkout/{session_id}/payments", Shopper, 201).with_payment();
pub static SESSION_REPEAT: RouteSpec =
    post("session-repeat-payment", "/checkout/{session_id}/payments/repeat", Shopper, 201).with_payment().empty_body();
pub static SESSION_VERIFY: RouteSpec =
    post("verify", "/checkout/{session_id}/payments/{payment_id}/verify", Shopper, 200).with_payment();
pub static SESSION_RESEND: RouteSpec =
    post("resend", "/checkout/{session_id}/payments/{payment_id}/resend", Shopper, 200).empty_body();
pub static SESSION_DETAILS: RouteSpec =
    post("payment-details", "/checkout/{session_id}/payments/{payment_id}/details", Shopper, 200);
/// Notifications are idempotent by the state machine (a second changes nothing): no key.
pub static ACQUIRER_NOTIFICATIONS: RouteSpec = RouteSpec {
    name: "acquirer-notifications",
    method: Method::POST,
    path: "/acquirer/notifications",
    caller: Acquirer,
    ok_status: 200,
    key: KeyPolicy::Unused,
    body: BodyRule::Json,
    replay: Replay::AsKept,
};

/// The whole table.
pub static ROUTES: [&RouteSpec; 35] = [
    &CREATE_PAYMENT,
    &REPEAT_PAYMENT,
    &VERIFY,
    &RESEND,
    &DETAILS,
    &GET_PAYMENT,
    &CAPTURE_PAYMENT,
    &CANCEL_PAYMENT,
    &CREATE_REFUND,
    &LIST_REFUNDS,
    &GET_REFUND,
    &CREATE_ENDPOINT,
    &LIST_ENDPOINTS,
    &GET_ENDPOINT,
    &UPDATE_ENDPOINT,
    &DELETE_ENDPOINT,
    &ROTATE_SECRET,
    &ENDPOINT_DELIVERIES,
    &REDELIVER,
    &LIST_EVENTS,
    &GET_EVENT,
    &HISTORY,
    &PAYMENT_METHODS,
    &FORGET_PAYMENT_METHOD,
    &CREATE_SESSION,
    &GET_SESSION,
    &EXPIRE_SESSION,
    &CHECKOUT_PAGE,
    &SESSION_STATE,
    &SESSION_PAY,
    &SESSION_REPEAT,
    &SESSION_VERIFY,
    &SESSION_RESEND,
    &SESSION_DETAILS,
    &ACQUIRER_NOTIFICATIONS,
];

/// What a parsed route is: its value in the table, and what its path names.
struct Parts<'a> {
    spec: &'static RouteSpec,
    /// The session a shopper's route names.
    session: Option<&'a str>,
    /// The payment the path names (logged with every line of the request).
    payment: Option<&'a str>,
    /// What an `Idempotency-Key`'s scope is narrowed to beyond the caller and the route.
    key_target: Option<&'a str>,
}

impl Route {
    /// The one match over every route.
    fn parts(&self) -> Parts<'_> {
        let (spec, session, payment, key_target): (
            &'static RouteSpec,
            Option<&String>,
            Option<&String>,
            Option<&String>,
        ) = match self {
            Self::CreatePayment => (&CREATE_PAYMENT, None, None, None),
            Self::RepeatPayment => (&REPEAT_PAYMENT, None, None, None),
            Self::PaymentCode { payment_id: p, action: CodeAction::Verify } => (&VERIFY, None, Some(p), Some(p)),
            Self::PaymentCode { payment_id: p, action: CodeAction::Resend } => (&RESEND, None, Some(p), Some(p)),
            Self::PaymentCode { payment_id: p, action: CodeAction::Details } => (&DETAILS, None, Some(p), Some(p)),
            Self::GetPayment(p) => (&GET_PAYMENT, None, Some(p), None),
            Self::CapturePayment(p) => (&CAPTURE_PAYMENT, None, Some(p), Some(p)),
            Self::CancelPayment(p) => (&CANCEL_PAYMENT, None, Some(p), Some(p)),
            Self::CreateRefund(p) => (&CREATE_REFUND, None, Some(p), Some(p)),
            Self::ListRefunds(p) => (&LIST_REFUNDS, None, Some(p), None),
            Self::GetRefund(_) => (&GET_REFUND, None, None, None),
            Self::CreateEndpoint => (&CREATE_ENDPOINT, None, None, None),
            Self::ListEndpoints => (&LIST_ENDPOINTS, None, None, None),
            Self::Endpoint { endpoint_id: id, action: EndpointAction::Update } => {
                (&UPDATE_ENDPOINT, None, None, Some(id))
            }
            Self::Endpoint { action: EndpointAction::Delete, .. } => (&DELETE_ENDPOINT, None, None, None),
            Self::Endpoint { action: EndpointAction::Get, .. } => (&GET_ENDPOINT, None, None, None),
            Self::RotateSecret(id) => (&ROTATE_SECRET, None, None, Some(id)),
            Self::EndpointDeliveries(_) => (&ENDPOINT_DELIVERIES, None, None, None),
            Self::Redeliver(id) => (&REDELIVER, None, None, Some(id)),
            Self::Events => (&LIST_EVENTS, None, None, None),
            Self::GetEvent(_) => (&GET_EVENT, None, None, None),
            Self::History(_) => (&HISTORY, None, None, None),
            Self::PaymentMethods(_) => (&PAYMENT_METHODS, None, None, None),
            Self::PaymentMethod { .. } => (&FORGET_PAYMENT_METHOD, None, None, None),
            Self::CreateSession => (&CREATE_SESSION, None, None, None),
            Self::GetSession(_) => (&GET_SESSION, None, None, None),
            Self::ExpireSession(id) => (&EXPIRE_SESSION, None, None, Some(id)),
            Self::CheckoutPage(s) => (&CHECKOUT_PAGE, Some(s), None, None),
            Self::SessionState(s) => (&SESSION_STATE, Some(s), None, None),
            Self::SessionPay(s) => (&SESSION_PAY, Some(s), None, None),
            Self::SessionRepeat(s) => (&SESSION_REPEAT, Some(s), None, None),
            Self::SessionCode { session_id: s, payment_id: p, action: CodeAction::Verify } => {
                (&SESSION_VERIFY, Some(s), Some(p), Some(p))
            }
            Self::SessionCode { session_id: s, payment_id: p, action: CodeAction::Resend } => {
                (&SESSION_RESEND, Some(s), Some(p), Some(p))
            }
            Self::SessionCode { session_id: s, payment_id: p, action: CodeAction::Details } => {
                (&SESSION_DETAILS, Some(s), Some(p), Some(p))
            }
            Self::AcquirerNotifications => (&ACQUIRER_NOTIFICATIONS, None, None, None),
        };
        Parts {
            spec,
            session: session.map(String::as_str),
            payment: payment.map(String::as_str),
            key_target: key_target.map(String::as_str),
        }
    }

    /// The route's value in the table.
    pub fn spec(&self) -> &'static RouteSpec {
        self.parts().spec
    }

    /// The payment the path names (logged with every line of the request).
    pub fn payment(&self) -> Option<&str> {
        self.parts().payment
    }

    /// What an `Idempotency-Key`'s scope is narrowed to beyond the caller and the route: the
    /// payment or the session a POST's path names.
    pub fn key_target(&self) -> Option<&str> {
        self.parts().key_target
    }

    /// The session a shopper's route names.
    pub fn session(&self) -> Option<&str> {
        self.parts().session
    }

    /// What a code route does with its payment.
    pub fn code_action(&self) -> Option<CodeAction> {
        match self {
            Self::PaymentCode { action, .. } | Self::SessionCode { action, .. } => Some(*action),
            Self::CreatePayment
            | Self::RepeatPayment
            | Self::GetPayment(_)
            | Self::CapturePayment(_)
            | Self::CancelPayment(_)
            | Self::CreateRefund(_)
            | Self::ListRefunds(_)
            | Self::GetRefund(_)
            | Self::CreateEndpoint
            | Self::ListEndpoints
            | Self::Endpoint { .. }
            | Self::RotateSecret(_)
            | Self::EndpointDeliveries(_)
            | Self::Redeliver(_)
            | Self::Events
            | Self::GetEvent(_)
            | Self::History(_)
            | Self::PaymentMethods(_)
            | Self::PaymentMethod { .. }
            | Self::CreateSession
            | Self::GetSession(_)
            | Self::ExpireSession(_)
            | Self::CheckoutPage(_)
            | Self::SessionState(_)
            | Self::SessionPay(_)
            | Self::SessionRepeat(_)
            | Self::AcquirerNotifications => None,
        }
    }
}
