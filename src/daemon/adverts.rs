//! Sent adverts: the VRRPv2 or VRRPv3 message of this router, to the group or to each unicast peer, and
//! the fault repeated send errors mean.

use super::*;

/// The advert a router of `version` sends from `src` to `dst` (the group, or a unicast peer): v2 carries
/// whole seconds and the authentication; v3 centiseconds and a checksum over the pseudo-header (RFC 5798
/// §5.2.8), which names the destination.
#[allow(clippy::too_many_arguments)]
pub(crate) fn advert_bytes(
    version: Version,
    vrid: u8,
    priority: u8,
    int: Interval,
    auth: &Auth,
    vips: &[Ipv4Addr],
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Vec<u8> {
    match version {
        // The command line allows nothing but whole seconds with v2.
        Version::V2 => Advert::new(vrid, priority, int.whole_secs().unwrap_or(1), auth, vips.to_vec()).encode(),
        Version::V3 => {
            let addrs = vips.iter().map(|&a| IpAddr::V4(a)).collect();
            let adv = Advert::v3(vrid, priority, int, Family::V4, addrs);
            adv.encode_with(Pseudo::v3(src.into(), dst.into()).unwrap_or(Pseudo::None))
        }
    }
}

/// Sends one advert to the group (no peers) or to every peer; the first error, if any.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send_to_all(
    sock: &VrrpSocket,
    ifindex: u32,
    version: Version,
    vrid: u8,
    priority: u8,
    int: Interval,
    auth: &Auth,
    vips: &[Ipv4Addr],
    src: Ipv4Addr,
    peers: &[Ipv4Addr],
) -> io::Result<()> {
    if peers.is_empty() {
        return sock.send(&advert_bytes(version, vrid, priority, int, auth, vips, src, packet::VRRP_GROUP));
    }
    let mut first_err = None;
    for &p in peers {
        let bytes = advert_bytes(version, vrid, priority, int, auth, vips, src, p);
        if let Err(e) = sock.send_to(p, src, ifindex, &bytes) {
            first_err.get_or_insert(io::Error::new(e.kind(), format!("to {p}: {e}")));
        }
    }
    first_err.map_or(Ok(()), Err)
}

impl Daemon {
    /// The source of our adverts: `--src`, or the interface's primary address.
    pub(super) fn advert_src(&self) -> Ipv4Addr {
        self.cfg.src.unwrap_or(self.primary)
    }

    pub(super) fn send_advert(&mut self, priority: u8) {
        let sent = send_to_all(
            &self.vsock,
            self.ifindex,
            self.cfg.version,
            self.cfg.vrid,
            priority,
            self.cfg.adver_int,
            &self.cfg.auth,
            &self.vip_addrs,
            self.advert_src(),
            &self.cfg.peers,
        );
        match sent {
            Ok(()) => {
                self.counters.sent += 1;
                self.send_failures = 0;
            }
            Err(e) => {
                warn!("cannot send an advert (priority {priority}): {e}");
                self.send_failures += 1;
                // A MASTER that cannot advertise lets the peer take over while it still holds the VIPs:
                // resign now (the settle loop hands over with priority 0, as for a link loss).
                if self.send_failures >= SEND_FAULT_AFTER && self.core.fault.is_none() && priority != 0 {
                    self.set_fault(format!("cannot send adverts: {e}"), true);
                }
            }
        }
    }
}
