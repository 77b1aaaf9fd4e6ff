//! The VRRP advertisement `Repr` (RFC 3768 §5 for v2, RFC 5798 §5 for v3): [`Advert`] parses from and
//! emits into the packet view of [`crate::wire`]. Pure: no I/O; the receive checks are in [`crate::accept`].
//!
//! ```text
//!  v2: |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//!      |   Auth Type   |   Adver Int   |          Checksum             |
//!      |                IP Address (1..n), Authentication Data (8)     |
//!  v3: |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//!      |(rsvd) |     Max Adver Int     |          Checksum             |
//!      |                IPvX Address (1..n)                            |
//! ```

use crate::profile::{Family, Interval, Version};
use crate::wire::{self, Packet, Pseudo};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

pub use crate::drops::DropKind;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 VRRP multicast group.
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// v2: fixed header + authentication data; each address adds 4 bytes.
pub const MIN_LEN: usize = 16;
use wire::HEADER_LEN;
const AUTH_LEN: usize = 8;
const TYPE_ADVERT: u8 = 1;
/// Largest count that fits the 8-bit field.
pub const MAX_ADDRS: usize = 255;
/// Largest v3 Max Adver Int (12 bits of centiseconds: 40.95 s).
pub const MAX_V3_CENTIS: u16 = 0x0fff;

/// Authentication (RFC 2338 §5.3.6; RFC 3768 keeps type 0 and accepts 1 for compatibility; v3 has none).
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
    pub(crate) fn data(&self) -> [u8; 8] {
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
    pub version: Version,
    pub family: Family,
    pub vrid: u8,
    pub priority: u8,
    /// v2 only (0 in v3).
    pub auth_type: u8,
    /// v2 only (zeros in v3).
    pub auth_data: [u8; 8],
    /// v2: Adver Int (whole seconds on the wire); v3: Max Adver Int (centiseconds).
    pub interval: Interval,
    pub addrs: Vec<IpAddr>,
}

/// Ones' complement Internet checksum (RFC 1071) of a VRRPv2 message (no pseudo-header).
pub fn checksum(data: &[u8]) -> u16 {
    wire::checksum(Pseudo::None, data)
}

impl Advert {
    /// A VRRPv2 advert (IPv4, whole seconds).
    pub fn new(vrid: u8, priority: u8, adver_int: u8, auth: &Auth, addrs: Vec<Ipv4Addr>) -> Advert {
        Advert {
            version: Version::V2,
            family: Family::V4,
            vrid,
            priority,
            auth_type: auth.type_code(),
            auth_data: auth.data(),
            interval: Interval::from_secs(adver_int),
            addrs: addrs.into_iter().map(IpAddr::V4).collect(),
        }
    }

    /// A VRRPv3 advert of `family` (the addresses of another family are left out when emitted).
    pub fn v3(vrid: u8, priority: u8, interval: Interval, family: Family, addrs: Vec<IpAddr>) -> Advert {
        let addrs = addrs.into_iter().filter(|a| Family::of(*a) == family).collect();
        Advert { version: Version::V3, family, vrid, priority, auth_type: 0, auth_data: [0; 8], interval, addrs }
    }

    /// The advertised interval.
    pub fn interval(&self) -> Interval {
        self.interval
    }

    fn written_addrs(&self) -> usize {
        self.addrs.len().min(MAX_ADDRS)
    }

    /// Length of the message as emitted (addresses capped at [`MAX_ADDRS`]).
    pub fn wire_len(&self) -> usize {
        let addrs = self.written_addrs() * self.family.addr_len();
        match self.version {
            Version::V2 => HEADER_LEN + addrs + AUTH_LEN,
            Version::V3 => HEADER_LEN + addrs,
        }
    }

