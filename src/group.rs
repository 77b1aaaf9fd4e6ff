//! Host-wide rules of a `-M n` group (pure): the host is MASTER on every interface or on none.
//!
//! Every member computes the same verdict from the same facts (its own status and the statuses its
//! siblings broadcast), so the members flip together without a leader.

use crate::fsm::State;

/// What a member tells its siblings (and atropos) about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub ifname: String,
    pub vrid: u8,
    pub pid: u32,
    pub state: State,
    /// Won its own LAN's election (candidate or master).
    pub wants: bool,
    pub link_up: bool,
    pub prio: u8,
    /// Won because its master resigned with priority 0.
    pub resigned: bool,
    /// Cannot advertise (no source address, persistent send errors): out of the election like a link down.
    pub fault: bool,
    /// Its `-M` value (0: alone, or a member of an older version that does not say).
    pub members: u32,
    /// A tracker of this member is not healthy (why): the host must not be MASTER.
    pub tracker: Option<String>,
}

impl Status {
    pub fn id(&self) -> crate::rundir::MemberId {
        crate::rundir::MemberId::new(&self.ifname, self.vrid)
    }
}

/// The group's verdict for this member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allow: bool,
    /// Why the host may not be master (empty when allowed).
    pub why_not: String,
    /// Another member has won its election (lets a member whose master went silent follow).
    pub sibling_won: bool,
    /// ... because its master resigned (lets a member follow at once).
    pub sibling_resigned: bool,
}

