use super::UseCaseError;
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

    /// A token issued to one merchant cannot pay for another.
    pub fn require(&self, merchant_id: &Identifier) -> Result<(), UseCaseError> {
        if self.may_act_for(merchant_id) {
            Ok(())
        } else {
            Err(UseCaseError::MerchantMismatch)
        }
    }

    /// The merchant the caller is limited to, if any.
    pub fn merchant(&self) -> Option<&Identifier> {
        match self {
            Self::Unscoped => None,
            Self::Merchant(id) => Some(id),
        }
    }

    /// What idempotency keys are scoped by: each merchant has its own key space.
    pub fn key_scope(&self) -> &str {
        self.merchant().map_or("-", Identifier::as_str)
    }
}
