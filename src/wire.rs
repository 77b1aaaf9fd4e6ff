//! The VRRP packet view (smoltcp style): typed field access over a byte buffer with its length checked
//! once, and the Internet checksum over an optional pseudo-header that the caller supplies (none for
//! VRRPv2, the IPv4 or IPv6 pseudo-header for VRRPv3). [`crate::packet::Advert`] is the `Repr` that
//! parses from and emits into this view.

use crate::profile::Family;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// VRRP fixed header: version/type, vrid, priority, count, then (v2) auth type + interval or (v3)
/// reserved + max interval, then the checksum.
pub const HEADER_LEN: usize = 8;

/// What the checksum covers besides the VRRP message itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pseudo {
    /// VRRPv2: the message only.
    None,
    /// VRRPv3 over IPv4: source, destination, zero, protocol 112, VRRP length (RFC 5798 §5.2.8).
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    /// VRRPv3 over IPv6: source, destination, upper-layer length (32 bits), zeros, next header 112
    /// (RFC 2460 §8.1).
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl Pseudo {
    /// The pseudo-header of a VRRPv3 message between these addresses (`None` when the families differ).
    pub fn v3(src: IpAddr, dst: IpAddr) -> Option<Pseudo> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(Pseudo::V4 { src, dst }),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Some(Pseudo::V6 { src, dst }),
            _ => None,
        }
    }
}

/// Ones' complement Internet checksum (RFC 1071) of `pseudo` followed by `data`.
pub fn checksum(pseudo: Pseudo, data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    };
    match pseudo {
        Pseudo::None => {}
        Pseudo::V4 { src, dst } => {
            add(&src.octets());
            add(&dst.octets());
            add(&[0, crate::packet::IPPROTO_VRRP]);
            add(&(data.len() as u16).to_be_bytes());
        }
        Pseudo::V6 { src, dst } => {
            add(&src.octets());
            add(&dst.octets());
            add(&(data.len() as u32).to_be_bytes());
            add(&[0, 0, 0, crate::packet::IPPROTO_VRRP]);
        }
    }
    add(data);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A read view of a VRRP message; [`Packet::new_checked`] guarantees the fixed header is there.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// A buffer too short for the fixed header.
#[derive(Debug, PartialEq, Eq)]
pub struct Truncated;

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Truncated> {
        if buffer.as_ref().len() < HEADER_LEN { Err(Truncated) } else { Ok(Packet { buffer }) }
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn len(&self) -> usize {
        self.b().len()
    }
    pub fn is_empty(&self) -> bool {
        self.b().is_empty()
    }
    pub fn version(&self) -> u8 {
        self.b()[0] >> 4
    }
    pub fn kind(&self) -> u8 {
        self.b()[0] & 0x0f
    }
    pub fn vrid(&self) -> u8 {
        self.b()[1]
    }
    pub fn priority(&self) -> u8 {
        self.b()[2]
    }
    pub fn count(&self) -> usize {
        usize::from(self.b()[3])
    }
    /// v2: Auth Type.
    pub fn auth_type(&self) -> u8 {
        self.b()[4]
    }
    /// v2: Adver Int, whole seconds.
    pub fn adver_int_v2(&self) -> u8 {
        self.b()[5]
    }
    /// v3: Max Adver Int, 12 bits of centiseconds.
    pub fn max_adver_int_v3(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]]) & 0x0fff
    }
    pub fn checksum_field(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    /// True when the checksum over `pseudo` and the message verifies.
    pub fn verify_checksum(&self, pseudo: Pseudo) -> bool {
        checksum(pseudo, self.b()) == 0
    }
    /// The `count` IPv4 addresses after the header (the caller checked the length).
    pub fn ipv4_addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.b()[HEADER_LEN..].chunks_exact(4).take(self.count()).map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
    }
    /// The `count` addresses of `family` after the header (the caller checked the length).
    pub fn addrs(&self, family: Family) -> impl Iterator<Item = IpAddr> + '_ {
        self.b()[HEADER_LEN..].chunks_exact(family.addr_len()).take(self.count()).map(|c| {
            match <[u8; 16]>::try_from(c) {
                Ok(b16) => IpAddr::V6(Ipv6Addr::from(b16)),
                Err(_) => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
            }
        })
    }
    /// The bytes after the header and `n` bytes of addresses (v2: the authentication data).
    pub fn after_addrs(&self, addr_len: usize) -> &[u8] {
        &self.b()[(HEADER_LEN + self.count() * addr_len).min(self.len())..]
    }
}

/// Writes the checksum of a message whose checksum field is zero.
pub fn fill_checksum(msg: &mut [u8], pseudo: Pseudo) {
    if msg.len() >= HEADER_LEN {
        msg[6..8].copy_from_slice(&[0, 0]);
        let c = checksum(pseudo, msg);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_rfc1071_example_and_odd_length() {
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(Pseudo::None, &d), !0xddf2u16);
        assert_eq!(checksum(Pseudo::None, &[0xff]), !0xff00u16);
    }

    #[test]
    fn view_fields_of_a_keepalived_v2_advert() {
        // vrid 51, prio 110, 1 address, auth none, 1 s (see packet.rs KEEPALIVED_CAPTURE).
        let b = [0x21, 0x33, 0x6e, 0x01, 0x00, 0x01, 0x64, 0xf2, 10, 16, 1, 200, 0, 0, 0, 0, 0, 0, 0, 0];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.kind(), p.vrid(), p.priority(), p.count()), (2, 1, 51, 110, 1));
        assert_eq!((p.auth_type(), p.adver_int_v2(), p.checksum_field()), (0, 1, 0x64f2));
        assert_eq!(p.ipv4_addrs().collect::<Vec<_>>(), vec![Ipv4Addr::new(10, 16, 1, 200)]);
        assert_eq!(p.after_addrs(4), &[0u8; 8]);
        assert!(p.verify_checksum(Pseudo::None));
        assert_eq!(Packet::new_checked(&b[..7]).unwrap_err(), Truncated);
    }

    #[test]
    fn v3_pseudo_header_checksum() {
        // A VRRPv3 message (vrid 51, prio 110, 1 address, 1 cs) from 10.16.1.2 to 224.0.0.18: the checksum
        // written over the pseudo-header verifies with it and not without it.
        let mut m = vec![0x31, 0x33, 0x6e, 0x01, 0x00, 0x01, 0, 0, 10, 16, 1, 200];
        let pseudo = Pseudo::V4 { src: Ipv4Addr::new(10, 16, 1, 2), dst: Ipv4Addr::new(224, 0, 0, 18) };
        fill_checksum(&mut m, pseudo);
        let p = Packet::new_checked(&m[..]).unwrap();
        assert!(p.verify_checksum(pseudo));
        assert!(!p.verify_checksum(Pseudo::None));
        assert_eq!(p.max_adver_int_v3(), 1);
        // By hand: sum of the pseudo-header and message words.
        let words: u32 =
            [0x0a10, 0x0102, 0xe000, 0x0012, 0x0070, 0x000c, 0x3133, 0x6e01, 0x0001, 0x0a10, 0x01c8].iter().sum();
        let folded = (words & 0xffff) + (words >> 16);
        assert_eq!(p.checksum_field(), !(folded as u16));
    }
}
