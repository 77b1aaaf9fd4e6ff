//! The event loop: turns the VRRP socket, rtnetlink events, the control sockets, signals and timers
//! into state-machine and group inputs, and executes what they decide (MAC, addresses, adverts,
//! gratuitous ARP, hooks, run-dir state). This file holds the setup, the loop, the group verdict
//! (`settle`) and the transitions; each other concern of the loop is a submodule:

/// Sent adverts: the v2 or v3 message, send errors and the fault they lead to.
mod adverts;
/// -U/-D hooks: queued, output watched, exit reaped.
mod hookrun;
/// --host-up/--host-down: the whole host's hook, when this member is the one that runs it.
mod hosthook;
/// Carrier, deletion, addresses, and the fault of a member that cannot advertise.
mod links;
/// MAC changes, gratuitous ARP, the magic packet.
mod mac;
/// Control sockets: siblings, atropos requests, a dead member's cleanup.
mod members;
/// What each signal does.
mod onsignal;
/// Received adverts: checks, interval mismatch, split-brain signals, counted drops.
mod receive;
/// Crash recovery at start: stale virtual addresses, the original MAC.
mod recovery;
/// Our files in the run dir, put back when removed; the drain file.
mod runfiles;
/// --track-*: processes, check scripts, other interfaces; their health as the host fault.
mod tracking;
/// The IPv6 router beside the IPv4 one (VRRPv3): its adverts, VIPs and Neighbor Advertisements.
mod v6;

use adverts::Outgoing;
use mac::set_mac_any;
use receive::{Conflict, DropLog, Mismatch};

use crate::accept::{self, Expect};
use crate::arp::{self, fmt_mac, is_virtual_mac};
use crate::cli::{Config, Vip};
use crate::control::{self, Message, Request};
use crate::core::{Core, DeferredSave, Effect, GARP_REPEATS, Identity};
use crate::ctl::{Ctl, Role};
use crate::fsm::{self, Params, State, Vrrp};
use crate::group::Status;
use crate::hooks::{Hooks, Job};
use crate::info::{self, Info};
use crate::packet::{self, Advert, Auth, DropKind};
use crate::profile::{Family, Interval, Version};
use crate::rundir::{self, Member, MemberId, RecordState};
use crate::sys::netlink::{self, Addr, Event, Events, Rtnl};
use crate::sys::proc;
use crate::sys::proc::PidFile;
use crate::sys::raw::{self, FrameSocket, VrrpSocket};
use crate::sys::signals::{self, Meaning, SignalPipe};
use crate::sys::timer::Timer;
use crate::sys::watch::DirWatch;
use crate::wire::Pseudo;
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const T_VRRP: Token = Token(0);
const T_NETLINK: Token = Token(1);
const T_SIGNAL: Token = Token(2);
const T_HOOK: Token = Token(3);
const T_LISTEN: Token = Token(4);
const T_WATCH: Token = Token(5);
const T_TIMER: Token = Token(6);
const T_HOST_HOOK: Token = Token(12);

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

impl Counters {
    /// The drop kinds counted above zero.
    pub fn nonzero(&self) -> Vec<(DropKind, u64)> {
        DropKind::ALL.iter().map(|k| (*k, self.drops[k.index()])).filter(|(_, n)| *n > 0).collect()
    }
}

