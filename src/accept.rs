//! The receive checks of RFC 3768 §7.1 and RFC 5798 §7.1 (pure): the envelope the socket layer reports
//! (source, destination, TTL or hop limit) and the advert, against what the local router expects.

use crate::packet::{Advert, Auth, DropKind, IPPROTO_VRRP};
use crate::profile::{Family, Interval, Version};
use crate::wire::{Packet, Pseudo};
use std::net::{IpAddr, Ipv4Addr};

/// What the socket layer reports of a received packet (from the control messages, not the payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IPv4 TTL or the IPv6 hop limit.
    pub ttl: u8,
}

/// An advert as received with its envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub advert: Advert,
}

/// Where adverts come from: the multicast group (the TTL/hop limit must be 255, RFC §7.1), or unicast
/// peers (any TTL, as keepalived accepts unicast adverts, which may cross routers; the source must be a
/// listed peer instead, see [`Expect::peers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Multicast,
    Unicast,
}

/// Checks the envelope (TTL/hop limit 255 on multicast) and parses the VRRP message of a router of
/// `version` and `family`; for v3 the checksum covers the pseudo-header built from the envelope.
pub fn receive(
    meta: Meta,
    vrrp: &[u8],
    version: Version,
    family: Family,
    transport: Transport,
) -> Result<Received, DropKind> {
    if transport == Transport::Multicast && meta.ttl != 255 {
        return Err(DropKind::Ttl);
    }
    let p = Packet::new_checked(vrrp).map_err(|_| DropKind::Truncated)?;
    let pseudo = match version {
        Version::V2 => Pseudo::None,
        Version::V3 => Pseudo::v3(meta.src, meta.dst).ok_or(DropKind::NotVrrp)?,
    };
    let advert = Advert::parse(&p, version, family, pseudo)?;
    Ok(Received { src: meta.src, dst: meta.dst, ttl: meta.ttl, advert })
}

/// Splits a whole IPv4 packet (as an injector builds it, or a fuzzer feeds it) into its envelope and the
/// VRRP message: length, protocol 112.
pub fn split_ipv4(pkt: &[u8]) -> Result<(Meta, &[u8]), DropKind> {
    if pkt.len() < 20 {
        return Err(DropKind::Truncated);
    }
    if pkt[0] >> 4 != 4 {
        return Err(DropKind::NotVrrp);
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || total < ihl || pkt.len() < total {
        return Err(DropKind::Truncated);
    }
    if pkt[9] != IPPROTO_VRRP {
        return Err(DropKind::NotVrrp);
    }
    let src = IpAddr::V4(Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]));
    Ok((Meta { src, dst, ttl: pkt[8] }, &pkt[ihl..total]))
}

/// A whole IPv4 packet, parsed as a multicast router of `version` would.
pub fn parse_ipv4(pkt: &[u8], version: Version) -> Result<Received, DropKind> {
    parse_ipv4_from(pkt, version, Transport::Multicast)
}

/// A whole IPv4 packet, parsed as a router of `version` receiving by `transport` would.
pub fn parse_ipv4_from(pkt: &[u8], version: Version, transport: Transport) -> Result<Received, DropKind> {
    let (meta, vrrp) = split_ipv4(pkt)?;
    receive(meta, vrrp, version, Family::V4, transport)
}

/// What the local router expects of adverts for its VRID (§7.1 checks that need configuration).
pub struct Expect<'a> {
    pub vrid: u8,
    pub version: Version,
    /// v2 only.
    pub auth: &'a Auth,
    pub adver_int: Interval,
    /// Our virtual addresses of this router's family, sorted.
    pub vips: &'a [IpAddr],
    /// Our own addresses on the interface (an advert from one of them is a loop or a spoof).
    pub own: &'a [IpAddr],
    /// True when we are the address owner (priority 255).
    pub owner: bool,
    /// `--peer`: adverts are accepted from these sources only (empty: from anyone, multicast).
    pub peers: &'a [IpAddr],
    /// Drop an advert whose interval differs from ours (RFC 3768 to the letter). Off by default: the
    /// advert then counts for the election and the Backup learns the master's interval (as RFC 5798 does),
    /// so that a pair whose intervals differ (1.15 defaults to 2 s) never splits.
    pub strict_interval: bool,
}

