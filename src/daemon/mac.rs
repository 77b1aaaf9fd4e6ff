//! MAC changes (in place, or with the link down when the driver refuses), gratuitous ARP and the
//! magic packet of the MASTER.

use super::*;

/// How a MAC change was made.
pub(super) enum MacChange {
    InPlace,
    /// The driver refused the live change: link down, MAC, link up, routes re-installed.
    Bounced {
        refused: io::Error,
        routes: usize,
    },
}

impl std::fmt::Display for MacChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MacChange::InPlace => f.write_str("in place"),
            MacChange::Bounced { refused, routes } => {
                write!(f, "with the link down and up (live change refused: {refused}), {routes} route(s) re-installed")
            }
        }
    }
}

/// Sets a MAC in place, or with the link down when the driver refuses a live change; re-installs the
/// routes the kernel dropped meanwhile.
pub(super) fn set_mac_any(rtnl: &mut Rtnl, ifindex: u32, mac: [u8; 6], force_fallback: bool) -> io::Result<MacChange> {
    let live = if force_fallback { Err(io::Error::from_raw_os_error(libc::EBUSY)) } else { rtnl.set_mac(ifindex, mac) };
    match live {
        Ok(()) => Ok(MacChange::InPlace),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EOPNOTSUPP)) => {
            let before = rtnl.routes(ifindex)?;
            rtnl.set_up(ifindex, false)?;
            let set = rtnl.set_mac(ifindex, mac);
            rtnl.set_up(ifindex, true)?;
            set?;
            let after: Vec<String> = rtnl.routes(ifindex)?.iter().map(netlink::route_key).collect();
            let mut n = 0;
            for r in before.iter().filter(|r| !netlink::kernel_managed(r)) {
                if !after.contains(&netlink::route_key(r)) {
                    match rtnl.add_route(r) {
                        Ok(()) => n += 1,
                        Err(e) => error!("cannot re-install a route after the MAC change: {e} ({r:?})"),
                    }
                }
            }
            Ok(MacChange::Bounced { refused: e, routes: n })
        }
        Err(e) => Err(e),
    }
}

impl Daemon {
    pub(super) fn change_mac(&mut self, mac: [u8; 6]) {
        match set_mac_any(&mut self.rtnl, self.ifindex, mac, self.force_fallback) {
            Ok(MacChange::InPlace) => {
                debug!("MAC {} set in place", fmt_mac(&mac));
                self.mac = mac;
            }
            Ok(how) => {
                // Our own down/up is not a link failure.
                self.ignore_down_until = Some(Instant::now() + BOUNCE_GRACE);
                info!("MAC {} set {how}", fmt_mac(&mac));
                self.mac = mac;
            }
            Err(e) => error!("cannot set MAC {}: {e}", fmt_mac(&mac)),
        }
    }

    /// Gratuitous ARP for the VIPs and our own addresses (NAs for the IPv6 ones), and 1.15's magic
    /// packet (`-I`/`-O`).
    pub(super) fn garp_master(&mut self) {
        let mut addrs = self.vip_addrs.clone();
        addrs.extend(self.own.iter().copied());
        // With -n another member may have set the interface's MAC: announce the one it has now.
        let mac = if self.cfg.no_vmac {
            self.rtnl.link(self.ifindex).ok().and_then(|l| l.mac).unwrap_or(self.mac)
        } else {
            self.mac
        };
        self.send_garps(mac, &addrs);
        self.send_nas(mac, true);
        if let Some(m) = self.cfg.magic {
            let payload = format!("vrrpd vrid {} master {}\n", self.cfg.vrid, m.from);
            match raw::send_udp_from(&self.cfg.ifname, m.from, m.to, crate::cli::MAGIC_PORT, payload.as_bytes()) {
                Ok(()) => debug!("magic packet sent from {} to {}:{}", m.from, m.to, crate::cli::MAGIC_PORT),
                Err(e) => warn!("cannot send the magic packet from {} to {}: {e}", m.from, m.to),
            }
        }
    }

    pub(super) fn send_garps(&mut self, mac: [u8; 6], addrs: &[Ipv4Addr]) {
        for ip in addrs {
            if let Err(e) = self.frames.send(self.ifindex, &arp::gratuitous(mac, *ip)) {
                debug!("gratuitous ARP for {ip} not sent: {e}");
            }
        }
    }
}
