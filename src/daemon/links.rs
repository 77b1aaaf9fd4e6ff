//! The link and its addresses: carrier, deletion, the primary address, and the fault of a member that
//! cannot advertise.

use super::*;
use crate::core::Fault;

/// Why this member cannot advertise; it is out of the election (the host goes BACKUP as for a link loss).
/// The interface does not exist (any more) in our network namespace.
pub(super) struct Gone;

impl Daemon {
    pub(super) fn on_netlink(&mut self) -> Option<Exit> {
        let evs = match self.events.drain(self.ifindex) {
            Ok(e) => e,
            Err(e) => {
                warn!("rtnetlink events: {e}");
                return None;
            }
        };
        let now = Instant::now();
        if evs.contains(&Event::Overflow) {
            warn!(
                "rtnetlink notifications were lost (the kernel's queue overflowed): reading the link and the addresses again"
            );
        }
        let ch = netlink::changes(&evs);
        if ch.deleted {
            return Some(self.interface_gone(now));
        }
        if ch.link && self.refresh_link(now).is_err() {
            return Some(self.interface_gone(now));
        }
        if ch.addrs {
            self.refresh_addrs();
        }
        None
    }

    /// The interface left this namespace (deleted, or moved: RTM_DELLINK, or ENODEV on a re-read).
    pub(super) fn interface_gone(&mut self, now: Instant) -> Exit {
        error!("the interface was deleted: stopping");
        self.garp_at.clear();
        self.core.link_up = false;
        let was_master = self.core.fsm.state() == State::Master;
        // Nothing left to send on or to give back: the addresses went with the interface.
        let _ = self.core.fsm.shutdown(now, "interface deleted");
        self.since_ms = unix_ms();
        self.say_bye("interface deleted");
        if was_master {
            // The -D hook still runs: what it tears down (tunnels, routes) may live elsewhere.
            self.queue_hook(now, State::Master, State::Backup);
        }
        if self.hooks.busy() {
            self.deregister_hook_fd();
            self.hooks.finish_blocking();
        }
        self.host_hook_at_exit(now);
        self.stop_checks();
        // Moved to another namespace, or deleted: if it carried our virtual MAC, the record of
        // its own MAC stays, so that a vrrpd started when it is back gives that MAC back.
        let res = if self.mac != self.omac {
            error!(
                "the interface left while carrying {}: its original MAC {} stays recorded in {}",
                fmt_mac(&self.mac),
                fmt_mac(&self.omac),
                self.cfg.rundir.display()
            );
            let mut rec = self.member();
            rec.reason = "interface gone while carrying the virtual MAC".into();
            rundir::put_member(&self.cfg.rundir, &rec)
        } else {
            rundir::remove_member(&self.cfg.rundir, &self.id)
        };
        if let Err(e) = res {
            error!("cannot update the state file: {e}");
        }
        let _ = std::fs::remove_file(rundir::sock_path(&self.cfg.rundir, &self.id));
        Exit::InterfaceGone
    }

    /// Re-reads the link (events may be merged by the kernel: trust the current state, not the event).
    /// `Err(Gone)` when the interface no longer exists here.
    pub(super) fn refresh_link(&mut self, now: Instant) -> Result<(), Gone> {
        let link = match self.rtnl.link(self.ifindex) {
            Ok(l) => l,
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Err(Gone),
            Err(e) => {
                warn!("cannot read the link state: {e}");
                return Ok(());
            }
        };
        let up = link.usable();
        if !up && self.ignore_down_until.is_some_and(|t| now < t) {
            debug!("link down during our own MAC change: ignored for now");
            return Ok(());
        }
        if up == self.core.link_up {
            return Ok(());
        }
        self.core.link_up = up;
        if up {
            info!("link is up: rejoining the election (listening for a master first)");
            self.forget_unresolved_peers();
            let acts = self.core.fsm.restart(now);
            self.apply(now, Core::effects_of(acts));
        } else {
            warn!("link is down{}", if self.core.fsm.state() == State::Master { ": leaving MASTER" } else { "" });
        }
        self.settle(now);
        self.since_ms = unix_ms();
        self.save_state_logged();
        Ok(())
    }

