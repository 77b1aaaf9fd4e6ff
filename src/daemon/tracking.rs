//! Service trackers at run time: a tracked process's death through its pidfd (its return by a /proc
//! scan), check scripts run on their interval and killed at their timeout, tracked interfaces'
//! carriers from rtnetlink. Each change of health is logged and goes to the core as this member's
//! host fault (the group then holds every interface BACKUP).

use super::*;
use crate::sys::linkwatch::{LinkNote, LinkWatch};
use crate::sys::procwatch::{self, PidFd};
use crate::track::{Health, Spec, Trackers};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};

/// The link notifications of tracked interfaces.
pub(super) const T_TRACK_LINKS: Token = Token(15);
/// The pidfd of tracked process `i` is `Token(T_TRACK_PROC + i)`.
pub(super) const T_TRACK_PROC: usize = 32;
/// While a tracked process is missing, /proc is scanned this often for its return.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

struct ProcWatch {
    name: String,
    watched: Option<PidFd>,
}

struct Check {
    argv: Vec<String>,
    next_at: Instant,
    running: Option<RunningCheck>,
}

struct RunningCheck {
    child: Child,
    started: Instant,
    deadline: Instant,
    /// Killed at its timeout (its failure is already recorded).
    killed: bool,
}

/// Everything the trackers need at run time; `trackers` holds their health.
pub(super) struct Tracking {
    pub(super) trackers: Trackers,
    procs: Vec<ProcWatch>,
    checks: Vec<Check>,
    interfaces: Vec<String>,
    links: Option<LinkWatch>,
    rescan_at: Option<Instant>,
    interval: Duration,
    timeout: Duration,
}

impl Tracking {
    pub(super) fn new(spec: &Spec, now: Instant) -> io::Result<Tracking> {
        let links = if spec.interfaces.is_empty() { None } else { Some(LinkWatch::open()?) };
        Ok(Tracking {
            trackers: Trackers::new(spec, unix_ms()),
            procs: spec.processes.iter().map(|n| ProcWatch { name: n.clone(), watched: None }).collect(),
            checks: spec.scripts.iter().map(|a| Check { argv: a.clone(), next_at: now, running: None }).collect(),
            interfaces: spec.interfaces.clone(),
            links,
            rescan_at: None,
            interval: spec.interval,
            timeout: spec.timeout,
        })
    }

    pub(super) fn links_fd(&self) -> Option<std::os::fd::RawFd> {
        self.links.as_ref().map(|l| l.fd())
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        let checks = self.checks.iter().map(|c| match &c.running {
            Some(r) if !r.killed => Some(r.deadline),
            Some(_) => None,
            None => Some(c.next_at),
        });
        checks.flatten().chain(self.rescan_at).min()
    }

    /// Tracker index of script `i` and of interface `i` (processes come first).
    fn script_index(&self, i: usize) -> usize {
        self.procs.len() + i
    }
    fn interface_index(&self, i: usize) -> usize {
        self.procs.len() + self.checks.len() + i
    }
}

impl Daemon {
    /// First results: processes and interfaces at once, the checks start now.
    pub(super) fn start_tracking(&mut self, now: Instant) {
        if self.tracking.trackers.list.is_empty() {
            return;
        }
        info!("tracking: {}", self.tracking.trackers.list.iter().map(|t| t.label()).collect::<Vec<_>>().join(", "));
        for i in 0..self.tracking.procs.len() {
            self.scan_process(i);
        }
        self.read_tracked_interfaces();
        self.track_timers(now);
        self.refresh_tracker_fault(now);
    }

    /// Records one result; logs a change of health.
    fn tracker_result(&mut self, i: usize, ok: bool, detail: String) {
        let Some(t) = self.tracking.trackers.list.get_mut(i) else { return };
        let was = t.health;
        match t.result(ok, detail, unix_ms()) {
            Some(Health::Failed) => warn!("tracker {} failed: {}", t.label(), t.detail),
            Some(Health::Healthy) if was == Health::Pending => info!("tracker {} healthy: {}", t.label(), t.detail),
            Some(Health::Healthy) => info!("tracker {} recovered: {}", t.label(), t.detail),
            _ => debug!("tracker {}: {}", t.label(), t.detail),
        }
    }

