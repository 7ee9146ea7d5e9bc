//! The code's SMS, in the shopper's language, fitted to one segment.
//!
//! An SMS is GSM-7 (160 septets in one segment; `^{}[]~|\€` take two) when every character is in
//! the GSM 03.38 alphabet, else UCS-2 (70 UTF-16 units): one Chinese character makes the whole
//! message UCS-2. Every extra segment is paid, so the message is measured, not assumed: the
//! merchant's name is shortened (never the code, the amount or the warning) until it fits, and
//! the WebOTP line (`@host #code`, which lets a phone's browser fill the code in) is left out
//! only if even a short name does not fit beside it.

use super::{Locale, Money, CODE_TTL_SECS};

/// The longest merchant display name allowed (characters).
pub const DISPLAY_NAME_MAX_CHARS: usize = 40;
/// The longest checkout host allowed for the WebOTP line.
pub const CHECKOUT_HOST_MAX_CHARS: usize = 40;
/// A name is never cut shorter than this many characters.
pub const NAME_MIN_CHARS: usize = 4;

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡\
ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// How a text travels: its encoding, its length in that encoding's units, its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSize {
    pub encoding: SmsEncoding,
    pub units: usize,
    pub segments: usize,
}

impl SmsSize {
    pub fn of(text: &str) -> Self {
        let septets: Option<usize> = text
            .chars()
            .map(|c| {
                if GSM7_BASIC.contains(c) {
                    Some(1)
                } else if GSM7_EXTENSION.contains(c) {
                    Some(2)
                } else {
                    None
                }
            })
            .sum();
        let (encoding, units, single, multi) = match septets {
            Some(n) => (SmsEncoding::Gsm7, n, 160, 153),
            None => (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67),
        };
        let segments = if units <= single { 1 } else { units.div_ceil(multi) };
        Self { encoding, units, segments }
    }
}

/// The SMS carrying `code`: who is paid, how much, how long the code lasts, never to share it;
/// then, where the checkout's host is known, the WebOTP line.
pub fn code_sms(locale: Locale, code: &str, merchant: &str, money: &Money, host: Option<&str>) -> String {
    let amount = locale.money(money);
    let minutes = (CODE_TTL_SECS / 60).to_string();
    let name: Vec<char> = merchant.chars().filter(|c| !c.is_control()).collect();
    let build = |template: &str, shown: &str, webotp: bool| {
        let mut text =
            locale.fill(template, &[("code", code), ("merchant", shown), ("amount", &amount), ("minutes", &minutes)]);
        if let (true, Some(host)) = (webotp, host) {
            text.push_str(&format!("\n@{host} #{code}"));
        }
        text
    };
    // The whole message, then the short one (no validity: the page counts down), each with the
    // WebOTP line first; the name cut down to [`NAME_MIN_CHARS`] at most.
    let shortest = NAME_MIN_CHARS.min(name.len());
    let tries = [("sms.code", true), ("sms.code_short", true), ("sms.code", false), ("sms.code_short", false)];
    let mut last = String::new();
    for (template, webotp) in tries.into_iter().filter(|(_, webotp)| host.is_some() || !webotp) {
        for keep in (shortest..=name.len()).rev() {
            let shown: String = match name.get(..keep) {
                Some(kept) if keep < name.len() => {
                    let kept: String = kept.iter().collect();
                    let gsm = SmsSize::of(&build(template, &kept, webotp)).encoding == SmsEncoding::Gsm7;
                    format!("{}{}", kept.trim_end(), if gsm { "..." } else { "…" })
                }
                _ => name.iter().collect(),
            };
            last = build(template, &shown, webotp);
            if SmsSize::of(&last).segments == 1 {
                return last;
            }
        }
    }
    last
}

/// Whether a display name is allowed: 1 to [`DISPLAY_NAME_MAX_CHARS`] characters, no control
/// character, not blank.
pub fn display_name_ok(name: &str) -> bool {
    let n = name.chars().count();
    (1..=DISPLAY_NAME_MAX_CHARS).contains(&n) && !name.chars().any(char::is_control) && !name.trim().is_empty()
}

/// Whether a checkout host is allowed in the WebOTP line: a lower-case DNS name (letters,
/// digits, `-`, `.`) of at most [`CHECKOUT_HOST_MAX_CHARS`], with a dot.
pub fn checkout_host_ok(host: &str) -> bool {
    (1..=CHECKOUT_HOST_MAX_CHARS).contains(&host.len())
        && host.contains('.')
        && host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && host.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}
