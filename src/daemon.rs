//! The event loop: turns the VRRP socket, rtnetlink events, signals and timers into state-machine
//! inputs, and executes the actions it returns (MAC, addresses, adverts, gratuitous ARP, run-dir state).

use crate::arp::{self, fmt_mac, is_virtual_mac};
use crate::cli::{Config, Vip};
use crate::fsm::{Action, Params, State, Vrrp};
use crate::packet::{self, Advert, DropKind, Expect};
use crate::rundir::{self, Member};
use crate::sys::netlink::{self, Addr, Event, Events, Rtnl};
use crate::sys::raw::{FrameSocket, VrrpSocket};
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGTTIN, SIGTTOU};
use signal_hook_mio::v1_0::Signals;
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const T_VRRP: Token = Token(0);
const T_NETLINK: Token = Token(1);
const T_SIGNAL: Token = Token(2);

/// Gratuitous ARP bursts after becoming MASTER, relative to the transition.
const GARP_MASTER: [Duration; 3] = [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2)];
/// How long link-down events caused by our own down/set/up MAC fallback are ignored.
const BOUNCE_GRACE: Duration = Duration::from_secs(5);
/// At most one log line per drop kind per this period.
const DROP_LOG_EVERY: Duration = Duration::from_secs(1);

/// Counters shown by atropos.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub sent: u64,
    pub received: u64,
    pub drops: [u64; DropKind::ALL.len()],
}

/// Why the daemon stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    Signal,
    InterfaceGone,
}

struct DropLog {
    last: Option<Instant>,
    suppressed: u64,
}

