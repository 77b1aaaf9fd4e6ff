//! Host-wide transitions of a `-M` group (pure): when the whole host has become MASTER or BACKUP, and
//! which one member runs `--host-up` / `--host-down` for it.
//!
//! Every member follows the host's state from the same facts (its own status and the statuses its
//! siblings broadcast). The host becomes MASTER when every member of the group is MASTER, and BACKUP
//! when none is any more; in between (members still flipping) nothing happens. The live member with
//! the smallest (interface, vrid) runs the hook, so when it dies or stops the survivors already know
//! the host's state and the next smallest runs the next one. The host starts BACKUP: no hook runs
//! at start, and a member that (re)joins a BACKUP host runs nothing.

use crate::fsm::State;
use crate::group::Status;
use crate::rundir::MemberId;

/// A transition of the whole host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostTransition {
    pub from: State,
    pub to: State,
    /// The member that runs the hook: the live member with the smallest (interface, vrid).
    pub runner: MemberId,
    /// The live members, sorted (the observer included).
    pub members: Vec<MemberId>,
}

impl HostTransition {
    /// `eth0:51 eth1:52`: the members as the hook's environment names them (an interface name never
    /// holds ':').
    pub fn members_text(&self) -> String {
        self.members.iter().map(|m| format!("{}:{}", m.ifname, m.vrid)).collect::<Vec<_>>().join(" ")
    }
}

/// The host's state as one member sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostView {
    state: State,
}

impl Default for HostView {
    fn default() -> Self {
        HostView::new()
    }
}

impl HostView {
    pub fn new() -> HostView {
        HostView { state: State::Backup }
    }

    /// MASTER or BACKUP: the last host-wide state seen.
    pub fn state(&self) -> State {
        self.state
    }

