//! The merchant's customers' saved cards: listed (as a page shows them, no key needed) and
//! forgotten for good, for the shopper who asks the shop to forget their card.

use super::{Caller, Ports, UseCaseError};
use crate::domain::{Customer, Identifier, MethodId};
use crate::ports::SavedCard;

/// The caller merchant's customer `user_id`'s saved cards, the most recently saved first
/// (expired ones too: the merchant may want to forget them). Another merchant's customer with
/// the same user id has other cards.
pub async fn payment_methods(
    svc: &Ports,
    caller: &Caller,
    user_id: &Identifier,
) -> Result<Vec<SavedCard>, UseCaseError> {
    let customer = merchants_customer(caller, user_id)?;
    Ok(svc.payments.list_cards(&customer).await?)
}

/// Forgets the caller merchant's customer's card `id` for good: its sealed number and the phone
/// it is bound to are deleted; a repeat payment then finds no saved card. Another merchant's
/// card, or none, is `MethodNotFound`. (A repeat payment already waiting for its code keeps
/// its own sealed copy until it ends, at most its code's lifetime.)
pub async fn forget_payment_method(
    svc: &Ports,
    caller: &Caller,
    user_id: &Identifier,
    id: &MethodId,
) -> Result<(), UseCaseError> {
    let customer = merchants_customer(caller, user_id)?;
    if !svc.payments.delete_method(&customer, id).await? {
        return Err(UseCaseError::MethodNotFound);
    }
    tracing::info!(payment_method_id = %id, "saved card forgotten");
    Ok(())
}

/// The customer `user_id` of the calling merchant: a merchant's route only (fails closed).
fn merchants_customer(caller: &Caller, user_id: &Identifier) -> Result<Customer, UseCaseError> {
    match caller {
        Caller::Merchant(merchant_id) => Ok(Customer { merchant_id: merchant_id.clone(), user_id: user_id.clone() }),
        Caller::Shopper(_) => Err(UseCaseError::MerchantMismatch),
    }
}