/// Why the daemon stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    Signal,
    InterfaceGone,
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
    ignore_down_until: Option<Instant>,
    /// The virtual router under the group's verdict (pure): what to do, in order.
    core: Core,
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
    /// --host-up/--host-down, apart from the member's own -U/-D.
    host_hooks: Hooks,
    host_hook_fd_registered: Option<i32>,
    /// inotify on the run dir (None if it could not be set up: then nothing is repaired at once).
    watch: Option<DirWatch>,
    /// When each `--peer` was last heard (same order as `cfg.peers`).
    peer_heard: Vec<Option<Instant>>,
    /// Wakes the loop at the next deadline with sub-millisecond precision.
    timer: Option<Timer>,
    /// The pid file recreated after the run dir was removed (the original one is held by main).
    pidfile_again: Option<PidFile>,
    pub counters: Counters,
    /// The last advert accepted over IPv4 (the fsm's is of either family).
    heard4: Option<fsm::Heard>,
    mismatch: Option<Mismatch>,
    conflict: Option<Conflict>,
    send_failures: u32,
    /// Signals already logged as ignored.
    ignored_signals: Vec<i32>,
    drop_log: Vec<DropLog>,
    garp_at: Vec<Instant>,
    /// `Save` effects not written yet (written when due, or before a hook runs).
    save_due: DeferredSave,
    since_ms: u64,
    recv_buf: Vec<u8>,
    force_fallback: bool,
    /// --track-*: the trackers and what watches them.
    tracking: tracking::Tracking,
    /// The IPv6 side, when the address list has IPv6 addresses.
    v6: Option<v6::V6>,
}

