//! rtnetlink: link state and MAC, IPv4 addresses, routes, and link/address events (IPv6: netlink6.rs).

use crate::nlparse::{self, Route};
use crate::nlreq::{self, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, Req};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, RawFd};

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RECV_BUF: usize = 32 * 1024;

pub use crate::nlparse::{Addr, Link};

/// A request socket. Every call waits for the kernel's answer (acknowledgement or error).
pub struct Rtnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn nl_err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(-code)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {what}"))
}

/// Route attributes (linux/rtnetlink.h) that a request may carry: destination, gateway, preferred
/// source, output interface, priority, table, metrics, multipath, realm (RTA_FLOW), via,
/// preference. The others (cache info, expiry...) describe the kernel's view of the route.
const ROUTE_ATTRS_KEPT: [u16; 11] = [1, 5, 7, 4, 6, 15, 8, 9, 11, 18, 20];
const RTA_CACHEINFO: u16 = 12;
const RTA_EXPIRES: u16 = 23;
/// RTNH_F_PERVASIVE | RTNH_F_ONLINK.
const CREATION_FLAGS: u32 = 0x02 | 0x04;

impl Rtnl {
    pub fn open() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock, seq: 0, buf: vec![0; RECV_BUF] })
    }

    /// Sends one request and gathers the answers (raw messages, header included) until the
    /// acknowledgement, DONE, or an error.
    pub(super) fn request(&mut self, req: Req) -> io::Result<Vec<Vec<u8>>> {
        self.seq = self.seq.wrapping_add(1);
        let flags = req.flags();
        self.sock.send(&req.finish(self.seq), 0)?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut replies = Vec::new();
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            for m in nlparse::messages(&self.buf[..n.min(self.buf.len())]) {
                if m.seq != self.seq {
                    continue; // a late answer to an earlier request
                }
                match m.kind {
                    nlparse::NLMSG_DONE => return Ok(replies),
                    nlparse::NLMSG_ERROR => {
                        return match nlparse::error_code(&m) {
                            Some(0) => Ok(replies),
                            Some(c) => Err(nl_err(c)),
                            None => Err(bad("truncated error message")),
                        };
                    }
                    _ => {
                        replies.push(m.raw.to_vec());
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(replies);
                        }
                    }
                }
            }
        }
    }

    pub fn link(&mut self, index: u32) -> io::Result<Link> {
        for r in self.request(Req::new(nlreq::RTM_GETLINK, 0, &nlreq::ifinfomsg(index, 0, 0)))? {
            if let Some(m) = nlparse::messages(&r).first()
                && m.kind == nlparse::RTM_NEWLINK
                && let Some(l) = nlparse::link(m.payload)
            {
                return Ok(l);
            }
        }
        Err(bad("no answer for the link"))
    }

    /// Sets the hardware address; the kernel answers EBUSY when the driver cannot change it live.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        let req = Req::new(nlreq::RTM_SETLINK, NLM_F_ACK, &nlreq::ifinfomsg(index, 0, 0));
        self.request(req.attr(nlreq::IFLA_ADDRESS, &mac)).map(drop)
    }

    pub fn set_up(&mut self, index: u32, up: bool) -> io::Result<()> {
        let flags = if up { nlreq::IFF_UP } else { 0 };
        self.request(Req::new(nlreq::RTM_SETLINK, NLM_F_ACK, &nlreq::ifinfomsg(index, flags, nlreq::IFF_UP))).map(drop)
    }

    pub fn addrs(&mut self, index: u32) -> io::Result<Vec<Addr>> {
        let q = Req::new(nlreq::RTM_GETADDR, NLM_F_DUMP, &nlreq::ifaddrmsg(nlreq::AF_INET, 0, 0, 0));
        let replies = self.request(q)?;
        Ok(replies
            .iter()
            .filter_map(|r| {
                let m = *nlparse::messages(r).first()?;
                (m.kind == nlparse::RTM_NEWADDR).then(|| nlparse::addr(m.payload)).flatten()
            })
            .filter(|a| a.index == index)
            .collect())
    }

    fn addr_msg(kind: u16, flags: u16, index: u32, addr: Ipv4Addr, prefix: u8) -> Req {
        Req::new(kind, flags, &nlreq::ifaddrmsg(nlreq::AF_INET, prefix, 0, index))
            .attr(nlreq::IFA_LOCAL, &addr.octets())
            .attr(nlreq::IFA_ADDRESS, &addr.octets())
    }

    /// Adds an address; one already present is not an error.
    pub fn add_addr(&mut self, index: u32, addr: Ipv4Addr, prefix: u8, label: Option<&str>) -> io::Result<()> {
        let mut m = Self::addr_msg(nlreq::RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, addr, prefix);
        if prefix < 31 {
            let mask = u32::MAX << (32 - prefix);
            m = m.attr(nlreq::IFA_BROADCAST, &(u32::from(addr) | !mask).to_be_bytes());
        }
        if let Some(l) = label {
            m = m.attr_str(nlreq::IFA_LABEL, l);
        }
        match self.request(m) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes an address; one already gone is not an error.
    pub fn del_addr(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        match self.request(Self::addr_msg(nlreq::RTM_DELADDR, NLM_F_ACK, index, addr, prefix)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Every IPv4 route, in every table, that leaves through this interface.
    pub fn routes(&mut self, index: u32) -> io::Result<Vec<Route>> {
        let replies = self.request(Req::new(nlreq::RTM_GETROUTE, NLM_F_DUMP, &nlreq::rtmsg_dump(nlreq::AF_INET)))?;
        Ok(replies
            .iter()
            .filter_map(|r| {
                let m = *nlparse::messages(r).first()?;
                (m.kind == nlparse::RTM_NEWROUTE).then(|| nlparse::route(m.payload)).flatten()
            })
            .filter(|r| r.oif() == Some(index))
            .collect())
    }

    /// Re-installs a route read by [`Rtnl::routes`] (read-only attributes stripped).
    pub fn add_route(&mut self, r: &Route) -> io::Result<()> {
        let mut m = Req::new(nlreq::RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &creation_header(r));
        for (k, v) in r.attrs.iter().filter(|(k, _)| ROUTE_ATTRS_KEPT.contains(&(k & 0x3fff))) {
            m = m.attr(*k, v);
        }
        match self.request(m) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }
}

/// Routes that the kernel re-creates by itself when a link or address comes back.
pub fn kernel_managed(r: &Route) -> bool {
    r.kernel_managed()
}

/// The header a route is created with: the flags cut to onlink and pervasive; the others (linkdown,
/// dead, offload...) describe the kernel's view of it and are refused or meaningless in a request.
fn creation_header(r: &Route) -> [u8; 12] {
    let mut h = r.header;
    h[8..12].copy_from_slice(&(r.flags() & CREATION_FLAGS).to_ne_bytes());
    h
}

/// Identity of a route for before/after comparison (header and attributes, cache info and expiry
/// left out).
pub fn route_key(r: &Route) -> String {
    let attrs: Vec<_> = r.attrs.iter().filter(|(k, _)| !matches!(k & 0x3fff, RTA_CACHEINFO | RTA_EXPIRES)).collect();
    format!("{:?} {attrs:?}", creation_header(r))
}

/// What the event socket reports for our interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Link(Link),
    LinkDeleted,
    AddrChanged,
    /// The kernel dropped notifications (ENOBUFS: we fell behind): any of them may be lost.
    Overflow,
}

/// What to read again after a batch of events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub link: bool,
    pub addrs: bool,
    pub deleted: bool,
}

