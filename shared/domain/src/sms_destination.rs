//! Where a code may be sent by SMS: a mobile number (or one its country does not tell apart from
//! a fixed line) of an allowed country. Never premium-rate, shared-cost, toll-free, VoIP, UAN,
//! personal, pager or voicemail numbers, fixed lines, or non-geographic numbers (satellite
//! networks, global services): the numbers SMS pumping sends codes to, at the sender's cost.

use std::collections::BTreeSet;

use rlibphonenumber::PhoneNumberType;

use super::{FieldError, Phone};

/// Countries codes may be sent to, by ISO 3166-1 alpha-2 code; `Any`: every country (never a
/// non-geographic number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SmsCountries {
    #[default]
    Any,
    Only(BTreeSet<String>),
}

impl SmsCountries {
    /// `CN,HK,MO` (case-insensitive, spaces ignored); empty or `*`: any country.
    pub fn parse(list: &str) -> Result<Self, String> {
        let list = list.trim();
        if list.is_empty() || list == "*" {
            return Ok(Self::Any);
        }
        let mut countries = BTreeSet::new();
        for code in list.split(',').map(str::trim) {
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("{code:?} is not an ISO 3166-1 alpha-2 country code"));
            }
            countries.insert(code.to_ascii_uppercase());
        }
        Ok(Self::Only(countries))
    }

    pub fn allows(&self, country: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(countries) => countries.contains(country),
        }
    }

    /// The countries both allow (a merchant's list within the deployment's).
    #[must_use]
    pub fn and(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Any, other) | (other, Self::Any) => other.clone(),
            (Self::Only(a), Self::Only(b)) => Self::Only(a.intersection(b).cloned().collect()),
        }
    }
}

impl Phone {
    /// Refuses a number codes must not be sent to (`phone_not_mobile`), or one of a country
    /// `countries` does not allow (`phone_country_not_allowed`).
    pub fn check_sms_destination(&self, param: &str, countries: &SmsCountries) -> Result<(), FieldError> {
        let not_mobile = || FieldError::new("phone_not_mobile", param, "codes are sent by SMS to mobile numbers only");
        let util = &*rlibphonenumber::PHONE_NUMBER_UTIL;
        let number = util.parse(self.expose(), None).map_err(|_| not_mobile())?;
        match util.get_number_type(&number) {
            PhoneNumberType::Mobile | PhoneNumberType::FixedLineOrMobile => {}
            PhoneNumberType::FixedLine
            | PhoneNumberType::TollFree
            | PhoneNumberType::PremiumRate
            | PhoneNumberType::SharedCost
            | PhoneNumberType::VoIP
            | PhoneNumberType::PersonalNumber
            | PhoneNumberType::Pager
            | PhoneNumberType::UAN
            | PhoneNumberType::VoiceMail
            | PhoneNumberType::Unknown => return Err(not_mobile()),
        }
        // Non-geographic numbers (+881 satellite networks, +800 freephone, …) have no country.
        let country = util.get_region_for_number(&number).map(|r| r.to_string()).filter(|r| r.len() == 2);
        match country {
            None => Err(not_mobile()),
            Some(c) if countries.allows(&c) => Ok(()),
            Some(_) => Err(FieldError::new(
                "phone_country_not_allowed",
                param,
                "codes cannot be sent by SMS to numbers of this country",
            )),
        }
    }
}
