//! The pure core of a member: its virtual router (the §6.4 state machine) under the host group's verdict.
//! Inputs (timers, adverts, siblings, link, fault, drain) give a list of effects in the order the daemon
//! executes them; [`Core::effects_of`] alone fixes the order of a transition's side effects.

use crate::fsm::{Action, State, Vrrp};
use crate::group::{self, Status};
use crate::hostwide::{HostTransition, HostView};
use log::{debug, info};
use std::time::{Duration, Instant};

/// Gratuitous ARP repeats after becoming MASTER, after the burst sent at the transition itself.
pub const GARP_REPEATS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

/// What the daemon must do, in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Our new status for the siblings: sent before our own release, so that they act in parallel
    /// (after a priority 0 and after a takeover: [`Core::with_announce`]).
    Announce(Status),
    SendAdvert {
        priority: u8,
    },
    /// BACKUP → MASTER: the virtual MAC (unless -n), then the virtual addresses.
    TakeOver {
        reason: String,
    },
    /// MASTER → BACKUP: the virtual addresses removed, the MAC given back, ARP for our own addresses.
    GiveBack {
        reason: String,
    },
    /// Gratuitous ARP (and the magic packet) now, and again after each of [`GARP_REPEATS`].
    Garp,
    /// Our line in the state file changed.
    Save,
    /// The -U (to MASTER) or -D hook of a transition.
    Hook {
        from: State,
        to: State,
    },
    /// The whole host changed state and this member is the one that runs --host-up / --host-down.
    HostHook(HostTransition),
}

/// Who this member is in the group.
#[derive(Clone, Debug)]
pub struct Identity {
    pub ifname: String,
    pub vrid: u8,
    pub pid: u32,
    /// `-M n`; `None` when running alone.
    pub members: Option<u32>,
}

/// Why a member cannot take part in the election (it cannot advertise); the host goes BACKUP as for a
/// link loss while it lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub why: String,
    /// Sends failed: try again then. `None`: the interface has no address of its own; wait for one.
    pub retry_at: Option<Instant>,
}

pub struct Core {
    pub fsm: Vrrp,
    id: Identity,
    pub link_up: bool,
    /// Cannot advertise (no source address, send errors): out of the election like a link down.
    pub fault: Option<Fault>,
    /// `atropos --backup` (the drain file) is in force.
    pub drained: bool,
    /// A tracker is not healthy (why): the host goes BACKUP as for a link loss while it lasts.
    pub tracker: Option<String>,
    last_why_not: String,
    /// Why the host holds us BACKUP although we won our own election (None when not held).
    held: Option<String>,
    /// Last status sent to the siblings.
    announced: Option<Status>,
    /// The whole host's state as this member sees it (for --host-up / --host-down).
    host: HostView,
}

impl Core {
    pub fn new(fsm: Vrrp, id: Identity, link_up: bool, drained: bool) -> Core {
        Core {
            fsm,
            id,
            link_up,
            fault: None,
            drained,
            tracker: None,
            last_why_not: String::new(),
            held: None,
            announced: None,
            host: HostView::new(),
        }
    }

    pub fn in_group(&self) -> bool {
        self.id.members.is_some()
    }

    pub fn held(&self) -> Option<&str> {
        self.held.as_deref()
    }

    pub fn status(&self) -> Status {
        Status {
            ifname: self.id.ifname.clone(),
            vrid: self.id.vrid,
            pid: self.id.pid,
            state: self.fsm.state(),
            wants: self.fsm.wants_master(),
            link_up: self.link_up,
            prio: self.fsm.priority(),
            resigned: self.fsm.won_by_resignation(),
            fault: self.fault.is_some(),
            members: self.id.members.unwrap_or(0),
            tracker: self.tracker.clone(),
        }
    }

    /// The group's verdict as it stands (for atropos).
    pub fn verdict(&self, siblings: &[Status]) -> group::Verdict {
        group::verdict(&self.status(), siblings, self.id.members.unwrap_or(1), self.drained)
    }

    /// Our status for the siblings, when it changed since the last one (group members only).
    pub fn announce(&mut self) -> Option<Effect> {
        if !self.in_group() {
            return None;
        }
        let st = self.status();
        if self.announced.as_ref() == Some(&st) {
            return None;
        }
        self.announced = Some(st.clone());
        Some(Effect::Announce(st))
    }

