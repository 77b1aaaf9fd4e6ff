//! Hostile IPv6 traffic for the labs: VRRP messages sent over a raw IPv6 socket (protocol 112) from
//! inside a lab namespace, with the hop limit chosen per packet and the checksum computed here.
//!
//! As in `inject.rs`, the socket is created by a short-lived thread that first moves itself into the
//! namespace (`setns`, per thread), so that it belongs to that namespace; it is bound to the interface
//! (`SO_BINDTODEVICE`, `IPV6_MULTICAST_IF`) and to a source address (the interface's link-local
//! address by default, with its scope id). The kernel writes the IPv6 header; the VRRP message is
//! ours to the last byte: `IPV6_CHECKSUM` is off on a raw socket that is not ICMPv6 (set to -1 here
//! all the same), so a bad checksum leaves as it is. The checksum of [`checksum6`] is written here
//! from RFC 5798 §5.2.8 / RFC 2460 §8.1, not taken from the daemon, so that a valid advert built here
//! also checks the daemon's codec.
#![allow(dead_code)]

use super::ipv6::link_local;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// ff02::12, the IPv6 VRRP group.
pub const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const PROTO_VRRP: libc::c_int = 112;

/// A raw IPv6 socket for protocol 112 in a lab namespace, bound to one interface and one source.
pub struct Injector6 {
    fd: OwnedFd,
    pub ns: String,
    pub ifname: String,
    pub ifindex: u32,
    /// The source address of every packet sent.
    pub src: Ipv6Addr,
}

use super::inject::{check, setsockopt};

fn sockaddr6(a: Ipv6Addr, scope: u32) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: a.octets() },
        sin6_scope_id: scope,
    }
}

/// Runs in the thread that moved into the namespace.
fn open_here(ifname: &str, src: Ipv6Addr) -> io::Result<(OwnedFd, u32)> {
    let name = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface {ifname} in the namespace")));
    }
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let raw = check(
        unsafe { libc::socket(libc::AF_INET6, libc::SOCK_RAW | libc::SOCK_CLOEXEC, PROTO_VRRP) },
        "socket(AF_INET6, SOCK_RAW, 112)",
    )?;
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: pointer and length describe `name` including its NUL.
    check(
        unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.as_bytes_with_nul().len() as libc::socklen_t,
            )
        },
        "SO_BINDTODEVICE",
    )?;
    let (idx, zero, off, tclass): (libc::c_int, libc::c_int, libc::c_int, libc::c_int) = (ifindex as _, 0, -1, 0xc0);
    setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &idx, "IPV6_MULTICAST_IF")?;
    setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &zero, "IPV6_MULTICAST_LOOP")?;
    setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &tclass, "IPV6_TCLASS")?;
    // Off already for protocol 112; said here so that the kernel never fills or checks it.
    setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, &off, "IPV6_CHECKSUM")?;
    let sa = sockaddr6(src, if src.is_unicast_link_local() { ifindex } else { 0 });
    // SAFETY: `sa` is a valid sockaddr_in6 for the duration of the call.
    check(
        unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        },
        &format!("bind({src}%{ifname})"),
    )?;
    Ok((fd, ifindex))
}

impl Injector6 {
    /// Opens the socket in namespace `ns` (a name under /run/netns) on `ifname`, sending from `src`
    /// (one of the namespace's addresses on that interface).
    pub fn open_from(ns: &str, ifname: &str, src: Ipv6Addr) -> Injector6 {
        let path = format!("/run/netns/{ns}");
        let ifn = ifname.to_string();
        let res = std::thread::spawn(move || -> io::Result<(OwnedFd, u32)> {
            let f = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
            // SAFETY: setns on a namespace descriptor; it only moves this thread, which ends right after.
            check(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, "setns(CLONE_NEWNET)")?;
            open_here(&ifn, src)
        })
        .join()
        .expect("injector thread panicked");
        let (fd, ifindex) = res.unwrap_or_else(|e| panic!("cannot open a raw IPv6 socket on {ifname} in {ns}: {e}"));
        Injector6 { fd, ns: ns.to_string(), ifname: ifname.to_string(), ifindex, src }
    }

    /// Opens the socket sending from the interface's link-local address.
    pub fn open(ns: &str, ifname: &str) -> Injector6 {
        let ll = link_local(ns, ifname).parse().expect("link-local address");
        Injector6::open_from(ns, ifname, ll)
    }

