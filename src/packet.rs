//! VRRPv2 advertisement (RFC 3768 §5): [`Advert`] is the `Repr` that parses from and emits into the
//! packet view of [`crate::wire`], with the IPv4 envelope and the receive checks of §7.1. Pure: no I/O.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! |                         IP Address (1..n)                     |
//! |                     Authentication Data (1)                   |
//! |                     Authentication Data (2)                   |
//! ```

use crate::wire::{self, Packet, Pseudo};
use std::fmt;
use std::net::Ipv4Addr;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The VRRP multicast group.
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Fixed header + authentication data; each address adds 4 bytes.
pub const MIN_LEN: usize = 16;
use wire::HEADER_LEN;
const AUTH_LEN: usize = 8;
const VERSION: u8 = 2;
const TYPE_ADVERT: u8 = 1;
/// Largest count that fits the 8-bit field.
pub const MAX_ADDRS: usize = 255;

/// Authentication (RFC 2338 §5.3.6; RFC 3768 keeps type 0 and accepts 1 for compatibility).
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Simple text password, at most 8 bytes, zero-padded on the wire.
    Password([u8; 8]),
}

impl Auth {
    pub fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Password(_) => 1,
        }
    }
    fn data(&self) -> [u8; 8] {
        match self {
            Auth::None => [0; 8],
            Auth::Password(p) => *p,
        }
    }
    /// Builds a password auth; `None` if longer than 8 bytes or empty.
    pub fn password(secret: &[u8]) -> Option<Auth> {
        if secret.is_empty() || secret.len() > 8 {
            return None;
        }
        let mut p = [0u8; 8];
        p[..secret.len()].copy_from_slice(secret);
        Some(Auth::Password(p))
    }
}

impl fmt::Debug for Auth {
    // Never print the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("none"),
            Auth::Password(_) => f.write_str("pw/********"),
        }
    }
}

/// A decoded or to-be-encoded advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub vrid: u8,
    pub priority: u8,
    pub auth_type: u8,
    pub auth_data: [u8; 8],
    pub adver_int: u8,
    pub addrs: Vec<Ipv4Addr>,
}

/// Why a received packet was dropped. Every kind is counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropKind {
    /// Shorter than an IPv4 header, than its own total length, or than the VRRP fixed part.
    Truncated,
    /// Not an IPv4 packet carrying protocol 112.
    NotVrrp,
    /// IP TTL is not 255 (§7.1: the packet may have been forwarded).
    Ttl,
    /// VRRP version is not 2.
    Version,
    /// VRRP type is not 1 (ADVERTISEMENT).
    Type,
    /// Count IP Addrs says more addresses than the packet holds.
    CountMismatch,
    /// Bytes after the authentication data.
    TrailingBytes,
    /// Checksum does not verify.
    Checksum,
    /// Another virtual router id (normal on a shared LAN; counted, not an error).
    OtherVrid,
    /// Auth type differs from ours.
    AuthType,
    /// Password differs from ours.
    AuthData,
    /// Advertisement interval is 0, or differs from ours with `--strict-interval`.
    Interval,
    /// Address list differs from ours and the sender is not the owner.
    AddrList,
    /// Sent from one of our own addresses.
    OwnAddress,
    /// We are the address owner (priority 255) and someone else claims the VRID.
    OwnerConflict,
}

impl DropKind {
    pub const ALL: [DropKind; 15] = [
        DropKind::Truncated,
        DropKind::NotVrrp,
        DropKind::Ttl,
        DropKind::Version,
        DropKind::Type,
        DropKind::CountMismatch,
        DropKind::TrailingBytes,
        DropKind::Checksum,
        DropKind::OtherVrid,
        DropKind::AuthType,
        DropKind::AuthData,
        DropKind::Interval,
        DropKind::AddrList,
        DropKind::OwnAddress,
        DropKind::OwnerConflict,
    ];

