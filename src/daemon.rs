//! The event loop: turns the VRRP socket, rtnetlink events, the control sockets, signals and timers
//! into state-machine and group inputs, and executes what they decide (MAC, addresses, adverts,
//! gratuitous ARP, hooks, run-dir state).

use crate::arp::{self, fmt_mac, is_virtual_mac};
use crate::cli::{Config, Vip};
use crate::control::{self, Message, Request};
use crate::ctl::{Ctl, Role};
use crate::fsm::{Action, Params, State, Vrrp};
use crate::group::{self, Status};
use crate::hooks::{Hooks, Job};
use crate::packet::{self, Advert, Auth, DropKind, Expect};
use crate::rundir::{self, Member, MemberId};
use crate::sys::netlink::{self, Addr, Event, Events, Rtnl};
use crate::sys::proc;
use crate::sys::proc::PidFile;
use crate::sys::raw::{self, FrameSocket, VrrpSocket};
use crate::sys::signals::{self, Meaning, SignalPipe};
use crate::sys::watch::DirWatch;
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const T_VRRP: Token = Token(0);
const T_NETLINK: Token = Token(1);
const T_SIGNAL: Token = Token(2);
const T_HOOK: Token = Token(3);
const T_LISTEN: Token = Token(4);
const T_WATCH: Token = Token(5);

/// Gratuitous ARP bursts after becoming MASTER, relative to the transition.
const GARP_MASTER: [Duration; 3] = [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2)];
/// How long link-down events caused by our own down/set/up MAC fallback are ignored.
const BOUNCE_GRACE: Duration = Duration::from_secs(5);
/// A MASTER whose adverts fail this many times in a row cannot advertise: it resigns.
const SEND_FAULT_AFTER: u32 = 2;
/// After a send fault, the member tries to take part again after this long (listening first).
const FAULT_RETRY: Duration = Duration::from_secs(5);
/// At most one log line per drop kind per this period.
const DROP_LOG_EVERY: Duration = Duration::from_secs(1);

/// Counters shown by atropos.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub sent: u64,
    pub received: u64,
    pub drops: [u64; DropKind::ALL.len()],
    /// Adverts accepted although their interval differs from ours.
    pub interval_mismatch: u64,
}

/// The last advert accepted with another interval than ours (a WARNING for atropos while it lasts).
struct Mismatch {
    src: Ipv4Addr,
    int: u8,
    at: Instant,
    logged_at: Instant,
    suppressed: u64,
}

/// While MASTER: the last advert for our vrid that we dropped from another router (auth, interval,
/// address list). That router may be MASTER too: a possible split brain, shown by atropos.
#[derive(Clone, Copy)]
struct Conflict {
    src: Ipv4Addr,
    prio: u8,
    kind: DropKind,
    at: Instant,
}

/// Why this member cannot advertise; it is out of the election (the host goes BACKUP as for a link loss).
struct Fault {
    why: String,
    /// Sends failed: try again then. `None`: the interface has no address of its own; wait for one.
    retry_at: Option<Instant>,
}

/// Drops that mean another router advertises our vrid with a configuration we cannot accept.
fn is_conflict(kind: DropKind) -> bool {
    matches!(kind, DropKind::AuthType | DropKind::AuthData | DropKind::Interval | DropKind::AddrList)
}

/// How long a mismatch or a conflict is shown after its last advert: three of that router's intervals
/// and a second.
fn lasts(int_s: u8) -> Duration {
    3 * Duration::from_secs(int_s.max(1).into()) + Duration::from_secs(1)
}

/// The interface does not exist (any more) in our network namespace.
struct Gone;

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
    /// (interface, vrid): the member's name in the run dir and in the group.
    id: MemberId,
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
    signals: SignalPipe,
    ctl: Ctl,
    /// Connections to read again at the next turn (their read budget ran out).
    pending_reads: std::collections::BTreeSet<usize>,
    hooks: Hooks,
    hook_fd_registered: Option<i32>,
    drained: bool,
    /// inotify on the run dir (None if it could not be set up: then nothing is repaired at once).
    watch: Option<DirWatch>,
    /// The pid file recreated after the run dir was removed (the original one is held by main).
    pidfile_again: Option<PidFile>,
    /// Last status sent to siblings.
    announced: Option<Status>,
    /// Last verdict reason logged, to log group changes once.
    last_why_not: String,
    /// Why the host holds us BACKUP although we won our own election (None when not held).
    held: Option<String>,
    pub counters: Counters,
    mismatch: Option<Mismatch>,
    conflict: Option<Conflict>,
    fault: Option<Fault>,
    send_failures: u32,
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

fn vip_label(ifname: &str, vrid: u8) -> Option<String> {
    let l = format!("{ifname}:v{vrid}");
    (l.len() <= 15).then_some(l)
}

