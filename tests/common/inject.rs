//! Hostile traffic for the labs: raw IPv4 packets whose header we build ourselves (`IP_HDRINCL`), sent
//! from inside a lab namespace without any helper binary.
//!
//! A socket belongs to the network namespace it was created in, whatever thread uses it later. So
//! [`Injector::open`] creates the socket in a short-lived thread that first moves itself into the
//! namespace (`setns(open("/run/netns/<ns>"), CLONE_NEWNET)`; the move is per thread, the test's
//! other threads stay where they are), binds it to the interface (`SO_BINDTODEVICE`) and chooses
//! it for multicast (`IP_MULTICAST_IF`). The socket can then be used from any thread.
//!
//! With `IP_HDRINCL` the kernel keeps our source address, TTL, TOS and protocol; it always rewrites
//! the IP total length and the header checksum, and picks an IP id when ours is 0. So "truncated"
//! packets are made short at the VRRP level, not by lying in the IP header.
#![allow(dead_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use vrrpd::packet::{self, Advert, Auth, IPPROTO_VRRP, VRRP_GROUP};

/// A raw IPv4 socket living in a lab namespace, bound to one interface.
pub struct Injector {
    fd: OwnedFd,
    pub ns: String,
    pub ifname: String,
    pub ifindex: u32,
}

pub(super) fn check(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(rc)
    }
}

pub(super) fn setsockopt<T>(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    val: &T,
    what: &str,
) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the given size for the duration of the call.
    let rc = unsafe { libc::setsockopt(fd, level, name, (val as *const T).cast(), size_of::<T>() as libc::socklen_t) };
    check(rc, what).map(drop)
}

/// Runs in the thread that moved into the namespace.
fn open_here(ifname: &str) -> io::Result<(OwnedFd, u32)> {
    let name = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface {ifname} in the namespace")));
    }
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let raw = check(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) },
        "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)",
    )?;
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_HDRINCL, &one, "IP_HDRINCL")?;
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
    let m = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as libc::c_int,
    };
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &m, "IP_MULTICAST_IF")?;
    // A big send buffer: a flood should not stop at the first full queue.
    let sndbuf: libc::c_int = 4 << 20;
    let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &sndbuf, "SO_SNDBUFFORCE");
    Ok((fd, ifindex))
}

impl Injector {
    /// Opens a raw socket in namespace `ns` (a name under /run/netns), bound to `ifname`.
    pub fn open(ns: &str, ifname: &str) -> Injector {
        let path = format!("/run/netns/{ns}");
        let ifn = ifname.to_string();
        let res = std::thread::spawn(move || -> io::Result<(OwnedFd, u32)> {
            let f = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
            // SAFETY: setns on a namespace descriptor; it only moves this thread, which ends right after.
            check(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, "setns(CLONE_NEWNET)")?;
            open_here(&ifn)
        })
        .join()
        .expect("injector thread panicked");
        let (fd, ifindex) = res.unwrap_or_else(|e| panic!("cannot open a raw socket on {ifname} in {ns}: {e}"));
        Injector { fd, ns: ns.to_string(), ifname: ifname.to_string(), ifindex }
    }

    /// Sends one IPv4 packet (our header included) to its destination address.
    pub fn send_raw(&self, pkt: &[u8]) -> io::Result<()> {
        let dst = if pkt.len() >= 20 { Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]) } else { VRRP_GROUP };
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from(dst).to_be() },
            sin_zero: [0; 8],
        };
        // SAFETY: buffer and address are valid for the duration of the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                pkt.as_ptr().cast(),
                pkt.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Sends, retrying briefly while the kernel says its queues are full (`ENOBUFS`/`EAGAIN`).
    /// Panics on any other error.
    pub fn send(&self, pkt: &[u8]) {
        let mut tries = 0;
        loop {
            match self.send_raw(pkt) {
                Ok(()) => return,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN)) && tries < 10_000 => {
                    tries += 1;
                    std::thread::yield_now();
                }
                Err(e) => panic!("injector in {} on {}: send failed: {e}", self.ns, self.ifname),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Packet building

/// The IPv4 envelope of an injected packet.
#[derive(Clone, Copy, Debug)]
pub struct Ip {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub tos: u8,
    pub proto: u8,
}

impl Ip {
    /// What a VRRP router sends: to 224.0.0.18, TTL 255, TOS 0xc0, protocol 112.
    pub fn vrrp(src: Ipv4Addr) -> Ip {
        Ip { src, dst: VRRP_GROUP, ttl: 255, tos: 0xc0, proto: IPPROTO_VRRP }
    }
    pub fn ttl(mut self, ttl: u8) -> Ip {
        self.ttl = ttl;
        self
    }

    /// A 20-byte header (no options) followed by `payload`; header checksum included.
    pub fn wrap(&self, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = Vec::with_capacity(usize::from(total));
        p.extend_from_slice(&[0x45, self.tos]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x40, 0]); // id 0 (the kernel picks one), DF
        p.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        let c = packet::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
}

/// A valid VRRP advert (the daemon's own encoder).
pub fn advert(vrid: u8, prio: u8, adver_int: u8, auth: &Auth, addrs: &[Ipv4Addr]) -> Vec<u8> {
    Advert::new(vrid, prio, adver_int, auth, addrs.to_vec()).encode()
}

/// Recomputes the VRRP checksum over the whole buffer (after a mutation that should not be caught
/// as a checksum error).
pub fn fix_checksum(vrrp: &mut [u8]) {
    if vrrp.len() < 8 {
        return;
    }
    vrrp[6] = 0;
    vrrp[7] = 0;
    let c = packet::checksum(vrrp);
    vrrp[6..8].copy_from_slice(&c.to_be_bytes());
}

/// xorshift64*: deterministic pacing and choices; print the seed so that a run can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}