    /// Short stable name, used in logs, the state file and `atropos --state`.
    pub fn name(self) -> &'static str {
        match self {
            DropKind::Truncated => "truncated",
            DropKind::NotVrrp => "not_vrrp",
            DropKind::Ttl => "ttl",
            DropKind::Version => "version",
            DropKind::Type => "type",
            DropKind::CountMismatch => "count_mismatch",
            DropKind::TrailingBytes => "trailing_bytes",
            DropKind::Checksum => "checksum",
            DropKind::OtherVrid => "other_vrid",
            DropKind::AuthType => "auth_type",
            DropKind::AuthData => "auth_data",
            DropKind::Interval => "interval",
            DropKind::AddrList => "addr_list",
            DropKind::OwnAddress => "own_address",
            DropKind::OwnerConflict => "owner_conflict",
        }
    }

    /// The kind of a [`DropKind::name`].
    pub fn from_name(s: &str) -> Option<DropKind> {
        DropKind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Human explanation for the log line.
    pub fn describe(self) -> &'static str {
        match self {
            DropKind::Truncated => "truncated packet",
            DropKind::NotVrrp => "not an IPv4 VRRP packet",
            DropKind::Ttl => "IP TTL is not 255",
            DropKind::Version => "VRRP version is not 2",
            DropKind::Type => "VRRP type is not ADVERTISEMENT",
            DropKind::CountMismatch => "address count does not match the packet length",
            DropKind::TrailingBytes => "unexpected bytes after the authentication data",
            DropKind::Checksum => "bad VRRP checksum",
            DropKind::OtherVrid => "advert for another virtual router id",
            DropKind::AuthType => "authentication type differs from ours",
            DropKind::AuthData => "authentication password differs from ours",
            DropKind::Interval => "advertisement interval is 0, or differs from ours (--strict-interval)",
            DropKind::AddrList => "virtual address list differs from ours",
            DropKind::OwnAddress => "sent from one of our own addresses",
            DropKind::OwnerConflict => "we own the addresses (priority 255) and another router claims them",
        }
    }
}

/// Ones' complement Internet checksum (RFC 1071) of a VRRPv2 message (no pseudo-header).
pub fn checksum(data: &[u8]) -> u16 {
    wire::checksum(Pseudo::None, data)
}

impl Advert {
    pub fn new(vrid: u8, priority: u8, adver_int: u8, auth: &Auth, addrs: Vec<Ipv4Addr>) -> Advert {
        Advert { vrid, priority, auth_type: auth.type_code(), auth_data: auth.data(), adver_int, addrs }
    }

    /// The advertised interval (whole seconds on the v2 wire).
    pub fn interval(&self) -> crate::profile::Interval {
        crate::profile::Interval::from_secs(self.adver_int)
    }

    pub fn wire_len(&self) -> usize {
        MIN_LEN + 4 * self.addrs.len()
    }

    /// Encodes the VRRP message (not the IP header), checksum included.
    /// At most [`MAX_ADDRS`] addresses are written (the CLI refuses more).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.wire_len().min(MIN_LEN + 4 * MAX_ADDRS)];
        self.emit(&mut b, Pseudo::None);
        b
    }

    /// Emits into `b` (exactly [`Advert::wire_len`] bytes, addresses capped at [`MAX_ADDRS`]), with the
    /// checksum over `pseudo` and the message.
    pub fn emit(&self, b: &mut [u8], pseudo: Pseudo) {
        let addrs = &self.addrs[..self.addrs.len().min(MAX_ADDRS)];
        b[0] = (VERSION << 4) | TYPE_ADVERT;
        b[1] = self.vrid;
        b[2] = self.priority;
        b[3] = addrs.len() as u8;
        b[4] = self.auth_type;
        b[5] = self.adver_int;
        b[6..8].copy_from_slice(&[0, 0]);
        for (i, a) in addrs.iter().enumerate() {
            b[HEADER_LEN + 4 * i..HEADER_LEN + 4 * i + 4].copy_from_slice(&a.octets());
        }
        let auth_at = HEADER_LEN + 4 * addrs.len();
        b[auth_at..auth_at + AUTH_LEN].copy_from_slice(&self.auth_data);
        wire::fill_checksum(&mut b[..auth_at + AUTH_LEN], pseudo);
    }

    /// Decodes a VRRP message (no IP header): version, type, length and checksum checks.
    pub fn decode(b: &[u8]) -> Result<Advert, DropKind> {
        let p = Packet::new_checked(b).map_err(|_| DropKind::Truncated)?;
        Advert::parse(&p, Pseudo::None)
    }

    /// Parses the view: version, type, length, then the checksum over `pseudo` and the message.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, pseudo: Pseudo) -> Result<Advert, DropKind> {
        if p.version() != VERSION {
            return Err(DropKind::Version);
        }
        if p.kind() != TYPE_ADVERT {
            return Err(DropKind::Type);
        }
        let need = MIN_LEN + 4 * p.count();
        if p.len() < need {
            return Err(DropKind::CountMismatch);
        }
        if p.len() > need {
            return Err(DropKind::TrailingBytes);
        }
        if !p.verify_checksum(pseudo) {
            return Err(DropKind::Checksum);
        }
        let mut auth_data = [0u8; AUTH_LEN];
        auth_data.copy_from_slice(p.after_addrs(4));
        Ok(Advert {
            vrid: p.vrid(),
            priority: p.priority(),
            auth_type: p.auth_type(),
            auth_data,
            adver_int: p.adver_int_v2(),
            addrs: p.ipv4_addrs().collect(),
        })
    }
}

