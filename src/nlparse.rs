//! Reading rtnetlink answers and notifications (pure): just the fields vrrpd uses, from links and
//! IPv4 and IPv6 addresses, and routes kept raw to be put back (requests: `nlreq`). A general decoder
//! (netlink-packet-route: link kinds, statistics, VF info...) would page in hundreds of KiB of parsing
//! code per process for fields that are thrown away.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_NEWNEIGH: u16 = 28;
const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFF_UP: u32 = 1;
const IFF_LOOPBACK: u32 = 1 << 3;
const ARPHRD_ETHER: u16 = 1;
const IFF_LOWER_UP: u32 = 1 << 16;
const IFA_F_SECONDARY: u8 = 1;
const AF_INET: u8 = 2;

/// One netlink message: its header fields and its payload (after the 16-byte header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub kind: u16,
    pub seq: u32,
    pub payload: &'a [u8],
    /// The whole message, header included.
    pub raw: &'a [u8],
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}
fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Splits a datagram into its messages; stops at the first malformed header.
pub fn messages(buf: &[u8]) -> Vec<Msg<'_>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let Some(len) = u32_at(buf, off).map(|l| l as usize) else { break };
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        let (Some(kind), Some(seq)) = (u16_at(buf, off + 4), u32_at(buf, off + 8)) else { break };
        out.push(Msg { kind, seq, payload: &buf[off + NLMSG_HDRLEN..off + len], raw: &buf[off..off + len] });
        off += align4(len);
    }
    out
}

/// The error code of an NLMSG_ERROR message (0 = acknowledgement, negative errno otherwise).
pub fn error_code(m: &Msg) -> Option<i32> {
    (m.kind == NLMSG_ERROR).then(|| u32_at(m.payload, 0).map(|c| c as i32)).flatten()
}

/// Attributes (type as sent, nested/byte-order flags included; value).
fn attrs_raw(b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let len = u16_at(b, off)? as usize;
        let kind = u16_at(b, off + 2)?;
        if len < 4 || off + len > b.len() {
            return None;
        }
        let v = &b[off + 4..off + len];
        off += align4(len);
        Some((kind, v))
    })
}

/// Attributes (type without the nested/byte-order flags, value).
fn attrs(b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    attrs_raw(b).map(|(k, v)| (k & NLA_TYPE_MASK, v))
}

const NLA_TYPE_MASK: u16 = 0x3fff;

fn c_string(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// What vrrpd needs of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// Administratively up.
    pub up: bool,
    /// Carrier present (IFF_LOWER_UP).
    pub lower_up: bool,
    /// An Ethernet-like link (ARPHRD_ETHER, not loopback): its MAC can be changed and given back.
    pub ethernet: bool,
}

impl Link {
    /// Usable for VRRP: up with a carrier.
    pub fn usable(&self) -> bool {
        self.up && self.lower_up
    }
}

/// An RTM_NEWLINK / RTM_DELLINK payload.
pub fn link(payload: &[u8]) -> Option<Link> {
    if payload.len() < IFINFOMSG_LEN {
        return None;
    }
    let kind = u16::from_ne_bytes([payload[2], payload[3]]);
    let index = u32_at(payload, 4)?;
    let flags = u32_at(payload, 8)?;
    let mut l = Link {
        index,
        name: String::new(),
        mac: None,
        up: flags & IFF_UP != 0,
        lower_up: flags & IFF_LOWER_UP != 0,
        ethernet: kind == ARPHRD_ETHER && flags & IFF_LOOPBACK == 0,
    };
    for (kind, v) in attrs(&payload[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_IFNAME => l.name = c_string(v),
            IFLA_ADDRESS if v.len() == 6 => l.mac = v.try_into().ok(),
            _ => {}
        }
    }
    Some(l)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub label: Option<String>,
    pub secondary: bool,
}