    /// Where our status goes among our own effects. A priority 0 (or any advert we lead with) goes out
    /// first: the peer waits on it, and the status wakes every sibling, which then compete for the
    /// CPU (31 of them in a 32-LAN host). Then the siblings hear it, so that they release or follow in
    /// parallel with our own release. A takeover is done first: the siblings were all allowed by the
    /// same statuses and wait on nothing of ours, so our MASTER state reaches them afterwards.
    fn with_announce(announce: Option<Effect>, effects: Vec<Effect>) -> Vec<Effect> {
        let Some(a) = announce else { return effects };
        let at = if effects.iter().any(|e| matches!(e, Effect::TakeOver { .. })) {
            effects.iter().position(|e| matches!(e, Effect::Save | Effect::Hook { .. })).unwrap_or(effects.len())
        } else {
            effects.iter().take_while(|e| matches!(e, Effect::SendAdvert { .. })).count()
        };
        let mut out = effects;
        out.insert(at, a);
        out
    }

    /// The state machine's actions as effects, with a transition's side effects in their one order:
    /// MAC and addresses (with the advert), then gratuitous ARP, the state file, the hook.
    pub fn effects_of(acts: Vec<Action>) -> Vec<Effect> {
        let mut out = Vec::with_capacity(acts.len() + 3);
        let mut transition = None;
        for a in acts {
            match a {
                Action::SendAdvert { priority } => out.push(Effect::SendAdvert { priority }),
                Action::EnterMaster { reason } => {
                    out.push(Effect::TakeOver { reason });
                    transition = Some((State::Backup, State::Master));
                }
                Action::LeaveMaster { reason } => {
                    out.push(Effect::GiveBack { reason });
                    transition = Some((State::Master, State::Backup));
                }
            }
        }
        match transition {
            Some((from, State::Master)) => {
                out.extend([Effect::Garp, Effect::Save, Effect::Hook { from, to: State::Master }])
            }
            Some((from, to)) => out.extend([Effect::Save, Effect::Hook { from, to }]),
            None => {}
        }
        out
    }

    /// Runs the timers, then applies the group's verdict until nothing changes; tells the siblings.
    pub fn settle(&mut self, now: Instant, siblings: &[Status]) -> Vec<Effect> {
        let mut out = Vec::new();
        let mut held_changed = false;
        let expected = self.id.members.unwrap_or(1);
        for _ in 0..4 {
            let me = self.status();
            let v = group::verdict(&me, siblings, expected, self.drained);
            self.fsm.set_sibling_won(v.sibling_won, v.sibling_resigned);
            let mut acts = self.fsm.tick(now);
            // A tick may have made us a candidate: recompute with our new wish.
            let v = if self.fsm.wants_master() != me.wants {
                group::verdict(&self.status(), siblings, expected, self.drained)
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
            // The reason is only read when a master must give way: not formatted on every advert.
            let why = if v.allow || self.fsm.state() != State::Master {
                String::new()
            } else if self.in_group() {
                format!("group: {}", v.why_not)
            } else {
                v.why_not.clone()
            };
            acts.extend(self.fsm.verdict(now, v.allow, &why));
            if acts.is_empty() {
                break;
            }
            let announce = self.announce();
            out.extend(Self::with_announce(announce, Self::effects_of(acts)));
        }
        // Siblings first: our status goes out before the state file is written (the write waits on the
        // host-wide lock, contended when every member of a large group changes at once). A transition
        // already saved the final state (held reason included): one write, not two.
        out.extend(self.announce());
        if held_changed && !out.contains(&Effect::Save) {
            out.push(Effect::Save);
        }
        out
    }

    /// The host-wide state after our own and the siblings' latest changes (asked after [`Core::settle`]):
    /// a [`Effect::HostHook`] when the whole host has just changed and this member runs its hook.
    pub fn host_transition(&mut self, siblings: &[Status]) -> Option<Effect> {
        let t = self.host.observe(&self.status(), siblings, self.id.members.unwrap_or(1))?;
        if t.runner.ifname != self.id.ifname || t.runner.vrid != self.id.vrid {
            debug!("host: {} -> {}; its hook is run by {}", t.from.name(), t.to.name(), t.runner);
            return None;
        }
        info!(
            "host: every member {}: this member runs the host hook",
            if t.to == State::Master { "is MASTER" } else { "left MASTER" }
        );
        Some(Effect::HostHook(t))
    }

    /// A valid advert on our LAN (§6.4.2 / §6.4.3), then the group's verdict at once (a higher master
    /// heard here releases every member now).
    pub fn advert(
        &mut self,
        now: Instant,
        src: std::net::IpAddr,
        priority: u8,
        int: crate::profile::Interval,
        siblings: &[Status],
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.link_up {
            return out;
        }
        let acts = self.fsm.advert(now, src, priority, int);
        let announce = if acts.is_empty() { None } else { self.announce() };
        out.extend(Self::with_announce(announce, Self::effects_of(acts)));
        out.extend(self.settle(now, siblings));
        out
    }
}

/// A state-file write waits for this long without another change ([`DeferredSave`])...
pub const SAVE_QUIET: Duration = Duration::from_millis(100);
/// ... but no longer than this after the first change it records.
pub const SAVE_DEFER_MAX: Duration = Duration::from_millis(500);

/// When the state file is written after [`Effect::Save`]s: once no change came for [`SAVE_QUIET`], at
/// most [`SAVE_DEFER_MAX`] after the first. When every member of a large group flips at once, N
/// writers rewriting one file under one host-wide lock (each write waking the N watchers of the run
/// dir) would otherwise compete with the flip itself; one write then records the whole flip.
#[derive(Clone, Debug, Default)]
pub struct DeferredSave {
    /// (first, last) change not written yet.
    pending: Option<(Instant, Instant)>,
}

impl DeferredSave {
    pub fn request(&mut self, now: Instant) {
        let first = self.pending.map_or(now, |p| p.0);
        self.pending = Some((first, now));
    }