/// An advert as received with its IPv4 envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub advert: Advert,
}

/// Parses a packet read from a raw IPv4 socket (IP header included), checking the IP envelope
/// (length, protocol, TTL 255) and then the VRRP message.
pub fn parse_ipv4(pkt: &[u8]) -> Result<Received, DropKind> {
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
    let ttl = pkt[8];
    if ttl != 255 {
        return Err(DropKind::Ttl);
    }
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    let advert = Advert::decode(&pkt[ihl..total])?;
    Ok(Received { src, dst, ttl, advert })
}

/// What the local router expects of adverts for its VRID (§7.1 checks that need configuration).
pub struct Expect<'a> {
    pub vrid: u8,
    pub auth: &'a Auth,
    pub adver_int: crate::profile::Interval,
    /// Our virtual addresses, sorted.
    pub vips: &'a [Ipv4Addr],
    /// Our own addresses on the interface (an advert from one of them is a loop or a spoof).
    pub own: &'a [Ipv4Addr],
    /// True when we are the address owner (priority 255).
    pub owner: bool,
    /// Drop an advert whose interval differs from ours (RFC 3768 to the letter). Off by default: the
    /// advert then counts for the election and the Backup learns the master's interval (as RFC 5798 does),
    /// so that a pair whose intervals differ (1.15 defaults to 2 s) never splits.
    pub strict_interval: bool,
}

impl Expect<'_> {
    /// The configuration-dependent checks of RFC 3768 §7.1, in the RFC's order.
    pub fn check(&self, r: &Received) -> Result<(), DropKind> {
        let a = &r.advert;
        if a.vrid != self.vrid {
            return Err(DropKind::OtherVrid);
        }
        if self.own.contains(&r.src) {
            return Err(DropKind::OwnAddress);
        }
        if self.owner {
            return Err(DropKind::OwnerConflict);
        }
        let auth_type = self.auth.type_code();
        if a.auth_type != auth_type {
            return Err(DropKind::AuthType);
        }
        if auth_type == 1 && a.auth_data != self.auth.data() {
            return Err(DropKind::AuthData);
        }
        // An interval of 0 is no interval at all (RFC 3768 §5.3.7: 1 s by default, in whole seconds).
        if a.adver_int == 0 || (self.strict_interval && a.interval() != self.adver_int) {
            return Err(DropKind::Interval);
        }
        if a.priority != 255 && !same_set(&a.addrs, self.vips) {
            return Err(DropKind::AddrList);
        }
        Ok(())
    }
}