/// An RTM_NEWADDR / RTM_DELADDR payload; `None` for other families.
pub fn addr(payload: &[u8]) -> Option<Addr> {
    if payload.len() < IFADDRMSG_LEN || payload[0] != AF_INET {
        return None;
    }
    let (prefix, flags, index) = (payload[1], payload[2], u32_at(payload, 4)?);
    let (mut local, mut address, mut label) = (None, None, None);
    for (kind, v) in attrs(&payload[IFADDRMSG_LEN..]) {
        let ip = <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from);
        match kind {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            IFA_LABEL => label = Some(c_string(v)),
            _ => {}
        }
    }
    Some(Addr { index, addr: local.or(address)?, prefix, label, secondary: flags & IFA_F_SECONDARY != 0 })
}

const AF_INET6: u8 = 10;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
/// Address flags (linux/if_addr.h).
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_DEPRECATED: u32 = 0x20;
pub const IFA_F_TENTATIVE: u32 = 0x40;

/// An IPv6 address of an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr6 {
    pub index: u32,
    pub addr: Ipv6Addr,
    pub prefix: u8,
    /// IFA_FLAGS when present (32 bits), else the header's 8.
    pub flags: u32,
    /// Preferred lifetime in seconds (IFA_CACHEINFO; u32::MAX = forever).
    pub preferred: Option<u32>,
}

impl Addr6 {
    /// Usable as a source now: neither tentative nor a failed duplicate.
    pub fn usable(&self) -> bool {
        self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0
    }
}

/// An RTM_NEWADDR / RTM_DELADDR payload of an IPv6 address; `None` for other families.
pub fn addr6(payload: &[u8]) -> Option<Addr6> {
    if payload.len() < IFADDRMSG_LEN || payload[0] != AF_INET6 {
        return None;
    }
    let (prefix, mut flags, index) = (payload[1], u32::from(payload[2]), u32_at(payload, 4)?);
    let (mut local, mut address, mut preferred) = (None, None, None);
    for (kind, v) in attrs(&payload[IFADDRMSG_LEN..]) {
        let ip = <[u8; 16]>::try_from(v).ok().map(Ipv6Addr::from);
        match kind {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            IFA_FLAGS => flags = u32_at(v, 0).unwrap_or(flags),
            IFA_CACHEINFO => preferred = u32_at(v, 0),
            _ => {}
        }
    }
    Some(Addr6 { index, addr: local.or(address)?, prefix, flags, preferred })
}

const RTMSG_LEN: usize = 12;
const RTA_OIF: u16 = 4;
const RTPROT_KERNEL: u8 = 2;
const RTN_LOCAL: u8 = 2;
const RTN_BROADCAST: u8 = 3;

/// A route as the kernel dumped it, kept raw to be compared and put back: its `struct rtmsg`
/// (family, dst/src length, tos, table, protocol, scope, type, flags) and its attributes (type as
/// sent, value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub header: [u8; RTMSG_LEN],
    pub attrs: Vec<(u16, Vec<u8>)>,
}

impl Route {
    pub fn protocol(&self) -> u8 {
        self.header[5]
    }
    pub fn kind(&self) -> u8 {
        self.header[7]
    }
    pub fn flags(&self) -> u32 {
        u32::from_ne_bytes([self.header[8], self.header[9], self.header[10], self.header[11]])
    }
    /// The value of an attribute (type compared without its flags).
    pub fn attr(&self, kind: u16) -> Option<&[u8]> {
        self.attrs.iter().find(|(k, _)| k & NLA_TYPE_MASK == kind).map(|(_, v)| v.as_slice())
    }
    /// The output interface (RTA_OIF).
    pub fn oif(&self) -> Option<u32> {
        self.attr(RTA_OIF).and_then(|v| u32_at(v, 0))
    }
    /// Re-created by the kernel itself when a link or address comes back (protocol kernel, local
    /// and broadcast routes).
    pub fn kernel_managed(&self) -> bool {
        self.protocol() == RTPROT_KERNEL || self.kind() == RTN_LOCAL || self.kind() == RTN_BROADCAST
    }
}

/// An RTM_NEWROUTE payload.
pub fn route(payload: &[u8]) -> Option<Route> {
    let header: [u8; RTMSG_LEN] = payload.get(..RTMSG_LEN)?.try_into().ok()?;
    let attrs = attrs_raw(&payload[RTMSG_LEN..]).map(|(k, v)| (k, v.to_vec())).collect();
    Some(Route { header, attrs })
}