/// After an overflow, both the link and the addresses are read again: a link-down (or a deletion)
/// may have been among the lost notifications.
pub fn changes(events: &[Event]) -> Changes {
    let mut c = Changes::default();
    for e in events {
        match e {
            Event::Link(_) => c.link = true,
            Event::LinkDeleted => c.deleted = true,
            Event::AddrChanged => c.addrs = true,
            Event::Overflow => {
                c.link = true;
                c.addrs = true;
            }
        }
    }
    c
}

/// A socket subscribed to link and IPv4 address notifications (no polling).
pub struct Events {
    sock: Socket,
    buf: Vec<u8>,
}

/// Classic BPF opcodes (linux/filter.h): BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_RET | BPF_K.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
/// Where a link (ifinfomsg) or address (ifaddrmsg) notification carries its interface index:
/// after the 16-byte netlink header, 4 bytes into either payload.
const INDEX_OFFSET: u32 = 16 + 4;

/// Lets only the notifications about interface `index` reach the socket. On a host with many
/// interfaces every member hears every other member's MAC and address changes otherwise: N members
/// changing at once wake each other N² times. BPF loads are big-endian; the index is native.
pub(super) fn only_index(fd: RawFd, index: u32) -> io::Result<()> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let prog = [
        ins(BPF_LD_W_ABS, 0, 0, INDEX_OFFSET),
        ins(BPF_JEQ_K, 0, 1, u32::from_be_bytes(index.to_ne_bytes())),
        ins(BPF_RET_K, 0, 0, u32::MAX),
        ins(BPF_RET_K, 0, 0, 0),
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr().cast_mut() };
    // SAFETY: `fprog` points at `prog`, both alive for the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

impl Events {
    /// Subscribes to the link and address notifications of interface `index` (the kernel filters
    /// the others out; [`Events::drain`] checks the index again, should the filter be refused).
    pub fn open(index: u32) -> io::Result<Events> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        if let Err(e) = only_index(sock.as_raw_fd(), index) {
            log::debug!("rtnetlink events: no kernel filter ({e}): every interface's notifications are read");
        }
        sock.add_membership(RTNLGRP_LINK)?;
        sock.add_membership(RTNLGRP_IPV4_IFADDR)?;
        sock.set_non_blocking(true)?;
        Ok(Events { sock, buf: vec![0; RECV_BUF] })
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Reads every pending notification; returns those about `index`. ENOBUFS (we fell behind)
    /// is reported as an [`Event::Overflow`]: the caller reads the link and the addresses again.
    pub fn drain(&mut self, index: u32) -> io::Result<Vec<Event>> {
        let mut out = Vec::new();
        crate::sys::linkwatch::recv_all(&self.sock, &mut self.buf, |msgs| {
            let Some(msgs) = msgs else { return out.push(Event::Overflow) };
            for m in msgs {
                match m.kind {
                    nlparse::RTM_NEWLINK => {
                        if let Some(l) = nlparse::link(m.payload).filter(|l| l.index == index) {
                            out.push(Event::Link(l));
                        }
                    }
                    nlparse::RTM_DELLINK if nlparse::link(m.payload).is_some_and(|l| l.index == index) => {
                        out.push(Event::LinkDeleted);
                    }
                    nlparse::RTM_NEWADDR | nlparse::RTM_DELADDR
                        if nlparse::addr(m.payload).is_some_and(|a| a.index == index) =>
                    {
                        out.push(Event::AddrChanged);
                    }
                    _ => {}
                }
            }
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_rereads_the_link_and_the_addresses() {
        assert_eq!(changes(&[Event::Overflow]), Changes { link: true, addrs: true, deleted: false });
        assert_eq!(changes(&[Event::AddrChanged]), Changes { link: false, addrs: true, deleted: false });
        assert_eq!(changes(&[]), Changes::default());
        assert!(changes(&[Event::AddrChanged, Event::LinkDeleted]).deleted);
    }
}
