//! Fuzzes IP allowlists: `parse_entry`, `IpAllowlist::parse_lines`, the stored form,
//! `allows` and `within`. Input: 17 bytes choose an address, the rest is text; a `|` in the
//! text splits it into two lists, A and B.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keyward::domain::ip::{IpAllowlist, parse_entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ip, rest) = address(data);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Untrimmed text straight into parse_entry, as well as the pieces parse_lines sees.
    entry(text);
    for piece in text.split([',', '\n']).map(str::trim) {
        entry(piece);
    }
    let (a, b) = text.split_once('|').unwrap_or((text, ""));
    let a = list(a.lines(), ip);
    let b = list(b.lines(), ip);
    // `within` is sound: a list inside another admits nothing the other refuses.
    if let (Some(a), Some(b)) = (a, b)
        && a.within(&b)
        && a.allows(ip)
    {
        assert!(b.allows(ip), "{a:?} within {b:?} but only A allows {ip}");
    }
    // The stored form tolerates anything and reads back to itself.
    let stored = IpAllowlist::from_stored(text);
    assert_eq!(IpAllowlist::from_stored(&stored.to_stored()), stored);
});

/// An IPv4 address, an IPv6 address, or an IPv4 address in its IPv4-mapped IPv6 form.
fn address(data: &[u8]) -> (IpAddr, &[u8]) {
    let Some((head, rest)) = data.split_at_checked(17) else {
        return (IpAddr::from([192, 0, 2, 1]), data);
    };
    let mut v6 = [0u8; 16];
    v6.copy_from_slice(&head[1..]);
    let v4 = Ipv4Addr::new(v6[0], v6[1], v6[2], v6[3]);
    let ip = match head[0] % 3 {
        0 => IpAddr::V4(v4),
        1 => IpAddr::V6(Ipv6Addr::from(v6)),
        _ => IpAddr::V6(v4.to_ipv6_mapped()),
    };
    (ip, rest)
}

/// The other form of an address under the IPv4-mapped equivalence, if it has one.
fn twin(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
    }
}

fn entry(s: &str) {
    let Ok(net) = parse_entry(s) else { return };
    // Normalised: host bits cleared, IPv4-mapped /96 and longer stored as IPv4.
    assert_eq!(net.trunc(), net);
    if let ipnet::IpNet::V6(v6) = net {
        assert!(
            v6.prefix_len() < 96 || v6.addr().to_ipv4_mapped().is_none(),
            "{net}"
        );
    }
    // Idempotent: the normalised form, and the displayed entry, parse to the same network.
    assert_eq!(parse_entry(&net.to_string()), Ok(net), "{s:?}");
    let one = IpAllowlist::parse_lines([s]);
    let shown: Vec<String> = one.iter().flat_map(IpAllowlist::entries).collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        parse_entry(&shown[0]),
        Ok(net),
        "{s:?} shown as {:?}",
        shown[0]
    );
    // An entry admits the address it was written with, unless that address is IPv4-mapped
    // under a prefix shorter than /96 (an IPv6 network, which IPv4 clients never match).
    let written = s.split('/').next().and_then(|a| a.parse::<IpAddr>().ok());
    if let (Some(addr), Ok(one)) = (written, &one) {
        let mapped_under_v6_net = matches!(
            (net, addr),
            (ipnet::IpNet::V6(_), IpAddr::V6(a)) if a.to_ipv4_mapped().is_some()
        );
        if !mapped_under_v6_net {
            assert!(one.allows(addr), "{s:?} does not admit {addr}");
        }
    }
}

fn list<'a>(lines: impl IntoIterator<Item = &'a str>, ip: IpAddr) -> Option<IpAllowlist> {
    let list = IpAllowlist::parse_lines(lines).ok()?;
    let entries: Vec<String> = list.entries().collect();
    assert!(entries.len() <= IpAllowlist::MAX_ENTRIES);
    // Unique after normalisation.
    let mut nets: Vec<_> = entries.iter().filter_map(|e| parse_entry(e).ok()).collect();
    assert_eq!(nets.len(), entries.len());
    nets.sort();
    nets.dedup();
    assert_eq!(nets.len(), entries.len(), "{entries:?}");
    // Round trips: stored form, and parsing the shown entries again.
    assert_eq!(IpAllowlist::from_stored(&list.to_stored()), list);
    assert_eq!(
        IpAllowlist::parse_lines(entries.iter().map(String::as_str)).as_ref(),
        Ok(&list)
    );
    // `within` is reflexive, and everything is within the empty (any-address) list.
    assert!(list.within(&list));
    assert!(list.within(&IpAllowlist::default()));
    // An IPv4 address and its IPv4-mapped form get the same answer; empty admits all.
    let allowed = list.allows(ip);
    if let Some(t) = twin(ip) {
        assert_eq!(list.allows(t), allowed, "{ip} vs {t}");
    }
    if list.is_empty() {
        assert!(allowed);
    }
    Some(list)
}
