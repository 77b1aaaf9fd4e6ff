//! rtnetlink for IPv6: the interface's IPv6 addresses, virtual ones added without DAD and never
//! preferred as a source (IFA_F_NODAD, preferred lifetime 0, as keepalived does), and their events.

use super::netlink::{Rtnl, only_index};
use crate::nlparse::{self, Addr6};
use crate::nlreq::{self, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, Req};
use netlink_sys::{Socket, protocols::NETLINK_ROUTE};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, RawFd};

const RTNLGRP_IPV6_IFADDR: u32 = 9;
const RECV_BUF: usize = 32 * 1024;
/// Lifetime "forever".
const INFINITY: u32 = u32::MAX;

fn addr_msg(kind: u16, flags: u16, header_flags: u8, index: u32, addr: Ipv6Addr, prefix: u8) -> Req {
    Req::new(kind, flags, &nlreq::ifaddrmsg(nlreq::AF_INET6, prefix, header_flags, index))
        .attr(nlreq::IFA_ADDRESS, &addr.octets())
}

impl Rtnl {
    /// The IPv6 addresses of interface `index`.
    pub fn addrs6(&mut self, index: u32) -> io::Result<Vec<Addr6>> {
        let q = Req::new(nlreq::RTM_GETADDR, NLM_F_DUMP, &nlreq::ifaddrmsg(nlreq::AF_INET6, 0, 0, 0));
        let replies = self.request(q)?;
        Ok(replies
            .iter()
            .filter_map(|r| {
                let m = *nlparse::messages(r).first()?;
                (m.kind == nlparse::RTM_NEWADDR).then(|| nlparse::addr6(m.payload)).flatten()
            })
            .filter(|a| a.index == index)
            .collect())
    }

    /// Adds a virtual IPv6 address: no DAD (never tentative, never "dadfailed" because the other
    /// router answers), preferred lifetime 0 (never chosen as a source), valid forever. One already
    /// present is not an error.
    pub fn add_addr6(&mut self, index: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        let nodad = nlparse::IFA_F_NODAD;
        // struct ifa_cacheinfo: preferred, valid, cstamp, tstamp.
        let mut ci = [0u8; 16];
        ci[4..8].copy_from_slice(&INFINITY.to_ne_bytes());
        let m = addr_msg(nlreq::RTM_NEWADDR, flags, nodad as u8, index, addr, prefix)
            .attr(nlreq::IFA_FLAGS, &nodad.to_ne_bytes())
            .attr(nlreq::IFA_CACHEINFO, &ci);
        match self.request(m) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes an IPv6 address; one already gone is not an error.
    pub fn del_addr6(&mut self, index: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
        match self.request(addr_msg(nlreq::RTM_DELADDR, NLM_F_ACK, 0, index, addr, prefix)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            other => other.map(drop),
        }
    }
}

/// A socket subscribed to the IPv6 address notifications of one interface.
pub struct Events6 {
    sock: Socket,
    buf: Vec<u8>,
}

impl Events6 {
    pub fn open(index: u32) -> io::Result<Events6> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        if let Err(e) = only_index(sock.as_raw_fd(), index) {
            log::debug!("rtnetlink IPv6 events: no kernel filter ({e})");
        }
        sock.add_membership(RTNLGRP_IPV6_IFADDR)?;
        sock.set_non_blocking(true)?;
        Ok(Events6 { sock, buf: vec![0; RECV_BUF] })
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Reads every pending notification: true when an IPv6 address of `index` changed (or some
    /// notifications were lost: read the addresses again).
    pub fn drain(&mut self, index: u32) -> io::Result<bool> {
        let mut changed = false;
        loop {
            let n = match self.sock.recv(&mut &mut self.buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(changed),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    changed = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for m in nlparse::messages(&self.buf[..n.min(self.buf.len())]) {
                if matches!(m.kind, nlparse::RTM_NEWADDR | nlparse::RTM_DELADDR)
                    && nlparse::addr6(m.payload).is_some_and(|a| a.index == index)
                {
                    changed = true;
                }
            }
        }
    }
}
