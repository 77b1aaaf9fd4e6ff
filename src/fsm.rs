//! RFC 3768 §6.4 state machine for one virtual router on one interface. Pure: every method takes the
//! current time and returns the actions to execute, in order; the caller owns sockets and clocks.
//!
//! One twist for the host group (`-M`): a Backup whose Master_Down_Timer fires does not jump to Master by
//! itself. It becomes a *candidate* (it has won its own LAN's election) and the group layer gives the
//! verdict through [`Vrrp::verdict`]. A process running alone simply passes `wants_master()` back as the
//! verdict, which gives plain RFC behaviour.

use crate::profile::{Interval, Version};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Initialize,
    Backup,
    Master,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pub priority: u8,
    pub version: Version,
    pub adver_int: Interval,
    pub preempt: bool,
    /// Our primary address of the router's family on the interface (tie-break, §6.4.3).
    pub primary: IpAddr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Take the virtual MAC and the virtual addresses (before the first advert as master).
    EnterMaster { reason: String },
    /// Multicast an advert with this priority.
    SendAdvert { priority: u8 },
    /// Give back the virtual addresses and the MAC.
    LeaveMaster { reason: String },
}

/// The last valid advert heard for our VRID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heard {
    pub src: IpAddr,
    pub priority: u8,
    pub at: Instant,
}

