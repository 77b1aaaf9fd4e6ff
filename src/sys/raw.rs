//! Raw sockets: VRRP (IPv4 protocol 112) and link-layer frames for gratuitous ARP.

use crate::packet::{IPPROTO_VRRP, VRRP_GROUP};
use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

/// The receive buffer asked for the VRRP socket, in bytes (the kernel doubles it for its accounting).
const RECV_BUFFER: libc::c_int = 1 << 20;

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the given size for the duration of the call.
    let rc = unsafe { libc::setsockopt(fd, level, name, (val as *const T).cast(), size_of::<T>() as libc::socklen_t) };
    check(rc).map(drop)
}

fn in_addr(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr { s_addr: u32::from(a).to_be() }
}

fn mreqn(group: Ipv4Addr, local: Ipv4Addr, ifindex: u32) -> libc::ip_mreqn {
    libc::ip_mreqn { imr_multiaddr: in_addr(group), imr_address: in_addr(local), imr_ifindex: ifindex as libc::c_int }
}

fn bind_to_device(fd: RawFd, ifname: &str) -> io::Result<()> {
    let name = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the pointer and length describe `name`'s bytes including the NUL.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.as_bytes_with_nul().len() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn sockaddr(a: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: in_addr(a),
        sin_zero: [0; 8],
    }
}

/// One UDP datagram from `from` (one of our addresses, or a VIP being added) to `to:port`, out of
/// `ifname` only: Advanced Vrrpd's "magic packet" that makes switches and the gateway see `from` here.
pub fn send_udp_from(ifname: &str, from: Ipv4Addr, to: Ipv4Addr, port: u16, payload: &[u8]) -> io::Result<()> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let raw = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: fresh descriptor owned here only.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    bind_to_device(raw, ifname)?;
    let one: libc::c_int = 1;
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_FREEBIND, &one)?;
    let src = sockaddr(from, 0);
    let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a valid sockaddr_in of the given length.
    check(unsafe { libc::bind(fd.as_raw_fd(), (&src as *const libc::sockaddr_in).cast(), len) })?;
    let dst = sockaddr(to, port);
    // SAFETY: buffer and address are valid for the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            payload.as_ptr().cast(),
            payload.len(),
            libc::MSG_DONTWAIT,
            (&dst as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Interface index by name (0 → not found).
pub fn ifindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// A raw socket for VRRP adverts on one interface: bound to the device, member of 224.0.0.18 there
/// (multicast) or of no group (unicast peers), TTL 255, no loopback of our own adverts, TOS 0xc0
/// (network control).
pub struct VrrpSocket {
    fd: OwnedFd,
}

impl VrrpSocket {
    pub fn open(ifname: &str, ifindex: u32, primary: Ipv4Addr, multicast: bool) -> io::Result<VrrpSocket> {
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = check(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, IPPROTO_VRRP.into())
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = VrrpSocket { fd };
        bind_to_device(raw, ifname)?;
        let ttl: libc::c_int = 255;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &ttl)?;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_TTL, &ttl)?;
        let zero: libc::c_int = 0;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &zero)?;
        let tos: libc::c_int = 0xc0;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_TOS, &tos)?;
        // Room for a burst: at 10 ms adverts a backup that stalls for a few ms under a flood of
        // hostile adverts must not lose the master's (the default queue holds ~14 ms at 20,000/s).
        // SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max; without it, what SO_RCVBUF allows.
        let rcvbuf: libc::c_int = RECV_BUFFER;
        if setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &rcvbuf).is_err() {
            let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, &rcvbuf);
        }
        s.set_source(ifindex, primary)?;
        if multicast {
            setsockopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreqn(VRRP_GROUP, primary, ifindex))?;
        }
        Ok(s)
    }

    /// Chooses the interface and source address of outgoing adverts (after a primary address change too).
    pub fn set_source(&self, ifindex: u32, primary: Ipv4Addr) -> io::Result<()> {
        let m = mreqn(Ipv4Addr::UNSPECIFIED, primary, ifindex);
        setsockopt(self.fd.as_raw_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &m)
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send(&self, payload: &[u8]) -> io::Result<()> {
        let dst = sockaddr(VRRP_GROUP, 0);
        // SAFETY: buffer and address are valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&dst as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// One advert by unicast to `dst`, from `src` out of interface `ifindex` (IP_PKTINFO: the source
    /// is ours to choose, not the route's).
    pub fn send_to(&self, dst: Ipv4Addr, src: Ipv4Addr, ifindex: u32, payload: &[u8]) -> io::Result<()> {
        let mut to = sockaddr(dst, 0);
        let info = libc::in_pktinfo {
            ipi_ifindex: ifindex as libc::c_int,
            ipi_spec_dst: in_addr(src),
            ipi_addr: in_addr(Ipv4Addr::UNSPECIFIED),
        };
        // u64 words keep the control buffer aligned for cmsghdr.
        let mut control = [0u64; 8];
        let mut iov = libc::iovec { iov_base: payload.as_ptr() as *mut libc::c_void, iov_len: payload.len() };
        // SAFETY: msghdr is plain data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut to as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) } as usize;
        // SAFETY: the control buffer (64 bytes) holds one cmsghdr with an in_pktinfo (32 bytes with
        // padding); CMSG_FIRSTHDR/CMSG_DATA point inside it, and msg, iov, `to` and `payload` live
        // until sendmsg returns.
        let n = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::IPPROTO_IP;
            (*c).cmsg_type = libc::IP_PKTINFO;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>(), info);
            libc::sendmsg(self.fd.as_raw_fd(), &msg, 0)
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// One packet, IP header included. `WouldBlock` when nothing is pending.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    }
}

/// A send-only packet socket (protocol 0: the kernel queues nothing to it) for gratuitous ARP and
/// unsolicited Neighbor Advertisements.
pub struct FrameSocket {
    fd: OwnedFd,
}

impl FrameSocket {
    pub fn open() -> io::Result<FrameSocket> {
        // SAFETY: plain socket(2).
        let raw = check(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fresh descriptor owned here only.
        Ok(FrameSocket { fd: unsafe { OwnedFd::from_raw_fd(raw) } })
    }

    /// Sends a complete Ethernet frame on the interface.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        // The frame's own EtherType (ARP, or IPv6 for a Neighbor Advertisement).
        sll.sll_protocol =
            frame.get(12..14).map_or(libc::ETH_P_ARP as u16, |t| u16::from_be_bytes([t[0], t[1]])).to_be();
        sll.sll_ifindex = ifindex as libc::c_int;
        sll.sll_halen = 6;
        let n = 6.min(frame.len());
        sll.sll_addr[..n].copy_from_slice(&frame[..n]);
        // SAFETY: buffer and address are valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}
