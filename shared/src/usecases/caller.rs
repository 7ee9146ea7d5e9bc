use crate::domain::Identifier;

/// Who is asking. Behind API Gateway the JWT authorizer vouches for a merchant, and a request
/// may then only touch that merchant's payments. Without an authorizer (the local stack) or
/// without the claim in the token, the merchant id in the body scopes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Unscoped,
    Merchant(Identifier),
}

impl Caller {
    pub fn may_act_for(&self, merchant_id: &Identifier) -> bool {
        match self {
            Self::Unscoped => true,
            Self::Merchant(own) => own == merchant_id,
        }
    }

    /// What idempotency keys are scoped by: each merchant has its own key space.
    pub fn key_scope(&self) -> &str {
        match self {
            Self::Unscoped => "-",
            Self::Merchant(id) => id.as_str(),
        }
    }
}
