//! Unsolicited Neighbor Advertisements (RFC 4861 §4.4, §7.2.6): the whole Ethernet frame, pure.
//!
//! The IPv6 twin of the gratuitous ARP: "`target` is at `mac`", router and override flags set, to
//! all nodes (ff02::1), hop limit 255, from our link-local address, with the target link-layer option.

use crate::wire::{self, Pseudo};
use std::net::Ipv6Addr;

/// Ethernet header, IPv6 header, ICMPv6 NA (24 bytes) and the target link-layer address option (8).
pub const FRAME_LEN: usize = 14 + 40 + 32;
/// ICMPv6 type of a Neighbor Advertisement.
pub const ICMPV6_NA: u8 = 136;
/// IPv6 next header of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// All-nodes, where unsolicited advertisements go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Router (R) and Override (O) flags, the first byte of the flags word (Solicited is 0: unsolicited).
const FLAGS_R_O: u8 = 0x80 | 0x20;
/// Option type: target link-layer address.
const OPT_TARGET_LLADDR: u8 = 2;

/// The Ethernet multicast address of an IPv6 group: 33:33 and its low 32 bits (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The ICMPv6 checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and the message.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut all = Vec::with_capacity(40 + msg.len());
    all.extend_from_slice(&src.octets());
    all.extend_from_slice(&dst.octets());
    all.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    all.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    all.extend_from_slice(msg);
    wire::checksum(Pseudo::None, &all)
}

/// An unsolicited NA frame: `target` is at `mac`, sent from `mac` and `src` (our link-local address).
pub fn unsolicited_na(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&multicast_mac(ALL_NODES));
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    let ip = &mut f[14..54];
    ip[0] = 0x60; // version 6, traffic class 0, flow label 0
    ip[4..6].copy_from_slice(&32u16.to_be_bytes());
    ip[6] = IPPROTO_ICMPV6;
    ip[7] = 255;
    ip[8..24].copy_from_slice(&src.octets());
    ip[24..40].copy_from_slice(&ALL_NODES.octets());
    let m = &mut f[54..];
    m[0] = ICMPV6_NA;
    m[4] = FLAGS_R_O;
    m[8..24].copy_from_slice(&target.octets());
    m[24] = OPT_TARGET_LLADDR;
    m[25] = 1; // in units of 8 bytes
    m[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(src, ALL_NODES, m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn na_frame_bytes() {
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];
        let src: Ipv6Addr = "fe80::ff:fe00:101".parse().unwrap();
        let target: Ipv6Addr = "2001:db8:16::1".parse().unwrap();
        let f = unsolicited_na(mac, src, target);
        #[rustfmt::skip]
        let want: [u8; FRAME_LEN] = [
            // Ethernet: 33:33:00:00:00:01 <- the MAC, IPv6.
            0x33, 0x33, 0, 0, 0, 1, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x86, 0xdd,
            // IPv6: payload 32, next header 58, hop limit 255, fe80::ff:fe00:101 -> ff02::1.
            0x60, 0, 0, 0, 0, 32, 58, 255,
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0x01, 0x01,
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            // ICMPv6 NA, code 0, checksum (computed apart with Python), R|O, target.
            136, 0, 0x4b, 0x1a, 0xa0, 0, 0, 0,
            0x20, 0x01, 0x0d, 0xb8, 0, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            // Target link-layer address option.
            2, 1, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33,
        ];
        assert_eq!(f, want);
        // A message with its checksum sums to zero over the pseudo-header.
        assert_eq!(icmpv6_checksum(src, ALL_NODES, &f[54..]), 0);
    }

    #[test]
    fn multicast_mac_of_groups() {
        assert_eq!(multicast_mac(ALL_NODES), [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(multicast_mac("ff02::12".parse().unwrap()), [0x33, 0x33, 0, 0, 0, 0x12]);
    }
}