    /// When the write is due (`None`: nothing to write).
    pub fn due_at(&self) -> Option<Instant> {
        self.pending.map(|(first, last)| (last + SAVE_QUIET).min(first + SAVE_DEFER_MAX))
    }

    /// Forgets the pending write; true when there was one (the caller writes now).
    pub fn take(&mut self) -> bool {
        self.pending.take().is_some()
    }

    /// True (and forgotten) when the write is due at `now`.
    pub fn take_due(&mut self, now: Instant) -> bool {
        self.due_at().is_some_and(|t| t <= now) && self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::Params;
    use crate::profile::{Interval, Version};
    use std::net::{IpAddr, Ipv4Addr};

    const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn core(members: Option<u32>, now: Instant) -> Core {
        let p = Params {
            priority: 110,
            version: Version::V2,
            adver_int: Interval::from_secs(1),
            preempt: true,
            primary: ME,
        };
        let mut fsm = Vrrp::new(p, now);
        assert!(fsm.startup(now).is_empty());
        Core::new(fsm, Identity { ifname: "eth0".into(), vrid: 51, pid: 7, members }, true, false)
    }

    fn sibling(wants: bool, link_up: bool) -> Status {
        Status {
            ifname: "eth1".into(),
            vrid: 52,
            pid: 8,
            state: if wants { State::Master } else { State::Backup },
            wants,
            link_up,
            prio: 110,
            resigned: false,
            fault: false,
            members: 2,
            tracker: None,
        }
    }

    fn kinds(e: &[Effect]) -> Vec<&'static str> {
        e.iter()
            .map(|e| match e {
                Effect::Announce(_) => "announce",
                Effect::SendAdvert { priority: 0 } => "advert0",
                Effect::SendAdvert { .. } => "advert",
                Effect::TakeOver { .. } => "take",
                Effect::GiveBack { .. } => "give",
                Effect::Garp => "garp",
                Effect::Save => "save",
                Effect::Hook { to: State::Master, .. } => "hook-up",
                Effect::Hook { .. } => "hook-down",
                Effect::HostHook(_) => "host-hook",
            })
            .collect()
    }

    #[test]
    fn alone_it_takes_over_after_master_down_interval_in_the_fixed_order() {
        let t0 = Instant::now();
        let mut c = core(None, t0);
        let mdi = c.fsm.master_down_interval();
        assert!(c.settle(t0 + mdi - Duration::from_millis(1), &[]).is_empty());
        let e = c.settle(t0 + mdi, &[]);
        assert_eq!(kinds(&e), ["take", "advert", "garp", "save", "hook-up"]);
        assert_eq!(c.fsm.state(), State::Master);
        // Nothing more until the next advert is due.
        assert!(c.settle(t0 + mdi + Duration::from_millis(500), &[]).is_empty());
        assert_eq!(kinds(&c.settle(t0 + mdi + Duration::from_secs(1), &[])), ["advert"]);
    }