    /// Puts the trackers' verdict on the core: a tracker not healthy is a fault of the host; when
    /// every tracker is healthy again the router rejoins the election, listening first (and the
    /// preempt delay starts again).
    pub(super) fn refresh_tracker_fault(&mut self, now: Instant) {
        let fault = self.tracking.trackers.fault();
        if fault == self.core.tracker {
            return;
        }
        let recovered = fault.is_none();
        match &fault {
            Some(_) if self.core.tracker.is_none() => {
                warn!("out of the election while a tracker is not healthy: the host goes BACKUP on every interface")
            }
            Some(_) => {}
            None if self.core.fsm.state() == State::Initialize => info!("every tracker is healthy"),
            None => info!("every tracker is healthy: rejoining the election (listening for a master first)"),
        }
        self.core.tracker = fault;
        self.since_ms = unix_ms();
        if recovered {
            let acts = self.core.fsm.restart(now);
            self.apply(now, Core::effects_of(acts));
        }
        self.save_due.request(now);
    }

    /// Looks for tracked process `i` in /proc; watches the first one found through its pidfd.
    fn scan_process(&mut self, i: usize) {
        let Some(p) = self.tracking.procs.get(i) else { return };
        let name = p.name.clone();
        let found = match procwatch::find_by_comm(&name) {
            Ok(pids) => pids.into_iter().find_map(|pid| PidFd::open(pid, &name).ok()),
            Err(e) => {
                warn!("tracker process {name}: cannot read /proc: {e}");
                None
            }
        };
        let (ok, detail) = match found {
            Some(w) => {
                let detail = format!("pid {}", w.pid);
                let token = Token(T_TRACK_PROC + i);
                if let Err(e) = self.poll.registry().register(&mut SourceFd(&w.fd()), token, Interest::READABLE) {
                    warn!("tracker process {name}: cannot watch pid {}: {e}", w.pid);
                }
                self.tracking.procs[i].watched = Some(w);
                (true, detail)
            }
            None => (false, format!("no process named {name}")),
        };
        self.tracker_result(i, ok, detail);
        let missing = self.tracking.procs.iter().any(|p| p.watched.is_none());
        self.tracking.rescan_at = missing.then(|| Instant::now() + RESCAN_EVERY);
    }

