//! The host-wide claim on an interface's MAC: at most one vrrpd sets the virtual MAC of an interface,
//! whatever its run dir. The claim is an abstract Unix socket named after the interface index: it
//! lives in the interface's network namespace, needs no file, and vanishes with the process (even on
//! SIGKILL), so a stale claim cannot outlive its holder.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Held for the life of the process that sets the MAC.
pub struct MacLock {
    _fd: OwnedFd,
}

fn name(ifindex: u32) -> Vec<u8> {
    format!("vrrpd/vmac/{ifindex}").into_bytes()
}

impl MacLock {
    /// Claims the interface; `Ok(None)` when another process holds it.
    pub fn acquire(ifindex: u32) -> io::Result<Option<MacLock>> {
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor owned here only.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_un is plain data; all-zero is valid (and starts the abstract name with NUL).
        let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let n = name(ifindex);
        for (i, b) in n.iter().enumerate() {
            sa.sun_path[i + 1] = *b as libc::c_char;
        }
        let len = (std::mem::size_of::<libc::sa_family_t>() + 1 + n.len()) as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_un and `len` covers the family and the abstract name.
        let rc = unsafe { libc::bind(raw, (&sa as *const libc::sockaddr_un).cast(), len) };
        if rc == 0 {
            return Ok(Some(MacLock { _fd: fd }));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EADDRINUSE) { Ok(None) } else { Err(e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_interface_and_released_on_drop() {
        // An index no real interface has: the test touches no interface.
        let idx = 4_000_000_000 - std::process::id();
        let a = MacLock::acquire(idx).unwrap();
        assert!(a.is_some());
        assert!(MacLock::acquire(idx).unwrap().is_none(), "a second claim must fail");
        assert!(MacLock::acquire(idx + 1).unwrap().is_some(), "another interface is another claim");
        drop(a);
        assert!(MacLock::acquire(idx).unwrap().is_some(), "the claim ends with its holder");
    }
}
