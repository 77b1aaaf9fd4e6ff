//! The kernel's neighbour entries (ARP, IPv6 ND) of the unicast peers: one left unresolved is removed.
//
// When the carrier drops, the kernel forgets the interface's neighbours. What is sent to a peer
// while the link is down (a MASTER's priority 0) creates a new entry whose ARP request is lost with
// the link; the entry then waits up to a retransmission (1 s by default) before asking again, and
// every advert sent meanwhile waits in its queue, to leave in a burst of stale adverts once it
// resolves. Removed, the entry is created afresh by the next advert and resolved at once.

use super::netlink::Rtnl;
use crate::nlparse;
use crate::nlreq::{self, NLM_F_ACK, Req};
use std::io;
use std::net::IpAddr;

fn entry(kind: u16, flags: u16, index: u32, dst: IpAddr) -> Req {
    let (family, octets) = match dst {
        IpAddr::V4(a) => (nlreq::AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (nlreq::AF_INET6, a.octets().to_vec()),
    };
    Req::new(kind, flags, &nlreq::ndmsg(family, index)).attr(nlreq::NDA_DST, &octets)
}

impl Rtnl {
    /// Removes the neighbour entry of `dst` on interface `index` when it has no link-layer address
    /// (INCOMPLETE or FAILED), dropping what waits in its queue. True when one was removed; an entry
    /// that is resolved, permanent, or absent is left alone.
    pub fn forget_unresolved(&mut self, index: u32, dst: IpAddr) -> io::Result<bool> {
        let replies = match self.request(entry(nlreq::RTM_GETNEIGH, 0, index, dst)) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            other => other?,
        };
        let unresolved = replies.iter().any(|r| {
            nlparse::messages(r).first().is_some_and(|m| {
                m.kind == nlparse::RTM_NEWNEIGH && nlparse::neigh(m.payload).is_some_and(|n| n.unresolved())
            })
        });
        if !unresolved {
            return Ok(false);
        }
        match self.request(entry(nlreq::RTM_DELNEIGH, NLM_F_ACK, index, dst)) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            other => other.map(|_| true),
        }
    }
}
