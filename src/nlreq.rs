//! Building rtnetlink requests (pure): a netlink header, a fixed family header, attributes. The few
//! requests vrrpd sends (get/set a link, get/add/delete an address, dump/add a route) need nothing
//! more; netlink-packet-route's message enums put ~340 KiB of parsers and emitters into the binary,
//! most of it paged in by every process.

pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
/// NLM_F_ROOT | NLM_F_MATCH.
pub const NLM_F_DUMP: u16 = 0x300;

pub const RTM_GETLINK: u16 = 18;
pub const RTM_SETLINK: u16 = 19;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_DELNEIGH: u16 = 29;
pub const RTM_GETNEIGH: u16 = 30;

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;
pub const IFF_UP: u32 = 1;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
pub const IFA_CACHEINFO: u16 = 6;
pub const IFA_FLAGS: u16 = 8;
pub const IFLA_ADDRESS: u16 = 1;
pub const NDA_DST: u16 = 1;

const NLMSG_HDRLEN: usize = 16;

/// One request being built: netlink header (length and sequence filled by [`Req::finish`]), family
/// header, attributes (each padded to 4 bytes).
pub struct Req {
    buf: Vec<u8>,
}

impl Req {
    pub fn new(kind: u16, flags: u16, header: &[u8]) -> Req {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        buf.extend_from_slice(header);
        pad(&mut buf);
        Req { buf }
    }

    /// Appends an attribute; `kind` is written as given (nested/byte-order flags included).
    pub fn attr(mut self, kind: u16, value: &[u8]) -> Req {
        self.buf.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        pad(&mut self.buf);
        self
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(self, kind: u16, s: &str) -> Req {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(kind, &v)
    }

    /// The datagram: total length and sequence number written into the header.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }

    /// The message type and flags (for the answer loop).
    pub fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.buf[6], self.buf[7]])
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// struct ifinfomsg: family AF_UNSPEC, type 0, index, flags, change mask.
pub fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// struct ifaddrmsg: family, prefix length, flags, scope universe, index.
pub fn ifaddrmsg(family: u8, prefix: u8, flags: u8, index: u32) -> [u8; 8] {
    let mut h = [family, prefix, flags, 0, 0, 0, 0, 0];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// struct ndmsg: family, padding, index, state, flags and type 0 (a get or delete of one entry).
pub fn ndmsg(family: u8, index: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = family;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// struct rtmsg of a dump request: only the family set.
pub fn rtmsg_dump(family: u8) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = family;
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlparse;

    #[test]
    fn an_address_request_reads_back() {
        let m = Req::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE, &ifaddrmsg(AF_INET, 24, 0, 7))
            .attr(IFA_LOCAL, &[192, 0, 2, 1])
            .attr(IFA_ADDRESS, &[192, 0, 2, 1])
            .attr_str(IFA_LABEL, "eth0:v51")
            .finish(42);
        assert_eq!(m.len() % 4, 0);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
        let ms = nlparse::messages(&m);
        assert_eq!(ms.len(), 1);
        assert_eq!((ms[0].kind, ms[0].seq), (RTM_NEWADDR, 42));
        let a = nlparse::addr(ms[0].payload).unwrap();
        assert_eq!((a.index, a.prefix, a.addr.octets()), (7, 24, [192, 0, 2, 1]));
        assert_eq!(a.label.as_deref(), Some("eth0:v51"));
    }

    #[test]
    fn a_link_request_carries_index_flags_and_mask() {
        let m = Req::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(3, IFF_UP, IFF_UP)).finish(1);
        assert_eq!(m.len(), 32);
        let l = nlparse::link(&m[16..]).unwrap();
        assert!(l.index == 3 && l.up);
        assert_eq!(u32::from_ne_bytes(m[28..32].try_into().unwrap()), IFF_UP);
        let odd = Req::new(RTM_SETLINK, 0, &ifinfomsg(3, 0, 0)).attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1]).finish(2);
        assert_eq!(odd.len(), 32 + 12, "a 6-byte value is padded to 8");
        assert_eq!(nlparse::link(&odd[16..]).unwrap().mac, Some([2, 0, 0, 0, 0, 1]));
    }
}
