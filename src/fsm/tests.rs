//! Unit tests of the state machine (`super`), on a virtual clock: RFC 3768/5798 timers and elections,
//! the group gate, preemption and its delay.

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
fn a_master_heard_after_a_siblings_resignation_is_not_left_for_it() {
    // The daemon tells the sibling's verdict before every tick, as `Core::settle` does.
    let t0 = Instant::now();
    let mut v = Vrrp::new(params(100, true), t0);
    v.startup(t0);
    v.advert(t0 + ms(100), PEER_HIGH, 110, SEC);
    v.set_sibling_won(true, true);
    v.tick(t0 + ms(110));
    assert!(v.wants_master(), "follows the sibling's resignation at once");
    v.verdict(t0 + ms(110), true, "");
    assert_eq!(v.state(), State::Master);
    // Our master is alive after all (adverts held back, or its routers are not grouped).
    let a = v.advert(t0 + ms(120), PEER_HIGH, 110, SEC);
    assert!(matches!(a[..], [Action::LeaveMaster { .. }]), "{a:?}");
    for t in [120, 121, 200, 1000] {
        v.set_sibling_won(true, true);
        v.tick(t0 + ms(t));
        assert!(!v.wants_master(), "no flap back to MASTER at {t} ms: {}", v.reason());
    }
    v.advert(t0 + ms(1100), PEER_HIGH, 110, SEC);
    v.set_sibling_won(true, true);
    v.tick(t0 + ms(1100 + 1124));
    assert!(!v.wants_master(), "a live master is followed");
    // Silent for an interval and an eighth: the sibling is followed, as any sibling.
    v.set_sibling_won(true, true);
    v.tick(t0 + ms(1100 + 1125));
    assert!(v.wants_master() && !v.won_by_resignation(), "{}", v.reason());
    // A Backup hearing its master once the sibling won through a resignation stays too.
    let mut b = Vrrp::new(params(100, true), t0);
    b.startup(t0);
    b.set_sibling_won(true, true);
    b.advert(t0 + ms(50), PEER_HIGH, 110, SEC);
    b.set_sibling_won(true, true);
    b.tick(t0 + ms(60));
    assert!(!b.wants_master());
    // The sibling stops winning, then wins again through a new resignation: followed at once.
    b.set_sibling_won(false, false);
    b.tick(t0 + ms(70));
    b.set_sibling_won(true, true);
    b.tick(t0 + ms(80));
    assert!(b.wants_master() && b.won_by_resignation(), "{}", b.reason());
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
