//! The languages shoppers are spoken to in: the checkout page and every SMS, from one catalogue
//! per locale (`shared/domain/locales/<tag>.json`).
//!
//! Why plain JSON catalogues and not Fluent: the same messages are used by the server (SMS,
//! error pages, the page's HTML) and by the page's script in the browser, which cannot run
//! Fluent without shipping `@fluent/bundle` (another hashed script, and the page must stay under
//! 20 KB on the wire). Our messages need only named placeholders (`{name}`) and English's
//! one/other plural (keys ending `.one` / `.other`, chosen by `Intl.PluralRules` in the page and
//! by [`Locale::plural`] here). `serde_json` is already in every build; a test holds every key
//! and every placeholder in every locale (shared/tests/i18n.rs).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::{FieldError, Money};

/// A language the platform speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    En,
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// Its BCP 47 tag, as the page's `lang` and the API show it.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }

    /// A tag as the API takes it: `en` or `zh-CN` (any case).
    pub fn parse(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// The closest locale to a language range of `Accept-Language`: `en`, `en-GB` → en; `zh`,
    /// `zh-CN`, `zh-Hans`, `zh-SG` → zh-CN (simplified script). Traditional Chinese (`zh-TW`,
    /// `zh-HK`, `zh-Hant`) is not simplified Chinese: no match.
    fn of_range(range: &str) -> Option<Self> {
        let range = range.to_ascii_lowercase();
        let mut parts = range.split(['-', '_']);
        match parts.next()? {
            "en" => Some(Self::En),
            "zh" => match parts.next() {
                None | Some("cn" | "hans" | "sg" | "my") => Some(Self::ZhCn),
                Some(_) => None,
            },
            _ => None,
        }
    }

    /// The best of an `Accept-Language` header that we speak, by its q-values (ties: the
    /// first listed); `None` if it names none of ours.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for part in header.split(',').take(20) {
            let mut fields = part.split(';').map(str::trim);
            let range = fields.next().unwrap_or("");
            let q = fields
                .find_map(|f| f.strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            let Some(locale) = Self::of_range(range) else { continue };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, locale));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The plural category of `n` in this language: English has one and other, Chinese only
    /// other.
    pub fn plural(self, n: u64) -> &'static str {
        match self {
            Self::En if n == 1 => "one",
            Self::En | Self::ZhCn => "other",
        }
    }

    /// The message `key`; empty if the catalogue lacks it (a defect the catalogue test
    /// catches; never a panic at run time).
    pub fn text(self, key: &str) -> &'static str {
        catalogue(self).get(key).map_or("", String::as_str)
    }

    /// The message `key` with its placeholders filled.
    pub fn fill(self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.text(key), args)
    }

    /// The page's messages (keys starting `page.`), as a JSON object for its data block.
    pub fn page_messages(self) -> String {
        let page: BTreeMap<&str, &str> = catalogue(self)
            .iter()
            .filter(|(k, _)| k.starts_with("page."))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        serde_json::to_string(&page).unwrap_or_else(|_| "{}".into())
    }

    /// An amount as this language writes it: `CN¥1,999.99` / `¥1,999.99`; other currencies
    /// by code and their own number of decimals (`USD 19.99`, `JPY 1,999`, `BHD 1.999`).
    pub fn money(self, money: &Money) -> String {
        let exp = u32::from(money.currency.exponent());
        let unit = 10u64.pow(exp);
        let mut amount = grouped(money.minor / unit);
        if exp > 0 {
            amount.push_str(&format!(".{:0width$}", money.minor % unit, width = exp as usize));
        }
        match money.currency.code() {
            "CNY" => self.fill("money.cny", &[("amount", &amount)]),
            code => self.fill("money.other", &[("currency", code), ("amount", &amount)]),
        }
    }
}

/// `1234567` → `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `{name}` placeholders replaced by their values; unknown ones left as they are.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let value = after.find('}').and_then(|close| {
            let name = after.get(1..close)?;
            args.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = after.get(close + 1..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a message uses, in order of first use.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or("");
        let Some(close) = after.find('}') else { break };
        let name = after.get(..close).unwrap_or("");
        if !names.contains(&name) {
            names.push(name);
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    names
}

const EN: &str = include_str!("../locales/en.json");
const ZH_CN: &str = include_str!("../locales/zh-CN.json");

/// A locale's catalogue as stored (the test reads these to compare locales).
pub fn catalogue_source(locale: Locale) -> &'static str {
    match locale {
        Locale::En => EN,
        Locale::ZhCn => ZH_CN,
    }
}

static CATALOGUES: LazyLock<[BTreeMap<String, String>; 2]> =
    LazyLock::new(|| Locale::ALL.map(|l| serde_json::from_str(catalogue_source(l)).unwrap_or_default()));

/// A locale's messages by key.
pub fn catalogue(locale: Locale) -> &'static BTreeMap<String, String> {
    let [en, zh] = &*CATALOGUES;
    match locale {
        Locale::En => en,
        Locale::ZhCn => zh,
    }
}

/// What a session asks for: a fixed language, or `auto` (the shopper's browser's
/// `Accept-Language`, else the merchant's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalePref {
    #[default]
    Auto,
    Fixed(Locale),
}

impl LocalePref {
    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        if raw == "auto" {
            return Ok(Self::Auto);
        }
        Locale::parse(raw)
            .map(Self::Fixed)
            .ok_or_else(|| FieldError::new("invalid_locale", param, format!("{param} must be auto, en or zh-CN")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Fixed(l) => l.tag(),
        }
    }

    /// The language to speak: the fixed one, else the browser's, else the merchant's.
    pub fn resolve(self, browser: Option<Locale>, merchant_default: Locale) -> Locale {
        match self {
            Self::Fixed(l) => l,
            Self::Auto => browser.unwrap_or(merchant_default),
        }
    }
}
