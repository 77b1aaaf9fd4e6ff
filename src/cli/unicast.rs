//! The unicast options of the command line: `--peer ADDR...` (with `-n`) and `--src ADDR`, per family.

use super::{UsageError, Vip, Vip6, parse_vip};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The peers and sources of both families (empty peers: multicast).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unicast {
    pub peers: Vec<Ipv4Addr>,
    pub src: Option<Ipv4Addr>,
    pub peers6: Vec<Ipv6Addr>,
    pub src6: Option<Ipv6Addr>,
}

/// A bare unicast address of either family (no prefix length).
fn unicast_addr(opt: &str, s: &str) -> Result<IpAddr, UsageError> {
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        if a.is_unspecified() || a.is_multicast() || a.is_loopback() || a.to_ipv4_mapped().is_some() {
            return Err(UsageError(format!("{opt} {s}: not an IPv6 unicast address")));
        }
        return Ok(IpAddr::V6(a));
    }
    Some(s)
        .filter(|t| !t.contains('/'))
        .and_then(|t| parse_vip(t).ok())
        .map(|v| IpAddr::V4(v.addr))
        .ok_or_else(|| UsageError(format!("{opt} {s}: not an IPv4 or IPv6 unicast address")))
}

/// `--peer ADDR...` and `--src ADDR` (at most one per family): unicast peers (none of them a VIP,
/// none twice, only with `-n`), each family's peers beside that family's VIPs, and the sources.
pub(super) fn parse(m: &getopts::Matches, vips: &[Vip], vips6: &[Vip6]) -> Result<Unicast, UsageError> {
    let is_vip = |a: IpAddr| match a {
        IpAddr::V4(a) => vips.iter().any(|v| v.addr == a),
        IpAddr::V6(a) => vips6.iter().any(|v| v.addr == a),
    };
    let mut u = Unicast::default();
    let mut all = Vec::new();
    for s in m.opt_strs("peer") {
        let a = unicast_addr("--peer", &s)?;
        if is_vip(a) {
            return Err(UsageError(format!("--peer {s}: a peer cannot be one of our virtual addresses")));
        }
        if all.contains(&a) {
            return Err(UsageError(format!("--peer {s}: peer given twice")));
        }
        all.push(a);
        match a {
            IpAddr::V4(a) if vips.is_empty() => {
                return Err(UsageError(format!(
                    "--peer {a}: an IPv4 peer needs IPv4 virtual addresses (its family's router)"
                )));
            }
            IpAddr::V4(a) => u.peers.push(a),
            IpAddr::V6(a) if vips6.is_empty() => {
                return Err(UsageError(format!(
                    "--peer {a}: an IPv6 peer needs IPv6 virtual addresses (its family's router)"
                )));
            }
            IpAddr::V6(a) => u.peers6.push(a),
        }
    }
    if !all.is_empty() && !vips6.is_empty() && u.peers6.is_empty() {
        return Err(UsageError(
            "--peer: the IPv6 router needs IPv6 peers too (both families go unicast, e.g. --peer fe80::2)".into(),
        ));
    }
    if !all.is_empty() && !vips.is_empty() && u.peers.is_empty() {
        return Err(UsageError(
            "--peer: the IPv4 router needs IPv4 peers too (both families go unicast, e.g. --peer 10.0.0.2)".into(),
        ));
    }
    for s in m.opt_strs("src") {
        if all.is_empty() {
            return Err(UsageError("--src goes with --peer (the source of unicast adverts)".into()));
        }
        let a = unicast_addr("--src", &s)?;
        if all.contains(&a) || is_vip(a) {
            return Err(UsageError(format!("--src {s}: must be our own address, not a peer's or a VIP")));
        }
        let taken = match a {
            IpAddr::V4(_) if u.peers.is_empty() => {
                return Err(UsageError(format!("--src {s}: an IPv4 source goes with IPv4 peers")));
            }
            IpAddr::V4(a) => u.src.replace(a).is_some(),
            IpAddr::V6(_) if u.peers6.is_empty() => {
                return Err(UsageError(format!("--src {s}: an IPv6 source goes with IPv6 peers")));
            }
            IpAddr::V6(a) => u.src6.replace(a).is_some(),
        };
        if taken {
            return Err(UsageError(format!("--src {s}: one source per family")));
        }
    }
    if !all.is_empty() && !m.opt_present("n") {
        // The virtual MAC replaces the interface's own: two routers that are both MASTER (a split,
        // or a stale neighbour entry after a failover) then share one MAC, and a frame from one to
        // the other leaves and enters the switch port of the sender: no unicast advert gets through
        // and the split never heals.
        return Err(UsageError(
            "--peer needs -n: with the virtual MAC on the interface, two masters share one MAC and cannot \
             reach each other by unicast"
                .into(),
        ));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, run};
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn unicast_peers_and_source() {
        let c = run("-i eth0 -v 51 -n --peer 10.0.0.2 --peer 10.0.0.3 --src 10.0.0.1 10.0.0.100");
        assert_eq!(c.peers, vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]);
        assert_eq!(c.src, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(run("-i eth0 -v 51 10.0.0.100").peers.is_empty());
        assert!(err("-i eth0 -v 51 --peer 10.0.0.100 10.0.0.100").contains("virtual addresses"));
        assert!(err("-i eth0 -v 51 --peer 10.0.0.2 --peer 10.0.0.2 10.0.0.100").contains("twice"));
        assert!(err("-i eth0 -v 51 --peer 224.0.0.18 10.0.0.100").contains("unicast"));
        assert!(err("-i eth0 -v 51 --peer 10.0.0.0/24 10.0.0.100").contains("unicast"));
        assert!(err("-i eth0 -v 51 -n --peer 2001:db8::2 10.0.0.100").contains("needs IPv6 virtual addresses"));
        assert!(err("-i eth0 -v 51 --src 10.0.0.1 10.0.0.100").contains("goes with --peer"));
        assert!(err("-i eth0 -v 51 -n --peer 10.0.0.2 --src 10.0.0.2 10.0.0.100").contains("own address"));
        assert!(err("-i eth0 -v 51 --peer 10.0.0.2 10.0.0.100").contains("--peer needs -n"));
        let two = "-i eth0 -v 51 -n --peer 10.0.0.2 --src 10.0.0.1 --src 10.0.0.3 10.0.0.100";
        assert!(err(two).contains("one source per family"));
    }

    #[test]
    fn ipv6_peers_go_with_the_ipv6_router() {
        let v3 = "--vrrp-version 3 -n -i eth0 -v 51";
        let c =
            run(&format!("{v3} --peer 10.0.0.2 --peer fe80::2 --src fe80::1 --src 10.0.0.1 10.0.0.100 2001:db8::1"));
        assert_eq!(c.peers, vec![Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(c.peers6, vec!["fe80::2".parse::<Ipv6Addr>().unwrap()]);
        assert_eq!(c.src6, Some("fe80::1".parse().unwrap()));
        assert_eq!(c.src, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(err(&format!("{v3} --peer 10.0.0.2 10.0.0.100 2001:db8::1")).contains("IPv6 peers too"));
        assert!(err(&format!("{v3} --peer fe80::2 10.0.0.100 2001:db8::1")).contains("IPv4 peers too"));
        assert!(err(&format!("{v3} --peer 10.0.0.2 --peer ff02::12 10.0.0.100 2001:db8::1")).contains("IPv6 unicast"));
        assert!(err(&format!("{v3} --peer 10.0.0.2 --peer 2001:db8::1 10.0.0.100 2001:db8::1")).contains("virtual"));
        assert!(err(&format!("{v3} --peer 10.0.0.2 --src fe80::1 10.0.0.100")).contains("goes with IPv6 peers"));
        // IPv6 only: IPv6 peers alone.
        let c = run(&format!("{v3} --peer fe80::2 2001:db8::1"));
        assert!(c.peers.is_empty() && c.peers6.len() == 1);
        assert!(err(&format!("{v3} --peer fe80::2 --peer 10.0.0.2 2001:db8::1")).contains("needs IPv4 virtual"));
        assert!(err(&format!("{v3} --peer fe80::2 --src 10.0.0.1 2001:db8::1")).contains("goes with IPv4 peers"));
    }
}
