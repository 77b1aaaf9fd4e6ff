//! The IPv6 virtual addresses of the command line (VRRPv3 only): parsed, checked, link-local first.

use super::UsageError;
use crate::profile::Version;
use std::fmt;
use std::net::Ipv6Addr;

/// An IPv6 virtual address with its prefix length (128 unless given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vip6 {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl fmt::Display for Vip6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// fe80::/10.
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// True when the argument is meant as an IPv6 address (it has a colon).
pub fn looks_v6(s: &str) -> bool {
    s.contains(':')
}

pub fn parse_vip6(s: &str) -> Result<Vip6, UsageError> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: Ipv6Addr = a
        .parse()
        .map_err(|_| UsageError(format!("{s}: not an IPv6 address (expected e.g. 2001:db8::1 or 2001:db8::1/64)")))?;
    let prefix = match len {
        None => 128,
        Some(l) => match l.parse::<u8>() {
            Ok(p) if (1..=128).contains(&p) => p,
            _ => return Err(UsageError(format!("{s}: prefix length must be a number from 1 to 128"))),
        },
    };
    if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() || addr.to_ipv4_mapped().is_some() {
        return Err(UsageError(format!("{s}: a virtual address must be an IPv6 unicast address")));
    }
    Ok(Vip6 { addr, prefix })
}

/// The IPv6 list once every address is read: VRRPv3 only (with or without IPv4 addresses beside); sorted with the link-local address first (RFC 5798 §7.1: the
/// first address of an IPv6 router is its link-local one), at most one link-local.
pub fn finish(mut v6: Vec<Vip6>, version: Version, max: usize) -> Result<Vec<Vip6>, UsageError> {
    let Some(first) = v6.first() else { return Ok(v6) };
    if version != Version::V3 {
        return Err(UsageError(format!("{first}: IPv6 virtual addresses need --vrrp-version 3 (VRRPv2 is IPv4 only)")));
    }
    if v6.len() > max {
        return Err(UsageError(format!("{} IPv6 virtual addresses: at most {max} fit in an advert", v6.len())));
    }
    if v6.iter().filter(|v| is_link_local(&v.addr)).count() > 1 {
        return Err(UsageError("at most one link-local IPv6 virtual address (it goes first in the advert)".into()));
    }
    v6.sort_by_key(|v| (!is_link_local(&v.addr), *v));
    Ok(v6)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, run};
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_vips_need_v3_and_go_link_local_first() {
        let c = run("--vrrp-version 3 -i eth0 -v 51 10.16.1.200 2001:db8:16::1/64 fe80::51 2001:db8:16::0");
        assert_eq!(c.vips.len(), 1);
        let got: Vec<_> = c.vips6.iter().map(|v| (v.addr, v.prefix)).collect();
        assert_eq!(got, vec![(a("fe80::51"), 128), (a("2001:db8:16::"), 128), (a("2001:db8:16::1"), 64)]);
        assert!(err("-i eth0 -v 51 10.16.1.200 2001:db8::1").contains("need --vrrp-version 3"));
        assert!(err("--vrrp-version 2 -i eth0 -v 51 10.16.1.200 2001:db8::1").contains("need --vrrp-version 3"));
        // Without IPv6 addresses, nothing changes.
        assert!(run("--vrrp-version 3 -i eth0 -v 51 10.0.0.1").vips6.is_empty());
    }

    #[test]
    fn bad_ipv6_vips_are_usage_errors() {
        let v3 = "--vrrp-version 3 -i eth0 -v 51 10.0.0.1";
        assert!(err(&format!("{v3} 2001:db8::zz")).contains("not an IPv6 address"));
        assert!(err(&format!("{v3} 2001:db8::1/129")).contains("from 1 to 128"));
        assert!(err(&format!("{v3} 2001:db8::1/0")).contains("from 1 to 128"));
        for bad in ["::", "::1", "ff02::12", "::ffff:10.0.0.1"] {
            assert!(err(&format!("{v3} {bad}")).contains("IPv6 unicast"), "{bad}");
        }
        assert!(err(&format!("{v3} 2001:db8::1 2001:db8::1/64")).contains("given twice"));
        assert!(err(&format!("{v3} fe80::1 fe80::2")).contains("at most one link-local"));
        // IPv6 only: no IPv4 router.
        let c = run("--vrrp-version 3 -i eth0 -v 51 2001:db8::1");
        assert!(c.vips.is_empty() && c.vips6.len() == 1);
        assert!(err("-i eth0 -v 51 2001:db8::1").contains("need --vrrp-version 3"));
    }
}
