use std::fmt;

use super::FieldError;

pub const MIN_AMOUNT: u64 = 1;
/// The largest amount in whole units of any currency: 999,999 (and its minor units), so
/// the ceiling in minor units follows the currency's exponent (CNY 99,999,999, JPY 999,999,
/// BHD 999,999,999). Which currencies a deployment takes at all is its allow-list.
pub const MAX_MAJOR_UNITS: u64 = 999_999;

/// An ISO 4217 currency that has minor units (so `XAU`, `XXX` and friends are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    inner: iso_currency::Currency,
    exponent: u16,
}

impl Currency {
    pub fn parse(param: &str, code: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "invalid_currency",
                param,
                format!("{param} must be an ISO 4217 alphabetic code such as CNY, EUR or JPY"),
            )
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid());
        }
        let inner = iso_currency::Currency::from_code(code).ok_or_else(invalid)?;
        let exponent = inner.exponent().ok_or_else(invalid)?;
        Ok(Self { inner, exponent })
    }

    pub fn code(&self) -> &'static str {
        self.inner.code()
    }

    /// Number of decimals of the currency's minor unit (CNY 2, JPY 0, BHD 3).
    pub fn exponent(&self) -> u16 {
        self.exponent
    }

    /// The largest amount in this currency's minor units: [`MAX_MAJOR_UNITS`] and its minor
    /// units.
    pub fn max_minor(&self) -> u64 {
        let unit = 10u64.saturating_pow(u32::from(self.exponent));
        MAX_MAJOR_UNITS.saturating_add(1).saturating_mul(unit).saturating_sub(1)
    }
}

/// An amount in integer minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: u64,
    pub currency: Currency,
}

impl Money {
    pub fn new(param: &str, minor: i64, currency: Currency) -> Result<Self, FieldError> {
        let max = currency.max_minor();
        match u64::try_from(minor) {
            Ok(m) if (MIN_AMOUNT..=max).contains(&m) => Ok(Self { minor: m, currency }),
            _ => Err(FieldError::new(
                "invalid_amount",
                param,
                format!("{param} must be an integer of minor units from {MIN_AMOUNT} to {max} for {}", currency.code()),
            )),
        }
    }
}

/// `CNY 19.99`, `JPY 1999`, `BHD 1.999`: the currency's own number of decimals.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent());
        if exp == 0 {
            return write!(f, "{} {}", self.currency.code(), self.minor);
        }
        let unit = 10u64.pow(exp);
        write!(f, "{} {}.{:0width$}", self.currency.code(), self.minor / unit, self.minor % unit, width = exp as usize)
    }
}
