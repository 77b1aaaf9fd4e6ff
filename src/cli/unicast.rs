//! The unicast options of the command line: `--peer ADDR...` (with `-n`) and `--src ADDR`.

use super::{UsageError, Vip, parse_vip};
use std::net::Ipv4Addr;

/// A bare IPv4 unicast address (no prefix length).
fn unicast_addr(opt: &str, s: &str) -> Result<Ipv4Addr, UsageError> {
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(UsageError(format!("{opt} {s}: IPv6 peers and sources are not supported yet (IPv4 only)")));
    }
    Some(s)
        .filter(|t| !t.contains('/'))
        .and_then(|t| parse_vip(t).ok())
        .map(|v| v.addr)
        .ok_or_else(|| UsageError(format!("{opt} {s}: not an IPv4 unicast address")))
}

/// `--peer ADDR...` and `--src ADDR`: unicast peers (none of them a VIP, none twice, only with `-n`)
/// and the source.
pub(super) fn parse(m: &getopts::Matches, vips: &[Vip]) -> Result<(Vec<Ipv4Addr>, Option<Ipv4Addr>), UsageError> {
    let mut peers = Vec::new();
    for s in m.opt_strs("peer") {
        let a = unicast_addr("--peer", &s)?;
        if vips.iter().any(|v| v.addr == a) {
            return Err(UsageError(format!("--peer {s}: a peer cannot be one of our virtual addresses")));
        }
        if peers.contains(&a) {
            return Err(UsageError(format!("--peer {s}: peer given twice")));
        }
        peers.push(a);
    }
    let src = match m.opt_str("src") {
        None => None,
        Some(_) if peers.is_empty() => {
            return Err(UsageError("--src goes with --peer (the source of unicast adverts)".into()));
        }
        Some(s) => {
            let a = unicast_addr("--src", &s)?;
            if peers.contains(&a) || vips.iter().any(|v| v.addr == a) {
                return Err(UsageError(format!("--src {s}: must be our own address, not a peer's or a VIP")));
            }
            Some(a)
        }
    };
    if !peers.is_empty() && !m.opt_present("n") {
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
    Ok((peers, src))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, run};
    use std::net::Ipv4Addr;

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
        assert!(err("-i eth0 -v 51 --peer 2001:db8::2 10.0.0.100").contains("IPv6"));
        assert!(err("-i eth0 -v 51 --src 10.0.0.1 10.0.0.100").contains("goes with --peer"));
        assert!(err("-i eth0 -v 51 -n --peer 10.0.0.2 --src 10.0.0.2 10.0.0.100").contains("own address"));
        assert!(err("-i eth0 -v 51 --peer 10.0.0.2 10.0.0.100").contains("--peer needs -n"));
    }
}