#[derive(Debug)]
pub struct Vrrp {
    p: Params,
    state: State,
    candidate: bool,
    /// Why we are (or want to be) in the current role.
    why: String,
    master_down_at: Option<Instant>,
    adver_at: Option<Instant>,
    /// Last time the master of our LAN proved alive (an advert that reset the Master_Down_Timer).
    master_alive_at: Instant,
    sibling_won: bool,
    /// A sibling won because its master resigned with priority 0 (an explicit message, which a
    /// partition cannot produce): we may follow at once.
    sibling_resigned: bool,
    /// Our master proved alive while a sibling was winning through a resignation: that resignation
    /// is not ours (a peer whose routers are not grouped, or adverts the network held back), so we
    /// follow that sibling only after a silence of our master, as any sibling.
    heard_after_sibling_resigned: bool,
    /// Our master sent priority 0 since it last proved alive.
    resign_seen: bool,
    /// We won (candidate) because our master resigned, or by following such a sibling.
    by_resignation: bool,
    heard: Option<Heard>,
    /// Listening since startup (or a link restore) and no master heard yet.
    listening: bool,
    /// The interval the master of our LAN advertises (RFC 5798 §6.1 Master_Adver_Interval, applied to
    /// v2 too): a Backup times the master out on the master's interval, not on its own.
    master_int: Interval,
    /// `--preempt-delay`: how long after a (re)start a lower-priority master is followed, not preempted.
    preempt_delay: Duration,
    /// End of the current preempt delay (set by [`Vrrp::startup`], so by a restart too).
    preempt_after: Option<Instant>,
    /// The master we follow has a lower priority: kept only because of the preempt delay.
    followed_lower: bool,
    /// Our link-local address when the router also advertises over IPv6 (the tie-break of an IPv6
    /// advert compares with it: addresses of one family only, RFC 5798 §6.4.3).
    primary6: Option<IpAddr>,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl Vrrp {
    pub fn new(p: Params, now: Instant) -> Vrrp {
        Vrrp {
            primary6: None,
            state: State::Initialize,
            candidate: false,
            why: "starting".into(),
            master_down_at: None,
            adver_at: None,
            master_alive_at: now,
            sibling_won: false,
            sibling_resigned: false,
            heard_after_sibling_resigned: false,
            resign_seen: false,
            by_resignation: false,
            heard: None,
            listening: false,
            master_int: p.adver_int,
            preempt_delay: Duration::ZERO,
            preempt_after: None,
            followed_lower: false,
            p,
        }
    }

    /// `--preempt-delay` (keepalived's `preempt_delay`): after each startup or restart (link back,
    /// fault or tracker cleared), a lower-priority master is followed for this long before we preempt
    /// it, so that a box that just came back does not take traffic before its services are up.
    pub fn set_preempt_delay(&mut self, d: Duration) {
        self.preempt_delay = d;
    }

    /// What is left of the preempt delay (`None`: none runs).
    pub fn preempt_delay_left(&self, now: Instant) -> Option<Duration> {
        self.preempt_after.filter(|t| now < *t).map(|t| t - now)
    }

    /// The preempt delay still runs at `now`.
    fn delaying_preempt(&self, now: Instant) -> bool {
        self.preempt_after.is_some_and(|t| now < t)
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn priority(&self) -> u8 {
        self.p.priority
    }
    pub fn params(&self) -> &Params {
        &self.p
    }
    pub fn reason(&self) -> &str {
        &self.why
    }
    pub fn heard(&self) -> Option<Heard> {
        self.heard
    }
    /// True when we won because our master resigned (priority 0), directly or through a sibling.
    pub fn won_by_resignation(&self) -> bool {
        self.wants_master() && self.by_resignation
    }

    /// True when this router has won its own election (candidate Backup, or Master).
    pub fn wants_master(&self) -> bool {
        self.state == State::Master || (self.state == State::Backup && self.candidate)
    }

    /// Skew_Time, per version (see [`Version::skew_time`]).
    pub fn skew_time(&self) -> Duration {
        self.p.version.skew_time(self.p.priority, self.master_int)
    }
    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (the master's interval, learned
    /// from its adverts; ours until one is heard).
    pub fn master_down_interval(&self) -> Duration {
        self.p.version.master_down_interval(self.p.priority, self.master_int)
    }
    /// The interval the master of our LAN advertises (ours until a master is heard).
    pub fn master_adver_int(&self) -> Interval {
        self.master_int
    }
    /// How long our own master must be silent before we follow a sibling that won (group mode):
    /// one interval plus an eighth, so that an advert that is merely a little late is not taken for silence.
    pub fn follow_after(&self) -> Duration {
        let d = self.master_int.as_duration();
        d + d / 8
    }

    /// The earliest instant at which [`Vrrp::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let follow = match self.state {
            State::Backup if self.sibling_won && !self.candidate => Some(self.master_alive_at + self.follow_after()),
            _ => None,
        };
        [self.master_down_at, self.adver_at, follow].into_iter().flatten().min()
    }

    fn arm_master_down(&mut self, now: Instant, d: Duration) {
        self.master_down_at = Some(now + d);
        self.adver_at = None;
    }

    /// Startup event (§6.4.1).
    pub fn startup(&mut self, now: Instant) -> Vec<Action> {
        if self.state != State::Initialize {
            return vec![];
        }
        self.state = State::Backup;
        self.master_alive_at = now;
        self.resign_seen = false;
        self.heard_after_sibling_resigned = false;
        self.followed_lower = false;
        self.by_resignation = false;
        self.master_int = self.p.adver_int;
        self.preempt_after = (!self.preempt_delay.is_zero()).then(|| now + self.preempt_delay);
        if self.p.priority == 255 {
            self.candidate = true;
            self.master_down_at = None;
            self.why = "address owner (priority 255)".into();
        } else {
            self.candidate = false;
            self.listening = true;
            self.arm_master_down(now, self.master_down_interval());
            self.why = "startup: waiting Master_Down_Interval for a master".into();
        }
        vec![]
    }

    /// A valid advert for our VRID (already checked against §7.1), with the interval it advertises.
    pub fn advert(&mut self, now: Instant, src: IpAddr, priority: u8, adver_int: Interval) -> Vec<Action> {
        self.heard = Some(Heard { src, priority, at: now });
        match self.state {
            State::Initialize => vec![],
            State::Backup => {
                if priority == 0 {
                    // §6.4.2: the master resigned; take over after Skew_Time.
                    self.master_down_at = Some(now + self.skew_time());
                    self.master_alive_at = now;
                    self.resign_seen = true;
                    if !self.candidate {
                        self.why = format!("master {src} resigned (priority 0)");
                    }
                } else if !self.p.preempt || priority >= self.p.priority || self.delaying_preempt(now) {
                    // RFC 5798 §6.4.2: Master_Adver_Interval := the advert's interval.
                    self.master_int = adver_int;
                    self.arm_master_down(now, self.master_down_interval());
                    self.master_alive_at = now;
                    let delayed = self.p.preempt && priority < self.p.priority;
                    self.followed_lower = delayed;
                    if let Some(end) = self.preempt_after.filter(|_| delayed) {
                        // Preempt when the delay ends, not a Master_Down_Interval after it.
                        self.master_down_at = self.master_down_at.map(|t| t.min(end));
                        self.why = format!(
                            "lower priority master {src} (priority {priority}) followed during the preempt delay ({} left)",
                            secs(end.saturating_duration_since(now))
                        );
                    } else if self.candidate || self.listening {
                        self.why = format!("master {src} heard with priority {priority}");
                    }
                    self.listening = false;
                    self.candidate = false;
                    self.resign_seen = false;
                    self.by_resignation = false;
                    self.heard_after_sibling_resigned |= self.sibling_resigned;
                }
                // else: lower priority and preemption on: discard, our timer runs out and we preempt.
                vec![]
            }
            State::Master => {
                if priority == 0 {
                    // §6.4.3: a backup-to-be resigned; assert ourselves at once.
                    self.adver_at = Some(now + self.p.adver_int.as_duration());
                    vec![Action::SendAdvert { priority: self.p.priority }]
                } else if priority > self.p.priority || (priority == self.p.priority && src > self.ours_like(src)) {
                    self.state = State::Backup;
                    self.candidate = false;
                    self.heard_after_sibling_resigned |= self.sibling_resigned;
                    self.master_int = adver_int;
                    self.arm_master_down(now, self.master_down_interval());
                    self.master_alive_at = now;
                    self.why = if priority > self.p.priority {
                        format!("higher priority master {src} (priority {priority} > {})", self.p.priority)
                    } else {
                        format!("master {src} with equal priority {priority} and a higher address")
                    };
                    vec![Action::LeaveMaster { reason: self.why.clone() }]
                } else {
                    vec![]
                }
            }
        }
    }

    /// Timers: Master_Down_Timer (Backup), Adver_Timer (Master), and the sibling-follow delay.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            State::Initialize => vec![],
            State::Backup => {
                if let Some(t) = self.master_down_at
                    && now >= t
                {
                    self.master_down_at = None;
                    if !self.candidate {
                        self.candidate = true;
                        self.by_resignation = self.resign_seen;
                        let silent = now.saturating_duration_since(self.master_alive_at);
                        self.why = if self.resign_seen {
                            self.why.clone() // "master X resigned (priority 0)", set with the advert
                        } else if self.followed_lower {
                            "preempt delay over: preempting the lower priority master".to_string()
                        } else if self.heard.is_some_and(|h| h.priority < self.p.priority && h.priority > 0) {
                            format!("preempting lower priority master (no better advert for {})", secs(silent))
                        } else {
                            format!("no advert for {} (Master_Down_Interval)", secs(silent))
                        };
                    }
                }
                if self.sibling_resigned && !self.heard_after_sibling_resigned && !self.candidate {
                    self.candidate = true;
                    self.by_resignation = true;
                    self.why =
                        "another interface of this host took over from a master that resigned (priority 0)".into();
                }
                if self.sibling_won && !self.candidate && now >= self.master_alive_at + self.follow_after() {
                    self.candidate = true;
                    self.why = format!(
                        "another interface of this host won and our master was silent for {}",
                        secs(now.saturating_duration_since(self.master_alive_at))
                    );
                }
                vec![]
            }
            State::Master => match self.adver_at {
                Some(t) if now >= t => {
                    // On schedule, not from now: a late wake-up does not shift every later advert
                    // (but a long stall does not make a burst either).
                    let next = t + self.p.adver_int.as_duration();
                    self.adver_at = Some(if next > now { next } else { now + self.p.adver_int.as_duration() });
                    vec![Action::SendAdvert { priority: self.p.priority }]
                }
                _ => vec![],
            },
        }
    }

    /// The group's verdict. `allow` = the whole host may be master. A candidate becomes Master; a
    /// Master told to stand down resigns with priority 0 so that the peer takes over in Skew_Time.
    pub fn verdict(&mut self, now: Instant, allow: bool, why_not: &str) -> Vec<Action> {
        match self.state {
            State::Backup if allow && self.candidate => {
                self.state = State::Master;
                self.candidate = false;
                self.by_resignation = false;
                self.listening = false;
                self.master_down_at = None;
                self.adver_at = Some(now + self.p.adver_int.as_duration());
                vec![Action::EnterMaster { reason: self.why.clone() }, Action::SendAdvert { priority: self.p.priority }]
            }
            State::Master if !allow => {
                self.state = State::Backup;
                self.candidate = false;
                self.master_int = self.p.adver_int;
                self.resign_seen = false;
                self.by_resignation = false;
                self.arm_master_down(now, self.master_down_interval());
                self.master_alive_at = now;
                self.why = why_not.to_string();
                vec![Action::SendAdvert { priority: 0 }, Action::LeaveMaster { reason: self.why.clone() }]
            }
            _ => vec![],
        }
    }

    /// The link came back: a Backup listens for a master for a full Master_Down_Interval again
    /// (a candidate from before the outage must not take over blindly).
    pub fn restart(&mut self, now: Instant) -> Vec<Action> {
        if self.state == State::Backup {
            self.state = State::Initialize;
            return self.startup(now);
        }
        vec![]
    }

    /// Our primary address changed.
    pub fn set_primary(&mut self, primary: IpAddr) {
        self.p.primary = primary;
    }

    /// Our address of the other family (IPv6 link-local beside an IPv4 primary), for the tie-break of
    /// adverts of that family.
    pub fn set_primary6(&mut self, primary6: Option<IpAddr>) {
        self.primary6 = primary6;
    }

    /// Our address of `src`'s family, which an equal-priority advert from `src` is compared with.
    fn ours_like(&self, src: IpAddr) -> IpAddr {
        match self.primary6 {
            Some(p6) if src.is_ipv6() != self.p.primary.is_ipv6() => p6,
            _ => self.p.primary,
        }
    }

    /// Tells whether another member of the host group has won its election, and whether it won
    /// because its master resigned (then we follow at the next tick instead of after a silence).
    pub fn set_sibling_won(&mut self, won: bool, by_resignation: bool) {
        self.sibling_won = won;
        self.sibling_resigned = won && by_resignation;
        if !self.sibling_resigned {
            self.heard_after_sibling_resigned = false;
        }
    }

    /// Changes the priority; a Master advertises it from its next advert. Priority 255 is reserved to
    /// the owner and not reachable by a change.
    pub fn set_priority(&mut self, prio: u8) {
        self.p.priority = prio;
    }

    /// Shutdown event (§6.4.2 / §6.4.3): a Master sends priority 0 and gives everything back.
    pub fn shutdown(&mut self, _now: Instant, why: &str) -> Vec<Action> {
        let was = self.state;
        self.state = State::Initialize;
        self.candidate = false;
        self.master_down_at = None;
        self.adver_at = None;
        self.why = why.to_string();
        if was == State::Master {
            vec![Action::SendAdvert { priority: 0 }, Action::LeaveMaster { reason: why.to_string() }]
        } else {
            vec![]
        }
    }
}

#[cfg(test)]
mod tests;