fn same_set(received: &[Ipv4Addr], sorted_ours: &[Ipv4Addr]) -> bool {
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

    /// A real advert captured with tcpdump -w from keepalived 2.2.7 in a lab namespace (vrid 51, prio 110,
    /// 1 s, auth none, VIP 10.16.1.200, sender 10.16.1.2), IPv4 header included as a raw socket reads it.
    /// tcpdump -vv: `10.16.1.2 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 110, authtype none,
    /// intvl 1s, length 20, addrs: 10.16.1.200` (tos 0xc0, ttl 255, id 1).
    const KEEPALIVED_CAPTURE: [u8; 40] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0x80, 0x0a, 0x10, 0x01, 0x02, 0xe0, 0x00,
        0x00, 0x12, // IPv4 header
        0x21, 0x33, 0x6e, 0x01, 0x00, 0x01, 0x64, 0xf2, 0x0a, 0x10, 0x01, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, // VRRP
    ];

    fn vip() -> Vec<Ipv4Addr> {
        vec![Ipv4Addr::new(10, 16, 1, 200)]
    }

    fn ip_wrap(vrrp: &[u8], ttl: u8) -> Vec<u8> {
        let total = (20 + vrrp.len()) as u16;
        let mut p = vec![0x45, 0xc0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0, 10, 16, 1, 3, 224, 0, 0, 18]);
        p.extend_from_slice(vrrp);
        p
    }

    fn expect<'a>(auth: &'a Auth, vips: &'a [Ipv4Addr]) -> Expect<'a> {
        Expect {
            vrid: 51,
            auth,
            adver_int: crate::profile::Interval::from_secs(1),
            vips,
            own: &[],
            owner: false,
            strict_interval: true,
        }
    }

    #[test]
    fn checksum_rfc1071_example() {
        // RFC 1071 §3 example bytes: sum 0xddf2, checksum is its complement.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&d), !0xddf2u16);
        // Odd length pads with a zero byte.
        assert_eq!(checksum(&[0xff]), !0xff00u16);
    }

    #[test]
    fn decodes_keepalived_capture() {
        let r = parse_ipv4(&KEEPALIVED_CAPTURE).unwrap();
        assert_eq!(r.src, Ipv4Addr::new(10, 16, 1, 2));
        assert_eq!(r.ttl, 255);
        assert_eq!(r.advert.vrid, 51);
        assert_eq!(r.advert.priority, 110);
        assert_eq!(r.advert.adver_int, 1);
        assert_eq!(r.advert.auth_type, 0);
        assert_eq!(r.advert.addrs, vip());
        let vips = vip();
        assert_eq!(expect(&Auth::None, &vips).check(&r), Ok(()));
    }

    #[test]
    fn encode_matches_keepalived_bytes() {
        let a = Advert::new(51, 110, 1, &Auth::None, vip());
        assert_eq!(a.encode(), KEEPALIVED_CAPTURE[20..].to_vec());
        assert_eq!(a.wire_len(), 20);
    }

    #[test]
    fn roundtrip_many_addresses_and_password() {
        let addrs: Vec<_> = (1..=20).map(|i| Ipv4Addr::new(192, 168, 7, i)).collect();
        let auth = Auth::password(b"s3cret").unwrap();
        let a = Advert::new(7, 200, 3, &auth, addrs.clone());
        let bytes = a.encode();
        assert_eq!(bytes.len(), 16 + 80);
        assert_eq!(checksum(&bytes), 0);
        let d = Advert::decode(&bytes).unwrap();
        assert_eq!(d, a);
        assert_eq!(&d.auth_data, b"s3cret\0\0");
    }

    #[test]
    fn password_limits() {
        assert!(Auth::password(b"12345678").is_some());
        assert!(Auth::password(b"123456789").is_none());
        assert!(Auth::password(b"").is_none());
        assert_eq!(format!("{:?}", Auth::password(b"x").unwrap()), "pw/********");
    }

    #[test]
    fn rejects_each_structural_fault() {
        let good = Advert::new(51, 100, 1, &Auth::None, vip()).encode();
        assert!(parse_ipv4(&ip_wrap(&good, 255)).is_ok());
        assert_eq!(parse_ipv4(&ip_wrap(&good, 254)), Err(DropKind::Ttl));
        assert_eq!(parse_ipv4(&ip_wrap(&good, 1)), Err(DropKind::Ttl));
        assert_eq!(parse_ipv4(&good[..10]), Err(DropKind::Truncated));

        let mut v3 = good.clone();
        v3[0] = 0x31;
        assert_eq!(Advert::decode(&v3), Err(DropKind::Version));
        let mut t2 = good.clone();
        t2[0] = 0x22;
        assert_eq!(Advert::decode(&t2), Err(DropKind::Type));
        let mut bad_sum = good.clone();
        bad_sum[7] ^= 0x01;
        assert_eq!(Advert::decode(&bad_sum), Err(DropKind::Checksum));
        assert_eq!(Advert::decode(&good[..6]), Err(DropKind::Truncated));
        assert_eq!(Advert::decode(&good[..19]), Err(DropKind::CountMismatch));
        let mut count2 = good.clone();
        count2[3] = 2;
        assert_eq!(Advert::decode(&count2), Err(DropKind::CountMismatch));
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(Advert::decode(&trailing), Err(DropKind::TrailingBytes));

        // IP total length longer than what was read.
        let mut short = ip_wrap(&good, 255);
        short.truncate(30);
        assert_eq!(parse_ipv4(&short), Err(DropKind::Truncated));
        // Not protocol 112.
        let mut udp = ip_wrap(&good, 255);
        udp[9] = 17;
        assert_eq!(parse_ipv4(&udp), Err(DropKind::NotVrrp));
    }

    #[test]
    fn rejects_each_configuration_fault() {
        let vips = vip();
        let pw = Auth::password(b"secret").unwrap();
        let check = |adv: Advert, auth: &Auth| {
            let r = parse_ipv4(&ip_wrap(&adv.encode(), 255)).unwrap();
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
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 2, &Auth::None, vip()).encode(), 255)).unwrap();
        let lenient = Expect { strict_interval: false, ..expect(&Auth::None, &vips) };
        assert_eq!(lenient.check(&r), Ok(()));
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 0, &Auth::None, vip()).encode(), 255)).unwrap();
        assert_eq!(lenient.check(&r), Err(DropKind::Interval), "interval 0 is never valid");
        let other = vec![Ipv4Addr::new(10, 16, 1, 201)];
        assert_eq!(check(Advert::new(51, 100, 1, &Auth::None, other.clone()), &Auth::None), Err(DropKind::AddrList));
        // The owner's advert is accepted whatever its list (§7.1).
        assert_eq!(check(Advert::new(51, 255, 1, &Auth::None, other), &Auth::None), Ok(()));
        // Same set in another order is the same list.
        let two = vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1)];
        let mut sorted = two.clone();
        sorted.sort();
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 1, &Auth::None, two).encode(), 255)).unwrap();
        let e = Expect {
            vrid: 51,
            auth: &Auth::None,
            adver_int: crate::profile::Interval::from_secs(1),
            vips: &sorted,
            own: &[],
            owner: false,
            strict_interval: true,
        };
        assert_eq!(e.check(&r), Ok(()));
        // From our own address.
        let own = [Ipv4Addr::new(10, 16, 1, 3)];
        let r = parse_ipv4(&ip_wrap(&Advert::new(51, 100, 1, &Auth::None, vip()).encode(), 255)).unwrap();
        let e = Expect {
            vrid: 51,
            auth: &Auth::None,
            adver_int: crate::profile::Interval::from_secs(1),
            vips: &vips,
            own: &own,
            owner: false,
            strict_interval: true,
        };
        assert_eq!(e.check(&r), Err(DropKind::OwnAddress));
        let e = Expect {
            vrid: 51,
            auth: &Auth::None,
            adver_int: crate::profile::Interval::from_secs(1),
            vips: &vips,
            own: &[],
            owner: true,
            strict_interval: true,
        };
        assert_eq!(e.check(&r), Err(DropKind::OwnerConflict));
    }

    #[test]
    fn negative_zero_checksum_verifies() {
        // Found by cargo fuzz: 0xffff in the checksum field is a valid ones' complement zero.
        let b = [0x21, 0xf9, 0x36, 0x00, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x12, 0x70, 0xfa, 0x2c, 0xff, 0xff, 0xfa];
        let a = Advert::decode(&b).unwrap();
        assert_eq!((a.vrid, a.priority, a.auth_type, a.adver_int), (0xf9, 0x36, 0x0a, 0xff));
        let again = a.encode();
        assert_eq!(&again[6..8], &[0, 0], "the encoder writes positive zero");
        assert_eq!(again[..6], b[..6]);
        assert_eq!(again[8..], b[8..]);
    }

    #[test]
    fn drop_kind_names_are_unique_and_indexed() {
        let mut names: Vec<_> = DropKind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropKind::ALL.len());
        for (i, k) in DropKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}

/// Property test: the decoder never panics, every input is accepted or rejected with a specific kind,
/// and what it accepts re-encodes to the very same bytes.
#[cfg(test)]
mod property {
    use super::*;

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
        let own = [Ipv4Addr::new(10, 0, 0, 1)];
        for i in 0..120_000u32 {
            let mut p = match i % 3 {
                0 => (0..r.below(80)).map(|_| r.byte()).collect(),
                _ => valid(&mut r),
            };
            if i % 3 == 1 {
                mutate(&mut r, &mut p);
            }
            let res = parse_ipv4(&p).and_then(|rcv| {
                let vips = {
                    let mut v = rcv.advert.addrs.clone();
                    v.sort();
                    v
                };
                let e = Expect {
                    vrid: rcv.advert.vrid,
                    auth: &Auth::None,
                    adver_int: rcv.advert.interval(),
                    vips: &vips,
                    own: &own,
                    owner: false,
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
