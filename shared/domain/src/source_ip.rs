//! The address a shopper's browser called from, as API Gateway saw it: personal data, so its
//! Debug and Display are masked and only a keyed digest of it is ever stored.

use std::net::IpAddr;

/// A shopper's source address. Counted as its network: an IPv4 address alone, an IPv6 address
/// by its /64 (one subscriber's whole prefix, which an attacker can rotate within).
#[derive(Clone, PartialEq, Eq)]
pub struct SourceIp(IpAddr);

impl SourceIp {
    /// The address API Gateway reports (`requestContext.http.sourceIp`); `None` where it is
    /// not an address.
    pub fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok().map(Self)
    }

    /// The part of the address a limit counts: what one subscriber controls.
    pub fn network(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        }
    }
}

impl std::fmt::Debug for SourceIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceIp(<masked>)")
    }
}

impl std::fmt::Display for SourceIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<source ip>")
    }
}