    /// Sends `vrrp` (the whole IPv6 payload) to `dst` with hop limit `hops`.
    pub fn send_raw(&self, dst: Ipv6Addr, hops: u8, vrrp: &[u8]) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        let h = libc::c_int::from(hops);
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &h, "IPV6_MULTICAST_HOPS")?;
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &h, "IPV6_UNICAST_HOPS")?;
        let scope = if dst.is_multicast() || dst.is_unicast_link_local() { self.ifindex } else { 0 };
        let sa = sockaddr6(dst, scope);
        // SAFETY: buffer and address are valid for the duration of the call.
        let n = unsafe {
            libc::sendto(
                fd,
                vrrp.as_ptr().cast(),
                vrrp.len(),
                0,
                (&sa as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Sends to ff02::12 with hop limit `hops`, retrying briefly on full queues; panics on any other error.
    pub fn send(&self, hops: u8, vrrp: &[u8]) {
        let mut tries = 0;
        loop {
            match self.send_raw(GROUP6, hops, vrrp) {
                Ok(()) => return,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN)) && tries < 10_000 => {
                    tries += 1;
                    std::thread::yield_now();
                }
                Err(e) => panic!("IPv6 injector in {} on {}: send failed: {e}", self.ns, self.ifname),
            }
        }
    }

    /// A valid VRRPv3 advert from this injector to ff02::12 (checksum included).
    pub fn advert(&self, vrid: u8, prio: u8, centis: u16, addrs: &[Ipv6Addr]) -> Vec<u8> {
        let mut b = advert6(vrid, prio, centis, addrs);
        seal(self.src, GROUP6, &mut b);
        b
    }
}

// ---------------------------------------------------------------------------------------------
// Packet building

/// A VRRPv3 advert over IPv6 (RFC 5798 §5.1): version 3, type 1, Max Adver Int in centiseconds, the
/// addresses; checksum left 0 (see [`seal`]).
pub fn advert6(vrid: u8, prio: u8, centis: u16, addrs: &[Ipv6Addr]) -> Vec<u8> {
    let mut b = vec![0x31, vrid, prio, addrs.len() as u8];
    b.extend_from_slice(&(centis & 0x0fff).to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    for a in addrs {
        b.extend_from_slice(&a.octets());
    }
    b
}

/// A VRRPv2 message carrying IPv6 addresses (what a v2 router misconfigured for IPv6 would send):
/// version 2, auth type 0, interval in seconds, 8 bytes of auth data; the v2 checksum (no pseudo-header).
pub fn advert_v2(vrid: u8, prio: u8, secs: u8, addrs: &[Ipv6Addr]) -> Vec<u8> {
    let mut b = vec![0x21, vrid, prio, addrs.len() as u8, 0, secs, 0, 0];
    for a in addrs {
        b.extend_from_slice(&a.octets());
    }
    b.extend_from_slice(&[0; 8]);
    let c = ones_complement(&[&b]);
    b[6..8].copy_from_slice(&c.to_be_bytes());
    b
}

/// RFC 1071 over the concatenation of `parts` (each of even length except maybe the last).
fn ones_complement(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    for p in parts {
        for (i, byte) in p.iter().enumerate() {
            sum += if i % 2 == 0 { u64::from(*byte) << 8 } else { u64::from(*byte) };
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The VRRPv3 checksum of `msg` (its checksum field taken as it is) between `src` and `dst`: the IPv6
/// pseudo-header (source, destination, upper-layer length on 32 bits, three zero bytes, next header
/// 112), then the message.
pub fn checksum6(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let len = (msg.len() as u32).to_be_bytes();
    ones_complement(&[&src.octets(), &dst.octets(), &len, &[0, 0, 0, PROTO_VRRP as u8], msg])
}

/// Writes the VRRPv3 checksum of `msg` between `src` and `dst`.
pub fn seal(src: Ipv6Addr, dst: Ipv6Addr, msg: &mut [u8]) {
    if msg.len() < 8 {
        return;
    }
    msg[6] = 0;
    msg[7] = 0;
    let c = checksum6(src, dst, msg);
    msg[6..8].copy_from_slice(&c.to_be_bytes());
}
