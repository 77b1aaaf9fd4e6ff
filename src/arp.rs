//! Gratuitous ARP frames (pure).

use std::net::Ipv4Addr;

pub const BROADCAST: [u8; 6] = [0xff; 6];
/// Ethernet minimum frame without FCS.
const FRAME_LEN: usize = 60;

/// A gratuitous ARP request: "who has `ip`? tell `ip`", sender `mac`, to the broadcast address.
/// This form updates existing entries on every common stack and creates them where `arp_accept` allows.
pub fn gratuitous(mac: [u8; 6], ip: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&BROADCAST);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

/// 00:00:5e:00:01:XX, the VRRP virtual MAC range.
pub fn is_virtual_mac(m: &[u8; 6]) -> bool {
    m[..5] == [0x00, 0x00, 0x5e, 0x00, 0x01]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gratuitous_request_layout() {
        let mac = [0, 0, 0x5e, 0, 1, 51];
        let f = gratuitous(mac, Ipv4Addr::new(10, 16, 1, 200));
        assert_eq!(&f[..6], &BROADCAST);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[14..22], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &[10, 16, 1, 200]);
        assert_eq!(&f[38..42], &[10, 16, 1, 200], "target = sender: gratuitous");
        assert!(f[42..].iter().all(|&b| b == 0));
    }

    #[test]
    fn mac_text() {
        let m = [0, 0, 0x5e, 0, 1, 0xff];
        assert_eq!(fmt_mac(&m), "00:00:5e:00:01:ff");
        assert_eq!(parse_mac("00:00:5e:00:01:ff"), Some(m));
        assert_eq!(parse_mac("00:00:5e:00:01"), None);
        assert_eq!(parse_mac("00:00:5e:00:01:ff:00"), None);
        assert_eq!(parse_mac("zz:00:5e:00:01:ff"), None);
        assert!(is_virtual_mac(&m));
        assert!(!is_virtual_mac(&[2, 0, 0x5e, 0, 1, 1]));
    }
}