/// `expected`: the -M value. `drained`: `atropos --backup` is in force.
pub fn verdict(me: &Status, siblings: &[Status], expected: u32, drained: bool) -> Verdict {
    let usable = |s: &Status| s.link_up && !s.fault && s.tracker.is_none();
    let sibling_won = siblings.iter().any(|s| s.wants && usable(s));
    let sibling_resigned = siblings.iter().any(|s| s.wants && usable(s) && s.resigned);
    let refuse = |why: String| Verdict { allow: false, why_not: why, sibling_won, sibling_resigned };
    if drained {
        return refuse("host drained by atropos --backup".into());
    }
    // Members that disagree on the group size would own some LANs and not others: none may be master.
    if let Some(other) = siblings.iter().find(|s| s.members != 0 && s.members != expected) {
        return refuse(format!(
            "members disagree on the group: -M {expected} here, -M {} on {}",
            other.members,
            other.id()
        ));
    }
    let present = 1 + siblings.len() as u32;
    if present < expected {
        return refuse(format!("only {present} of {expected} vrrpd processes of this host are running"));
    }
    let all = std::iter::once(me).chain(siblings.iter());
    if let Some(down) = all.clone().find(|s| !s.link_up) {
        return refuse(format!("{} link down", down.ifname));
    }
    if let Some((s, why)) = all.clone().find_map(|s| s.tracker.as_ref().map(|t| (s, t))) {
        return refuse(format!("{}: {why}", s.id()));
    }
    if let Some(f) = all.clone().find(|s| s.fault) {
        return refuse(format!("{} cannot advertise", f.id()));
    }
    if let Some(lost) = all.clone().find(|s| !s.wants) {
        // A BACKUP is refused on every advert it hears: one allocation, not four.
        let mine = std::ptr::eq(lost, me);
        let what = if mine { "lost its election" } else { "has not won its election" };
        return refuse(format!("{} (vrid {}) {what}", lost.ifname, lost.vrid));
    }
    Verdict { allow: true, why_not: String::new(), sibling_won, sibling_resigned }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ifname: &str, wants: bool, link_up: bool) -> Status {
        Status {
            ifname: ifname.into(),
            vrid: 51,
            pid: 1,
            state: if wants { State::Master } else { State::Backup },
            wants,
            link_up,
            prio: 100,
            resigned: false,
            fault: false,
            members: 0,
            tracker: None,
        }
    }

    #[test]
    fn master_only_when_every_member_won() {
        let me = st("eth0", true, true);
        assert!(verdict(&me, &[st("eth1", true, true)], 2, false).allow);
        let v = verdict(&me, &[st("eth1", false, true)], 2, false);
        assert!(!v.allow);
        assert!(v.why_not.contains("eth1"), "{}", v.why_not);
        assert!(!v.sibling_won);
    }

    #[test]
    fn missing_members_hold_the_host_backup() {
        let me = st("eth0", true, true);
        let v = verdict(&me, &[], 2, false);
        assert!(!v.allow);
        assert_eq!(v.why_not, "only 1 of 2 vrrpd processes of this host are running");
        let eight: Vec<_> = (1..8).map(|i| st(&format!("eth{i}"), true, true)).collect();
        assert!(verdict(&me, &eight, 8, false).allow);
        assert!(!verdict(&me, &eight[..6], 8, false).allow);
    }

    #[test]
    fn a_link_down_anywhere_holds_the_host_backup() {
        let me = st("eth0", true, true);
        let v = verdict(&me, &[st("eth1", true, false)], 2, false);
        assert!(!v.allow);
        assert_eq!(v.why_not, "eth1 link down");
        assert!(!v.sibling_won, "a member without link does not count as a winner");
        let v = verdict(&st("eth0", true, false), &[st("eth1", true, true)], 2, false);
        assert_eq!(v.why_not, "eth0 link down");
    }

    #[test]
    fn drain_wins_over_everything() {
        let v = verdict(&st("eth0", true, true), &[st("eth1", true, true)], 2, true);
        assert!(!v.allow);
        assert!(v.why_not.contains("drained"));
    }

    #[test]
    fn sibling_won_lets_a_silent_lan_follow() {
        let v = verdict(&st("eth1", false, true), &[st("eth0", true, true)], 2, false);
        assert!(!v.allow);
        assert!(v.sibling_won);
        assert!(v.why_not.contains("eth1 (vrid 51) lost its election"), "{}", v.why_not);
        let v = verdict(&st("eth0", true, true), &[st("eth1", false, true)], 2, false);
        assert_eq!(v.why_not, "eth1 (vrid 51) has not won its election");
    }

    #[test]
    fn a_sibling_that_won_by_resignation_is_reported() {
        let mut a = st("eth0", true, true);
        a.resigned = true;
        let v = verdict(&st("eth1", false, true), &[a.clone()], 2, false);
        assert!(v.sibling_won && v.sibling_resigned);
        a.link_up = false;
        assert!(!verdict(&st("eth1", false, true), &[a], 2, false).sibling_resigned);
    }

    #[test]
    fn alone_group_of_one() {
        assert!(verdict(&st("eth0", true, true), &[], 1, false).allow);
        assert!(!verdict(&st("eth0", false, true), &[], 1, false).allow);
    }

    #[test]
    fn members_that_disagree_on_the_group_size_hold_the_host_backup() {
        let mut me = st("eth0", true, true);
        me.members = 2;
        let mut other = st("eth1", true, true);
        other.members = 3;
        let v = verdict(&me, &[other.clone()], 2, false);
        assert!(!v.allow);
        assert!(v.why_not.contains("-M 2 here, -M 3 on eth1 vrid 51"), "{}", v.why_not);
        // The other side sees the same disagreement (it expects 3).
        let v = verdict(&other, &[me], 3, false);
        assert!(!v.allow && v.why_not.contains("disagree"), "{}", v.why_not);
        // An older member that does not say counts as agreeing.
        other.members = 0;
        assert!(verdict(&st("eth0", true, true), &[other], 2, false).allow);
    }

    #[test]
    fn a_member_that_cannot_advertise_holds_the_host_backup() {
        let mut me = st("eth0", true, true);
        me.fault = true;
        let v = verdict(&me, &[st("eth1", true, true)], 2, false);
        assert!(!v.allow && v.why_not.contains("eth0 vrid 51 cannot advertise"), "{}", v.why_not);
        let v = verdict(&st("eth1", true, true), &[me], 2, false);
        assert!(!v.allow && !v.sibling_won, "a faulty sibling that wants is no reason to follow");
    }
}
