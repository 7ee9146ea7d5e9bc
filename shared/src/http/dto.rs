//! Request bodies as sent (types only: serde reports a missing or mistyped field as 400),
//! and their validation into commands (rules: 422 with the field's `param`).

use serde::Deserialize;

use crate::domain::FieldError;
use crate::domain::{
    year_month, CardNumber, Currency, Cvc, Expiry, Identifier, MethodId, Money, Phone, VerificationCode,
};
use crate::usecases::{FirstPaymentCommand, RepeatPaymentCommand};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    number: String,
    exp_month: i64,
    exp_year: i64,
    cvc: String,
    #[serde(default)]
    #[allow(dead_code)]
    holder_name: Option<String>,
}

impl std::fmt::Debug for CardBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardBody(<redacted>)")
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FirstPaymentBody {
    user_id: String,
    phone: String,
    merchant_id: String,
    order_id: String,
    amount: i64,
    currency: String,
    card: CardBody,
    #[serde(default = "default_true")]
    save_card: bool,
}

fn default_true() -> bool {
    true
}

fn money(amount: i64, currency: &str) -> Result<Money, FieldError> {
    Money::new("amount", amount, Currency::parse("currency", currency)?)
}

impl FirstPaymentBody {
    pub fn validate(self, now: i64) -> Result<FirstPaymentCommand, FieldError> {
        Ok(FirstPaymentCommand {
            user_id: Identifier::parse("user_id", &self.user_id)?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id)?,
            order_id: Identifier::parse("order_id", &self.order_id)?,
            money: money(self.amount, &self.currency)?,
            phone: Phone::parse("phone", &self.phone)?,
            card: CardNumber::parse("card.number", &self.card.number)?,
            expiry: Expiry::parse("card", self.card.exp_month, self.card.exp_year, year_month(now))?,
            cvc: Cvc::parse("card.cvc", &self.card.cvc)?,
            save_card: self.save_card,
        })
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RepeatPaymentBody {
    user_id: String,
    merchant_id: String,
    order_id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    payment_method_id: Option<String>,
}

impl RepeatPaymentBody {
    pub fn validate(self) -> Result<RepeatPaymentCommand, FieldError> {
        let method_id = match self.payment_method_id {
            None => None,
            Some(raw) => Some(MethodId::parse(&raw).ok_or_else(|| {
                FieldError::new("invalid_identifier", "payment_method_id", "payment_method_id must be a pm_… id")
            })?),
        };
        Ok(RepeatPaymentCommand {
            user_id: Identifier::parse("user_id", &self.user_id)?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id)?,
            order_id: Identifier::parse("order_id", &self.order_id)?,
            money: money(self.amount, &self.currency)?,
            method_id,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    code: String,
}

impl VerifyBody {
    pub fn validate(self) -> Result<VerificationCode, FieldError> {
        VerificationCode::parse("code", &self.code)
    }
}

/// Resend takes no fields: an empty body or `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendBody {}
