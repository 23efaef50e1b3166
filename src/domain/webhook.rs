//! Webhook endpoints as input: the URL, the events an endpoint takes, its description; and
//! which destination addresses are private (the SSRF rule). Pure, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::token::{FieldErrors, add_error};

/// Every event keyward sends, in the order the README lists them.
pub const EVENTS: &[&str] = &[
    "token.created",
    "token.updated",
    "token.regenerated",
    "token.rolled",
    "token.revoked",
    "token.reactivated",
    "token.deleted",
    "token.expiring",
    "token.expired",
    "webhook.test",
];

/// The events an endpoint takes: all of them, or the listed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Events {
    All,
    Only(Vec<String>),
}

impl Events {
    /// Names from the API or a form: `["*"]`, or known names (at least one, no repeats).
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 {
                Ok(Self::All)
            } else {
                Err("`*` (all events) stands alone".to_owned())
            };
        }
        if names.is_empty() {
            return Err("choose at least one event, or `*` for all".to_owned());
        }
        let mut seen: Vec<String> = Vec::new();
        for n in names {
            if !EVENTS.contains(&n.as_str()) {
                return Err(format!("unknown event `{n}`; known: {}", EVENTS.join(", ")));
            }
            if !seen.contains(n) {
                seen.push(n.clone());
            }
        }
        Ok(Self::Only(seen))
    }

    pub fn from_stored(s: &str) -> Self {
        if s == "*" {
            Self::All
        } else {
            Self::Only(
                s.split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )
        }
    }

    pub fn to_stored(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Only(names) => names.join(","),
        }
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".to_owned()],
            Self::Only(names) => names.clone(),
        }
    }
}

/// A checked endpoint: what create and edit store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDraft {
    pub url: String,
    pub description: String,
    pub events: Events,
    pub enabled: bool,
}

/// The fields as sent (any may be absent on an edit, which keeps the stored value).
#[derive(Clone, Debug, Default)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

pub const MAX_URL: usize = 2000;
pub const MAX_DESCRIPTION: usize = 500;

/// Applies `input` over `base` (the stored endpoint, or a new one's defaults) and checks every
/// field; the errors name each field. Whether the host is private is checked by the caller,
/// which can resolve names.
pub fn validate(input: WebhookInput, base: WebhookDraft) -> Result<WebhookDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let url = input.url.map_or(base.url, |u| u.trim().to_owned());
    if let Err(e) = parse_url(&url) {
        add_error(&mut errors, "url", e);
    }
    let description = input.description.unwrap_or(base.description);
    if description.chars().count() > MAX_DESCRIPTION {
        add_error(&mut errors, "description", "must be at most 500 characters");
    }
    let events = match input.events {
        None => base.events,
        Some(names) => Events::parse(&names).unwrap_or_else(|e| {
            add_error(&mut errors, "events", e);
            Events::All
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(WebhookDraft {
        url,
        description,
        events,
        enabled: input.enabled.unwrap_or(base.enabled),
    })
}

/// An absolute `http`/`https` URL with a host and no credentials in it.
pub fn parse_url(s: &str) -> Result<reqwest::Url, String> {
    if s.is_empty() {
        return Err("is required".to_owned());
    }
    if s.len() > MAX_URL {
        return Err("must be at most 2000 characters".to_owned());
    }
    let url = reqwest::Url::parse(s).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with https:// or http://".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".to_owned());
    }
    Ok(url)
}

/// The URL's host as an address, when it is written as one.
pub fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether a destination is off limits without `--webhook-allow-private`: loopback, private
/// (RFC 1918), link-local (the cloud metadata address 169.254.169.254 among them),
/// unique-local, carrier-grade NAT, unspecified, broadcast, multicast and documentation
/// ranges, the same for IPv4 addresses mapped or embedded into IPv6.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || a >= 240
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || first == 0x2001 && ip.segments()[1] == 0x0db8
        // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an
        // IPv4 address a router may reach.
        || (ip.segments()[..6] == [0; 6])
        || (ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && embedded_private(ip))
        || (first == 0x2002 && private_v4(six_to_four(ip)))
}

fn embedded_private(ip: Ipv6Addr) -> bool {
    let o = ip.octets();
    private_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
}

fn six_to_four(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[2], o[3], o[4], o[5])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused_and_public_ones_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(is_private(ip(bad)), "{bad} must be refused");
        }
        for good in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_private(ip(good)), "{good} must pass");
        }
    }

    #[test]
    fn events_are_all_or_known_names() {
        assert_eq!(Events::parse(&["*".into()]), Ok(Events::All));
        assert!(Events::parse(&["*".into(), "token.created".into()]).is_err());
        assert!(Events::parse(&[]).is_err());
        assert!(Events::parse(&["token.exploded".into()]).is_err());
        let only = Events::parse(&["token.rolled".into(), "token.rolled".into()]).unwrap();
        assert_eq!(only, Events::Only(vec!["token.rolled".into()]));
        assert_eq!(Events::from_stored(&only.to_stored()), only);
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(parse_url("https://hooks.example.com/k").is_ok());
        for bad in [
            "",
            "ftp://x.example",
            "https://u:p@x.example/",
            "not a url",
            "http://",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