/// How a MAC change was made.
enum MacChange {
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
fn set_mac_any(rtnl: &mut Rtnl, ifindex: u32, mac: [u8; 6], force_fallback: bool) -> io::Result<MacChange> {
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
    /// Sets everything up: recovers what a crashed predecessor left on the interface, records the
    /// original MAC, opens the sockets. The interface is not touched again until an election is won.
    pub fn new(cfg: Config, ifindex: u32) -> Result<Daemon, String> {
        let mut rtnl = Rtnl::open().map_err(io_ctx("rtnetlink"))?;
        let label = vip_label(&cfg.ifname, cfg.vrid);
        let vip_addrs = cfg.vip_addrs();
        let link = rtnl.link(ifindex).map_err(io_ctx(format!("{}: reading the link", cfg.ifname)))?;
        let force_fallback = std::env::var_os("VRRPD_TEST_MAC_FALLBACK").is_some();

        // 1. Recover from a previous run of ours on this interface (crash, SIGKILL, power cut).
        let id = MemberId::new(&cfg.ifname, cfg.vrid);
        let records = match rundir::read_state(&cfg.rundir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                warn!("{e}: ignored, it is replaced by a fresh state file");
                Vec::new()
            }
            Err(e) => return Err(format!("{}: reading the state file: {e}", cfg.rundir.display())),
        };
        let previous = records.iter().find(|m| m.id() == id).cloned();
        // The record of the interface's original MAC: ours, or that of a dead member that set the MAC
        // of this interface under another vrid (we hold the interface's MAC claim, so no live one does).
        let mac_record = records
            .iter()
            .filter(|m| m.ifname == cfg.ifname && !m.no_vmac && m.omac.is_some())
            .find(|m| m.id() == id || !proc::alive(m.pid))
            .filter(|_| !cfg.no_vmac)
            .cloned();
        let addrs = rtnl.addrs(ifindex).map_err(io_ctx(format!("{}: reading addresses", cfg.ifname)))?;
        let mut stale: Vec<Vip> = Vec::new();
        for a in &addrs {
            let ours_by_label = a.label.is_some()
                && (a.label == label || a.label == previous.as_ref().and_then(|p| vip_label(&p.ifname, p.vrid)));
            let ours_by_record = previous.as_ref().is_some_and(|p| p.vips.iter().any(|v| v.addr == a.addr))
                && a.label.as_deref() != Some(cfg.ifname.as_str());
            if ours_by_label || ours_by_record {
                stale.push(Vip { addr: a.addr, prefix: a.prefix });
            }
        }
        for v in &stale {
            rtnl.del_addr(ifindex, v.addr, v.prefix).map_err(io_ctx(format!("removing stale address {v}")))?;
            warn!("removed stale virtual address {v} left by a previous vrrpd");
        }
        let cur_mac = link.mac.ok_or_else(|| format!("{}: the interface has no Ethernet address", cfg.ifname))?;
        // The recorded MAC is given back only over a virtual MAC (ours, left behind); a MAC that is not
        // virtual and differs is the interface's own now (re-created, or set by the administrator).
        let omac = match mac_record.as_ref().and_then(|p| p.omac) {
            Some(recorded) if recorded != cur_mac && is_virtual_mac(&cur_mac) => {
                let how = set_mac_any(&mut rtnl, ifindex, recorded, force_fallback)
                    .map_err(io_ctx(format!("restoring the original MAC {}", fmt_mac(&recorded))))?;
                warn!(
                    "restored the original MAC {} {how} (a previous vrrpd left {} on the interface)",
                    fmt_mac(&recorded),
                    fmt_mac(&cur_mac)
                );
                recorded
            }
            Some(recorded) if recorded != cur_mac => {
                warn!(
                    "the state file records MAC {} for {}, which now has {} (not a virtual MAC): the interface was \
                     re-created or its MAC changed; {} is its own MAC from now on",
                    fmt_mac(&recorded),
                    cfg.ifname,
                    fmt_mac(&cur_mac),
                    fmt_mac(&cur_mac)
                );
                cur_mac
            }
            Some(recorded) => recorded,
            None if is_virtual_mac(&cur_mac) && !cfg.no_vmac => {
                // Never take a virtual MAC for the interface's own: a BACKUP would then duplicate the master's.
                return Err(format!(
                    "{} carries the virtual MAC {} and no original MAC is recorded in {}: vrrpd cannot know the \
                     interface's own MAC. Set it back (ip link set {} address <its MAC>) and start again, or run with -n",
                    cfg.ifname,
                    fmt_mac(&cur_mac),
                    cfg.rundir.display(),
                    cfg.ifname
                ));
            }
            None => cur_mac,
        };
        // Records of dead members that set this interface's MAC under another vrid are now used up.
        if let Some(rec) = mac_record.as_ref().filter(|r| r.id() != id) {
            let gone = rec.id();
            if let Err(e) = rundir::update_state(&cfg.rundir, |all| all.retain(|m| m.id() != gone)) {
                warn!("cannot drop the old record of {gone}: {e}");
            }
        }

        let addrs = if stale.is_empty() { addrs } else { rtnl.addrs(ifindex).map_err(io_ctx("reading addresses"))? };
        let primary = primary_of(&addrs, &vip_addrs)
            .ok_or_else(|| format!("{}: the interface has no IPv4 address", cfg.ifname))?;
        let own: Vec<Ipv4Addr> = addrs.iter().map(|a| a.addr).filter(|a| !vip_addrs.contains(a)).collect();
        let foreign_vips: Vec<Ipv4Addr> = addrs.iter().map(|a| a.addr).filter(|a| vip_addrs.contains(a)).collect();
        for f in &foreign_vips {
            warn!(
                "virtual address {f} is configured on the interface by someone else: vrrpd will neither add nor remove it"
            );
        }

        let events = Events::open().map_err(io_ctx("rtnetlink events"))?;
        let vsock = VrrpSocket::open(&cfg.ifname, ifindex, primary)
            .map_err(io_ctx(format!("{}: opening the VRRP socket", cfg.ifname)))?;
        let frames = FrameSocket::open().map_err(io_ctx("opening the packet socket"))?;
        let poll = Poll::new().map_err(io_ctx("epoll"))?;
        let signals = SignalPipe::install().map_err(io_ctx("signals"))?;
        let sock_path = rundir::sock_path(&cfg.rundir, &id);
        let reg = poll.registry();
        let ctl =
            Ctl::bind(&sock_path, reg, T_LISTEN).map_err(io_ctx(format!("{}: control socket", sock_path.display())))?;
        reg.register(&mut SourceFd(&vsock.fd()), T_VRRP, Interest::READABLE).map_err(io_ctx("epoll"))?;
        reg.register(&mut SourceFd(&events.fd()), T_NETLINK, Interest::READABLE).map_err(io_ctx("epoll"))?;
        reg.register(&mut SourceFd(&signals.fd()), T_SIGNAL, Interest::READABLE).map_err(io_ctx("epoll"))?;
        let watch = match DirWatch::new(&cfg.rundir) {
            Ok(w) => {
                reg.register(&mut SourceFd(&w.fd()), T_WATCH, Interest::READABLE).map_err(io_ctx("epoll"))?;
                Some(w)
            }
            Err(e) => {
                warn!("cannot watch the run directory ({e}): it will be repaired only at the next transition");
                None
            }
        };

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
            id,
            ifindex,
            label,
            primary,
            own,
            foreign_vips,
            vip_addrs,
            omac,
            mac: omac,
            link_up: link.usable(),
            ignore_down_until: None,
            fsm,
            rtnl,
            events,
            vsock,
            frames,
            poll,
            signals,
            ctl,
            pending_reads: Default::default(),
            hooks: Hooks::new(cfg.hook_timeout),
            hook_fd_registered: None,
            drained: rundir::drained(&cfg.rundir),
            watch,
            pidfile_again: None,
            announced: None,
            last_why_not: String::new(),
            held: None,
            counters: Counters::default(),
            mismatch: None,
            conflict: None,
            fault: None,
            send_failures: 0,
            drop_log: DropKind::ALL.iter().map(|_| DropLog { last: None, suppressed: 0 }).collect(),
            garp_at: Vec::new(),
            since_ms: unix_ms(),
            recv_buf: vec![0; 4096],
            force_fallback,
            cfg,
        };
        // 2. Record the original MAC before anything can change it.
        d.save_state().map_err(io_ctx(format!("{}: writing the state file", d.cfg.rundir.display())))?;
        Ok(d)
    }

    fn in_group(&self) -> bool {
        self.cfg.members.is_some()
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
            adver_int: self.cfg.adver_int,
            auth_type: self.cfg.auth.type_code(),
            since_ms: self.since_ms,
            reason: self.reason(),
            no_vmac: self.cfg.no_vmac,
        }
    }

    /// Why we are in our role, and why we are held BACKUP when we won our election.
    fn reason(&self) -> String {
        match &self.held {
            Some(h) => format!("{}; held BACKUP: {h}", self.fsm.reason()),
            None => self.fsm.reason().to_string(),
        }
    }

    fn save_state(&self) -> io::Result<()> {
        rundir::put_member(&self.cfg.rundir, &self.member())
    }

    /// Writes our line in the state file; if the run dir vanished (removed by hand or by a cleanup
    /// job), recreates it with our control socket first.
    fn save_state_logged(&mut self) {
        let Err(e) = self.save_state() else { return };
        if e.kind() == io::ErrorKind::NotFound && !self.cfg.rundir.is_dir() {
            warn!("run directory {} disappeared: recreating it", self.cfg.rundir.display());
            if let Err(e) = self.repair_rundir() {
                error!("cannot recreate the run directory {}: {e}", self.cfg.rundir.display());
                return;
            }
            if let Err(e) = self.save_state() {
                error!("cannot write the state file in {}: {e}", self.cfg.rundir.display());
            }
            return;
        }
        error!("cannot write the state file in {}: {e}", self.cfg.rundir.display());
    }

    fn repair_rundir(&mut self) -> Result<(), String> {
        rundir::prepare(&self.cfg.rundir)?;
        self.rebind_socket()?;
        self.recreate_pidfile();
        if let Some(w) = self.watch.as_mut()
            && let Err(e) = w.rewatch(&self.cfg.rundir)
        {
            warn!("cannot watch the run directory again: {e}");
        }
        Ok(())
    }

    fn recreate_pidfile(&mut self) {
        let path = rundir::pid_path(&self.cfg.rundir, &self.id);
        match PidFile::acquire(&path) {
            Ok(mut p) => {
                if let Err(e) = p.write_pid() {
                    warn!("cannot write {}: {e}", path.display());
                }
                self.pidfile_again = Some(p);
            }
            Err(proc::PidError::Running(pid)) => {
                error!("another vrrpd ({pid:?}) took {} while it was missing", path.display())
            }
            Err(proc::PidError::Io(e)) => warn!("cannot recreate {}: {e}", path.display()),
        }
    }

    fn rebind_socket(&mut self) -> Result<(), String> {
        let sock_path = rundir::sock_path(&self.cfg.rundir, &self.id);
        self.ctl.rebind(&sock_path, self.poll.registry()).map_err(|e| format!("{}: {e}", sock_path.display()))
    }

    fn status(&self) -> Status {
        Status {
            ifname: self.cfg.ifname.clone(),
            vrid: self.cfg.vrid,
            pid: std::process::id(),
            state: self.fsm.state(),
            wants: self.fsm.wants_master(),
            link_up: self.link_up,
            prio: self.fsm.priority(),
            resigned: self.fsm.won_by_resignation(),
            fault: self.fault.is_some(),
            members: self.cfg.members.unwrap_or(0),
        }
    }

    /// The siblings we hear from, one per interface.
    fn siblings(&self) -> Vec<Status> {
        self.ctl.siblings(&self.id)
    }

    pub fn run(&mut self) -> Exit {
        info!(
            "starting: priority {}, advert interval {} s{}, preemption {}, primary {}, MAC {}{}, virtual addresses {}{}{}",
            self.cfg.priority,
            self.cfg.adver_int,
            if self.cfg.strict_interval { " (strict)" } else { "" },
            if self.cfg.preempt { "on" } else { "off" },
            self.primary,
            fmt_mac(&self.omac),
            if self.cfg.no_vmac { " (-n: kept)" } else { "" },
            self.cfg.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "),
            self.cfg.members.map(|n| format!(", group of {n} (-M)")).unwrap_or_default(),
            if self.drained { ", host DRAINED by atropos --backup" } else { "" },
        );
        if !self.link_up {
            warn!("link is down: staying BACKUP until it comes up");
        }
        if self.in_group() {
            self.connect_siblings();
        }
        let now = Instant::now();
        let acts = self.fsm.startup(now);
        self.run_actions(now, acts);
        info!("INIT -> BACKUP: {}", self.fsm.reason());
        self.queue_hook(now, State::Initialize, State::Backup);
        self.settle(now);
        self.save_state_logged();
        let mut events = mio::Events::with_capacity(32);
        loop {
            let now = Instant::now();
            let timeout = if self.pending_reads.is_empty() {
                self.next_deadline().map(|t| t.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
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
                    T_HOOK => {
                        if !self.hooks.on_output() {
                            self.deregister_hook_fd();
                            self.hooks.close_output();
                        }
                    }
                    T_LISTEN => self.ctl.accept_all(self.poll.registry()),
                    T_WATCH => self.on_rundir_changes(),
                    Token(t) => self.on_conn(t, ev.is_readable(), ev.is_writable()),
                }
            }
            self.on_pending_reads();
            let now = Instant::now();
            self.settle(now);
            self.on_timers(now);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.fsm.next_deadline(),
            self.garp_at.iter().min().copied(),
            self.ignore_down_until,
            self.hooks.deadline(),
            self.fault.as_ref().and_then(|f| f.retry_at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs timers, then applies the group's verdict until nothing changes, then tells the siblings.
    fn settle(&mut self, now: Instant) {
        let mut held_changed = false;
        for _ in 0..4 {
            let me = self.status();
            let siblings = if self.in_group() { self.siblings() } else { Vec::new() };
            let v = group::verdict(&me, &siblings, self.cfg.members.unwrap_or(1), self.drained);
            self.fsm.set_sibling_won(v.sibling_won, v.sibling_resigned);
            let mut acts = self.fsm.tick(now);
            let wish = self.fsm.wants_master();
            // A tick may have made us a candidate: recompute with our new wish.
            let v = if wish != me.wants {
                group::verdict(&self.status(), &siblings, self.cfg.members.unwrap_or(1), self.drained)
            } else {
                v
            };
            if v.why_not != self.last_why_not {
                if v.allow && self.in_group() {
                    info!("group: every member won its election: the host may be MASTER");
                } else if !v.allow {
                    debug!("group: host held BACKUP: {}", v.why_not);
                }
                self.last_why_not = v.why_not.clone();
            }
            // Say once, at info, when this LAN's election is won but the host is held BACKUP.
            let held =
                (!v.allow && self.fsm.state() == State::Backup && self.fsm.wants_master()).then(|| v.why_not.clone());
            if held != self.held {
                if let Some(h) = &held {
                    info!("won the election on this LAN ({}) but held BACKUP: {h}", self.fsm.reason());
                }
                self.held = held;
                held_changed = true;
            }
            let why = if self.in_group() { format!("group: {}", v.why_not) } else { v.why_not.clone() };
            acts.extend(self.fsm.verdict(now, v.allow, &why));
            if acts.is_empty() {
                break;
            }
            // Siblings first: they release (or take over) in parallel with our own actions.
            self.announce();
            self.run_actions(now, acts);
        }
        if held_changed {
            self.save_state_logged();
        }
        self.announce();
    }

    fn run_actions(&mut self, now: Instant, acts: Vec<Action>) {
        let mut transition = None;
        for a in acts {
            match a {
                Action::SendAdvert { priority } => self.send_advert(priority),
                Action::EnterMaster { reason } => {
                    self.enter_master(&reason);
                    transition = Some((State::Backup, State::Master));
                }
                Action::LeaveMaster { reason } => {
                    self.leave_master(&reason);
                    transition = Some((State::Master, State::Backup));
                }
            }
        }
        // After the MAC, the addresses and the advert: gratuitous ARP, the run dir, then the hook.
        match transition {
            Some((_, State::Master)) => {
                self.garp_at = GARP_MASTER.iter().skip(1).map(|d| now + *d).collect();
                self.garp_master();
                self.save_state_logged();
                self.queue_hook(now, State::Backup, State::Master);
            }
            Some((from, to)) => {
                self.save_state_logged();
                self.queue_hook(now, from, to);
            }
            None => {}
        }
    }

    fn send_advert(&mut self, priority: u8) {
        let adv = Advert::new(self.cfg.vrid, priority, self.cfg.adver_int, &self.cfg.auth, self.vip_addrs.clone());
        match self.vsock.send(&adv.encode()) {
            Ok(()) => {
                self.counters.sent += 1;
                self.send_failures = 0;
            }
            Err(e) => {
                warn!("cannot send an advert (priority {priority}): {e}");
                self.send_failures += 1;
                // A MASTER that cannot advertise lets the peer take over while it still holds the VIPs:
                // resign now (the settle loop hands over with priority 0, as for a link loss).
                if self.send_failures >= SEND_FAULT_AFTER && self.fault.is_none() && priority != 0 {
                    self.set_fault(format!("cannot send adverts: {e}"), true);
                }
            }
        }
    }

    fn set_fault(&mut self, why: String, retry: bool) {
        let now = Instant::now();
        error!(
            "{why}: out of the election{}, the host goes BACKUP as for a link loss",
            if retry { format!(" for {} s", FAULT_RETRY.as_secs()) } else { String::new() }
        );
        self.fault = Some(Fault { why, retry_at: retry.then(|| now + FAULT_RETRY) });
        self.since_ms = unix_ms();
    }

    /// The fault is over: take part again, listening for a master first.
    fn clear_fault(&mut self, now: Instant, how: &str) {
        if self.fault.take().is_none() {
            return;
        }
        info!("{how}: rejoining the election (listening for a master first)");
        self.send_failures = 0;
        let acts = self.fsm.restart(now);
        self.run_actions(now, acts);
        self.since_ms = unix_ms();
        self.save_state_logged();
    }

    fn enter_master(&mut self, reason: &str) {
        if !self.cfg.no_vmac {
            let vmac = self.cfg.vmac();
            self.change_mac(vmac);
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
            self.change_mac(omac);
        }
        self.since_ms = unix_ms();
        info!("MASTER -> BACKUP: {reason}");
        // Tell the LAN our own addresses are back at our own MAC.
        if !self.cfg.no_vmac {
            let own = self.own.clone();
            self.send_garps(self.omac, &own);
        }
    }

    fn change_mac(&mut self, mac: [u8; 6]) {
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

    /// Gratuitous ARP for the VIPs and our own addresses, and 1.15's magic packet (`-I`/`-O`).
    fn garp_master(&mut self) {
        let mut addrs = self.vip_addrs.clone();
        addrs.extend(self.own.iter().copied());
        // With -n another member may have set the interface's MAC: announce the one it has now.
        let mac = if self.cfg.no_vmac {
            self.rtnl.link(self.ifindex).ok().and_then(|l| l.mac).unwrap_or(self.mac)
        } else {
            self.mac
        };
        self.send_garps(mac, &addrs);
        if let Some(m) = self.cfg.magic {
            let payload = format!("vrrpd vrid {} master {}\n", self.cfg.vrid, m.from);
            match raw::send_udp_from(&self.cfg.ifname, m.from, m.to, crate::cli::MAGIC_PORT, payload.as_bytes()) {
                Ok(()) => debug!("magic packet sent from {} to {}:{}", m.from, m.to, crate::cli::MAGIC_PORT),
                Err(e) => warn!("cannot send the magic packet from {} to {}: {e}", m.from, m.to),
            }
        }
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
                self.garp_master();
            }
        }
        if self.fault.as_ref().and_then(|f| f.retry_at).is_some_and(|t| t <= now) {
            self.clear_fault(now, "retrying after the send errors");
            self.settle(now);
        }
        if self.ignore_down_until.is_some_and(|t| t <= now) {
            self.ignore_down_until = None;
            // A link gone meanwhile is reported by its own RTM_DELLINK.
            let _ = self.refresh_link(now);
        }
        self.hooks.on_timer(now);
    }

    /// The run dir changed under us: put back what is ours, follow the drain file.
    fn on_rundir_changes(&mut self) {
        let Some(ch) = self.watch.as_mut().map(|w| w.drain()) else { return };
        let sock_name = format!("vrrpd_{}.sock", self.id.stem());
        let pid_name = format!("vrrpd_{}.pid", self.id.stem());
        if ch.dir_gone || !self.cfg.rundir.is_dir() {
            warn!(
                "run directory {} was removed: recreating it with our socket, pid file and state",
                self.cfg.rundir.display()
            );
            if let Err(e) = self.repair_rundir() {
                error!("cannot recreate the run directory {}: {e}", self.cfg.rundir.display());
                return;
            }
            self.save_state_logged();
            return;
        }
        if ch.removed.contains(&sock_name) && !rundir::sock_path(&self.cfg.rundir, &self.id).exists() {
            warn!("our control socket was removed: binding it again");
            if let Err(e) = self.rebind_socket() {
                error!("cannot bind the control socket again: {e}");
            }
        }
        if ch.removed.contains(&pid_name) && !rundir::pid_path(&self.cfg.rundir, &self.id).exists() {
            warn!("our pid file was removed: writing it again");
            self.recreate_pidfile();
        }
        let state = rundir::STATE_FILE.to_string();
        if ch.removed.contains(&state) || ch.written.contains(&state) {
            let ours = self.member().to_line();
            let intact = rundir::read_state(&self.cfg.rundir)
                .map(|all| all.iter().any(|m| m.to_line() == ours))
                .unwrap_or(false);
            if !intact {
                warn!("the state file was removed or edited by hand: our line written again");
                self.save_state_logged();
            }
        }
        let drain = rundir::DRAIN_FILE.to_string();
        if (ch.created.contains(&drain) || ch.removed.contains(&drain) || ch.written.contains(&drain))
            && self.follow_drain_file("the run dir")
        {
            self.settle(Instant::now());
        }
    }

    /// Takes the drain state from the drain file; true when it changed.
    fn follow_drain_file(&mut self, seen_by: &str) -> bool {
        let now_drained = rundir::drained(&self.cfg.rundir);
        if now_drained == self.drained {
            return false;
        }
        info!(
            "{} {} ({seen_by})",
            rundir::drain_path(&self.cfg.rundir).display(),
            if now_drained {
                "is there: host drained, held BACKUP until atropos --resume"
            } else {
                "is gone: the election decides again"
            }
        );
        self.drained = now_drained;
        true
    }

    // ----- hooks -----

    fn queue_hook(&mut self, now: Instant, from: State, to: State) {
        let script = match to {
            State::Master => self.cfg.up_script.clone(),
            _ => self.cfg.down_script.clone(),
        };
        let Some(script) = script else { return };
        let vips: Vec<String> = self.cfg.vips.iter().map(|v| v.to_string()).collect();
        let env = vec![
            ("VRRP_STATE".to_string(), to.name().to_string()),
            ("VRRP_PREV_STATE".into(), from.name().to_string()),
            ("VRRP_IFACE".into(), self.cfg.ifname.clone()),
            ("VRRP_VRID".into(), self.cfg.vrid.to_string()),
            ("VRRP_PRIORITY".into(), self.fsm.priority().to_string()),
            ("VRRP_VIPS".into(), vips.join(" ")),
            ("VRRP_VMAC".into(), fmt_mac(&self.cfg.vmac())),
            ("VRRP_REASON".into(), self.fsm.reason().to_string()),
        ];
        let job =
            Job { script, state: to.name().to_string(), ifname: self.cfg.ifname.clone(), vrid: self.cfg.vrid, env };
        if self.hooks.request(job, now) {
            self.register_hook_fd();
        }
    }

    fn register_hook_fd(&mut self) {
        if let Some(fd) = self.hooks.output_fd() {
            match self.poll.registry().register(&mut SourceFd(&fd), T_HOOK, Interest::READABLE) {
                Ok(()) => self.hook_fd_registered = Some(fd),
                Err(e) => warn!("cannot watch the hook's output: {e}"),
            }
        }
    }

    fn deregister_hook_fd(&mut self) {
        if let Some(fd) = self.hook_fd_registered.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }

    fn on_sigchld(&mut self) {
        // Reaping closes the output descriptor: stop watching it first, watch again if still running.
        self.deregister_hook_fd();
        let (finished, new) = self.hooks.reap(Instant::now());
        if new || !finished {
            self.register_hook_fd();
        }
    }

    // ----- VRRP packets -----

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
            let parsed = packet::parse_ipv4(&self.recv_buf[..len]).and_then(|r| {
                if n > self.recv_buf.len() {
                    return Err(DropKind::TrailingBytes);
                }
                Ok(r)
            });
            let result = parsed.and_then(|r| {
                let expect = Expect {
                    vrid: self.cfg.vrid,
                    auth: &self.cfg.auth,
                    adver_int: self.cfg.adver_int,
                    vips: &self.vip_addrs,
                    own: &self.own,
                    owner: self.cfg.priority == 255,
                    strict_interval: self.cfg.strict_interval,
                };
                match expect.check(&r) {
                    Ok(()) => Ok(r),
                    Err(kind) => {
                        self.note_conflict(now, kind, &r);
                        Err(kind)
                    }
                }
            });
            match result {
                Ok(r) => {
                    self.counters.received += 1;
                    if r.advert.adver_int != self.cfg.adver_int {
                        self.note_mismatch(now, r.src, r.advert.adver_int);
                    }
                    if !self.link_up {
                        continue;
                    }
                    let int = Duration::from_secs(r.advert.adver_int.into());
                    let acts = self.fsm.advert(now, r.src, r.advert.priority, int);
                    if !acts.is_empty() {
                        // A better master here: siblings release in parallel with us.
                        self.announce();
                    }
                    self.run_actions(now, acts);
                    // React at once: a higher master heard here must release every member now.
                    self.settle(now);
                }
                Err(kind) => {
                    let mut head = [0u8; 16];
                    let k = len.min(16);
                    head[..k].copy_from_slice(&self.recv_buf[..k]);
                    self.count_drop(now, kind, &head[..k]);
                }
            }
        }
    }

    /// An advert accepted with another interval than ours: counted, logged at most once a second.
    fn note_mismatch(&mut self, now: Instant, src: Ipv4Addr, int: u8) {
        self.counters.interval_mismatch += 1;
        let ours = self.cfg.adver_int;
        let say = |more: u64| {
            let more = if more > 0 { format!(" ({more} more since the last report)") } else { String::new() };
            warn!("advert from {src} every {int} s, ours every {ours} s: accepted (interval_mismatch){more}");
        };
        match self.mismatch.as_mut() {
            Some(m) if m.src == src && m.int == int && now.duration_since(m.logged_at) < DROP_LOG_EVERY => {
                m.at = now;
                m.suppressed += 1;
            }
            Some(m) => {
                say(m.suppressed);
                *m = Mismatch { src, int, at: now, logged_at: now, suppressed: 0 };
            }
            None => {
                say(0);
                self.mismatch = Some(Mismatch { src, int, at: now, logged_at: now, suppressed: 0 });
            }
        }
    }

    /// While MASTER, another router advertising our vrid with a configuration we drop may be MASTER too.
    fn note_conflict(&mut self, now: Instant, kind: DropKind, r: &packet::Received) {
        if !is_conflict(kind) || r.advert.vrid != self.cfg.vrid || self.fsm.state() != State::Master {
            return;
        }
        let fresh = self.conflict.is_none_or(|c| c.src != r.src || now.duration_since(c.at) > lasts(self.cfg.adver_int));
        if fresh {
            warn!(
                "possible split brain: {} (priority {}) also advertises vrid {} while we are MASTER, and we drop \
                 its adverts: {}",
                r.src,
                r.advert.priority,
                self.cfg.vrid,
                kind.describe()
            );
        }
        self.conflict = Some(Conflict { src: r.src, prio: r.advert.priority, kind, at: now });
    }

    /// The interval mismatch heard lately, if any.
    fn live_mismatch(&self) -> Option<&Mismatch> {
        self.mismatch.as_ref().filter(|m| m.at.elapsed() < lasts(m.int))
    }

    /// The split-brain signal in force, if any (only while MASTER).
    fn live_conflict(&self) -> Option<Conflict> {
        self.conflict
            .filter(|c| self.fsm.state() == State::Master && c.at.elapsed() < lasts(self.cfg.adver_int))
    }

    fn count_drop(&mut self, now: Instant, kind: DropKind, head: &[u8]) {
        self.counters.drops[kind.index()] += 1;
        let src = if head.len() >= 16 {
            Ipv4Addr::new(head[12], head[13], head[14], head[15]).to_string()
        } else {
            "?".into()
        };
        let log = &mut self.drop_log[kind.index()];
        if log.last.is_some_and(|t| now.duration_since(t) < DROP_LOG_EVERY) {
            log.suppressed += 1;
            return;
        }
        let more = if log.suppressed > 0 {
            format!(" ({} more of this kind since the last report)", log.suppressed)
        } else {
            String::new()
        };
        log.last = Some(now);
        log.suppressed = 0;
        if kind == DropKind::OtherVrid {
            debug!("dropped a packet from {src}: {}{more}", kind.describe());
        } else {
            warn!("dropped a packet from {src}: {}{more}", kind.describe());
        }
    }

    // ----- link and addresses -----

    fn on_netlink(&mut self) -> Option<Exit> {
        let evs = match self.events.drain(self.ifindex) {
            Ok(e) => e,
            Err(e) => {
                warn!("rtnetlink events: {e}");
                return None;
            }
        };
        let now = Instant::now();
        if evs.contains(&Event::Overflow) {
            warn!("rtnetlink notifications were lost (the kernel's queue overflowed): reading the link and the addresses again");
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
    fn interface_gone(&mut self, now: Instant) -> Exit {
        error!("the interface was deleted: stopping");
        self.garp_at.clear();
        self.link_up = false;
        let was_master = self.fsm.state() == State::Master;
        // Nothing left to send on or to give back: the addresses went with the interface.
        let _ = self.fsm.shutdown(now, "interface deleted");
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
    fn refresh_link(&mut self, now: Instant) -> Result<(), Gone> {
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
        if up == self.link_up {
            return Ok(());
        }
        self.link_up = up;
        if up {
            info!("link is up: rejoining the election (listening for a master first)");
            let acts = self.fsm.restart(now);
            self.run_actions(now, acts);
        } else {
            warn!("link is down{}", if self.fsm.state() == State::Master { ": leaving MASTER" } else { "" });
        }
        self.settle(now);
        self.since_ms = unix_ms();
        self.save_state_logged();
        Ok(())
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
        let primary = primary_of(&addrs, &self.vip_addrs);
        if let Some(p) = primary
            && p != self.primary
        {
            info!("primary address changed from {} to {p}", self.primary);
            self.primary = p;
            self.fsm.set_primary(p);
            if let Err(e) = self.vsock.set_source(self.ifindex, p) {
                warn!("cannot use {p} as the advert source: {e}");
            }
        }
        // No address of our own: no advert can leave; a MASTER would keep the VIPs while the peer takes
        // over. Out of the election until an address is back.
        let no_source = self.fault.as_ref().is_some_and(|f| f.retry_at.is_none());
        match primary {
            None if self.fault.is_none() => self.set_fault(
                format!("{} has no IPv4 address of its own left (adverts need a source address)", self.cfg.ifname),
                false,
            ),
            Some(p) if no_source => self.clear_fault(Instant::now(), &format!("address {p} is back")),
            _ => {}
        }
        if self.fsm.state() == State::Master && self.fault.is_none() {
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

    // ----- signals -----

    /// Every signal that would end the process by default arrives here (see `sys::signals`).
    fn on_signals(&mut self) -> Option<Exit> {
        for s in self.signals.pending() {
            let name = signals::name(s);
            match signals::meaning(s) {
                Meaning::Stop => {
                    self.shutdown(&format!("stopped by {name}"));
                    return Some(Exit::Signal);
                }
                Meaning::Reduce => {
                    let _ = self.change_priority(false);
                }
                Meaning::Increase => {
                    let _ = self.change_priority(true);
                }
                Meaning::Child => self.on_sigchld(),
                // Advanced Vrrpd 1.15's dump: the member's state line.
                Meaning::Dump => info!("SIGUSR1: {}", self.member().to_line()),
                Meaning::Drain => self.drain_by_signal(),
                Meaning::Ignore if s == libc::SIGHUP => {
                    info!("SIGHUP ignored (restart vrrpd to change its configuration)")
                }
                Meaning::Ignore => info!("{name} ignored"),
            }
        }
        None
    }

    /// SIGUSR2 (1.15's "go backup"): the host is drained as by `atropos --backup`, until `--resume`.
    fn drain_by_signal(&mut self) {
        if self.drained {
            info!("SIGUSR2: the host is already drained (atropos --resume ends it)");
            return;
        }
        let who = format!("SIGUSR2 to vrrpd pid {} ({})", std::process::id(), self.id);
        match rundir::set_drain(&self.cfg.rundir, &who, unix_ms()) {
            Ok(()) => info!("SIGUSR2: drain file written: every member of the host goes BACKUP and stays"),
            Err(e) => {
                error!("SIGUSR2: cannot write {} ({e}): not drained", rundir::drain_path(&self.cfg.rundir).display());
            }
        }
        if self.follow_drain_file("SIGUSR2") {
            self.settle(Instant::now());
        }
    }

    /// Priority −10 / +10, or the -z / -x value; kept within 1–254. Returns the new priority.
    fn change_priority(&mut self, increase: bool) -> Result<u8, String> {
        let cur = self.fsm.priority();
        if cur == 255 {
            let msg = "priority change refused: this router owns the addresses (priority 255)".to_string();
            warn!("{msg}");
            return Err(msg);
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
        Ok(new)
    }

    // ----- control sockets: siblings and atropos -----

    /// At start: connect to every member already running in the run dir.
    fn connect_siblings(&mut self) {
        for (id, path) in rundir::sibling_sockets(&self.cfg.rundir, Some(&self.id)) {
            match self.ctl.connect(&path, self.poll.registry()) {
                Ok(Some(t)) => {
                    let hello = control::status_msg("HELLO", &self.status()).encode();
                    self.send_to(t, &hello);
                    debug!("connected to member {id}");
                }
                Ok(None) => {}
                Err(e) => debug!("member socket {} not answering ({e}): not running", path.display()),
            }
        }
    }

    fn send_to(&mut self, t: usize, text: &str) {
        if !self.ctl.send(self.poll.registry(), t, text) {
            warn!("a control peer does not read its messages: disconnecting it");
            self.close_conn(t);
        }
    }

    fn on_conn(&mut self, t: usize, readable: bool, writable: bool) {
        if writable {
            self.ctl.flush(self.poll.registry(), t);
        }
        if !readable {
            return;
        }
        let (lines, closed, more) = self.ctl.read(t);
        if more {
            self.pending_reads.insert(t);
        }
        for line in lines {
            // Stop at once when the connection was dropped or has had its answer.
            if self.ctl.is_done(t) {
                break;
            }
            self.on_line(t, &line);
        }
        if closed {
            self.close_conn(t);
        }
    }

    /// Connections whose read budget ran out at the last turn.
    fn on_pending_reads(&mut self) {
        for t in std::mem::take(&mut self.pending_reads) {
            self.on_conn(t, true, false);
        }
    }

    fn on_line(&mut self, t: usize, line: &str) {
        let msg = match Message::decode(line) {
            Ok(m) => m,
            Err(e) => {
                self.send_to(t, &Message::new("ERR").with("msg", &e).encode());
                if !matches!(self.ctl.role(t), Some(Role::Member { .. })) {
                    self.ctl.finish(self.poll.registry(), t);
                }
                return;
            }
        };
        let role_is_member = matches!(self.ctl.role(t), Some(Role::Member { .. }));
        match msg.verb.as_str() {
            "HELLO" | "STATUS" => {
                if !self.in_group() {
                    self.send_to(t, &Message::new("ERR").with("msg", "this vrrpd runs alone (no -M)").encode());
                    self.ctl.finish(self.poll.registry(), t);
                    return;
                }
                let status = match control::parse_status(&msg) {
                    Ok(s) => s,
                    Err(e) => {
                        warn!("malformed message from a member: {e}");
                        return;
                    }
                };
                if status.id() == self.id {
                    warn!("a second vrrpd claims {}: ignored", self.id);
                    return;
                }
                let before = self.siblings().into_iter().find(|s| s.id() == status.id());
                let new = before.is_none();
                let ours = self.cfg.members.unwrap_or(0);
                if status.members != 0 && status.members != ours && before.map(|b| b.members) != Some(status.members) {
                    error!(
                        "group: member {} runs with -M {}, this one with -M {ours}: the host stays BACKUP on every \
                         interface until they agree",
                        status.id(),
                        status.members
                    );
                }
                if new {
                    info!(
                        "group: member {} (vrid {}, pid {}) is present, {}",
                        status.ifname, status.vrid, status.pid, status.state
                    );
                }
                let answer_hello = msg.verb == "HELLO" && !role_is_member;
                if let Some(r) = self.ctl.role_mut(t) {
                    *r = Role::Member { status: Some(status), bye: false };
                }
                if answer_hello {
                    let hello = control::status_msg("HELLO", &self.status()).encode();
                    self.send_to(t, &hello);
                }
            }
            "BYE" => {
                if let Some(Role::Member { bye, .. }) = self.ctl.role_mut(t) {
                    *bye = true;
                }
            }
            verb => {
                if role_is_member {
                    warn!("unexpected {verb} from a member: ignored");
                    return;
                }
                if let Some(r) = self.ctl.role_mut(t) {
                    *r = Role::Client;
                }
                let answer = self.on_request(verb);
                self.send_to(t, &answer.encode());
                self.ctl.finish(self.poll.registry(), t);
            }
        }
    }

    fn on_request(&mut self, verb: &str) -> Message {
        let now = Instant::now();
        match Request::from_verb(verb) {
            None => Message::new("ERR").with("msg", format!("unknown request {verb}")),
            Some(Request::Get) => self.info(),
            // The drain file is the drain: a DRAIN or RESUME request makes us read it again now, so that
            // concurrent --backup and --resume always leave the daemon agreeing with the file.
            Some(r @ (Request::Drain | Request::Resume)) => {
                self.follow_drain_file(if r == Request::Drain { "atropos --backup" } else { "atropos --resume" });
                self.settle(now);
                Message::new("OK")
                    .with("state", self.fsm.state().name())
                    .with("drained", u8::from(self.drained))
            }
            Some(r @ (Request::Reduce | Request::Increase)) => match self.change_priority(r == Request::Increase) {
                Ok(p) => Message::new("OK").with("prio", p),
                Err(e) => Message::new("ERR").with("msg", e),
            },
        }
    }

    /// Everything atropos shows about this member.
    fn info(&self) -> Message {
        let drops: Vec<String> = DropKind::ALL
            .iter()
            .filter(|k| self.counters.drops[k.index()] > 0)
            .map(|k| format!("{}:{}", k.name(), self.counters.drops[k.index()]))
            .collect();
        let heard = self.fsm.heard();
        let siblings = self.siblings();
        let v = group::verdict(&self.status(), &siblings, self.cfg.members.unwrap_or(1), self.drained);
        let conflict = self.live_conflict();
        Message::new("INFO")
            .with("if", &self.cfg.ifname)
            .with("vrid", self.cfg.vrid)
            .with("pid", std::process::id())
            .with("state", self.fsm.state().name())
            .with("wants", u8::from(self.fsm.wants_master()))
            .with("prio", self.fsm.priority())
            .with("cfgprio", self.cfg.priority)
            .with("preempt", u8::from(self.cfg.preempt))
            .with("int", self.cfg.adver_int)
            .with("mac", fmt_mac(&self.mac))
            .with("omac", fmt_mac(&self.omac))
            .with("vmac", u8::from(!self.cfg.no_vmac))
            .with("vips", self.cfg.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))
            .with("link", if self.link_up { "up" } else { "down" })
            .with("heard", heard.map(|h| h.src.to_string()).unwrap_or_else(|| "-".into()))
            .with("heard_prio", heard.map(|h| h.priority.to_string()).unwrap_or_else(|| "-".into()))
            .with("heard_ago_ms", heard.map(|h| h.at.elapsed().as_millis().to_string()).unwrap_or_else(|| "-".into()))
            .with("since", self.since_ms)
            .with("reason", self.reason())
            .with("sent", self.counters.sent)
            .with("recv", self.counters.received)
            .with("drops", drops.join(","))
            .with("members", self.cfg.members.unwrap_or(0))
            .with("present", 1 + siblings.len())
            .with("siblings", siblings.iter().map(|s| s.id().stem()).collect::<Vec<_>>().join(","))
            .with("drained", u8::from(self.drained))
            .with("held", &v.why_not)
            .with("strict", u8::from(self.cfg.strict_interval))
            .with("fault", self.fault.as_ref().map(|f| f.why.as_str()).unwrap_or("-"))
            .with("imm", self.counters.interval_mismatch)
            .with("imm_peer", self.live_mismatch().map(|m| m.src.to_string()).unwrap_or_else(|| "-".into()))
            .with("imm_int", self.live_mismatch().map(|m| m.int.to_string()).unwrap_or_else(|| "-".into()))
            .with("conflict_peer", conflict.map(|c| c.src.to_string()).unwrap_or_else(|| "-".into()))
            .with("conflict_prio", conflict.map(|c| c.prio.to_string()).unwrap_or_else(|| "-".into()))
            .with("conflict_kind", conflict.map(|c| c.kind.name()).unwrap_or("-"))
            .with("conflict_why", conflict.map(|c| c.kind.describe()).unwrap_or("-"))
            .with("conflict_ago_ms", conflict.map(|c| c.at.elapsed().as_millis().to_string()).unwrap_or_else(|| "-".into()))
    }

    fn close_conn(&mut self, t: usize) {
        let Some(role) = self.ctl.remove(self.poll.registry(), t) else { return };
        if let Role::Member { status: Some(s), bye } = role {
            // Still present through another connection?
            if self.siblings().iter().any(|x| x.id() == s.id()) {
                return;
            }
            if bye {
                info!("group: member {} (pid {}) stopped", s.id(), s.pid);
            } else {
                warn!("group: member {} (pid {}) died", s.id(), s.pid);
                // The survivor with the smallest (interface, vrid) cleans the dead member's link.
                let me_first = self.siblings().iter().all(|x| x.id() > self.id);
                if me_first {
                    self.clean_dead_member(&s.id());
                }
            }
            let now = Instant::now();
            self.settle(now);
        }
    }

    /// Gives a dead member's interface back: original MAC, no virtual address, priority 0 for its vrid.
    fn clean_dead_member(&mut self, id: &MemberId) {
        let ifname = id.ifname.as_str();
        let record = match rundir::read_state(&self.cfg.rundir) {
            Ok(all) => all.into_iter().find(|m| &m.id() == id),
            Err(e) => {
                error!("cannot read the state file to clean {id}: {e}");
                return;
            }
        };
        let Some(rec) = record else {
            warn!("no record of {id} in the state file: nothing to clean");
            return;
        };
        let Some(idx) = raw::ifindex(ifname) else {
            warn!("{ifname} no longer exists: nothing to clean");
            return;
        };
        let was_master = rec.state == "MASTER";
        // Priority 0 first, so that the peer takes that LAN over in Skew_Time.
        if was_master {
            let auth = if rec.auth_type == 0 {
                Some(Auth::None)
            } else if self.cfg.auth.type_code() == rec.auth_type {
                Some(self.cfg.auth.clone())
            } else {
                None
            };
            let src = self
                .rtnl
                .addrs(idx)
                .ok()
                .and_then(|a| primary_of(&a, &rec.vips.iter().map(|v| v.addr).collect::<Vec<_>>()));
            match (auth, src) {
                (Some(auth), Some(src)) => {
                    let adv = Advert::new(
                        rec.vrid,
                        0,
                        rec.adver_int.max(1),
                        &auth,
                        rec.vips.iter().map(|v| v.addr).collect(),
                    );
                    match VrrpSocket::open(ifname, idx, src).and_then(|s| s.send(&adv.encode())) {
                        Ok(()) => info!("sent priority 0 for vrid {} on {ifname} for the dead member", rec.vrid),
                        Err(e) => warn!("cannot send priority 0 on {ifname}: {e}"),
                    }
                }
                _ => warn!("cannot send priority 0 on {ifname} (unknown password or no address)"),
            }
        }
        if let Ok(addrs) = self.rtnl.addrs(idx) {
            let label = vip_label(ifname, rec.vrid);
            for a in addrs {
                if (label.is_some() && a.label == label)
                    || rec.vips.iter().any(|v| v.addr == a.addr && a.label.as_deref() != Some(ifname))
                {
                    match self.rtnl.del_addr(idx, a.addr, a.prefix) {
                        Ok(()) => info!("removed virtual address {}/{} from {ifname} (dead member)", a.addr, a.prefix),
                        Err(e) => warn!("cannot remove {} from {ifname}: {e}", a.addr),
                    }
                }
            }
        }
        // Only a member that set the MAC gives one back (with -n it never changed it).
        if let (Some(omac), Ok(link), false) = (rec.omac, self.rtnl.link(idx), rec.no_vmac)
            && link.mac != Some(omac)
        {
            match set_mac_any(&mut self.rtnl, idx, omac, false) {
                Ok(how) => info!("restored {ifname}'s original MAC {} {how} (dead member)", fmt_mac(&omac)),
                Err(e) => error!("cannot restore {ifname}'s original MAC: {e}"),
            }
        }
        let mut dead = rec;
        dead.state = "DEAD".into();
        dead.mac = dead.omac;
        dead.since_ms = unix_ms();
        dead.reason = format!("process died; link cleaned by {}", self.id);
        if let Err(e) = rundir::put_member(&self.cfg.rundir, &dead) {
            warn!("cannot update the state file: {e}");
        }
    }

    /// Tells the siblings our status when it changed.
    fn announce(&mut self) {
        if !self.in_group() {
            return;
        }
        let st = self.status();
        if self.announced.as_ref() == Some(&st) {
            return;
        }
        let line = control::status_msg("STATUS", &st).encode();
        for t in self.ctl.member_tokens() {
            self.send_to(t, &line);
        }
        self.announced = Some(st);
    }

    fn say_bye(&mut self, why: &str) {
        let line = Message::new("BYE").with("if", &self.cfg.ifname).with("reason", why).encode();
        for t in self.ctl.member_tokens() {
            self.send_to(t, &line);
        }
    }

    /// Gives everything back: priority 0 first (when MASTER), then addresses and MAC, then the hook.
    pub fn shutdown(&mut self, why: &str) {
        let now = Instant::now();
        self.say_bye(why);
        let acts = self.fsm.shutdown(now, why);
        self.run_actions(now, acts);
        let _ = std::fs::remove_file(rundir::sock_path(&self.cfg.rundir, &self.id));
        // Keep the record (and so the original MAC) if the MAC could not be given back.
        let res = if self.mac == self.omac {
            rundir::remove_member(&self.cfg.rundir, &self.id)
        } else {
            error!(
                "the interface still carries {}; the original MAC {} stays recorded in the run dir",
                fmt_mac(&self.mac),
                fmt_mac(&self.omac)
            );
            self.save_state()
        };
        if let Err(e) = res {
            warn!("cannot update the state file: {e}");
        }
        if self.hooks.busy() {
            self.deregister_hook_fd();
            self.hooks.finish_blocking();
        }
        info!("{why}: exiting");
    }
}
