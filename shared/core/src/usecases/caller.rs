use super::UseCaseError;
use crate::domain::{CheckoutSession, Identifier, Locale, Payment, PaymentId, SessionId, SourceIp};

/// Who is asking, decided by the HTTP layer from the route (never from the credential alone):
/// a merchant's server (its JWT's merchant claim, verified by API Gateway) or a shopper's
/// browser (the client secret of one checkout session). There is no unscoped caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Merchant(Identifier),
    Shopper(SessionScope),
}

/// What a session's client secret reaches: that session's order, and its latest payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionScope {
    pub session_id: SessionId,
    pub merchant_id: Identifier,
    pub payment_id: Option<PaymentId>,
    /// Where the browser called from (as API Gateway saw it): what the per-address velocity
    /// limit counts. A merchant's server has none (its address is the merchant's, not a
    /// shopper's).
    pub source_ip: Option<SourceIp>,
    /// The language the browser asks for (`Accept-Language`), if it is one we speak.
    pub locale: Option<Locale>,
}

impl SessionScope {
    pub fn of(session: &CheckoutSession, source_ip: Option<SourceIp>, locale: Option<Locale>) -> Self {
        Self {
            session_id: session.id.clone(),
            merchant_id: session.merchant_id.clone(),
            payment_id: session.payment_id.clone(),
            source_ip,
            locale,
        }
    }
}

impl Caller {
    /// The merchant whose data the caller may touch.
    pub fn merchant(&self) -> &Identifier {
        match self {
            Self::Merchant(id) => id,
            Self::Shopper(scope) => &scope.merchant_id,
        }
    }

    /// A shopper's browser's source address; never a merchant's server's.
    pub fn source_ip(&self) -> Option<&SourceIp> {
        match self {
            Self::Merchant(_) => None,
            Self::Shopper(scope) => scope.source_ip.as_ref(),
        }
    }

    /// The language a shopper's browser asks for (a merchant's server: none).
    pub fn browser_locale(&self) -> Option<Locale> {
        match self {
            Self::Merchant(_) => None,
            Self::Shopper(scope) => scope.locale,
        }
    }

    /// A merchant sees its own payments; a shopper only its session's latest payment.
    pub fn may_see(&self, payment: &Payment) -> bool {
        match self {
            Self::Merchant(id) => &payment.merchant_id == id,
            Self::Shopper(scope) => {
                scope.payment_id.as_ref() == Some(&payment.id) && payment.merchant_id == scope.merchant_id
            }
        }
    }

    /// A token issued to one merchant cannot pay for another.
    pub fn require(&self, merchant_id: &Identifier) -> Result<(), UseCaseError> {
        if self.merchant() == merchant_id {
            Ok(())
        } else {
            Err(UseCaseError::MerchantMismatch)
        }
    }

    /// Who asked, for the audit line every request logs: a merchant id, or a session id for
    /// a shopper's browser (never a secret).
    pub fn audit_name(&self) -> String {
        match self {
            Self::Merchant(id) => format!("merchant:{id}"),
            Self::Shopper(scope) => format!("session:{}", scope.session_id),
        }
    }

    /// What idempotency keys are scoped by: each merchant, and each session, has its own key
    /// space.
    pub fn key_scope(&self) -> String {
        match self {
            Self::Merchant(id) => format!("m:{id}"),
            Self::Shopper(scope) => format!("s:{}", scope.session_id),
        }
    }
}