    /// A `--peer` whose neighbour entry has no link-layer address (left by a link loss, see
    /// `sys::neigh`) would hold our next adverts for up to a second, then release them stale: the entry
    /// is removed, and the next advert resolves the peer afresh.
    pub(super) fn forget_unresolved_peers(&mut self) {
        let v4 = self.cfg.peers.iter().map(|&a| IpAddr::from(a));
        let peers: Vec<IpAddr> = v4.chain(self.cfg.peers6.iter().map(|&a| IpAddr::from(a))).collect();
        for p in peers {
            match self.rtnl.forget_unresolved(self.ifindex, p) {
                Ok(true) => info!(
                    "removed the unresolved neighbour entry of peer {p} (left by a link loss, it would have held our adverts)"
                ),
                Ok(false) => {}
                Err(e) => warn!("cannot read or remove the neighbour entry of peer {p}: {e}"),
            }
        }
    }

    pub(super) fn refresh_addrs(&mut self) {
        let addrs = match self.rtnl.addrs(self.ifindex) {
            Ok(a) => a,
            Err(e) => {
                warn!("cannot read the addresses: {e}");
                return;
            }
        };
        self.own = addrs.iter().map(|a| a.addr).filter(|a| !self.vip_addrs.contains(a)).collect();
        let primary = primary_of(&addrs, &self.vip_addrs);
        if let Some(p) = primary
            && p != self.primary
        {
            info!("primary address changed from {} to {p}", self.primary);
            self.primary = p;
            self.core.fsm.set_primary(p.into());
            if let Err(e) = self.vsock.set_source(self.ifindex, p) {
                warn!("cannot use {p} as the advert source: {e}");
            }
        }
        // No address of our own: no advert can leave; a MASTER would keep the VIPs while the peer takes
        // over. Out of the election until an address is back.
        let no_source = self.core.fault.as_ref().is_some_and(|f| f.retry_at.is_none());
        match primary {
            None if self.core.fault.is_none() && !self.cfg.vips.is_empty() => self.set_fault(
                format!("{} has no IPv4 address of its own left (adverts need a source address)", self.cfg.ifname),
                false,
            ),
            Some(p) if no_source => self.clear_fault(Instant::now(), &format!("address {p} is back")),
            _ => {}
        }
        if self.core.fsm.state() == State::Master && self.core.fault.is_none() {
            for v in self.cfg.vips.clone() {
                if !self.foreign_vips.contains(&v.addr) && !addrs.iter().any(|a| a.addr == v.addr) {
                    warn!("virtual address {v} was removed by someone else while MASTER: adding it back");
                    if let Err(e) = self.rtnl.add_addr(self.ifindex, v.addr, v.prefix, self.label.as_deref()) {
                        error!("cannot add virtual address {v}: {e}");
                    }
                }
            }
        }
    }

    pub(super) fn set_fault(&mut self, why: String, retry: bool) {
        let now = Instant::now();
        error!(
            "{why}: out of the election{}, the host goes BACKUP as for a link loss",
            if retry { format!(" for {} s", FAULT_RETRY.as_secs()) } else { String::new() }
        );
        self.core.fault = Some(Fault { why, retry_at: retry.then(|| now + FAULT_RETRY) });
        self.since_ms = unix_ms();
    }

    /// The fault is over: take part again, listening for a master first.
    pub(super) fn clear_fault(&mut self, now: Instant, how: &str) {
        if self.core.fault.take().is_none() {
            return;
        }
        info!("{how}: rejoining the election (listening for a master first)");
        self.send_failures = 0;
        let acts = self.core.fsm.restart(now);
        self.apply(now, Core::effects_of(acts));
        self.since_ms = unix_ms();
        self.save_state_logged();
    }
}