impl Expect<'_> {
    /// The configuration-dependent checks of §7.1, in the RFCs' order (v3 has no authentication).
    pub fn check(&self, r: &Received) -> Result<(), DropKind> {
        let a = &r.advert;
        if a.vrid != self.vrid {
            return Err(DropKind::OtherVrid);
        }
        if self.own.contains(&r.src) {
            return Err(DropKind::OwnAddress);
        }
        if !self.peers.is_empty() && !self.peers.contains(&r.src) {
            return Err(DropKind::UnknownPeer);
        }
        if self.owner {
            return Err(DropKind::OwnerConflict);
        }
        if self.version == Version::V2 {
            let auth_type = self.auth.type_code();
            if a.auth_type != auth_type {
                return Err(DropKind::AuthType);
            }
            if auth_type == 1 && a.auth_data != self.auth.data() {
                return Err(DropKind::AuthData);
            }
        }
        // An interval of 0 is no interval at all.
        if a.interval.centis() == 0 || (self.strict_interval && a.interval != self.adver_int) {
            return Err(DropKind::Interval);
        }
        if a.priority != 255 && !same_set(&a.addrs, self.vips) {
            return Err(DropKind::AddrList);
        }
        Ok(())
    }
}

fn same_set(received: &[IpAddr], sorted_ours: &[IpAddr]) -> bool {
    if received.len() != sorted_ours.len() {
        return false;
    }
    let mut r = received.to_vec();
    r.sort_unstable();
    r == sorted_ours
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keepalived capture of packet.rs with its IPv4 header, as a raw socket reads it
    /// (tos 0xc0, ttl 255, id 1, 10.16.1.2 > 224.0.0.18).
    const KEEPALIVED_CAPTURE: [u8; 40] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0x80, 0x0a, 0x10, 0x01, 0x02, 0xe0, 0x00,
        0x00, 0x12, // IPv4 header
        0x21, 0x33, 0x6e, 0x01, 0x00, 0x01, 0x64, 0xf2, 0x0a, 0x10, 0x01, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, // VRRP
    ];
    const V2: Version = Version::V2;

    fn vip() -> Vec<Ipv4Addr> {
        vec![Ipv4Addr::new(10, 16, 1, 200)]
    }
    fn ips(v: &[Ipv4Addr]) -> Vec<IpAddr> {
        v.iter().copied().map(IpAddr::V4).collect()
    }

    fn ip_wrap(vrrp: &[u8], ttl: u8) -> Vec<u8> {
        let total = (20 + vrrp.len()) as u16;
        let mut p = vec![0x45, 0xc0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0, 10, 16, 1, 3, 224, 0, 0, 18]);
        p.extend_from_slice(vrrp);
        p
    }

    fn expect<'a>(auth: &'a Auth, vips: &'a [IpAddr]) -> Expect<'a> {
        Expect {
            vrid: 51,
            version: V2,
            auth,
            adver_int: Interval::from_secs(1),
            vips,
            own: &[],
            owner: false,
            peers: &[],
            strict_interval: true,
        }
    }

    #[test]
    fn decodes_keepalived_capture() {
        let r = parse_ipv4(&KEEPALIVED_CAPTURE, V2).unwrap();
        assert_eq!(r.src, IpAddr::V4(Ipv4Addr::new(10, 16, 1, 2)));
        assert_eq!(r.ttl, 255);
        assert_eq!(r.advert.vrid, 51);
        assert_eq!(r.advert.priority, 110);
        assert_eq!(r.advert.interval, Interval::from_secs(1));
        assert_eq!(r.advert.addrs, ips(&vip()));
        assert_eq!(expect(&Auth::None, &ips(&vip())).check(&r), Ok(()));
    }

    #[test]
    fn rejects_each_envelope_fault() {
        let good = Advert::new(51, 100, 1, &Auth::None, vip()).encode();
        assert!(parse_ipv4(&ip_wrap(&good, 255), V2).is_ok());
        assert_eq!(parse_ipv4(&ip_wrap(&good, 254), V2), Err(DropKind::Ttl));
        assert_eq!(parse_ipv4(&ip_wrap(&good, 1), V2), Err(DropKind::Ttl));
        assert_eq!(parse_ipv4(&good[..10], V2), Err(DropKind::Truncated));
        // IP total length longer than what was read.
        let mut short = ip_wrap(&good, 255);
        short.truncate(30);
        assert_eq!(parse_ipv4(&short, V2), Err(DropKind::Truncated));
        // Not protocol 112.
        let mut udp = ip_wrap(&good, 255);
        udp[9] = 17;
        assert_eq!(parse_ipv4(&udp, V2), Err(DropKind::NotVrrp));
        // A VRRP message shorter than its fixed header.
        assert_eq!(parse_ipv4(&ip_wrap(&good[..6], 255), V2), Err(DropKind::Truncated));
        // The other version has its own kind, both ways.
        assert_eq!(parse_ipv4(&ip_wrap(&good, 255), Version::V3), Err(DropKind::V2OnV3));
        let src: IpAddr = "10.16.1.3".parse().unwrap();
        let pseudo = Pseudo::v3(src, IpAddr::V4(crate::packet::VRRP_GROUP)).unwrap();
        let v3 = Advert::v3(51, 100, Interval::from_centis(1), Family::V4, ips(&vip())).encode_with(pseudo);
        assert_eq!(parse_ipv4(&ip_wrap(&v3, 255), V2), Err(DropKind::V3OnV2));
        let r = parse_ipv4(&ip_wrap(&v3, 255), Version::V3).unwrap();
        assert_eq!(r.advert.interval, Interval::from_centis(1));
    }

    #[test]
    fn v3_checks_skip_authentication_and_refuse_interval_zero() {
        let vips = ips(&vip());
        let src: IpAddr = "10.16.1.3".parse().unwrap();
        let meta = Meta { src, dst: IpAddr::V4(crate::packet::VRRP_GROUP), ttl: 255 };
        let pseudo = Pseudo::v3(meta.src, meta.dst).unwrap();
        let pw = Auth::password(b"x").unwrap();
        let e = Expect {
            version: Version::V3,
            adver_int: Interval::from_centis(1),
            strict_interval: false,
            ..expect(&pw, &vips)
        };
        let at = |cs: u16| {
            let b = Advert::v3(51, 100, Interval::from_centis(cs), Family::V4, vips.clone()).encode_with(pseudo);
            receive(meta, &b, Version::V3, Family::V4, Transport::Multicast).and_then(|r| e.check(&r))
        };
        assert_eq!(at(1), Ok(()));
        assert_eq!(at(100), Ok(()), "another interval counts (the backup learns it)");
        assert_eq!(at(0), Err(DropKind::Interval));
        assert_eq!(
            Expect { strict_interval: true, ..e }.check(
                &receive(
                    meta,
                    &Advert::v3(51, 100, Interval::from_centis(2), Family::V4, vips.clone()).encode_with(pseudo),
                    Version::V3,
                    Family::V4,
                    Transport::Multicast,
                )
                .unwrap()
            ),
            Err(DropKind::Interval)
        );
    }

    #[test]
    fn rejects_each_configuration_fault() {
        let vips = ips(&vip());
        let pw = Auth::password(b"secret").unwrap();
        let check = |adv: Advert, auth: &Auth| {
            let r = parse_ipv4(&ip_wrap(&adv.encode(), 255), V2).unwrap();
            expect(auth, &vips).check(&r)
        };
        assert_eq!(check(Advert::new(52, 100, 1, &Auth::None, vip()), &Auth::None), Err(DropKind::OtherVrid));
        assert_eq!(check(Advert::new(51, 100, 1, &Auth::None, vip()), &pw), Err(DropKind::AuthType));
        assert_eq!(
            check(Advert::new(51, 100, 1, &Auth::password(b"wrong").unwrap(), vip()), &pw),
            Err(DropKind::AuthData)
        );
        assert_eq!(check(Advert::new(51, 100, 1, &pw, vip()), &pw), Ok(()));
        assert_eq!(check(Advert::new(51, 100, 2, &Auth::None, vip()), &Auth::None), Err(DropKind::Interval));
        // By default an interval mismatch counts for the election (the daemon counts it apart).
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 2, &Auth::None, vip()).encode(), 255), V2).unwrap();
        let lenient = Expect { strict_interval: false, ..expect(&Auth::None, &vips) };
        assert_eq!(lenient.check(&r), Ok(()));
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 0, &Auth::None, vip()).encode(), 255), V2).unwrap();
        assert_eq!(lenient.check(&r), Err(DropKind::Interval), "interval 0 is never valid");
        let other = vec![Ipv4Addr::new(10, 16, 1, 201)];
        assert_eq!(check(Advert::new(51, 100, 1, &Auth::None, other.clone()), &Auth::None), Err(DropKind::AddrList));
        // The owner's advert is accepted whatever its list (§7.1).
        assert_eq!(check(Advert::new(51, 255, 1, &Auth::None, other), &Auth::None), Ok(()));
        // Same set in another order is the same list.
        let two = vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1)];
        let mut sorted = ips(&two);
        sorted.sort();
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 1, &Auth::None, two).encode(), 255), V2).unwrap();
        assert_eq!(expect(&Auth::None, &sorted).check(&r), Ok(()));
        // From our own address.
        let own = [IpAddr::V4(Ipv4Addr::new(10, 16, 1, 3))];
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 1, &Auth::None, vip()).encode(), 255), V2).unwrap();
        assert_eq!(Expect { own: &own, ..expect(&Auth::None, &vips) }.check(&r), Err(DropKind::OwnAddress));
        assert_eq!(Expect { owner: true, ..expect(&Auth::None, &vips) }.check(&r), Err(DropKind::OwnerConflict));
    }

    #[test]
    fn unicast_accepts_any_ttl_from_a_listed_peer_only() {
        let vips = ips(&vip());
        let pkt = ip_wrap(&Advert::new(51, 100, 1, &Auth::None, vip()).encode(), 64);
        // Multicast: TTL 255 or nothing (§7.1); unicast: any TTL (keepalived's rule: it may cross routers).
        assert_eq!(parse_ipv4(&pkt, V2), Err(DropKind::Ttl));
        let r = parse_ipv4_from(&pkt, V2, Transport::Unicast).unwrap();
        assert_eq!(r.ttl, 64);
        // The sender (10.16.1.3) must be one of the peers.
        let peer = [IpAddr::V4(Ipv4Addr::new(10, 16, 1, 3))];
        let other = [IpAddr::V4(Ipv4Addr::new(10, 16, 1, 9))];
        assert_eq!(Expect { peers: &peer, ..expect(&Auth::None, &vips) }.check(&r), Ok(()));
        assert_eq!(Expect { peers: &other, ..expect(&Auth::None, &vips) }.check(&r), Err(DropKind::UnknownPeer));
    }
}

