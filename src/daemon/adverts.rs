//! Sent adverts: the VRRPv2 or VRRPv3 message of this router, and the fault repeated send errors mean.

use super::*;

/// The advert a router of `version` sends from `src` to the IPv4 group (v2 carries whole seconds and
/// the authentication; v3 centiseconds and a checksum over the pseudo-header, RFC 5798 §5.2.8).
pub(crate) fn advert_bytes(
    version: Version,
    vrid: u8,
    priority: u8,
    int: Interval,
    auth: &Auth,
    vips: &[Ipv4Addr],
    src: Ipv4Addr,
) -> Vec<u8> {
    match version {
        // The command line allows nothing but whole seconds with v2.
        Version::V2 => Advert::new(vrid, priority, int.whole_secs().unwrap_or(1), auth, vips.to_vec()).encode(),
        Version::V3 => {
            let addrs = vips.iter().map(|&a| IpAddr::V4(a)).collect();
            let adv = Advert::v3(vrid, priority, int, Family::V4, addrs);
            adv.encode_with(Pseudo::v3(src.into(), Family::V4.group()).unwrap_or(Pseudo::None))
        }
    }
}

impl Daemon {
    pub(super) fn send_advert(&mut self, priority: u8) {
        let bytes = advert_bytes(
            self.cfg.version,
            self.cfg.vrid,
            priority,
            self.cfg.adver_int,
            &self.cfg.auth,
            &self.vip_addrs,
            self.primary,
        );
        match self.vsock.send(&bytes) {
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