/// NUD_INCOMPLETE, NUD_FAILED (linux/neighbour.h): an entry that has no link-layer address, whose
/// queue holds what was sent to it.
const NUD_UNRESOLVED: u16 = 0x01 | 0x20;
const NDMSG_LEN: usize = 12;

/// A neighbour entry (RTM_NEWNEIGH payload): its NUD state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neigh {
    pub state: u16,
}

impl Neigh {
    /// Being resolved (INCOMPLETE) or given up (FAILED): no link-layer address yet.
    pub fn unresolved(&self) -> bool {
        self.state & NUD_UNRESOLVED != 0
    }
}

pub fn neigh(payload: &[u8]) -> Option<Neigh> {
    (payload.len() >= NDMSG_LEN).then(|| Some(Neigh { state: u16_at(payload, 8)? })).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_message_state() {
        // ndmsg: family, pad, pad, index 3, state, flags, type; then NDA_DST.
        let mut p = vec![AF_INET, 0, 0, 0];
        p.extend_from_slice(&3u32.to_ne_bytes());
        p.extend_from_slice(&0x01u16.to_ne_bytes());
        p.extend_from_slice(&[0, 1]);
        p.extend(attr(1, &[192, 0, 2, 2]));
        assert!(neigh(&p).unwrap().unresolved(), "INCOMPLETE");
        p[8..10].copy_from_slice(&0x20u16.to_ne_bytes());
        assert!(neigh(&p).unwrap().unresolved(), "FAILED");
        for resolved in [0x02u16, 0x04, 0x08, 0x10, 0x40, 0x80] {
            p[8..10].copy_from_slice(&resolved.to_ne_bytes());
            assert!(!neigh(&p).unwrap().unresolved(), "state {resolved:#x}");
        }
        assert_eq!(neigh(&p[..11]), None);
    }

    #[test]
    fn route_message_raw_fields() {
        // 203.0.113.0/24 via 192.0.2.254, table main (254), protocol boot (3), type unicast, onlink.
        let mut p = vec![AF_INET, 24, 0, 0, 254, 3, 0, 1];
        p.extend_from_slice(&4u32.to_ne_bytes());
        p.extend(attr(1, &[203, 0, 113, 0]));
        p.extend(attr(RTA_OIF, &5u32.to_ne_bytes()));
        p.extend(attr(0x8000 | 8, &attr(2, &1400u32.to_ne_bytes())));
        let r = route(&p).unwrap();
        assert_eq!((r.protocol(), r.kind(), r.flags(), r.oif()), (3, 1, 4, Some(5)));
        assert_eq!(r.attrs.len(), 3);
        assert_eq!(r.attrs[2].0, 0x8000 | 8, "the nested flag is kept for re-emission");
        assert_eq!(r.attr(8).map(<[u8]>::len), Some(8));
        assert!(!r.kernel_managed());
        p[5] = RTPROT_KERNEL;
        assert!(route(&p).unwrap().kernel_managed());
        p[5] = 3;
        p[7] = RTN_LOCAL;
        assert!(route(&p).unwrap().kernel_managed());
        assert_eq!(route(&p[..8]), None);
    }

    #[test]
    fn ipv6_address_message_flags_and_lifetimes() {
        let mut p = vec![AF_INET6, 64, 0x40, 0];
        p.extend_from_slice(&4u32.to_ne_bytes());
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        p.extend(attr(IFA_ADDRESS, &ll.octets()));
        let a = addr6(&p).unwrap();
        assert_eq!((a.index, a.addr, a.prefix, a.preferred), (4, ll, 64, None));
        assert!(!a.usable(), "tentative from the header's flags");
        let mut ci = Vec::new();
        for v in [0u32, u32::MAX, 1, 2] {
            ci.extend_from_slice(&v.to_ne_bytes());
        }
        p.extend(attr(IFA_CACHEINFO, &ci));
        p.extend(attr(IFA_FLAGS, &(IFA_F_NODAD | IFA_F_DEPRECATED).to_ne_bytes()));
        let a = addr6(&p).unwrap();
        assert_eq!((a.flags, a.preferred), (IFA_F_NODAD | IFA_F_DEPRECATED, Some(0)));
        assert!(a.usable());
        p[0] = AF_INET;
        assert_eq!(addr6(&p), None);
    }

    fn attr(kind: u16, v: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(v);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn msg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn ifinfo(index: u32, flags: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0u8, 0, 1, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        p.extend_from_slice(&flags.to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        for a in attrs {
            p.extend_from_slice(a);
        }
        p
    }

    #[test]
    fn link_message_fields() {
        let p = ifinfo(
            7,
            IFF_UP | IFF_LOWER_UP | 0x1000,
            &[attr(IFLA_IFNAME, b"eth0\0"), attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1]), attr(0x8000 | 18, &[1, 2, 3, 4])],
        );
        let buf = msg(RTM_NEWLINK, 9, &p);
        let ms = messages(&buf);
        assert_eq!(ms.len(), 1);
        assert_eq!((ms[0].kind, ms[0].seq), (RTM_NEWLINK, 9));
        let l = link(ms[0].payload).unwrap();
        assert_eq!(
            l,
            Link {
                index: 7,
                name: "eth0".into(),
                mac: Some([2, 0, 0, 0, 0, 1]),
                up: true,
                lower_up: true,
                ethernet: true
            }
        );
        assert!(l.usable());
        let down = link(&ifinfo(7, IFF_UP, &[])).unwrap();
        assert!(!down.usable() && down.mac.is_none());
        // Loopback (ARPHRD_LOOPBACK 772, IFF_LOOPBACK): not an interface whose MAC vrrpd may take.
        let mut lo = ifinfo(1, IFF_UP | IFF_LOOPBACK, &[attr(IFLA_ADDRESS, &[0; 6])]);
        lo[2..4].copy_from_slice(&772u16.to_ne_bytes());
        assert!(!link(&lo).unwrap().ethernet);
        let mut flagged = ifinfo(1, IFF_UP | IFF_LOOPBACK, &[]);
        flagged[2..4].copy_from_slice(&1u16.to_ne_bytes());
        assert!(!link(&flagged).unwrap().ethernet);
    }

    #[test]
    fn address_message_fields_and_families() {
        let mut p = vec![AF_INET, 24, IFA_F_SECONDARY, 0];
        p.extend_from_slice(&3u32.to_ne_bytes());
        p.extend(attr(IFA_ADDRESS, &[192, 0, 2, 9]));
        p.extend(attr(IFA_LOCAL, &[192, 0, 2, 1]));
        p.extend(attr(IFA_LABEL, b"eth0:v51\0"));
        let a = addr(&p).unwrap();
        assert_eq!(a.addr, Ipv4Addr::new(192, 0, 2, 1), "IFA_LOCAL wins (point-to-point peers)");
        assert_eq!((a.index, a.prefix, a.secondary), (3, 24, true));
        assert_eq!(a.label.as_deref(), Some("eth0:v51"));
        let mut v6 = p.clone();
        v6[0] = 10;
        assert_eq!(addr(&v6), None);
    }

    #[test]
    fn several_messages_errors_and_garbage() {
        let mut buf = msg(RTM_NEWLINK, 1, &ifinfo(1, 0, &[]));
        buf.extend(msg(NLMSG_ERROR, 1, &(-16i32).to_ne_bytes()));
        buf.extend(msg(NLMSG_DONE, 1, &[0, 0, 0, 0]));
        let ms = messages(&buf);
        assert_eq!(ms.iter().map(|m| m.kind).collect::<Vec<_>>(), vec![RTM_NEWLINK, NLMSG_ERROR, NLMSG_DONE]);
        assert_eq!(error_code(&ms[1]), Some(-16));
        assert_eq!(error_code(&ms[0]), None);
        // A length running past the end, a length below the header: stop, no panic.
        let mut bad = msg(RTM_NEWLINK, 1, &[0; 16]);
        bad[0] = 200;
        assert!(messages(&bad).is_empty());
        assert!(messages(&[1, 0, 0, 0]).is_empty());
        assert_eq!(link(&[0; 8]), None);
        // An attribute whose length runs past the payload ends the walk.
        let mut p = ifinfo(1, 0, &[attr(IFLA_IFNAME, b"x\0")]);
        p[16] = 0xff;
        assert_eq!(link(&p).unwrap().name, "");
    }
}
