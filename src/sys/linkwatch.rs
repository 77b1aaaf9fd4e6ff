//! Link notifications about every interface, for `--track-interface` (the member's own interface has
//! its filtered socket in `netlink`): which interfaces changed or went away, without polling.

use crate::nlparse::{self, Link};
use netlink_sys::{Socket, protocols::NETLINK_ROUTE};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

const RTNLGRP_LINK: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkNote {
    Changed(Link),
    Deleted(String),
    /// Notifications were lost (ENOBUFS): read every tracked interface again.
    Overflow,
}

pub struct LinkWatch {
    sock: Socket,
    buf: Vec<u8>,
}

impl LinkWatch {
    pub fn open() -> io::Result<LinkWatch> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.add_membership(RTNLGRP_LINK)?;
        sock.set_non_blocking(true)?;
        Ok(LinkWatch { sock, buf: vec![0; 32 * 1024] })
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Every pending notification about an interface named in `names`.
    pub fn drain(&mut self, names: &[String]) -> io::Result<Vec<LinkNote>> {
        let mut out = Vec::new();
        recv_all(&self.sock, &mut self.buf, |msgs| {
            let Some(msgs) = msgs else { return out.push(LinkNote::Overflow) };
            for m in msgs {
                let Some(l) = nlparse::link(m.payload).filter(|l| names.contains(&l.name)) else { continue };
                match m.kind {
                    nlparse::RTM_NEWLINK => out.push(LinkNote::Changed(l)),
                    nlparse::RTM_DELLINK => out.push(LinkNote::Deleted(l.name)),
                    _ => {}
                }
            }
        })?;
        Ok(out)
    }
}

/// Reads a non-blocking notification socket until it is empty, handing each batch of messages to
/// `each` (`None`: the kernel dropped notifications, ENOBUFS).
pub(crate) fn recv_all(
    sock: &Socket,
    buf: &mut [u8],
    mut each: impl FnMut(Option<Vec<nlparse::Msg<'_>>>),
) -> io::Result<()> {
    loop {
        match sock.recv(&mut &mut buf[..], 0) {
            Ok(n) => each(Some(nlparse::messages(&buf[..n.min(buf.len())]))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => each(None),
            Err(e) => return Err(e),
        }
    }
}
