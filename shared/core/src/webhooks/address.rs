//! Which addresses a webhook may be sent to: never the platform's own network. An endpoint's URL
//! is `https` (in a deployed stack), without credentials, and its host, once resolved, is
//! none of loopback, private, link-local, CGNAT, multicast, unspecified, broadcast, unique-local
//! or the cloud metadata address, in IPv4 or IPv6 (IPv4-mapped and -compatible forms
//! included). Host forms are read as a browser reads them (the WHATWG URL parser of the `url`
//! crate), so `http://2130706433/` and `http://0x7f.0.0.1/` are 127.0.0.1. The rules are checked
//! at registration and again, on the address the name resolves to then, at every delivery.
//! Locally (the same switch as the local merchant header), `http://127.0.0.1` is allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRefusal {
    Loopback,
    Private,
    LinkLocal,
    SharedAddressSpace,
    Multicast,
    Unspecified,
    Broadcast,
    UniqueLocal,
    Metadata,
}

impl AddressRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link_local",
            Self::SharedAddressSpace => "shared_address_space",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Broadcast => "broadcast",
            Self::UniqueLocal => "unique_local",
            Self::Metadata => "metadata",
        }
    }
}

/// The address rules: `Ok` for a public address, else why not.
pub fn check_address(ip: IpAddr) -> Result<(), AddressRefusal> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| ipv4_compatible(v6)) {
            Some(v4) => check_v4(v4),
            None => check_v6(v6),
        },
    }
}

fn check_v4(ip: Ipv4Addr) -> Result<(), AddressRefusal> {
    let [a, b, ..] = ip.octets();
    let refusal = if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(169, 254, 170, 2) {
        Some(AddressRefusal::Metadata)
    } else if ip.is_loopback() {
        Some(AddressRefusal::Loopback)
    } else if ip.is_private() {
        Some(AddressRefusal::Private)
    } else if ip.is_link_local() {
        Some(AddressRefusal::LinkLocal)
    } else if a == 100 && (64..128).contains(&b) {
        // 100.64.0.0/10, carrier-grade NAT.
        Some(AddressRefusal::SharedAddressSpace)
    } else if ip.is_broadcast() {
        Some(AddressRefusal::Broadcast)
    } else if ip.is_multicast() || a >= 240 {
        // 224.0.0.0/4, and 240.0.0.0/4 reserved.
        Some(AddressRefusal::Multicast)
    } else if ip.is_unspecified() || a == 0 {
        Some(AddressRefusal::Unspecified)
    } else {
        None
    };
    refusal.map_or(Ok(()), Err)
}

/// `::a.b.c.d` (deprecated IPv4-compatible), read as the IPv4 address it carries; `::` and `::1`
/// are not of this form.
fn ipv4_compatible(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let carries = s.iter().take(6).all(|x| *x == 0) && ip.to_ipv4().is_some_and(|v4| u32::from(v4) > 1);
    carries.then(|| ip.to_ipv4()).flatten()
}

fn check_v6(ip: Ipv6Addr) -> Result<(), AddressRefusal> {
    let first = ip.segments().first().copied().unwrap_or_default();
    let refusal = if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some(AddressRefusal::Metadata)
    } else if ip.is_loopback() {
        Some(AddressRefusal::Loopback)
    } else if ip.is_unspecified() {
        Some(AddressRefusal::Unspecified)
    } else if first & 0xffc0 == 0xfe80 {
        Some(AddressRefusal::LinkLocal)
    } else if first & 0xfe00 == 0xfc00 {
        Some(AddressRefusal::UniqueLocal)
    } else if ip.is_multicast() {
        Some(AddressRefusal::Multicast)
    } else {
        None
    };
    refusal.map_or(Ok(()), Err)
}

/// Why an endpoint's URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not a URL, or without a host.
    Invalid,
    /// Not `https` (or, locally, `http://127.0.0.1`).
    Scheme,
    /// A user name or password in it.
    Credentials,
    /// Its host is an address the rules refuse.
    Address(AddressRefusal),
}

/// An endpoint's URL that passed the rules. Its host may still be a name: resolve it and check
/// every address ([`check_address`]) before each connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(Url);

impl EndpointUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host to resolve, if it is a name (an address was checked already).
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }
}

/// The URL rules: `https`, no credentials, a host that is not a refused address. `local` (the
/// local stack only) allows `http://127.0.0.1` and nothing else on the loopback range.
pub fn check_endpoint_url(text: &str, local: bool) -> Result<EndpointUrl, UrlRefusal> {
    let url = Url::parse(text.trim()).map_err(|_| UrlRefusal::Invalid)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    let host = url.host().ok_or(UrlRefusal::Invalid)?;
    let local_http = local && url.scheme() == "http" && matches!(host, Host::Ipv4(ip) if ip == Ipv4Addr::LOCALHOST);
    if local_http {
        return Ok(EndpointUrl(url));
    }
    if url.scheme() != "https" {
        return Err(UrlRefusal::Scheme);
    }
    match host {
        Host::Ipv4(v4) => check_address(IpAddr::V4(v4)).map_err(UrlRefusal::Address)?,
        Host::Ipv6(v6) => check_address(IpAddr::V6(v6)).map_err(UrlRefusal::Address)?,
        Host::Domain(name) => {
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(UrlRefusal::Address(AddressRefusal::Loopback));
            }
        }
    }
    Ok(EndpointUrl(url))
}