    #[test]
    fn a_group_waits_for_every_member_and_releases_when_a_sibling_link_goes_down() {
        let t0 = Instant::now();
        let mut c = core(Some(2), t0);
        let mdi = c.fsm.master_down_interval();
        // Sibling present but not won: we win our LAN and are held BACKUP (announced first, then saved once).
        let e = c.settle(t0 + mdi, &[sibling(false, true)]);
        assert_eq!(kinds(&e), ["announce", "save"]);
        assert!(c.held().is_some_and(|h| h.contains("eth1")), "{:?}", c.held());
        assert!(c.settle(t0 + mdi, &[sibling(false, true)]).is_empty(), "said once");
        // The sibling wins too: the host is MASTER; our own takeover first (the siblings wait on
        // nothing of ours), then they hear it; the state file is written once (the transition's save
        // carries the end of the hold).
        let e = c.settle(t0 + mdi, &[sibling(true, true)]);
        assert_eq!(kinds(&e), ["take", "advert", "garp", "announce", "save", "hook-up"]);
        let t1 = t0 + mdi + Duration::from_millis(300);
        // Its link goes down: priority 0 first, then the siblings hear it, then give everything back.
        let e = c.settle(t1, &[sibling(true, false)]);
        assert_eq!(kinds(&e), ["advert0", "announce", "give", "save", "hook-down"]);
        match &e[2] {
            Effect::GiveBack { reason } => assert!(reason.contains("group: eth1 link down"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.fsm.state(), State::Backup);
    }

    #[test]
    fn a_drain_or_a_fault_releases_a_lone_master() {
        for how in ["drain", "fault", "tracker"] {
            let t0 = Instant::now();
            let mut c = core(None, t0);
            let mdi = c.fsm.master_down_interval();
            c.settle(t0 + mdi, &[]);
            assert_eq!(c.fsm.state(), State::Master);
            if how == "drain" {
                c.drained = true;
            } else if how == "tracker" {
                c.tracker = Some("tracker process haproxy failed (no process named haproxy)".into());
            } else {
                c.fault = Some(Fault { why: "test".into(), retry_at: None });
            }
            let e = c.settle(t0 + mdi + Duration::from_millis(10), &[]);
            assert_eq!(kinds(&e), ["advert0", "give", "save", "hook-down"], "{how}");
            // Held BACKUP while it lasts, even past Master_Down_Interval.
            assert!(c.settle(t0 + 3 * mdi, &[]).iter().all(|e| *e == Effect::Save), "{how}");
            assert_eq!(c.fsm.state(), State::Backup, "{how}");
        }
    }

    #[test]
    fn a_siblings_failed_tracker_releases_every_member_with_priority_0() {
        let t0 = Instant::now();
        let mut c = core(Some(2), t0);
        let mdi = c.fsm.master_down_interval();
        c.settle(t0 + mdi, &[sibling(true, true)]);
        assert_eq!(c.fsm.state(), State::Master);
        let mut sick = sibling(true, true);
        sick.tracker = Some("tracker script /bin/check failed (exit status 1)".into());
        let e = c.settle(t0 + mdi + Duration::from_millis(5), &[sick.clone()]);
        assert_eq!(kinds(&e), ["advert0", "announce", "give", "save", "hook-down"]);
        assert!(c.fsm.reason().contains("eth1 vrid 52: tracker script /bin/check failed"), "{}", c.fsm.reason());
        // Held while it lasts; back (listening first) when the sibling is healthy again.
        c.settle(t0 + 5 * mdi, &[sick]);
        assert_eq!(c.fsm.state(), State::Backup);
        c.settle(t0 + 6 * mdi, &[sibling(true, true)]);
        assert_eq!(c.fsm.state(), State::Master);
    }

    #[test]
    fn a_higher_advert_releases_the_master_with_the_siblings_told_first() {
        let t0 = Instant::now();
        let mut c = core(Some(2), t0);
        let mdi = c.fsm.master_down_interval();
        c.settle(t0 + mdi, &[sibling(true, true)]);
        assert_eq!(c.fsm.state(), State::Master);
        let e = c.advert(
            t0 + mdi,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
            200,
            Interval::from_secs(1),
            &[sibling(true, true)],
        );
        assert_eq!(kinds(&e)[..4], ["announce", "give", "save", "hook-down"]);
        // No advert of ours goes out: the higher master owns the LAN.
        assert!(!kinds(&e).contains(&"advert0"));
    }

    #[test]
    fn a_burst_of_saves_is_written_once_after_a_quiet_spell_within_a_bound() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = DeferredSave::default();
        assert_eq!(d.due_at(), None);
        assert!(!d.take_due(t0 + ms(1000)), "nothing pending, nothing due");
        d.request(t0);
        assert_eq!(d.due_at(), Some(t0 + SAVE_QUIET));
        // A flip of the whole group: more changes keep pushing the write back...
        for i in 1..=16u64 {
            d.request(t0 + ms(i * 30));
            assert!(!d.take_due(t0 + ms(i * 30)));
        }
        // ... but never past SAVE_DEFER_MAX after the first change.
        assert_eq!(d.due_at(), Some(t0 + SAVE_DEFER_MAX));
        assert!(!d.take_due(t0 + SAVE_DEFER_MAX - ms(1)));
        assert!(d.take_due(t0 + SAVE_DEFER_MAX));
        assert_eq!(d.due_at(), None, "written once");
        // A direct write carries the pending one.
        d.request(t0 + ms(600));
        assert!(d.take());
        assert!(!d.take() && !d.take_due(t0 + ms(5000)));
    }
}
