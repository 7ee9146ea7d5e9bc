use std::fmt;

use super::FieldError;

/// A valid phone number in E.164. Debug and Display are masked (`+86*******8000`); the full
/// number leaves only through [`Phone::expose`], for the SMS sender and storage.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone {
    e164: String,
    country_code: u16,
}

impl Phone {
    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new("invalid_phone", param, "phone must be a valid number in E.164 form, e.g. +8613800138000")
        };
        let well_formed =
            raw.len() <= 16 && raw.starts_with('+') && raw.len() > 1 && raw[1..].bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(invalid());
        }
        let util = &*rlibphonenumber::PHONE_NUMBER_UTIL;
        let number = util.parse(raw, None).map_err(|_| invalid())?;
        if !util.is_valid_number(&number) {
            return Err(invalid());
        }
        let e164 = util.format(&number, rlibphonenumber::PhoneNumberFormat::E164).into_owned();
        let country_code = u16::try_from(number.country_code).map_err(|_| invalid())?;
        Ok(Self { e164, country_code })
    }

    /// The country calling code (`86` for `+86…`), stored beside the number so that reading
    /// it back needs no phone metadata.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// Rebuilds a number read back from storage, where it was validated on the way in. With
    /// its stored country code this is a string check: the phone library decodes its
    /// metadata on first use (~5 ms of CPU, bench/NOTES.md), which a request that only reads
    /// a payment need not pay. Items without the code are parsed.
    pub fn from_stored(e164: &str, country_code: Option<u16>) -> Result<Self, FieldError> {
        // Country codes are prefix-free, so `+<code>` opening the number identifies it.
        let digits =
            e164.strip_prefix('+').filter(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
        match (digits, country_code) {
            (Some(d), Some(cc)) if cc > 0 && d.starts_with(&cc.to_string()) && d.len() > cc.to_string().len() => {
                Ok(Self { e164: e164.to_owned(), country_code: cc })
            }
            _ => Self::parse("phone", e164),
        }
    }

    /// Decodes the phone metadata now (at cold start) rather than on a shopper's first request.
    pub fn load_metadata() {
        let _ = Self::parse("phone", "+8613800138000");
    }

    /// Keeps the country code and the last four digits: `+86*******8000`.
    pub fn masked(&self) -> String {
        let cc = format!("+{}", self.country_code);
        let national = &self.e164[cc.len()..];
        let keep = national.len().min(4);
        let hidden = national.len() - keep;
        format!("{cc}{}{}", "*".repeat(hidden), &national[hidden..])
    }

    pub fn expose(&self) -> &str {
        &self.e164
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Where a payment's codes go, as the payment keeps it: the number's keyed hash (the key of
/// its counters and lock-outs) and its masked form always; the number itself only while codes
/// may still be sent to it (stored encrypted), dropped when the payment ends.
#[derive(Clone, PartialEq, Eq)]
pub struct PayerPhone {
    pub key: String,
    masked: String,
    number: Option<Phone>,
}

impl PayerPhone {
    pub fn new(number: Phone, key: String) -> Self {
        Self { key, masked: number.masked(), number: Some(number) }
    }

    /// As read back without the number (the payment ended, or the reader holds no key).
    pub fn masked_only(key: String, masked: String) -> Self {
        Self { key, masked, number: None }
    }

    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The number, while codes may be sent to it.
    pub fn number(&self) -> Option<&Phone> {
        self.number.as_ref()
    }

    /// The payment ended: no code will go to it again.
    pub fn forget_number(&mut self) {
        self.number = None;
    }
}

impl fmt::Debug for PayerPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayerPhone({})", self.masked)
    }
}

impl fmt::Display for PayerPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}
