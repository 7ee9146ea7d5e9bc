use crate::domain::PaymentId;

/// A request made under an `Idempotency-Key`: what stays the same across its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// A keyed digest of the key and when it was first claimed: retries derive the same ids.
    pub seed: String,
    /// An earlier attempt with this key died mid-way; this one finishes its work.
    pub recovering: bool,
}

impl Attempt {
    /// The payment a keyed request creates: the same one on every retry, so a retry after a
    /// crash finds what the crashed attempt wrote instead of opening a second payment.
    pub fn payment_id(attempt: Option<&Attempt>) -> PaymentId {
        attempt.map_or_else(PaymentId::new, |a| PaymentId::from_digest(&a.seed))
    }

    pub fn is_recovering(attempt: Option<&Attempt>) -> bool {
        attempt.is_some_and(|a| a.recovering)
    }
}
