//! IP allowlists: IPv4/IPv6 addresses and CIDRs. IPv4-mapped IPv6 addresses match IPv4 entries.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses one entry: an address (`203.0.113.7`, taken as /32 or /128) or a CIDR. Host bits
/// are cleared (`10.1.2.3/8` → `10.0.0.0/8`), as Cloudflare and GitHub do.
pub fn parse_entry(s: &str) -> Result<IpNet, String> {
    let net = if s.contains('/') {
        s.parse::<IpNet>()
            .map_err(|_| format!("“{s}” is not an IP address or CIDR"))?
    } else {
        IpNet::from(
            s.parse::<IpAddr>()
                .map_err(|_| format!("“{s}” is not an IP address or CIDR"))?,
        )
    };
    Ok(normalize(net.trunc()))
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is stored as its IPv4 form.
fn normalize(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => {
                ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4)
            }
            _ => net,
        },
        IpNet::V4(_) => net,
    }
}

/// A token's allowlist; empty means any address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    pub const MAX_ENTRIES: usize = 100;

    /// Parses entries one per line (or comma-separated); blank lines are ignored. Every bad
    /// entry is reported.
    pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Self, Vec<String>> {
        let mut nets = Vec::new();
        let mut errors = Vec::new();
        for entry in lines
            .into_iter()
            .flat_map(|l| l.split([',', '\n']))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match parse_entry(entry) {
                Ok(net) if !nets.contains(&net) => nets.push(net),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        if nets.len() > Self::MAX_ENTRIES {
            errors.push(format!("at most {} entries", Self::MAX_ENTRIES));
        }
        if errors.is_empty() {
            Ok(Self(nets))
        } else {
            Err(errors)
        }
    }

    /// Reads the stored form (one entry per line), which was validated on the way in.
    pub fn from_stored(s: &str) -> Self {
        Self(s.lines().filter_map(|l| parse_entry(l).ok()).collect())
    }

    pub fn to_stored(&self) -> String {
        self.entries().collect::<Vec<_>>().join("\n")
    }

    pub fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(|n| match n {
            IpNet::V4(v) if v.prefix_len() == 32 => v.addr().to_string(),
            IpNet::V6(v) if v.prefix_len() == 128 => v.addr().to_string(),
            n => n.to_string(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.is_empty() || self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether every address this list admits is admitted by `outer` (used against escalation).
    pub fn within(&self, outer: &Self) -> bool {
        if outer.is_empty() {
            return true;
        }
        !self.is_empty() && self.0.iter().all(|n| outer.0.iter().any(|o| o.contains(n)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_cidrs_parse() {
        let list = IpAllowlist::parse_lines(["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"]);
        let list = list.unwrap();
        assert_eq!(list.entries().count(), 3);
        assert!(list.allows(ip("10.20.30.40")));
        assert!(list.allows(ip("203.0.113.7")));
        assert!(!list.allows(ip("203.0.113.8")));
        assert!(list.allows(ip("2001:db8::1")));
    }

    #[test]
    fn ipv4_mapped_ipv6_matches_ipv4_entries() {
        let list = IpAllowlist::parse_lines(["10.0.0.0/8"]).unwrap();
        assert!(list.allows(ip("::ffff:10.1.2.3")));
        let mapped = IpAllowlist::parse_lines(["::ffff:10.0.0.0/104"]).unwrap();
        assert_eq!(mapped.entries().collect::<Vec<_>>(), ["10.0.0.0/8"]);
    }

    #[test]
    fn bad_entries_are_all_reported() {
        let err = IpAllowlist::parse_lines(["nope", "10.0.0.0/8", "1.2.3.4/33"]).err();
        assert_eq!(err.map(|e| e.len()), Some(2));
    }

    #[test]
    fn empty_list_allows_any_and_host_bits_are_cleared() {
        assert!(IpAllowlist::default().allows(ip("1.2.3.4")));
        let list = IpAllowlist::parse_lines(["10.1.2.3/8"]).unwrap();
        assert_eq!(list.to_stored(), "10.0.0.0/8");
    }

    #[test]
    fn within_checks_containment() {
        let outer = IpAllowlist::parse_lines(["10.0.0.0/8"]).unwrap();
        let inner = IpAllowlist::parse_lines(["10.1.0.0/16"]).unwrap();
        assert!(inner.within(&outer));
        assert!(!outer.within(&inner));
        assert!(!IpAllowlist::default().within(&outer));
        assert!(outer.within(&IpAllowlist::default()));
    }
}
