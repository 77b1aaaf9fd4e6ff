//! Sent adverts: the VRRPv2 or VRRPv3 message of this router, to the group or to each unicast peer, and
//! the fault repeated send errors mean.

use super::*;

/// What one router's adverts carry, whoever sends them (the router itself, or a survivor sending a
/// dead member's priority 0).
pub(crate) struct Outgoing<'a> {
    pub version: Version,
    pub vrid: u8,
    pub int: Interval,
    pub auth: &'a Auth,
    pub vips: &'a [Ipv4Addr],
    /// The source address of the adverts.
    pub src: Ipv4Addr,
    /// The unicast peers (empty: the multicast group).
    pub peers: &'a [Ipv4Addr],
}

impl Outgoing<'_> {
    /// The advert with `priority` to `dst` (the group, or a unicast peer): v2 carries whole seconds and
    /// the authentication; v3 centiseconds and a checksum over the pseudo-header (RFC 5798 §5.2.8), which
    /// names the destination.
    pub(crate) fn bytes(&self, priority: u8, dst: Ipv4Addr) -> Vec<u8> {
        match self.version {
            // The command line allows nothing but whole seconds with v2.
            Version::V2 => {
                Advert::new(self.vrid, priority, self.int.whole_secs().unwrap_or(1), self.auth, self.vips.to_vec())
                    .encode()
            }
            Version::V3 => {
                let addrs = self.vips.iter().map(|&a| IpAddr::V4(a)).collect();
                let adv = Advert::v3(self.vrid, priority, self.int, Family::V4, addrs);
                adv.encode_with(Pseudo::v3(self.src.into(), dst.into()).unwrap_or(Pseudo::None))
            }
        }
    }

    /// Sends one advert with `priority` to the group (no peers) or to every peer; the first error, if any.
    pub(crate) fn send(&self, sock: &VrrpSocket, ifindex: u32, priority: u8) -> io::Result<()> {
        if self.peers.is_empty() {
            return sock.send(&self.bytes(priority, packet::VRRP_GROUP));
        }
        let mut first_err = None;
        for &p in self.peers {
            if let Err(e) = sock.send_to(p, self.src, ifindex, &self.bytes(priority, p)) {
                first_err.get_or_insert(io::Error::new(e.kind(), format!("to {p}: {e}")));
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Daemon {
    /// The source of our adverts: `--src`, or the interface's primary address.
    pub(super) fn advert_src(&self) -> Ipv4Addr {
        self.cfg.src.unwrap_or(self.primary)
    }

    /// Our advert of each family present; either family failing counts (a MASTER must be heard on
    /// both). A MASTER that cannot advertise lets the peer take over while it still holds the VIPs:
    /// after SEND_FAULT_AFTER failures in a row it resigns (the settle loop hands over with priority 0,
    /// as for a link loss).
    pub(super) fn send_advert(&mut self, priority: u8) {
        let failed4 = if self.cfg.vips.is_empty() { None } else { self.send_advert4(priority).err() };
        let failed6 = self.send_advert6(priority).err();
        match failed4.or(failed6) {
            None => self.send_failures = 0,
            Some(why) => {
                self.send_failures += 1;
                if self.send_failures >= SEND_FAULT_AFTER && self.core.fault.is_none() && priority != 0 {
                    self.set_fault(why, true);
                }
            }
        }
    }

    fn send_advert4(&mut self, priority: u8) -> Result<(), String> {
        let out = Outgoing {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            int: self.cfg.adver_int,
            auth: &self.cfg.auth,
            vips: &self.vip_addrs,
            src: self.advert_src(),
            peers: &self.cfg.peers,
        };
        match out.send(&self.vsock, self.ifindex, priority) {
            Ok(()) => {
                self.counters.sent += 1;
                Ok(())
            }
            Err(e) => {
                warn!("cannot send an advert (priority {priority}): {e}");
                Err(format!("cannot send adverts: {e}"))
            }
        }
    }
}
