//! Adyen's notifications read as the port's [`Notice`]s: every item's HMAC checked with the
//! account's key (one that fails refuses the batch), an item for another merchant account
//! ignored, references read back as our payment and refund ids.

use super::notifications::{HmacKey, NotificationItem, NotificationRequest, Notified, ACCEPTED};
use crate::domain::{PaymentId, RefundId};
use crate::ports::{AcquirerNotices, Notice, NoticeRefusal};

pub struct AdyenNotices {
    key: HmacKey,
    merchant_account: String,
}

impl AdyenNotices {
    pub fn new(key: HmacKey, merchant_account: String) -> Self {
        Self { key, merchant_account }
    }
}

impl AcquirerNotices for AdyenNotices {
    fn read(&self, body: &[u8]) -> Result<Vec<Notice>, NoticeRefusal> {
        let batch: NotificationRequest =
            serde_json::from_slice(body).map_err(|e| NoticeRefusal::Malformed(e.to_string()))?;
        let unsigned = batch.notification_items.iter().filter(|w| !w.item.is_signed_by(&self.key)).count();
        if unsigned > 0 {
            return Err(NoticeRefusal::Unsigned(unsigned));
        }
        Ok(batch.notification_items.iter().map(|w| notice(&w.item, &self.merchant_account)).collect())
    }

    fn accepted(&self) -> &'static str {
        ACCEPTED
    }
}

/// One signed item as a notice. Our references: the payment id on an authorisation, a
/// capture and a cancel; the refund id on a refund.
fn notice(item: &NotificationItem, account: &str) -> Notice {
    let ignored = || Notice::Ignored { event: format!("{} success={}", item.event_code, item.success) };
    if item.merchant_account_code != account {
        return ignored();
    }
    let payment = || PaymentId::parse(&item.merchant_reference);
    let refund = || RefundId::parse(&item.merchant_reference);
    let read = match item.event() {
        Notified::Authorised => payment().map(|payment_id| Notice::Authorised {
            payment_id,
            authorization_id: item.psp_reference.clone(),
            network_reference: stored_card(item),
        }),
        Notified::AuthorisationRefused => payment().map(|payment_id| Notice::AuthorisationRefused { payment_id }),
        Notified::Captured => payment().map(|payment_id| Notice::Captured {
            payment_id,
            authorization_id: item.original_reference.clone().filter(|r| !r.is_empty()),
        }),
        Notified::CaptureFailed => payment().map(|payment_id| Notice::CaptureFailed { payment_id }),
        Notified::Canceled => payment().map(|payment_id| Notice::Canceled { payment_id }),
        Notified::CancelFailed => payment().map(|payment_id| Notice::CancelFailed { payment_id }),
        Notified::Refunded => refund().map(|refund_id| Notice::RefundSucceeded { refund_id }),
        Notified::RefundFailed => refund().map(|refund_id| Notice::RefundFailed { refund_id }),
        Notified::Other => None,
    };
    read.unwrap_or_else(ignored)
}

/// The card an authorisation stored (its additional data, as Adyen sends it with
/// `AUTHORISATION` when the account includes it), as the port's opaque reference.
fn stored_card(item: &NotificationItem) -> Option<String> {
    let text = |keys: &[&str]| {
        keys.iter().find_map(|k| item.additional_data.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
    };
    let id = text(&["tokenization.storedPaymentMethodId", "recurring.recurringDetailReference"])?;
    let shopper = text(&["tokenization.shopperReference", "recurring.shopperReference"])?;
    let card = super::wire::StoredCard {
        stored_payment_method_id: id,
        shopper_reference: shopper,
        network_tx_reference: text(&["networkTxReference"]),
    };
    Some(card.encode())
}
