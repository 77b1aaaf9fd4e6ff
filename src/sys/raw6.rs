//! The IPv6 VRRP socket (protocol 112 over AF_INET6): ff02::12 joined on one interface (or, with unicast
//! peers, not), hop limit 255, no loopback, and the hop limit and destination of each received advert
//! (RFC 5798 §7.1).

use crate::packet::IPPROTO_VRRP;
use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// ff02::12, the IPv6 VRRP group (RFC 5798 §5.1.2.2).
pub const VRRP_GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const RECV_BUFFER: libc::c_int = 1 << 20;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the given size for the duration of the call.
    let rc = unsafe { libc::setsockopt(fd, level, name, (val as *const T).cast(), size_of::<T>() as libc::socklen_t) };
    check(rc).map(drop)
}

fn in6(a: Ipv6Addr) -> libc::in6_addr {
    libc::in6_addr { s6_addr: a.octets() }
}

fn sockaddr6(a: Ipv6Addr, scope: u32) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: in6(a),
        sin6_scope_id: scope,
    }
}

/// What the kernel says of one received advert besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope6 {
    /// Bytes of the VRRP message (more than the buffer when it was cut).
    pub len: usize,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// `None` when the control message is missing (then the advert is dropped as a bad hop limit).
    pub hop_limit: Option<u8>,
}

/// A raw IPv6 socket for VRRP on one interface.
pub struct Vrrp6Socket {
    fd: OwnedFd,
    ifindex: u32,
}

impl Vrrp6Socket {
    /// `multicast`: join ff02::12 (without, only adverts sent to our own addresses arrive: `--peer`).
    pub fn open(ifname: &str, ifindex: u32, multicast: bool) -> io::Result<Vrrp6Socket> {
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = check(unsafe {
            libc::socket(libc::AF_INET6, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, IPPROTO_VRRP.into())
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let name = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the pointer and length describe `name`'s bytes including the NUL.
        check(unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.as_bytes_with_nul().len() as libc::socklen_t,
            )
        })?;
        let (one, zero, hops, tclass): (libc::c_int, libc::c_int, libc::c_int, libc::c_int) = (1, 0, 255, 0xc0);
        let idx = ifindex as libc::c_int;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &idx)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &hops)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &hops)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &zero)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &one)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &one)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &tclass)?;
        if setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &RECV_BUFFER).is_err() {
            let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, &RECV_BUFFER);
        }
        if multicast {
            let mreq = libc::ipv6_mreq { ipv6mr_multiaddr: in6(VRRP_GROUP6), ipv6mr_interface: ifindex };
            setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
        }
        Ok(Vrrp6Socket { fd, ifindex })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// One advert to `dst` (ff02::12 or a peer) from `src` (IPV6_PKTINFO: ours to choose).
    pub fn send(&self, src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> io::Result<()> {
        let mut to = sockaddr6(dst, self.ifindex);
        let info = libc::in6_pktinfo { ipi6_addr: in6(src), ipi6_ifindex: self.ifindex };
        let mut control = [0u64; 8];
        let mut iov = libc::iovec { iov_base: payload.as_ptr() as *mut libc::c_void, iov_len: payload.len() };
        // SAFETY: msghdr is plain data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut to as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) } as usize;
        // SAFETY: the control buffer (64 bytes) holds one cmsghdr with an in6_pktinfo (20 bytes);
        // CMSG_FIRSTHDR/CMSG_DATA point inside it; msg, iov, `to` and `payload` outlive the call.
        let n = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::IPPROTO_IPV6;
            (*c).cmsg_type = libc::IPV6_PKTINFO;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), info);
            libc::sendmsg(self.fd.as_raw_fd(), &msg, 0)
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// One VRRP message (no IPv6 header) and its envelope. `WouldBlock` when nothing is pending.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Envelope6> {
        // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
        let mut from: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: msghdr is plain data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: every pointer in `msg` refers to a live buffer of the stated length.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut env = Envelope6 {
            len: n as usize,
            src: Ipv6Addr::from(from.sin6_addr.s6_addr),
            dst: Ipv6Addr::UNSPECIFIED,
            hop_limit: None,
        };
        // SAFETY: the kernel filled `control` up to msg_controllen; CMSG_FIRSTHDR/NXTHDR walk it and
        // stay inside it; each data read is of the size its cmsg_len announces (checked).
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let data_len = (*c).cmsg_len.saturating_sub(libc::CMSG_LEN(0) as usize);
                if (*c).cmsg_level == libc::IPPROTO_IPV6 {
                    if (*c).cmsg_type == libc::IPV6_HOPLIMIT && data_len >= size_of::<libc::c_int>() {
                        let h = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                        env.hop_limit = u8::try_from(h).ok();
                    } else if (*c).cmsg_type == libc::IPV6_PKTINFO && data_len >= size_of::<libc::in6_pktinfo>() {
                        let p = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>());
                        env.dst = Ipv6Addr::from(p.ipi6_addr.s6_addr);
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(env)
    }
}