    /// The pidfd of tracked process `i` is readable: that process has exited. Another one with the
    /// same name keeps the tracker healthy.
    pub(super) fn on_tracked_exit(&mut self, i: usize, now: Instant) {
        let Some(p) = self.tracking.procs.get_mut(i) else { return };
        if let Some(w) = p.watched.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&w.fd()));
            debug!("tracker process {}: pid {} exited", p.name, w.pid);
        }
        self.scan_process(i);
        self.refresh_tracker_fault(now);
    }

    pub(super) fn on_track_links(&mut self, now: Instant) {
        let Some(lw) = self.tracking.links.as_mut() else { return };
        let notes = match lw.drain(&self.tracking.interfaces) {
            Ok(n) => n,
            Err(e) => {
                warn!("rtnetlink events (tracked interfaces): {e}");
                return;
            }
        };
        if notes.contains(&LinkNote::Overflow) {
            self.read_tracked_interfaces();
        }
        for n in notes {
            let (name, ok, detail) = match n {
                LinkNote::Changed(l) => (l.name.clone(), l.usable(), link_words(&l)),
                LinkNote::Deleted(name) => (name, false, "deleted".to_string()),
                LinkNote::Overflow => continue,
            };
            if let Some(i) = self.tracking.interfaces.iter().position(|x| *x == name) {
                let idx = self.tracking.interface_index(i);
                self.tracker_result(idx, ok, detail);
            }
        }
        self.refresh_tracker_fault(now);
    }

    fn read_tracked_interfaces(&mut self) {
        for i in 0..self.tracking.interfaces.len() {
            let name = self.tracking.interfaces[i].clone();
            let (ok, detail) = match raw::ifindex(&name).map(|x| self.rtnl.link(x)) {
                None => (false, "no such interface".to_string()),
                Some(Ok(l)) => (l.usable(), link_words(&l)),
                Some(Err(e)) => (false, format!("cannot read it: {e}")),
            };
            let idx = self.tracking.interface_index(i);
            self.tracker_result(idx, ok, detail);
        }
    }

    /// Starts the checks that are due, kills those past their timeout, scans /proc for missing processes.
    pub(super) fn track_timers(&mut self, now: Instant) {
        // Called on every turn of the loop (every advert at 10 ms): nothing to do before the deadline.
        if self.tracking.deadline().is_none_or(|t| t > now) {
            return;
        }
        for i in 0..self.tracking.checks.len() {
            let c = &mut self.tracking.checks[i];
            let Some(r) = c.running.as_mut() else {
                if c.next_at <= now {
                    self.start_check(i, now);
                }
                continue;
            };
            if r.killed || r.deadline > now {
                continue;
            }
            r.killed = true;
            let pid = r.child.id();
            let took = now.saturating_duration_since(r.started);
            if let Err(e) = proc::kill_group(pid, libc::SIGKILL) {
                warn!("tracker script: cannot kill pid {pid}: {e}");
            }
            let idx = self.tracking.script_index(i);
            self.tracker_result(idx, false, format!("timed out after {:.2} s (killed)", took.as_secs_f64()));
        }
        if self.tracking.rescan_at.is_some_and(|t| t <= now) {
            for i in 0..self.tracking.procs.len() {
                if self.tracking.procs[i].watched.is_none() {
                    self.scan_process(i);
                }
            }
        }
        self.refresh_tracker_fault(now);
    }

    fn start_check(&mut self, i: usize, now: Instant) {
        let interval = self.tracking.interval;
        let timeout = self.tracking.timeout;
        let c = &mut self.tracking.checks[i];
        c.next_at = now + interval;
        let spawned = Command::new(&c.argv[0])
            .args(&c.argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            .process_group(0)
            .spawn();
        match spawned {
            Ok(child) => c.running = Some(RunningCheck { child, started: now, deadline: now + timeout, killed: false }),
            Err(e) => {
                let idx = self.tracking.script_index(i);
                self.tracker_result(idx, false, format!("cannot start: {e}"));
            }
        }
    }

    /// After SIGCHLD: the checks that ended give their result.
    pub(super) fn reap_checks(&mut self, now: Instant) {
        for i in 0..self.tracking.checks.len() {
            let c = &mut self.tracking.checks[i];
            let Some(r) = c.running.as_mut() else { continue };
            let status = match r.child.try_wait() {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    warn!("tracker script: cannot wait for pid {}: {e}", r.child.id());
                    continue;
                }
            };
            let (killed, started) = (r.killed, r.started);
            c.running = None;
            // A check slower than the interval runs again as soon as it ended.
            c.next_at = c.next_at.max(now);
            if killed {
                continue;
            }
            let took = now.saturating_duration_since(started).as_secs_f64();
            let (ok, detail) = match (status.code(), status.signal()) {
                (Some(0), _) => (true, format!("exit status 0 in {took:.2} s")),
                (Some(n), _) => (false, format!("exit status {n}")),
                (None, Some(s)) => (false, format!("killed by {}", signals::name(s))),
                (None, None) => (false, "ended abnormally".to_string()),
            };
            let idx = self.tracking.script_index(i);
            self.tracker_result(idx, ok, detail);
        }
        self.refresh_tracker_fault(now);
    }

    /// Kills the checks still running (at exit).
    pub(super) fn stop_checks(&mut self) {
        for c in &mut self.tracking.checks {
            if let Some(mut r) = c.running.take() {
                let _ = proc::kill_group(r.child.id(), libc::SIGKILL);
                let _ = r.child.wait();
            }
        }
    }
}

fn link_words(l: &netlink::Link) -> String {
    match (l.up, l.lower_up) {
        (true, true) => "up, carrier".into(),
        (true, false) => "no carrier".into(),
        (false, _) => "administratively down".into(),
    }
}
