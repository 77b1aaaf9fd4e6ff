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
                if self.sibling_resigned && !self.candidate {
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
mod tests {
    use super::*;

    use std::net::Ipv4Addr;

    const PEER_LOW: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const PEER_HIGH: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

    const SEC: Interval = Interval::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn params(priority: u8, preempt: bool) -> Params {
        Params { priority, version: Version::V2, adver_int: SEC, preempt, primary: ME }
    }

    /// A router running alone: the verdict is its own wish, as the daemon does without -M.
    struct Alone {
        v: Vrrp,
        t0: Instant,
    }

    impl Alone {
        fn new(priority: u8, preempt: bool) -> Alone {
            let t0 = Instant::now();
            let mut v = Vrrp::new(params(priority, preempt), t0);
            assert!(v.startup(t0).is_empty());
            Alone { v, t0 }
        }
        fn at(&self, t: u64) -> Instant {
            self.t0 + ms(t)
        }
        fn settle(&mut self, now: Instant, mut acts: Vec<Action>) -> Vec<Action> {
            let wish = self.v.wants_master();
            acts.extend(self.v.verdict(now, wish, "alone"));
            acts
        }
        fn tick(&mut self, t: u64) -> Vec<Action> {
            let now = self.at(t);
            let a = self.v.tick(now);
            self.settle(now, a)
        }
        fn advert(&mut self, t: u64, src: IpAddr, prio: u8) -> Vec<Action> {
            let now = self.at(t);
            let a = self.v.advert(now, src, prio, SEC);
            self.settle(now, a)
        }
        fn becomes_master_at(&mut self, t: u64) {
            assert!(self.tick(t - 1).is_empty(), "nothing before {t} ms");
            let a = self.tick(t);
            assert!(matches!(a[0], Action::EnterMaster { .. }), "{a:?}");
            assert_eq!(a[1], Action::SendAdvert { priority: self.v.priority() });
            assert_eq!(self.v.state(), State::Master);
        }
    }

    #[test]
    fn timers_follow_rfc_formulas() {
        let a = Alone::new(100, true);
        assert_eq!(a.v.skew_time(), Duration::from_micros(609_375));
        assert_eq!(a.v.master_down_interval(), Duration::from_micros(3_609_375));
        let b = Alone::new(254, true);
        assert_eq!(b.v.skew_time(), Duration::from_nanos(7_812_500));
    }

    #[test]
    fn backup_becomes_master_after_master_down_interval() {
        let mut a = Alone::new(100, true);
        assert_eq!(a.v.state(), State::Backup);
        assert_eq!(a.v.next_deadline(), Some(a.at(3610) - Duration::from_micros(625)));
        a.becomes_master_at(3610);
        assert!(a.v.reason().contains("no advert"), "{}", a.v.reason());
        // Then adverts every interval.
        assert!(a.tick(4609).is_empty());
        assert_eq!(a.tick(4610), vec![Action::SendAdvert { priority: 100 }]);
        assert_eq!(a.tick(5610), vec![Action::SendAdvert { priority: 100 }]);
    }

    #[test]
    fn adverts_from_a_better_master_keep_backup() {
        let mut a = Alone::new(100, true);
        for t in (0..10_000).step_by(1000) {
            assert!(a.advert(t, PEER_HIGH, 110).is_empty());
            assert!(a.tick(t + 999).is_empty());
        }
        assert_eq!(a.v.state(), State::Backup);
        assert_eq!(a.v.heard().map(|h| (h.src, h.priority)), Some((PEER_HIGH, 110)));
        // The master falls silent after its advert at 9000: takeover at 9000 + 3609.375 ms.
        a.becomes_master_at(12610);
    }

    #[test]
    fn backup_receiving_priority_zero_takes_over_after_skew_time() {
        let mut a = Alone::new(100, true);
        a.advert(0, PEER_HIGH, 110);
        a.advert(1000, PEER_HIGH, 0);
        assert!(a.tick(1609).is_empty());
        let acts = a.tick(1610);
        assert!(matches!(acts[0], Action::EnterMaster { .. }));
        assert!(a.v.reason().contains("resigned"), "{}", a.v.reason());
    }

    #[test]
    fn master_receiving_higher_priority_steps_down() {
        let mut a = Alone::new(100, true);
        a.becomes_master_at(3610);
        let acts = a.advert(4000, PEER_HIGH, 120);
        assert_eq!(acts.len(), 1);
        assert!(matches!(&acts[0], Action::LeaveMaster { reason } if reason.contains("120")));
        assert_eq!(a.v.state(), State::Backup);
        // No priority-0 advert when yielding to a better master, and no adverts afterwards.
        assert!(a.tick(5000).is_empty());
    }

    #[test]
    fn master_ignores_lower_and_answers_priority_zero() {
        let mut a = Alone::new(100, true);
        a.becomes_master_at(3610);
        assert!(a.advert(3700, PEER_LOW, 90).is_empty());
        assert_eq!(a.advert(3800, PEER_LOW, 0), vec![Action::SendAdvert { priority: 100 }]);
        // The advert timer restarts from there.
        assert!(a.tick(4799).is_empty());
        assert_eq!(a.tick(4800), vec![Action::SendAdvert { priority: 100 }]);
        assert_eq!(a.v.state(), State::Master);
    }

    #[test]
    fn equal_priority_is_broken_by_the_larger_primary_address() {
        let mut a = Alone::new(100, true);
        a.becomes_master_at(3610);
        assert!(a.advert(3700, PEER_LOW, 100).is_empty(), "lower address loses");
        assert_eq!(a.v.state(), State::Master);
        let acts = a.advert(3800, PEER_HIGH, 100);
        assert!(matches!(&acts[0], Action::LeaveMaster { reason } if reason.contains("equal priority")));
        assert_eq!(a.v.state(), State::Backup);
    }

    #[test]
    fn an_ipv6_advert_of_equal_priority_is_compared_with_our_ipv6_address() {
        let ll = |s: &str| IpAddr::V6(s.parse().unwrap());
        let mut a = Alone::new(100, true);
        a.v.set_primary6(Some(ll("fe80::5")));
        a.becomes_master_at(3610);
        // Any IPv6 address sorts above any IPv4 one: only our own link-local address decides.
        assert!(a.advert(3700, ll("fe80::4"), 100).is_empty(), "lower link-local loses");
        assert_eq!(a.v.state(), State::Master);
        let acts = a.advert(3800, ll("fe80::6"), 100);
        assert!(matches!(&acts[0], Action::LeaveMaster { reason } if reason.contains("equal priority")));
    }

    #[test]
    fn preemption_on_takes_over_a_lower_master() {
        let mut a = Alone::new(110, true);
        // A lower master keeps advertising; its adverts are discarded and our timer runs out.
        for t in (0..3000).step_by(1000) {
            assert!(a.advert(t, PEER_LOW, 100).is_empty());
        }
        let mdi = a.v.master_down_interval().as_millis() as u64 + 1;
        a.becomes_master_at(mdi);
        assert!(a.v.reason().contains("preempting"), "{}", a.v.reason());
    }

    #[test]
    fn preemption_off_never_takes_over_a_live_master() {
        let mut a = Alone::new(110, false);
        for t in (0..20_000).step_by(1000) {
            assert!(a.advert(t, PEER_LOW, 100).is_empty());
            assert!(a.tick(t + 999).is_empty());
        }
        assert_eq!(a.v.state(), State::Backup);
        // But takes over when that master dies.
        a.becomes_master_at(19_000 + a.v.master_down_interval().as_millis() as u64 + 1);
    }

    #[test]
    fn owner_255_is_master_at_once_and_stays() {
        let mut a = Alone::new(255, true);
        let acts = a.tick(0);
        assert!(matches!(acts[0], Action::EnterMaster { .. }));
        assert_eq!(acts[1], Action::SendAdvert { priority: 255 });
        assert!(a.v.reason().contains("owner"));
    }

    #[test]
    fn shutdown_sends_priority_zero_only_from_master() {
        let mut a = Alone::new(100, true);
        assert!(a.v.shutdown(a.at(10), "SIGTERM").is_empty());
        let mut b = Alone::new(100, true);
        b.becomes_master_at(3610);
        let acts = b.v.shutdown(b.at(4000), "SIGTERM");
        assert_eq!(acts[0], Action::SendAdvert { priority: 0 });
        assert!(matches!(acts[1], Action::LeaveMaster { .. }));
        assert_eq!(b.v.state(), State::Initialize);
        assert_eq!(b.v.next_deadline(), None);
    }

    #[test]
    fn restart_after_link_outage_listens_again() {
        let mut a = Alone::new(100, true);
        // Candidate while the link was down (the daemon's verdict kept it Backup).
        a.v.tick(a.at(3610));
        assert!(a.v.wants_master());
        assert!(a.v.restart(a.at(5000)).is_empty());
        assert!(!a.v.wants_master());
        assert_eq!(a.v.next_deadline(), Some(a.at(5000) + a.v.master_down_interval()));
    }

    #[test]
    fn priority_change_applies_from_next_advert() {
        let mut a = Alone::new(100, true);
        a.becomes_master_at(3610);
        a.v.set_priority(90);
        assert_eq!(a.tick(4610), vec![Action::SendAdvert { priority: 90 }]);
    }

    #[test]
    fn group_gate_holds_a_candidate_and_releases_with_priority_zero() {
        let t0 = Instant::now();
        let mut v = Vrrp::new(params(100, true), t0);
        v.startup(t0);
        v.tick(t0 + ms(3610));
        assert!(v.wants_master());
        assert_eq!(v.state(), State::Backup, "candidate waits for the verdict");
        assert!(v.verdict(t0 + ms(3611), false, "sibling missing").is_empty());
        let acts = v.verdict(t0 + ms(3700), true, "");
        assert!(matches!(acts[0], Action::EnterMaster { .. }));
        // The group stands down: priority 0 first (peer takes over in Skew_Time), then give back.
        let acts = v.verdict(t0 + ms(4000), false, "eth1 link down");
        assert_eq!(acts[0], Action::SendAdvert { priority: 0 });
        assert_eq!(acts[1], Action::LeaveMaster { reason: "eth1 link down".into() });
        assert!(!v.wants_master());
        assert_eq!(v.reason(), "eth1 link down");
    }

    #[test]
    fn follows_a_sibling_after_one_silent_interval_only() {
        let t0 = Instant::now();
        let mut v = Vrrp::new(params(100, true), t0);
        v.startup(t0);
        v.advert(t0 + ms(100), PEER_HIGH, 110, SEC);
        v.set_sibling_won(true, false);
        assert_eq!(v.next_deadline(), Some(t0 + ms(100 + 1125)));
        v.tick(t0 + ms(1224));
        assert!(!v.wants_master());
        v.tick(t0 + ms(1225));
        assert!(v.wants_master());
        assert!(v.reason().contains("another interface"), "{}", v.reason());
    }

    #[test]
    fn follows_at_once_a_sibling_whose_master_resigned() {
        let t0 = Instant::now();
        // The sibling: its master resigns with priority 0, it wins after Skew_Time.
        let mut a = Vrrp::new(params(100, true), t0);
        a.startup(t0);
        a.advert(t0 + ms(100), PEER_HIGH, 110, SEC);
        a.advert(t0 + ms(500), PEER_HIGH, 0, SEC);
        a.tick(t0 + ms(1110));
        assert!(a.wants_master() && a.won_by_resignation());
        // We heard our master 0.4 s ago (its link to us is gone, it could not resign here).
        let mut b = Vrrp::new(params(100, true), t0);
        b.startup(t0);
        b.advert(t0 + ms(700), PEER_HIGH, 110, SEC);
        b.set_sibling_won(true, a.won_by_resignation());
        b.tick(t0 + ms(1110));
        assert!(b.wants_master(), "follows without waiting for a silence");
        assert!(b.won_by_resignation(), "and passes it on");
        assert!(b.reason().contains("resigned"), "{}", b.reason());
        // A sibling that won by silence (partition) does not make us follow a live master.
        let mut c = Vrrp::new(params(100, true), t0);
        c.startup(t0);
        c.advert(t0 + ms(700), PEER_HIGH, 110, SEC);
        c.set_sibling_won(true, false);
        c.tick(t0 + ms(1110));
        assert!(!c.wants_master());
        // A master heard after the resignation cancels it.
        let mut d = Vrrp::new(params(100, true), t0);
        d.startup(t0);
        d.advert(t0 + ms(100), PEER_HIGH, 0, SEC);
        d.advert(t0 + ms(200), PEER_HIGH, 110, SEC);
        d.tick(t0 + ms(5000));
        assert!(d.wants_master() && !d.won_by_resignation(), "won later by silence, not by resignation");
    }

    #[test]
    fn a_live_master_is_never_abandoned_for_a_sibling() {
        // Partition on another LAN: our sibling won there, but our own master keeps advertising.
        let t0 = Instant::now();
        let mut v = Vrrp::new(params(100, true), t0);
        v.startup(t0);
        v.set_sibling_won(true, false);
        for t in (0..30_000).step_by(1000) {
            // Adverts arrive up to 100 ms late.
            v.advert(t0 + ms(t + (t % 7) * 14), PEER_HIGH, 110, SEC);
            v.tick(t0 + ms(t + 999));
            assert!(!v.wants_master(), "at {t} ms");
        }
    }

    #[test]
    fn backup_times_out_on_the_masters_interval_not_its_own() {
        // Ours advertises every 1 s, the master (Advanced Vrrpd 1.15's default) every 2 s: no split brain.
        let mut a = Alone::new(100, true);
        let two = Interval::from_secs(2);
        for t in (0..20_000).step_by(2000) {
            let now = a.at(t);
            assert!(a.v.advert(now, PEER_HIGH, 110, two).is_empty());
            assert!(a.tick(t + 1999).is_empty(), "still BACKUP at {} ms", t + 1999);
            assert_eq!(a.v.state(), State::Backup);
        }
        assert_eq!(a.v.master_adver_int(), two);
        // Master_Down_Interval = 3 × 2 s + (256 − 100)/256 s = 6.609375 s after the last advert (at 18 s).
        assert_eq!(a.v.master_down_interval(), 3 * two.as_duration() + a.v.skew_time());
        a.becomes_master_at(18_000 + 6610);
        // Once Master, it advertises its own interval; a new startup forgets the master's.
        assert_eq!(a.v.params().adver_int, SEC);
    }

    #[test]
    fn a_master_with_a_shorter_interval_is_learned_too() {
        let mut a = Alone::new(100, true);
        let half = Interval::from_centis(50);
        let now = a.at(100);
        a.v.advert(now, PEER_HIGH, 110, half);
        assert_eq!(a.v.master_down_interval(), 3 * half.as_duration() + a.v.skew_time());
        a.becomes_master_at(100 + 1500 + 610);
    }

    /// VRRPv3 at 10 ms, priority 100: Skew_Time scales with the interval (RFC 5798 §6.1).
    fn v3_at_10ms(now: Instant) -> Vrrp {
        let cs = Interval::from_centis(1);
        let mut v =
            Vrrp::new(Params { priority: 100, version: Version::V3, adver_int: cs, preempt: true, primary: ME }, now);
        assert!(v.startup(now).is_empty());
        v
    }

    #[test]
    fn v3_backup_takes_over_after_three_intervals_and_a_scaled_skew() {
        let t0 = Instant::now();
        let mut v = v3_at_10ms(t0);
        // (256 − 100) × 10 ms / 256 = 6.09375 ms; 3 × 10 ms + that = 36.09375 ms.
        assert_eq!(v.skew_time(), Duration::from_nanos(6_093_750));
        assert_eq!(v.next_deadline(), Some(t0 + Duration::from_nanos(36_093_750)));
        // A master every 10 ms keeps us BACKUP; after its last advert (at 990 ms) we take over 36.09 ms later.
        for t in (0..1000).step_by(10) {
            assert!(v.advert(t0 + ms(t), PEER_HIGH, 110, Interval::from_centis(1)).is_empty());
            assert!(v.tick(t0 + ms(t + 9)).is_empty());
        }
        let last = t0 + ms(990);
        assert_eq!(v.next_deadline(), Some(last + Duration::from_nanos(36_093_750)));
        assert!(v.tick(last + Duration::from_micros(36_093)).is_empty());
        v.tick(last + Duration::from_nanos(36_093_750));
        let acts = v.verdict(last + Duration::from_nanos(36_093_750), true, "alone");
        assert!(matches!(acts[0], Action::EnterMaster { .. }), "{acts:?}");
        assert_eq!(v.state(), State::Master);
    }

    #[test]
    fn v3_backup_learns_a_100ms_master_and_priority_zero_waits_only_the_skew() {
        let t0 = Instant::now();
        let mut v = v3_at_10ms(t0);
        let tenth = Interval::from_centis(10);
        v.advert(t0, PEER_HIGH, 110, tenth);
        assert_eq!(v.master_adver_int(), tenth);
        // 3 × 100 ms + (156 × 100 ms / 256 = 60.9375 ms).
        assert_eq!(v.master_down_interval(), Duration::from_nanos(360_937_500));
        // The master resigns: Skew_Time of its interval only.
        v.advert(t0 + ms(50), PEER_HIGH, 0, tenth);
        assert_eq!(v.next_deadline(), Some(t0 + ms(50) + Duration::from_nanos(60_937_500)));
    }

    #[test]
    fn v3_master_keeps_a_10ms_schedule_through_late_wakeups() {
        let t0 = Instant::now();
        let mut v = v3_at_10ms(t0);
        let up = t0 + Duration::from_nanos(36_093_750);
        v.tick(up);
        v.verdict(up, true, "alone");
        assert_eq!(v.state(), State::Master);
        // Woken 3 ms late each time: the adverts stay on the 10 ms grid from the first one.
        for k in 1..=100u32 {
            let due = up + ms(10) * k;
            assert_eq!(v.next_deadline(), Some(due), "advert {k}");
            assert_eq!(v.tick(due + ms(3)), vec![Action::SendAdvert { priority: 100 }]);
        }
        // A stall of several intervals sends one advert, then the grid restarts from now (no burst).
        let stalled = up + ms(10) * 100 + ms(55);
        assert_eq!(v.tick(stalled), vec![Action::SendAdvert { priority: 100 }]);
        assert_eq!(v.next_deadline(), Some(stalled + ms(10)));
    }
    fn delayed(delay_ms: u64) -> Alone {
        let t0 = Instant::now();
        let mut v = Vrrp::new(params(110, true), t0);
        v.set_preempt_delay(ms(delay_ms));
        assert!(v.startup(t0).is_empty());
        Alone { v, t0 }
    }

    #[test]
    fn preempt_delay_follows_a_lower_master_then_preempts_when_it_ends() {
        let mut a = delayed(10_000);
        for t in (0..10_000).step_by(1000) {
            assert!(a.advert(t, PEER_LOW, 100).is_empty());
            assert!(a.tick(t + 999).is_empty());
            assert!(!a.v.wants_master(), "followed at {t} ms");
        }
        assert!(a.v.reason().contains("preempt delay (1.00 s left)"), "{}", a.v.reason());
        // At the end of the delay, not a Master_Down_Interval later.
        a.becomes_master_at(10_000);
        assert!(a.v.reason().contains("preempt delay over"), "{}", a.v.reason());
    }

    #[test]
    fn preempt_delay_restarts_with_the_router_and_spares_other_takeovers() {
        // No master at all: Master_Down_Interval as without a delay.
        let mut a = delayed(10_000);
        a.becomes_master_at(a.v.master_down_interval().as_millis() as u64 + 1);
        // A restart (link back, fault or tracker cleared) starts the delay again.
        let mut a = delayed(5_000);
        assert!(a.advert(0, PEER_HIGH, 120).is_empty());
        assert!(a.v.restart(a.at(20_000)).is_empty());
        for t in (20_000..25_000).step_by(1000) {
            assert!(a.advert(t, PEER_LOW, 100).is_empty());
            assert!(!a.v.wants_master());
        }
        a.becomes_master_at(25_000);
        // A master that resigns is replaced after Skew_Time, delay or not.
        let mut a = delayed(10_000);
        assert!(a.advert(0, PEER_LOW, 100).is_empty());
        assert!(a.advert(500, PEER_LOW, 0).is_empty());
        a.becomes_master_at(500 + a.v.skew_time().as_millis() as u64 + 1);
    }
}