    /// Takes the member's own status and its siblings' as they stand; returns the host's transition
    /// when this view completes one. `expected`: the `-M` value (1 when the member runs alone).
    pub fn observe(&mut self, me: &Status, siblings: &[Status], expected: u32) -> Option<HostTransition> {
        let all = || std::iter::once(me).chain(siblings.iter());
        let present = all().count();
        let masters = all().filter(|s| s.state == State::Master).count();
        let now = if masters == 0 {
            State::Backup
        } else if masters == present && present as u64 >= u64::from(expected) {
            State::Master
        } else {
            // Members still flipping (or a MASTER short of its group, which the verdict releases).
            return None;
        };
        if now == self.state {
            return None;
        }
        let from = std::mem::replace(&mut self.state, now);
        let mut members: Vec<MemberId> = all().map(Status::id).collect();
        members.sort();
        members.dedup();
        let runner = members[0].clone();
        Some(HostTransition { from, to: now, runner, members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ifname: &str, vrid: u8, state: State) -> Status {
        Status {
            ifname: ifname.into(),
            vrid,
            pid: 1,
            state,
            wants: state == State::Master,
            link_up: true,
            prio: 100,
            resigned: false,
            fault: false,
            members: 2,
            tracker: None,
        }
    }

    use State::{Backup as B, Master as M};

    #[test]
    fn master_only_once_every_member_is_master_and_backup_once_none_is() {
        let mut v = HostView::new();
        assert_eq!(v.state(), B);
        assert_eq!(v.observe(&st("eth0", 51, B), &[st("eth1", 52, B)], 2), None, "the host starts BACKUP");
        assert_eq!(v.observe(&st("eth0", 51, M), &[st("eth1", 52, B)], 2), None, "one member is not the host");
        let t = v.observe(&st("eth0", 51, M), &[st("eth1", 52, M)], 2).expect("every member MASTER");
        assert_eq!((t.from, t.to), (B, M));
        assert_eq!(t.runner, MemberId::new("eth0", 51));
        assert_eq!(t.members_text(), "eth0:51 eth1:52");
        assert_eq!(v.observe(&st("eth0", 51, M), &[st("eth1", 52, M)], 2), None, "once");
        // Releasing: nothing while one member still holds its LAN.
        assert_eq!(v.observe(&st("eth0", 51, B), &[st("eth1", 52, M)], 2), None);
        let t = v.observe(&st("eth0", 51, B), &[st("eth1", 52, B)], 2).expect("no member MASTER");
        assert_eq!((t.from, t.to), (M, B));
        assert_eq!(v.state(), B);
    }

    #[test]
    fn every_member_sees_the_same_transition_and_the_same_runner() {
        let a = st("eth0", 51, M);
        let b = st("eth1", 52, M);
        let c = st("eth10", 53, M);
        let (mut va, mut vb, mut vc) = (HostView::new(), HostView::new(), HostView::new());
        let ta = va.observe(&a, &[b.clone(), c.clone()], 3).unwrap();
        let tb = vb.observe(&b, &[c.clone(), a.clone()], 3).unwrap();
        let tc = vc.observe(&c, &[a, b], 3).unwrap();
        assert_eq!(ta, tb);
        assert_eq!(tb, tc);
        assert_eq!(ta.runner, MemberId::new("eth0", 51));
    }

    #[test]
    fn a_host_short_of_its_group_is_never_master() {
        let mut v = HostView::new();
        assert_eq!(v.observe(&st("eth0", 51, M), &[], 2), None);
        assert_eq!(v.state(), B);
        // Alone (no -M): the member is the host.
        let t = v.observe(&st("eth0", 51, M), &[], 1).unwrap();
        assert_eq!((t.to, t.runner.ifname.as_str()), (M, "eth0"));
    }

    #[test]
    fn the_survivor_runs_the_next_one_when_the_runner_dies() {
        let mut vb = HostView::new();
        let t = vb.observe(&st("eth1", 52, M), &[st("eth0", 51, M)], 2).unwrap();
        assert_eq!(t.runner, MemberId::new("eth0", 51), "not eth1's to run");
        // eth0 dies: eth1 alone, released by the verdict; it runs the host's BACKUP hook itself.
        assert_eq!(vb.observe(&st("eth1", 52, M), &[], 2), None, "still MASTER: in between");
        let t = vb.observe(&st("eth1", 52, B), &[], 2).unwrap();
        assert_eq!((t.from, t.to), (M, B));
        assert_eq!(t.runner, MemberId::new("eth1", 52));
        assert_eq!(t.members_text(), "eth1:52");
    }

    #[test]
    fn a_member_that_rejoins_a_backup_host_runs_nothing() {
        // A restarted eth0 starts BACKUP, as the host is.
        let mut v = HostView::new();
        assert_eq!(v.observe(&st("eth0", 51, B), &[st("eth1", 52, B)], 2), None);
        assert_eq!(v.observe(&st("eth0", 51, B), &[], 2), None);
    }

    #[test]
    fn the_runner_is_the_smallest_interface_then_vrid() {
        let mut v = HostView::new();
        let t = v.observe(&st("eth0", 60, M), &[st("eth0", 51, M), st("br0", 70, M)], 3).unwrap();
        assert_eq!(t.runner, MemberId::new("br0", 70));
        assert_eq!(t.members_text(), "br0:70 eth0:51 eth0:60");
    }

    /// Two members of a `-M 2` host on a virtual clock: each settles with the other's latest status,
    /// until nothing changes; returns the host hooks each one was told to run.
    mod on_a_virtual_clock {
        use super::*;
        use crate::core::{Core, Effect, Identity};
        use crate::fsm::{Params, Vrrp};
        use crate::profile::{Interval, Version};
        use std::net::{IpAddr, Ipv4Addr};
        use std::time::{Duration, Instant};

        fn member(ifname: &str, vrid: u8, now: Instant) -> Core {
            let p = Params {
                priority: 110,
                version: Version::V2,
                adver_int: Interval::from_secs(1),
                preempt: true,
                primary: IpAddr::V4(Ipv4Addr::new(10, 0, vrid, 2)),
            };
            let mut fsm = Vrrp::new(p, now);
            assert!(fsm.startup(now).is_empty());
            Core::new(
                fsm,
                Identity { ifname: ifname.into(), vrid, pid: u32::from(vrid), members: Some(2) },
                true,
                false,
            )
        }

        /// Lets `cores` exchange statuses at `now` until quiet; the host hooks each one emitted.
        fn exchange(cores: &mut [&mut Core], now: Instant) -> Vec<Vec<(State, State)>> {
            let mut hooks = vec![Vec::new(); cores.len()];
            for _ in 0..8 {
                let mut quiet = true;
                for i in 0..cores.len() {
                    let siblings: Vec<Status> =
                        (0..cores.len()).filter(|j| *j != i).map(|j| cores[j].status()).collect();
                    let mut e = cores[i].settle(now, &siblings);
                    e.extend(cores[i].host_transition(&siblings));
                    quiet &= e.is_empty();
                    for e in e {
                        if let Effect::HostHook(t) = e {
                            hooks[i].push((t.from, t.to));
                        }
                    }
                }
                if quiet {
                    return hooks;
                }
            }
            panic!("the members never settled");
        }

        #[test]
        fn one_hook_per_host_transition_run_by_the_smallest_member_then_by_the_survivor() {
            let t0 = Instant::now();
            let mut a = member("eth0", 51, t0);
            let mut b = member("eth1", 52, t0);
            let mdi = a.fsm.master_down_interval();
            assert_eq!(exchange(&mut [&mut a, &mut b], t0), [vec![], vec![]], "no hook at start");
            // Both LANs silent: both members win and the host becomes MASTER: eth0 runs --host-up once.
            let hooks = exchange(&mut [&mut a, &mut b], t0 + mdi);
            assert_eq!((a.fsm.state(), b.fsm.state()), (State::Master, State::Master));
            assert_eq!(hooks, [vec![(State::Backup, State::Master)], vec![]]);
            assert_eq!(exchange(&mut [&mut a, &mut b], t0 + mdi + Duration::from_secs(1)), [vec![], vec![]]);
            // eth1 loses its link: the whole host goes BACKUP; one --host-down, by eth0 again.
            b.link_up = false;
            let t1 = t0 + mdi + Duration::from_millis(1500);
            let hooks = exchange(&mut [&mut a, &mut b], t1);
            assert_eq!((a.fsm.state(), b.fsm.state()), (State::Backup, State::Backup));
            assert_eq!(hooks, [vec![(State::Master, State::Backup)], vec![]]);
            // Link back; both win again after Master_Down_Interval: --host-up by eth0.
            b.link_up = true;
            let _ = b.fsm.restart(t1);
            let t2 = t1 + Duration::from_secs(10);
            let hooks = exchange(&mut [&mut a, &mut b], t2);
            assert_eq!((a.fsm.state(), b.fsm.state()), (State::Master, State::Master));
            assert_eq!(hooks, [vec![(State::Backup, State::Master)], vec![]]);
            // eth0, the runner, dies: eth1 is alone, the verdict releases it, and it runs --host-down.
            drop(a);
            let hooks = exchange(&mut [&mut b], t2 + Duration::from_millis(10));
            assert_eq!(b.fsm.state(), State::Backup);
            assert_eq!(hooks, [vec![(State::Master, State::Backup)]]);
        }
    }
}