use rundir::unix_ms;

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
        let recovery::Recovered { omac, addrs } =
            recovery::recover(&cfg, &id, ifindex, &mut rtnl, link.mac, &label, force_fallback)?;
        // An IPv6-only router (VRRPv3) needs no IPv4 address: its IPv4 side sends nothing.
        let primary = primary_of(&addrs, &vip_addrs)
            .or_else(|| cfg.vips.is_empty().then_some(Ipv4Addr::UNSPECIFIED))
            .ok_or_else(|| format!("{}: the interface has no IPv4 address", cfg.ifname))?;
        let own: Vec<Ipv4Addr> = addrs.iter().map(|a| a.addr).filter(|a| !vip_addrs.contains(a)).collect();
        let foreign_vips: Vec<Ipv4Addr> = addrs.iter().map(|a| a.addr).filter(|a| vip_addrs.contains(a)).collect();
        for f in &foreign_vips {
            warn!(
                "virtual address {f} is configured on the interface by someone else: vrrpd will neither add nor remove it"
            );
        }

        let events = Events::open(ifindex).map_err(io_ctx("rtnetlink events"))?;
        if let Some(src) = cfg.src
            && !own.contains(&src)
        {
            return Err(format!("--src {src}: not an address of {} (give one of its own addresses)", cfg.ifname));
        }
        let v4_multicast = cfg.peers.is_empty() && !cfg.vips.is_empty();
        let vsock = VrrpSocket::open(&cfg.ifname, ifindex, primary, v4_multicast)
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
        // Without a timerfd the loop falls back to epoll's millisecond timeout.
        let timer = match Timer::new() {
            Ok(t) => {
                reg.register(&mut SourceFd(&t.fd()), T_TIMER, Interest::READABLE).map_err(io_ctx("epoll"))?;
                Some(t)
            }
            Err(e) => {
                warn!("no timerfd ({e}): timers keep millisecond precision");
                None
            }
        };
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

        let v6 = v6::V6::open(&cfg, ifindex, &mut rtnl, reg)?;
        let now = Instant::now();
        let tracking = tracking::Tracking::new(&cfg.track, now).map_err(io_ctx("rtnetlink (tracked interfaces)"))?;
        if let Some(fd) = tracking.links_fd() {
            reg.register(&mut SourceFd(&fd), tracking::T_TRACK_LINKS, Interest::READABLE).map_err(io_ctx("epoll"))?;
        }
        let mut fsm = Vrrp::new(
            Params {
                priority: cfg.priority,
                version: cfg.version,
                adver_int: cfg.adver_int,
                preempt: cfg.preempt,
                primary: primary.into(),
            },
            now,
        );
        fsm.set_preempt_delay(cfg.preempt_delay);
        fsm.set_primary6(v6.as_ref().and_then(|v| v.source()).map(IpAddr::V6));
        let who =
            Identity { ifname: cfg.ifname.clone(), vrid: cfg.vrid, pid: std::process::id(), members: cfg.members };
        let mut core = Core::new(fsm, who, link.usable(), rundir::drained(&cfg.rundir));
        core.tracker = tracking.trackers.fault();
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
            ignore_down_until: None,
            core,
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
            host_hooks: Hooks::new(cfg.hook_timeout),
            host_hook_fd_registered: None,
            watch,
            timer,
            peer_heard: vec![None; cfg.peers.len()],
            pidfile_again: None,
            counters: Counters::default(),
            heard4: None,
            mismatch: None,
            conflict: None,
            send_failures: 0,
            ignored_signals: Vec::new(),
            drop_log: DropKind::ALL.iter().map(|_| DropLog { last: None, suppressed: 0 }).collect(),
            garp_at: Vec::new(),
            save_due: DeferredSave::default(),
            since_ms: unix_ms(),
            recv_buf: vec![0; 4096],
            force_fallback,
            tracking,
            v6,
            cfg,
        };
        // 2. Record the original MAC before anything can change it.
        d.save_state().map_err(io_ctx(format!("{}: writing the state file", d.cfg.rundir.display())))?;
        Ok(d)
    }

    fn in_group(&self) -> bool {
        self.core.in_group()
    }

    /// Why we are in our role, and why we are held BACKUP when we won our election.
    fn reason(&self) -> String {
        match self.core.held() {
            Some(h) => format!("{}; held BACKUP: {h}", self.core.fsm.reason()),
            None => self.core.fsm.reason().to_string(),
        }
    }

    fn status(&self) -> Status {
        self.core.status()
    }

    /// The siblings we hear from, one per interface, as ctl keeps them.
    fn siblings(&self) -> &[Status] {
        self.ctl.siblings(&self.id)
    }

    pub fn run(&mut self) -> Exit {
        info!(
            "starting: VRRPv{}, priority {}, advert interval {}{}, preemption {}, primary {}, MAC {}{}, virtual addresses {}{}{}{}{}",
            self.cfg.version.number(),
            self.cfg.priority,
            self.cfg.adver_int,
            if self.cfg.strict_interval { " (strict)" } else { "" },
            if self.cfg.preempt { "on" } else { "off" },
            if self.cfg.vips.is_empty() { "none (IPv6 only)".to_string() } else { self.primary.to_string() },
            fmt_mac(&self.omac),
            if self.cfg.no_vmac { " (-n: kept)" } else { "" },
            if self.cfg.vips.is_empty() {
                "none".to_string()
            } else {
                self.cfg.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")
            },
            if self.cfg.peers.is_empty() {
                String::new()
            } else {
                let peers: Vec<String> = self.cfg.peers.iter().map(|p| p.to_string()).collect();
                format!(" from {}, unicast to {}", self.advert_src(), peers.join(" "))
            },
            self.v6.as_ref().map(|v| v.summary()).unwrap_or_default(),
            self.cfg.members.map(|n| format!(", group of {n} (-M)")).unwrap_or_default(),
            if self.core.drained { ", host DRAINED by atropos --backup" } else { "" },
        );
        if !self.core.link_up {
            warn!("link is down: staying BACKUP until it comes up");
        } else {
            self.forget_unresolved_peers();
        }
        if self.in_group() {
            self.connect_siblings();
        }
        let now = Instant::now();
        self.start_tracking(now);
        let acts = self.core.fsm.startup(now);
        self.apply(now, Core::effects_of(acts));
        info!("INIT -> BACKUP: {}", self.core.fsm.reason());
        self.queue_hook(now, State::Initialize, State::Backup);
        self.settle(now);
        self.save_state_logged();
        let mut events = mio::Events::with_capacity(32);
        loop {
            let now = Instant::now();
            let deadline = self.next_deadline();
            if let Some(Err(e)) = self.timer.as_mut().map(|t| t.arm(deadline, now)) {
                warn!("cannot arm the timer ({e}): timers keep millisecond precision from now on");
                self.timer = None;
            }
            let timeout = if !self.pending_reads.is_empty() {
                Some(Duration::ZERO)
            } else if self.timer.is_some() {
                None
            } else {
                deadline.map(|t| t.saturating_duration_since(now))
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
                    v6::T_VRRP6 => self.on_vrrp6_readable(),
                    v6::T_NETLINK6 => self.on_netlink6(),
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
                    T_HOST_HOOK => self.on_host_hook_output(),
                    T_LISTEN => self.ctl.accept_all(self.poll.registry()),
                    T_WATCH => self.on_rundir_changes(),
                    tracking::T_TRACK_LINKS => self.on_track_links(Instant::now()),
                    Token(t) if (tracking::T_TRACK_PROC..crate::ctl::FIRST_CONN).contains(&t) => {
                        self.on_tracked_exit(t - tracking::T_TRACK_PROC, Instant::now())
                    }
                    T_TIMER => {
                        if let Some(t) = &mut self.timer {
                            t.fired();
                        }
                    }
                    Token(t) => self.on_conn(t, ev.is_readable(), ev.is_writable()),
                }
            }
            self.on_pending_reads();
            let now = Instant::now();
            self.settle(now);
            self.on_timers(now);
            if self.save_due.take_due(now) {
                self.save_state_logged();
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.core.fsm.next_deadline(),
            self.garp_at.iter().min().copied(),
            self.ignore_down_until,
            self.hooks.deadline(),
            self.host_hooks.deadline(),
            self.core.fault.as_ref().and_then(|f| f.retry_at),
            self.save_due.due_at(),
            self.tracking.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs timers, then applies the group's verdict until nothing changes, then tells the siblings
    /// (the core decides, in order; a fault found while sending puts the question again).
    fn settle(&mut self, now: Instant) {
        for _ in 0..2 {
            let siblings = if self.core.in_group() { self.ctl.siblings(&self.id) } else { &[] };
            let effects = self.core.settle(now, siblings);
            let fault_before = self.core.fault.is_some();
            self.apply(now, effects);
            if self.core.fault.is_some() == fault_before {
                break;
            }
        }
        self.settle_host(now);
    }

    /// Executes the core's effects, in their order.
    fn apply(&mut self, now: Instant, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Announce(st) => self.send_status(&st),
                Effect::SendAdvert { priority } => self.send_advert(priority),
                Effect::TakeOver { reason } => self.enter_master(&reason),
                Effect::GiveBack { reason } => self.leave_master(&reason),
                Effect::Garp => {
                    self.garp_at = GARP_REPEATS.iter().map(|d| now + *d).collect();
                    self.garp_master();
                }
                Effect::Save => self.save_due.request(now),
                Effect::Hook { from, to } => {
                    // A hook sees the state file of its transition.
                    let script = if to == State::Master { &self.cfg.up_script } else { &self.cfg.down_script };
                    if script.is_some() {
                        self.save_if_pending();
                    }
                    self.queue_hook(now, from, to)
                }
                Effect::HostHook(t) => {
                    // A host hook sees the state file of the transition too.
                    self.save_if_pending();
                    self.queue_host_hook(now, &t)
                }
            }
        }
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
        self.add_vips6();
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
        self.del_vips6();
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
            self.send_nas(self.omac, false);
        }
    }

    fn on_timers(&mut self, now: Instant) {
        if self.garp_at.iter().any(|t| *t <= now) {
            self.garp_at.retain(|t| *t > now);
            if self.core.fsm.state() == State::Master {
                self.garp_master();
            }
        }
        if self.core.fault.as_ref().and_then(|f| f.retry_at).is_some_and(|t| t <= now) {
            self.clear_fault(now, "retrying after the send errors");
            self.settle(now);
        }
        if self.ignore_down_until.is_some_and(|t| t <= now) {
            self.ignore_down_until = None;
            // A link gone meanwhile is reported by its own RTM_DELLINK.
            let _ = self.refresh_link(now);
        }
        self.hooks.on_timer(now);
        self.host_hooks.on_timer(now);
        self.track_timers(now);
    }

    /// Gives everything back: priority 0 first (when MASTER), then addresses and MAC, then the hook.
    pub fn shutdown(&mut self, why: &str) {
        let now = Instant::now();
        self.say_bye(why);
        let acts = self.core.fsm.shutdown(now, why);
        self.apply(now, Core::effects_of(acts));
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
        self.host_hook_at_exit(now);
        self.stop_checks();
        info!("{why}: exiting");
    }
}
