use std::fmt;

use super::FieldError;

/// A primary account number. Never printed: Debug and Display show only the last four digits.
/// The digits leave this type only through [`CardNumber::expose`], for encryption and the
/// acquirer.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Digits only (spaces are tolerated), 12–19 long, Luhn-valid.
    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        let well_formed = (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if !well_formed || !luhn_valid(&digits) {
            return Err(FieldError::new(
                "invalid_card_number",
                param,
                "card number must be 12-19 digits and pass the Luhn check",
            ));
        }
        Ok(Self(digits))
    }

    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }

    pub fn brand(&self) -> CardBrand {
        CardBrand::detect(&self.0)
    }

    /// The clear digits, for the card vault and the acquirer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(•••• {})", self.last4())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "•••• {}", self.last4())
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Unionpay,
    Diners,
    Unknown,
}

impl CardBrand {
    fn detect(d: &str) -> Self {
        let prefix = |n: usize| d.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        match () {
            _ if d.starts_with('4') => Self::Visa,
            _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => Self::Mastercard,
            _ if matches!(prefix(2), 34 | 37) => Self::Amex,
            _ if prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) => Self::Discover,
            _ if (3528..=3589).contains(&prefix(4)) => Self::Jcb,
            _ if prefix(2) == 62 => Self::Unionpay,
            _ if prefix(2) == 36 || prefix(2) == 38 || (300..=305).contains(&prefix(3)) => Self::Diners,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Visa => "visa",
            Self::Mastercard => "mastercard",
            Self::Amex => "amex",
            Self::Discover => "discover",
            Self::Jcb => "jcb",
            Self::Unionpay => "unionpay",
            Self::Diners => "diners",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Self {
        [Self::Visa, Self::Mastercard, Self::Amex, Self::Discover, Self::Jcb, Self::Unionpay, Self::Diners]
            .into_iter()
            .find(|b| b.as_str() == s)
            .unwrap_or(Self::Unknown)
    }
}

/// Card verification code: checked for shape, handed only to the acquirer's port with the
/// authorisation that needs it, never stored (it has no serialization at all), never printed
/// (Debug is masked, there is no Display) and never cloned.
pub struct Cvc(String);

impl Cvc {
    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        if !(3..=4).contains(&raw.len()) || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("invalid_cvc", param, "cvc must be 3 or 4 digits"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The digits, for an acquirer adapter building the authorisation request it sends: the
    /// one place they leave this type.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

/// Card expiry month and four-digit year; the card is valid through the end of that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub month: u8,
    pub year: u16,
}

impl Expiry {
    /// `param` is the parent (`card`): errors name `card.exp_month` or `card.exp_year`.
    pub fn parse(param: &str, month: i64, year: i64, today: (i32, u8)) -> Result<Self, FieldError> {
        let month = u8::try_from(month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| FieldError::new("invalid_expiry", format!("{param}.exp_month"), "exp_month must be 1-12"))?;
        let year = u16::try_from(year).ok().filter(|y| (2000..=2100).contains(y)).ok_or_else(|| {
            FieldError::new("invalid_expiry", format!("{param}.exp_year"), "exp_year must be a four-digit year")
        })?;
        let expiry = Self { month, year };
        if expiry.is_expired(today) {
            return Err(FieldError::new("card_expired", format!("{param}.exp_year"), "the card has expired"));
        }
        Ok(expiry)
    }

    /// `today` is (year, month); a card is good through the last day of its expiry month.
    pub fn is_expired(&self, today: (i32, u8)) -> bool {
        (i32::from(self.year), self.month) < today
    }
}

/// (year, month) in UTC of a Unix time, for expiry checks.
pub fn year_month(epoch_secs: i64) -> (i32, u8) {
    match time::OffsetDateTime::from_unix_timestamp(epoch_secs) {
        Ok(t) => (t.year(), u8::from(t.month())),
        Err(_) => (i32::MAX, 12),
    }
}