    /// Encodes a VRRPv2 message (not the IP header), checksum included. For v3, use
    /// [`Advert::encode_with`] and the pseudo-header.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(Pseudo::None)
    }

    /// Encodes the message with the checksum over `pseudo` and the message.
    pub fn encode_with(&self, pseudo: Pseudo) -> Vec<u8> {
        let mut b = vec![0u8; self.wire_len()];
        self.emit(&mut b, pseudo);
        b
    }

    /// Emits into `b` (exactly [`Advert::wire_len`] bytes), with the checksum over `pseudo` and the message.
    pub fn emit(&self, b: &mut [u8], pseudo: Pseudo) {
        let addrs = &self.addrs[..self.written_addrs()];
        b[0] = (self.version.number() << 4) | TYPE_ADVERT;
        b[1] = self.vrid;
        b[2] = self.priority;
        b[3] = addrs.len() as u8;
        match self.version {
            Version::V2 => {
                b[4] = self.auth_type;
                b[5] = u8::try_from(self.interval.centis() / 100).unwrap_or(u8::MAX);
            }
            Version::V3 => b[4..6].copy_from_slice(&self.interval.centis().min(MAX_V3_CENTIS).to_be_bytes()),
        }
        b[6..8].copy_from_slice(&[0, 0]);
        let mut at = HEADER_LEN;
        for a in addrs {
            match a {
                IpAddr::V4(a) => b[at..at + 4].copy_from_slice(&a.octets()),
                IpAddr::V6(a) => b[at..at + 16].copy_from_slice(&a.octets()),
            }
            at += self.family.addr_len();
        }
        if self.version == Version::V2 {
            b[at..at + AUTH_LEN].copy_from_slice(&self.auth_data);
            at += AUTH_LEN;
        }
        wire::fill_checksum(&mut b[..at], pseudo);
    }

    /// Decodes a VRRPv2 message (no IP header): version, type, length and checksum checks.
    pub fn decode(b: &[u8]) -> Result<Advert, DropKind> {
        let p = Packet::new_checked(b).map_err(|_| DropKind::Truncated)?;
        Advert::parse(&p, Version::V2, Family::V4, Pseudo::None)
    }

    /// Parses the view as an advert of `version` and `family`: version, type, length, then the checksum
    /// over `pseudo` and the message (RFC 3768 §7.1, RFC 5798 §7.1).
    pub fn parse<T: AsRef<[u8]>>(
        p: &Packet<T>,
        version: Version,
        family: Family,
        pseudo: Pseudo,
    ) -> Result<Advert, DropKind> {
        match (p.version(), version) {
            (2, Version::V2) | (3, Version::V3) => {}
            (2, Version::V3) => return Err(DropKind::V2OnV3),
            (3, Version::V2) => return Err(DropKind::V3OnV2),
            _ => return Err(DropKind::Version),
        }
        if p.kind() != TYPE_ADVERT {
            return Err(DropKind::Type);
        }
        let auth_len = if version == Version::V2 { AUTH_LEN } else { 0 };
        let need = HEADER_LEN + family.addr_len() * p.count() + auth_len;
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
        let (auth_type, interval) = match version {
            Version::V2 => {
                auth_data.copy_from_slice(p.after_addrs(family.addr_len()));
                (p.auth_type(), Interval::from_secs(p.adver_int_v2()))
            }
            Version::V3 => (0, Interval::from_centis(p.max_adver_int_v3())),
        };
        Ok(Advert {
            version,
            family,
            vrid: p.vrid(),
            priority: p.priority(),
            auth_type,
            auth_data,
            interval,
            addrs: p.addrs(family).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    /// The VRRP part of a real advert captured with tcpdump -w from keepalived 2.2.7 in a lab namespace
    /// (vrid 51, prio 110, 1 s, auth none, VIP 10.16.1.200, sender 10.16.1.2). tcpdump -vv:
    /// `VRRPv2, Advertisement, vrid 51, prio 110, authtype none, intvl 1s, length 20, addrs: 10.16.1.200`.
    pub(crate) const KEEPALIVED_V2: [u8; 20] =
        [0x21, 0x33, 0x6e, 0x01, 0x00, 0x01, 0x64, 0xf2, 0x0a, 0x10, 0x01, 0xc8, 0, 0, 0, 0, 0, 0, 0, 0];

    fn vip() -> Vec<Ipv4Addr> {
        vec![Ipv4Addr::new(10, 16, 1, 200)]
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
    fn v2_encode_matches_keepalived_bytes_and_decodes_back() {
        let a = Advert::new(51, 110, 1, &Auth::None, vip());
        assert_eq!(a.encode(), KEEPALIVED_V2.to_vec());
        assert_eq!(Advert::decode(&KEEPALIVED_V2), Ok(a));
    }

    #[test]
    fn v3_ipv4_bytes() {
        // vrid 51, prio 110, 1 cs, 10.16.1.200, from 10.16.1.2 to 224.0.0.18: the checksum is over the
        // pseudo-header (the sum by hand is in wire.rs's v3 test).
        let src = Ipv4Addr::new(10, 16, 1, 2);
        let pseudo = Pseudo::V4 { src, dst: VRRP_GROUP };
        let a = Advert::v3(51, 110, Interval::from_centis(1), Family::V4, vec![IpAddr::V4(vip()[0])]);
        let b = a.encode_with(pseudo);
        assert_eq!(b.len(), 12);
        assert_eq!(&b[..6], &[0x31, 0x33, 0x6e, 0x01, 0x00, 0x01]);
        assert_eq!(&b[8..], &[10, 16, 1, 200]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Advert::parse(&p, Version::V3, Family::V4, pseudo), Ok(a.clone()));
        // The pseudo-header matters; the version must match the router's.
        assert_eq!(Advert::parse(&p, Version::V3, Family::V4, Pseudo::None), Err(DropKind::Checksum));
        assert_eq!(Advert::parse(&p, Version::V2, Family::V4, Pseudo::None), Err(DropKind::V3OnV2));
        let v2 = Packet::new_checked(&KEEPALIVED_V2[..]).unwrap();
        assert_eq!(Advert::parse(&v2, Version::V3, Family::V4, pseudo), Err(DropKind::V2OnV3));
        // 12 bits: 40.95 s is the largest interval; the reserved bits are ignored on receive.
        let big = Advert::v3(51, 110, Interval::from_centis(4095), Family::V4, vec![IpAddr::V4(vip()[0])]);
        let mut b = big.encode_with(pseudo);
        assert_eq!(&b[4..6], &[0x0f, 0xff]);
        b[4] |= 0xf0;
        wire::fill_checksum(&mut b, pseudo);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Advert::parse(&p, Version::V3, Family::V4, pseudo).map(|a| a.interval),
            Ok(Interval::from_centis(4095))
        );
    }

    #[test]
    fn v3_ipv6_bytes_and_other_family_left_out() {
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let g: Ipv6Addr = "2001:db8:16::1".parse().unwrap();
        let src: Ipv6Addr = "fe80::2".parse().unwrap();
        let pseudo = Pseudo::V6 { src, dst: "ff02::12".parse().unwrap() };
        let mixed = vec![IpAddr::V6(ll), IpAddr::V4(vip()[0]), IpAddr::V6(g)];
        let a = Advert::v3(51, 100, Interval::from_centis(10), Family::V6, mixed);
        assert_eq!(a.addrs, vec![IpAddr::V6(ll), IpAddr::V6(g)]);
        let b = a.encode_with(pseudo);
        assert_eq!(b.len(), 8 + 32);
        assert_eq!(b[3], 2);
        assert_eq!(&b[8..24], &ll.octets());
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Advert::parse(&p, Version::V3, Family::V6, pseudo), Ok(a));
        // Read as IPv4, the same bytes do not add up.
        assert_eq!(Advert::parse(&p, Version::V3, Family::V4, pseudo), Err(DropKind::TrailingBytes));
    }

    #[test]
    fn roundtrip_many_addresses_and_password() {
        let addrs: Vec<_> = (1..=20).map(|i| Ipv4Addr::new(192, 168, 7, i)).collect();
        let auth = Auth::password(b"s3cret").unwrap();
        let a = Advert::new(7, 200, 3, &auth, addrs.clone());
        let bytes = a.encode();
        assert_eq!(bytes.len(), MIN_LEN + 4 * 20);
        assert_eq!(checksum(&bytes), 0, "a message with its checksum sums to zero");
        let d = Advert::decode(&bytes).unwrap();
        assert_eq!(d, a);
        assert_eq!(&d.auth_data[..6], b"s3cret");
    }

    #[test]
    fn password_limits() {
        assert!(Auth::password(b"").is_none());
        assert!(Auth::password(b"123456789").is_none());
        assert!(Auth::password(b"12345678").is_some());
        assert_eq!(format!("{:?}", Auth::password(b"x").unwrap()), "pw/********");
    }

    #[test]
    fn rejects_each_structural_fault() {
        let good = Advert::new(51, 100, 1, &Auth::None, vip()).encode();
        let mut v4 = good.clone();
        v4[0] = 0x41;
        assert_eq!(Advert::decode(&v4), Err(DropKind::Version));
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
    }

    #[test]
    fn negative_zero_checksum_verifies() {
        // Found by cargo fuzz: 0xffff in the checksum field is a valid ones' complement zero.
        let b = [0x21, 0xf9, 0x36, 0x00, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x12, 0x70, 0xfa, 0x2c, 0xff, 0xff, 0xfa];
        let a = Advert::decode(&b).unwrap();
        assert_eq!((a.vrid, a.priority, a.auth_type, a.interval), (0xf9, 0x36, 0x0a, Interval::from_secs(0xff)));
        let again = a.encode();
        assert_eq!(&again[6..8], &[0, 0], "the encoder writes positive zero");
        assert_eq!(again[..6], b[..6]);
        assert_eq!(again[8..], b[8..]);
    }
}