pub struct Daemon {
    cfg: Config,
    ifindex: u32,
    label: Option<String>,
    primary: Ipv4Addr,
    /// The interface's addresses that are not virtual addresses.
    own: Vec<Ipv4Addr>,
    /// Virtual addresses the administrator configured on the interface himself: never added or removed.
    foreign_vips: Vec<Ipv4Addr>,
    vip_addrs: Vec<Ipv4Addr>,
    omac: [u8; 6],
    mac: [u8; 6],
    link_up: bool,
    ignore_down_until: Option<Instant>,
    fsm: Vrrp,
    rtnl: Rtnl,
    events: Events,
    vsock: VrrpSocket,
    frames: FrameSocket,
    poll: Poll,
    signals: Signals,
    pub counters: Counters,
    drop_log: Vec<DropLog>,
    garp_at: Vec<Instant>,
    since_ms: u64,
    recv_buf: Vec<u8>,
    force_fallback: bool,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn io_ctx(what: impl std::fmt::Display) -> impl FnOnce(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// The primary address: the first non-secondary IPv4 address that is not one of our virtual addresses.
pub fn primary_of(addrs: &[Addr], vips: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    addrs
        .iter()
        .filter(|a| !vips.contains(&a.addr))
        .find(|a| !a.secondary)
        .or_else(|| addrs.iter().find(|a| !vips.contains(&a.addr)))
        .map(|a| a.addr)
}

impl Daemon {
    /// Sets everything up: recovers what a crashed predecessor left on the interface, records the
    /// original MAC, opens the sockets. The interface is not touched again until an election is won.
    pub fn new(cfg: Config, ifindex: u32) -> Result<Daemon, String> {
        let mut rtnl = Rtnl::open().map_err(io_ctx("rtnetlink"))?;
        let label = {
            let l = format!("{}:v{}", cfg.ifname, cfg.vrid);
            (l.len() <= 15).then_some(l)
        };
        let vip_addrs = cfg.vip_addrs();
        let mut d_link = rtnl.link(ifindex).map_err(io_ctx(format!("{}: reading the link", cfg.ifname)))?;

        // 1. Recover from a previous run of ours on this interface (crash, SIGKILL, power cut).
        let previous = rundir::read_state(&cfg.rundir)
            .map_err(io_ctx(format!("{}: reading the state file", cfg.rundir.display())))?
            .into_iter()
            .find(|m| m.ifname == cfg.ifname);
        let addrs = rtnl.addrs(ifindex).map_err(io_ctx(format!("{}: reading addresses", cfg.ifname)))?;
        let mut stale: Vec<Vip> = Vec::new();
        for a in &addrs {
            let ours_by_label = label.is_some() && a.label == label;
            let ours_by_record = previous.as_ref().is_some_and(|p| p.vips.iter().any(|v| v.addr == a.addr));
            if ours_by_label || (ours_by_record && a.label.as_deref() != Some(cfg.ifname.as_str())) {
                stale.push(Vip { addr: a.addr, prefix: a.prefix });
            }
        }
        for v in &stale {
            rtnl.del_addr(ifindex, v.addr, v.prefix).map_err(io_ctx(format!("removing stale address {v}")))?;
            warn!("removed stale virtual address {v} left by a previous vrrpd");
        }
        let cur_mac = d_link.mac.ok_or_else(|| format!("{}: the interface has no Ethernet address", cfg.ifname))?;
        let omac = match previous.as_ref().and_then(|p| p.omac) {
            Some(recorded) => {
                if recorded != cur_mac {
                    rtnl.set_mac(ifindex, recorded)
                        .or_else(|_| {
                            rtnl.set_up(ifindex, false)?;
                            rtnl.set_mac(ifindex, recorded)?;
                            rtnl.set_up(ifindex, true)
                        })
                        .map_err(io_ctx(format!("restoring the original MAC {}", fmt_mac(&recorded))))?;
                    warn!(
                        "restored the original MAC {} (a previous vrrpd left {} on the interface)",
                        fmt_mac(&recorded),
                        fmt_mac(&cur_mac)
                    );
                }
                recorded
            }
            None => {
                if is_virtual_mac(&cur_mac) {
                    warn!(
                        "the interface already carries the virtual MAC {} and no original MAC is recorded in {}; \
                         it will be kept as the interface's own MAC",
                        fmt_mac(&cur_mac),
                        cfg.rundir.display()
                    );
                }
                cur_mac
            }
        };
        d_link.mac = Some(omac);

        let addrs = if stale.is_empty() { addrs } else { rtnl.addrs(ifindex).map_err(io_ctx("reading addresses"))? };
        let primary =
            primary_of(&addrs, &vip_addrs).ok_or_else(|| format!("{}: the interface has no IPv4 address", cfg.ifname))?;
        let own: Vec<Ipv4Addr> = addrs.iter().map(|a| a.addr).filter(|a| !vip_addrs.contains(a)).collect();
        let foreign_vips: Vec<Ipv4Addr> =
            addrs.iter().map(|a| a.addr).filter(|a| vip_addrs.contains(a)).collect();
        for f in &foreign_vips {
            warn!("virtual address {f} is configured on the interface by someone else: vrrpd will neither add nor remove it");
        }

        let events = Events::open().map_err(io_ctx("rtnetlink events"))?;
        let vsock = VrrpSocket::open(&cfg.ifname, ifindex, primary)
            .map_err(io_ctx(format!("{}: opening the VRRP socket", cfg.ifname)))?;
        let frames = FrameSocket::open().map_err(io_ctx("opening the packet socket"))?;
        let poll = Poll::new().map_err(io_ctx("epoll"))?;
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGTTIN, SIGTTOU]).map_err(io_ctx("signals"))?;
        let reg = poll.registry();
        reg.register(&mut SourceFd(&vsock.fd()), T_VRRP, Interest::READABLE).map_err(io_ctx("epoll"))?;
        reg.register(&mut SourceFd(&events.fd()), T_NETLINK, Interest::READABLE).map_err(io_ctx("epoll"))?;
        reg.register(&mut signals, T_SIGNAL, Interest::READABLE).map_err(io_ctx("epoll"))?;

        let now = Instant::now();
        let fsm = Vrrp::new(
            Params {
                priority: cfg.priority,
                adver_int: Duration::from_secs(cfg.adver_int.into()),
                preempt: cfg.preempt,
                primary,
            },
            now,
        );
        let d = Daemon {
            ifindex,
            label,
            primary,
            own,
            foreign_vips,
            vip_addrs,
            omac,
            mac: omac,
            link_up: d_link.usable(),
            ignore_down_until: None,
            fsm,
            rtnl,
            events,
            vsock,
            frames,
            poll,
            signals,
            counters: Counters::default(),
            drop_log: DropKind::ALL.iter().map(|_| DropLog { last: None, suppressed: 0 }).collect(),
            garp_at: Vec::new(),
            since_ms: unix_ms(),
            recv_buf: vec![0; 4096],
            force_fallback: std::env::var_os("VRRPD_TEST_MAC_FALLBACK").is_some(),
            cfg,
        };
        // 2. Record the original MAC before anything can change it.
        d.save_state().map_err(io_ctx(format!("{}: writing the state file", d.cfg.rundir.display())))?;
        Ok(d)
    }