/// Property test: the decoder never panics, every input is accepted or rejected with a specific kind,
/// and what it accepts re-encodes to the very same bytes.
#[cfg(test)]
mod property {
    use super::*;
    use crate::packet::checksum;

    /// xorshift64*: deterministic, no dependency; the seed is printed on failure.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn byte(&mut self) -> u8 {
            self.next() as u8
        }
    }

    fn valid(r: &mut Rng) -> Vec<u8> {
        let n = r.below(6);
        let addrs = (0..n).map(|_| Ipv4Addr::from(r.next() as u32)).collect();
        let auth = if r.below(2) == 0 { Auth::None } else { Auth::password(&[b'k'; 5]).unwrap() };
        let vrrp = Advert::new(r.byte(), r.byte(), r.byte(), &auth, addrs).encode();
        let total = (20 + vrrp.len()) as u16;
        let mut p = vec![0x45, 0xc0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18]);
        p.extend_from_slice(&vrrp);
        p
    }

    fn mutate(r: &mut Rng, p: &mut Vec<u8>) {
        for _ in 0..=r.below(4) {
            match r.below(7) {
                0 if !p.is_empty() => {
                    let i = r.below(p.len());
                    p[i] ^= 1 << r.below(8);
                }
                1 if !p.is_empty() => {
                    let i = r.below(p.len());
                    p[i] = r.byte();
                }
                2 => {
                    let keep = r.below(p.len() + 1);
                    p.truncate(keep);
                }
                3 => {
                    for _ in 0..=r.below(8) {
                        p.push(r.byte());
                    }
                }
                4 if p.len() > 4 => {
                    // Lie about the IP total length.
                    let v = r.next() as u16;
                    p[2..4].copy_from_slice(&v.to_be_bytes());
                }
                5 if p.len() > 23 => p[23] = r.byte(), // Count IP Addrs
                _ if p.len() > 28 => p[28] = r.byte(), // first address byte (checksum breaks)
                _ => {}
            }
        }
    }

    #[test]
    fn decoder_survives_100k_random_and_mutated_packets() {
        let seed = 0x5eed_0000_0000_0001u64 ^ std::process::id() as u64;
        let mut r = Rng(seed);
        let mut accepted = 0u32;
        let mut by_kind = std::collections::BTreeMap::new();
        let own = [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))];
        for i in 0..120_000u32 {
            let mut p = match i % 3 {
                0 => (0..r.below(80)).map(|_| r.byte()).collect(),
                _ => valid(&mut r),
            };
            if i % 3 == 1 {
                mutate(&mut r, &mut p);
            }
            let res = parse_ipv4(&p, Version::V2).and_then(|rcv| {
                let vips = {
                    let mut v = rcv.advert.addrs.clone();
                    v.sort();
                    v
                };
                let e = Expect {
                    vrid: rcv.advert.vrid,
                    version: Version::V2,
                    auth: &Auth::None,
                    adver_int: rcv.advert.interval,
                    vips: &vips,
                    own: &own,
                    owner: false,
                    peers: &[],
                    strict_interval: true,
                };
                match e.check(&rcv) {
                    Ok(()) | Err(DropKind::AuthType) | Err(DropKind::OwnAddress) => Ok(rcv),
                    Err(k) => Err(k),
                }
            });
            match res {
                Ok(rcv) => {
                    accepted += 1;
                    let ihl = usize::from(p[0] & 0x0f) * 4;
                    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
                    assert_eq!(
                        rcv.advert.encode(),
                        p[ihl..total].to_vec(),
                        "seed {seed:#x} case {i}: re-encoding differs"
                    );
                    assert_eq!(rcv.ttl, 255);
                }
                Err(k) => {
                    *by_kind.entry(k.name()).or_insert(0u32) += 1;
                    // Each kind means what it says.
                    match k {
                        DropKind::Ttl => assert_ne!(p[8], 255, "seed {seed:#x} case {i}"),
                        DropKind::NotVrrp => assert!(p[0] >> 4 != 4 || p[9] != 112, "seed {seed:#x} case {i}"),
                        DropKind::Checksum => {
                            let ihl = usize::from(p[0] & 0x0f) * 4;
                            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
                            assert_ne!(checksum(&p[ihl..total]), 0, "seed {seed:#x} case {i}");
                        }
                        _ => {}
                    }
                }
            }
        }
        assert!(accepted > 10_000, "too few valid packets generated: {accepted}");
        for k in ["truncated", "ttl", "checksum", "count_mismatch", "trailing_bytes", "version", "type", "not_vrrp"] {
            assert!(by_kind.contains_key(k), "kind {k} never produced: {by_kind:?}");
        }
    }
}