    fn member(&self) -> Member {
        Member {
            ifname: self.cfg.ifname.clone(),
            vrid: self.cfg.vrid,
            pid: std::process::id(),
            state: self.fsm.state().name().to_string(),
            prio: self.fsm.priority(),
            cfg_prio: self.cfg.priority,
            omac: Some(self.omac),
            mac: Some(self.mac),
            vips: self.cfg.vips.clone(),
            members: self.cfg.members.unwrap_or(0),
            link_up: self.link_up,
            since_ms: self.since_ms,
            reason: self.fsm.reason().to_string(),
        }
    }

    fn save_state(&self) -> io::Result<()> {
        rundir::put_member(&self.cfg.rundir, &self.member())
    }

    fn save_state_logged(&self) {
        if let Err(e) = self.save_state() {
            error!("cannot write the state file in {}: {e}", self.cfg.rundir.display());
        }
    }

    pub fn run(&mut self) -> Exit {
        info!(
            "starting: priority {}, advert interval {} s, preemption {}, primary {}, MAC {}{}, virtual addresses {}",
            self.cfg.priority,
            self.cfg.adver_int,
            if self.cfg.preempt { "on" } else { "off" },
            self.primary,
            fmt_mac(&self.omac),
            if self.cfg.no_vmac { " (-n: kept)" } else { "" },
            self.cfg.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")
        );
        if !self.link_up {
            warn!("link is down: staying BACKUP until it comes up");
        }
        let now = Instant::now();
        let acts = self.fsm.startup(now);
        self.execute(now, acts);
        self.save_state_logged();
        let mut events = mio::Events::with_capacity(16);
        loop {
            let now = Instant::now();
            let timeout = self.next_deadline().map(|t| t.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                error!("epoll failed: {e}; stopping");
                self.shutdown("internal error (epoll)");
                return Exit::Signal;
            }
            for ev in events.iter() {
                match ev.token() {
                    T_VRRP => self.on_vrrp_readable(),
                    T_NETLINK => {
                        if let Some(exit) = self.on_netlink() {
                            return exit;
                        }
                    }
                    T_SIGNAL => {
                        if let Some(exit) = self.on_signals() {
                            return exit;
                        }
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            let acts = self.fsm.tick(now);
            self.execute(now, acts);
            self.on_timers(now);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [self.fsm.next_deadline(), self.garp_at.iter().min().copied(), self.ignore_down_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// The verdict of a process alone: master when it won and its link is usable.
    fn settle(&mut self, now: Instant) {
        let allow = self.fsm.wants_master() && self.link_up;
        let why = if self.link_up { "lost the election" } else { "link down" };
        let acts = self.fsm.verdict(now, allow, why);
        self.run_actions(now, acts);
    }

    /// Runs actions and then the verdict they may call for.
    fn execute(&mut self, now: Instant, acts: Vec<Action>) {
        self.run_actions(now, acts);
        self.settle(now);
    }

    fn run_actions(&mut self, now: Instant, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::SendAdvert { priority } => self.send_advert(priority),
                Action::EnterMaster { reason } => self.enter_master(now, &reason),
                Action::LeaveMaster { reason } => self.leave_master(&reason),
            }
        }
    }

    fn send_advert(&mut self, priority: u8) {
        let adv = Advert::new(self.cfg.vrid, priority, self.cfg.adver_int, &self.cfg.auth, self.vip_addrs.clone());
        match self.vsock.send(&adv.encode()) {
            Ok(()) => self.counters.sent += 1,
            Err(e) => warn!("cannot send an advert (priority {priority}): {e}"),
        }
    }

    fn enter_master(&mut self, now: Instant, reason: &str) {
        if !self.cfg.no_vmac {
            let vmac = self.cfg.vmac();
            self.change_mac(now, vmac);
        }
        for v in self.cfg.vips.clone() {
            if self.foreign_vips.contains(&v.addr) {
                continue;
            }
            if let Err(e) = self.rtnl.add_addr(self.ifindex, v.addr, v.prefix, self.label.as_deref()) {
                error!("cannot add virtual address {v}: {e}");
            }
        }
        self.since_ms = unix_ms();
        info!("BACKUP -> MASTER: {reason}");
        // The first burst goes out right after the first advert (run_actions sends it next); the timer
        // loop sends it because its deadline is `now`.
        self.garp_at = GARP_MASTER.iter().map(|d| now + *d).collect();
        self.save_state_logged();
    }

    fn leave_master(&mut self, reason: &str) {
        self.garp_at.clear();
        for v in self.cfg.vips.clone() {
            if self.foreign_vips.contains(&v.addr) {
                continue;
            }
            if let Err(e) = self.rtnl.del_addr(self.ifindex, v.addr, v.prefix) {
                error!("cannot remove virtual address {v}: {e}");
            }
        }
        if self.mac != self.omac {
            let omac = self.omac;
            self.change_mac(Instant::now(), omac);
        }
        self.since_ms = unix_ms();
        info!("MASTER -> BACKUP: {reason}");
        // Tell the LAN our own addresses are back at our own MAC.
        if !self.cfg.no_vmac {
            self.send_garps(self.omac, &self.own.clone());
        }
        self.save_state_logged();
    }

    /// Changes the MAC in place; if the driver refuses a live change, down/set/up and re-install the
    /// routes the kernel dropped.
    fn change_mac(&mut self, now: Instant, mac: [u8; 6]) {
        let live = if self.force_fallback {
            Err(io::Error::from_raw_os_error(libc::EBUSY))
        } else {
            self.rtnl.set_mac(self.ifindex, mac)
        };
        match live {
            Ok(()) => {
                debug!("MAC {} set in place", fmt_mac(&mac));
                self.mac = mac;
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EOPNOTSUPP)) => {
                match self.bounce_mac(now, mac) {
                    Ok(n) => {
                        self.mac = mac;
                        info!(
                            "driver refused a live MAC change ({e}): link taken down, MAC {} set, link up, {n} route(s) re-installed",
                            fmt_mac(&mac)
                        );
                    }
                    Err(e2) => error!("cannot set MAC {} even with the link down: {e2}", fmt_mac(&mac)),
                }
            }
            Err(e) => error!("cannot set MAC {}: {e}", fmt_mac(&mac)),
        }
    }

    fn bounce_mac(&mut self, now: Instant, mac: [u8; 6]) -> io::Result<usize> {
        let before = self.rtnl.routes(self.ifindex)?;
        self.ignore_down_until = Some(now + BOUNCE_GRACE);
        self.rtnl.set_up(self.ifindex, false)?;
        let set = self.rtnl.set_mac(self.ifindex, mac);
        self.rtnl.set_up(self.ifindex, true)?;
        set?;
        let after: Vec<String> = self.rtnl.routes(self.ifindex)?.iter().map(netlink::route_key).collect();
        let mut n = 0;
        for r in before.iter().filter(|r| !netlink::kernel_managed(r)) {
            if !after.contains(&netlink::route_key(r)) {
                match self.rtnl.add_route(r) {
                    Ok(()) => n += 1,
                    Err(e) => error!("cannot re-install a route after the MAC change: {e} ({r:?})"),
                }
            }
        }
        Ok(n)
    }

    fn send_garps(&mut self, mac: [u8; 6], addrs: &[Ipv4Addr]) {
        for ip in addrs {
            if let Err(e) = self.frames.send(self.ifindex, &arp::gratuitous(mac, *ip)) {
                debug!("gratuitous ARP for {ip} not sent: {e}");
            }
        }
    }

    fn on_timers(&mut self, now: Instant) {
        if self.garp_at.iter().any(|t| *t <= now) {
            self.garp_at.retain(|t| *t > now);
            if self.fsm.state() == State::Master {
                let mut addrs = self.vip_addrs.clone();
                addrs.extend(self.own.iter().copied());
                self.send_garps(self.mac, &addrs);
            }
        }
        if self.ignore_down_until.is_some_and(|t| t <= now) {
            self.ignore_down_until = None;
            self.refresh_link(now);
        }
    }

    fn on_vrrp_readable(&mut self) {
        loop {
            let n = match self.vsock.recv(&mut self.recv_buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("VRRP socket read failed: {e}");
                    return;
                }
            };
            let now = Instant::now();
            let len = n.min(self.recv_buf.len());
            let result = packet::parse_ipv4(&self.recv_buf[..len]).and_then(|r| {
                if n > self.recv_buf.len() {
                    return Err(DropKind::TrailingBytes);
                }
                let expect = Expect {
                    vrid: self.cfg.vrid,
                    auth: &self.cfg.auth,
                    adver_int: self.cfg.adver_int,
                    vips: &self.vip_addrs,
                    own: &self.own,
                    owner: self.cfg.priority == 255,
                };
                expect.check(&r).map(|()| r)
            });
            match result {
                Ok(r) => {
                    self.counters.received += 1;
                    if !self.link_up {
                        continue;
                    }
                    let before = self.fsm.state();
                    let acts = self.fsm.advert(now, r.src, r.advert.priority);
                    self.execute(now, acts);
                    if before != self.fsm.state() {
                        self.save_state_logged();
                    }
                }
                Err(kind) => self.count_drop(now, kind, &self.recv_buf[..len.min(20)].to_vec()),
            }
        }
    }

    fn count_drop(&mut self, now: Instant, kind: DropKind, head: &[u8]) {
        self.counters.drops[kind.index()] += 1;
        let src = if head.len() >= 16 { Ipv4Addr::new(head[12], head[13], head[14], head[15]).to_string() } else { "?".into() };
        let log = &mut self.drop_log[kind.index()];
        if log.last.is_some_and(|t| now.duration_since(t) < DROP_LOG_EVERY) {
            log.suppressed += 1;
            return;
        }
        let more = if log.suppressed > 0 { format!(" ({} more of this kind since the last report)", log.suppressed) } else { String::new() };
        log.last = Some(now);
        log.suppressed = 0;
        if kind == DropKind::OtherVrid {
            debug!("dropped a packet from {src}: {}{more}", kind.describe());
        } else {
            warn!("dropped a packet from {src}: {}{more}", kind.describe());
        }
    }

    fn on_netlink(&mut self) -> Option<Exit> {
        let evs = match self.events.drain(self.ifindex) {
            Ok(e) => e,
            Err(e) => {
                warn!("rtnetlink events: {e}");
                return None;
            }
        };
        let now = Instant::now();
        let mut link_changed = false;
        let mut addr_changed = false;
        for e in evs {
            match e {
                Event::LinkDeleted => {
                    error!("the interface was deleted: stopping");
                    self.garp_at.clear();
                    self.link_up = false;
                    let _ = self.fsm.shutdown(now, "interface deleted");
                    self.since_ms = unix_ms();
                    let _ = rundir::remove_member(&self.cfg.rundir, &self.cfg.ifname);
                    return Some(Exit::InterfaceGone);
                }
                Event::Link(_) => link_changed = true,
                Event::AddrChanged => addr_changed = true,
            }
        }
        if link_changed {
            self.refresh_link(now);
        }
        if addr_changed {
            self.refresh_addrs();
        }
        None
    }

    /// Re-reads the link (events may be merged by the kernel: trust the current state, not the event).
    fn refresh_link(&mut self, now: Instant) {
        let link = match self.rtnl.link(self.ifindex) {
            Ok(l) => l,
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return,
            Err(e) => {
                warn!("cannot read the link state: {e}");
                return;
            }
        };
        let up = link.usable();
        if !up && self.ignore_down_until.is_some_and(|t| now < t) {
            debug!("link down during our own MAC change: ignored for now");
            return;
        }
        if up == self.link_up {
            return;
        }
        self.link_up = up;
        if up {
            info!("link is up: rejoining the election (listening for a master first)");
            let acts = self.fsm.restart(now);
            self.execute(now, acts);
        } else {
            warn!("link is down{}", if self.fsm.state() == State::Master { ": leaving MASTER" } else { "" });
            self.settle(now);
        }
        self.since_ms = unix_ms();
        self.save_state_logged();
    }

    fn refresh_addrs(&mut self) {
        let addrs = match self.rtnl.addrs(self.ifindex) {
            Ok(a) => a,
            Err(e) => {
                warn!("cannot read the addresses: {e}");
                return;
            }
        };
        self.own = addrs.iter().map(|a| a.addr).filter(|a| !self.vip_addrs.contains(a)).collect();
        match primary_of(&addrs, &self.vip_addrs) {
            Some(p) if p != self.primary => {
                info!("primary address changed from {} to {p}", self.primary);
                self.primary = p;
                self.fsm.set_primary(p);
                if let Err(e) = self.vsock.set_source(self.ifindex, p) {
                    warn!("cannot use {p} as the advert source: {e}");
                }
            }
            Some(_) => {}
            None => warn!("the interface has no IPv4 address of its own left: adverts cannot be sent"),
        }
        if self.fsm.state() == State::Master {
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

    fn on_signals(&mut self) -> Option<Exit> {
        let sigs: Vec<i32> = self.signals.pending().collect();
        for s in sigs {
            match s {
                SIGTERM | SIGINT => {
                    let name = if s == SIGTERM { "SIGTERM" } else { "SIGINT" };
                    self.shutdown(&format!("stopped by {name}"));
                    return Some(Exit::Signal);
                }
                SIGTTIN => self.change_priority(false),
                SIGTTOU => self.change_priority(true),
                SIGHUP => info!("SIGHUP ignored (restart vrrpd to change its configuration)"),
                _ => {}
            }
        }
        None
    }

    /// SIGTTIN / SIGTTOU: priority −10 / +10, or to the -z / -x value; kept within 1–254.
    fn change_priority(&mut self, increase: bool) {
        let cur = self.fsm.priority();
        if cur == 255 {
            warn!("priority change ignored: this router owns the addresses (priority 255)");
            return;
        }
        let new = if increase {
            self.cfg.increase_to.unwrap_or_else(|| cur.saturating_add(10).min(254))
        } else {
            self.cfg.reduce_to.unwrap_or_else(|| cur.saturating_sub(10).max(1))
        };
        if new != cur {
            info!("priority {cur} -> {new} ({})", if increase { "increase" } else { "reduce" });
            self.fsm.set_priority(new);
            self.save_state_logged();
        }
    }

    /// Gives everything back: priority 0 first (when MASTER), then addresses and MAC.
    pub fn shutdown(&mut self, why: &str) {
        let now = Instant::now();
        let acts = self.fsm.shutdown(now, why);
        self.run_actions(now, acts);
        info!("{why}: exiting");
        // Keep the record (and so the original MAC) if the MAC could not be given back.
        let res = if self.mac == self.omac {
            rundir::remove_member(&self.cfg.rundir, &self.cfg.ifname)
        } else {
            error!("the interface still carries {}; the original MAC {} stays recorded in the run dir", fmt_mac(&self.mac), fmt_mac(&self.omac));
            self.save_state()
        };
        if let Err(e) = res {
            warn!("cannot update the state file: {e}");
        }
    }
}
