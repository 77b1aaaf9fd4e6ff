//! Interoperability with keepalived VRRPv3 over both families: keepalived runs an IPv4 and an IPv6 instance
//! of the same VRID in one sync group, ours one dual-stack election, on a real kernel.
//
// keepalived: `vrrp_version 3`, instance VI_4 (VIP_A/24) and VI_6 (VIP6_A/64) on eth0, both VRID 51,
// in sync group G51, no `use_vmac` (its VIPs stay on the real MAC; ours moves to the virtual MAC). The
// advert carries addresses without prefix, and both sides carry exactly the same list per family.
// How tcpdump decodes our IPv6 adverts is tests/ipv6.rs's concern. Skipped with a message when not root
// or when keepalived or nft is missing. Run as root: `cargo test --test keepalived_v6 -- --test-threads=1`.

mod common;

use common::ipv6::*;
use common::keepalived::{I_1S, I_10MS, I_100MS, Int, assert_keepalived_accepted_everything, dual_stack_conf};
use common::unicast::{drop_vrrp_multicast, multicast_dropped};
use common::*;
use std::fs;
use std::time::{Duration, Instant};

const VRID: u8 = 51;
const HANG: Duration = Duration::from_secs(15);
const A: &str = "eth0";

fn skip() -> bool {
    skip_unless_root() || skip_unless_installed("keepalived", "--version") || skip_unless_installed("nft", "--version")
}

/// Starts keepalived in host `n`: VI_4 and VI_6, VRID 51, priority `prio`, in one sync group.
fn keepalived_v6(lab: &Lab, n: usize, prio: u8, int: Int) -> Proc {
    let base = lab.dir.join(format!("kav6-h{n}-{}", int.centis));
    let conf = base.with_extension("conf");
    let instance = |name: &str, vip: String| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface {A}\n    virtual_router_id {VRID}\n    \
             priority {prio}\n    advert_int {adv}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n",
            adv = int.text
        )
    };
    let text = dual_stack_conf(
        &lab.name,
        n,
        VRID,
        &instance("VI_4", format!("{VIP_A}/24")),
        &instance("VI_6", format!("{VIP6_A}/64")),
    );
    fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
    lab.spawn_keepalived(n, &conf, &base)
}

fn ours(lab: &Lab, n: usize, prio: u8, int: Int) -> Proc {
    lab.vrrpd(n, &format!("--vrrp-version 3 -d {} -i {A} -v {VRID} -p {prio} {VIP_A} {VIP6_A}/64", int.text))
}

/// keepalived's log says both instances entered `state` ("BACKUP", "MASTER") at least once.
fn both_entered(k: &Proc, state: &str) -> bool {
    let log = k.log_text();
    ["VI_4", "VI_6"].iter().all(|i| log.contains(&format!("({i}) Entering {state} STATE")))
}

fn entered_count(k: &Proc, state: &str) -> usize {
    k.log_text().matches(&format!("Entering {state} STATE")).count()
}

/// Host `n` holds the IPv4 and the IPv6 VIP.
fn holds_both(lab: &Lab, n: usize) -> bool {
    has_ip(lab.h(n), A, VIP_A) && has_ip6(lab.h(n), A, VIP6_A)
}

fn holds_none(lab: &Lab, n: usize) -> bool {
    !has_ip(lab.h(n), A, VIP_A) && !has_ip6(lab.h(n), A, VIP6_A)
}

/// Ours counted no drop, on either family: none in the INFO answer (IPv4 side), no "dropped" line in
/// its log (both sides log every drop kind but other-VRID at warning level).
fn assert_ours_dropped_nothing(lab: &Lab, n: usize, p: &Proc) {
    let info = lab.vrrpd_info(n, A, VRID).expect("ours answers GET");
    assert_eq!(info.get("drops").map(String::as_str), Some(""), "ours dropped adverts: {info:?}");
    assert_eq!(info.get("drops6").map(String::as_str), Some(""), "ours dropped IPv6 adverts: {info:?}");
    let log = p.log_text();
    let hits: Vec<&str> = log.lines().filter(|l| l.contains("dropped")).collect();
    assert!(hits.is_empty(), "ours dropped packets:\n{}", hits.join("\n"));
}

/// Ours (110) is MASTER of both families, keepalived (100) BACKUP in both instances and stays so; then
/// ours is SIGKILLed and keepalived takes both VIPs.
fn ours_master_then_killed(tag: &str, int: Int) {
    let lab = Lab::new(tag, 2, 1);
    add_ipv6(&lab);
    let p = ours(&lab, 1, 110, int);
    lab.wait_until(HANG, "ours (110), alone, MASTER of both families", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
            && has_ip6(lab.h(1), A, VIP6_A)
            && lab.live_state(1, A, VRID, &p).as_deref() == Some("MASTER")
    });
    let k = keepalived_v6(&lab, 2, 100, int);
    let t0 = Instant::now();
    lab.wait_until(HANG, "keepalived (100) BACKUP in VI_4 and VI_6 without the VIPs", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        both_entered(&k, "BACKUP") && holds_none(&lab, 2)
    });
    // Each keepalived instance hears only its own family: VI_6 stays BACKUP only on our IPv6 adverts
    // (and the sync group would pull VI_4 along if VI_6 went MASTER).
    let window = int.hold(100).saturating_sub(t0.elapsed());
    hold_for(window, &format!("keepalived stays BACKUP in both instances at {} s", int.text), || {
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && has_ip6(lab.h(1), A, VIP6_A) && holds_none(&lab, 2)
    });
    let klog = k.log_text();
    assert!(!klog.contains("Entering MASTER STATE"), "keepalived went MASTER at {} s:\n{klog}", int.text);
    assert_eq!(lab.live_state(1, A, VRID, &p).as_deref(), Some("MASTER"), "ours is still MASTER");
    assert_keepalived_accepted_everything(&k);
    assert_ours_dropped_nothing(&lab, 1, &p);

    // Ours dies without a word: keepalived takes both families after its Master_Down_Interval.
    let t1 = Instant::now();
    p.kill9();
    lab.wait_until(HANG, "keepalived holds both VIPs after ours' SIGKILL", || {
        assert!(k.is_running(), "keepalived exited:\n{}", k.log_text());
        holds_both(&lab, 2) && both_entered(&k, "MASTER")
    });
    println!("[{} s] keepalived took both families over {:?} after SIGKILL of ours", int.text, t1.elapsed());
    assert_keepalived_accepted_everything(&k);
}

/// keepalived (110) is MASTER of both instances, ours (100) BACKUP holding neither VIP, also when only
/// keepalived's IPv6 adverts reach it; then keepalived stops (priority 0) and ours takes both families.
fn keepalived_master_then_stopped(tag: &str, int: Int) {
    let lab = Lab::new(tag, 2, 1);
    add_ipv6(&lab);
    let orig2 = mac(lab.h(2), A);
    let k = keepalived_v6(&lab, 1, 110, int);
    lab.wait_until(HANG, "keepalived (110), alone, MASTER of VI_4 and VI_6 with both VIPs", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        both_entered(&k, "MASTER") && holds_both(&lab, 1)
    });
    let backups = entered_count(&k, "BACKUP");
    let p = ours(&lab, 2, 100, int);
    let t0 = Instant::now();
    lab.wait_until(HANG, "ours (100) BACKUP holding neither VIP, keepalived keeps both", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        holds_both(&lab, 1)
            && released(lab.h(2), A, VIP_A, &orig2)
            && !has_ip6(lab.h(2), A, VIP6_A)
            && lab.live_state(2, A, VRID, &p).as_deref() == Some("BACKUP")
    });
    let stays = |what: &str, t0: Instant| {
        let window = int.hold(100).saturating_sub(t0.elapsed());
        hold_for(window, &format!("{what} at {} s", int.text), || {
            holds_both(&lab, 1) && released(lab.h(2), A, VIP_A, &orig2) && !has_ip6(lab.h(2), A, VIP6_A)
        });
        assert!(!p.log_text().contains("-> MASTER"), "ours went MASTER ({what}):\n{}", p.log_text());
        assert_eq!(entered_count(&k, "BACKUP"), backups, "keepalived left MASTER ({what}):\n{}", k.log_text());
    };
    stays("ours stays BACKUP on both advert streams", t0);
    // INFO's `heard` is the IPv4 router's master, `heard6` the IPv6 router's.
    let ll1 = link_local(lab.h(1), A);
    let info = lab.vrrpd_info(2, A, VRID).expect("ours answers GET");
    let heard = info.get("heard").cloned().unwrap_or_default();
    assert!(heard == host_ip(1, 0) || heard == ll1, "ours hears keepalived: {info:?}");
    assert_eq!(info.get("heard_prio").map(String::as_str), Some("110"), "keepalived's priority: {info:?}");
    assert_eq!(info.get("ver").map(String::as_str), Some("3"), "ours speaks v3: {info:?}");

    // The switch drops IPv4 VRRP from now on: ours hears keepalived's IPv6 adverts (from its link-local
    // address) only, and must still stay BACKUP.
    drop_vrrp_multicast(&lab);
    let t1 = Instant::now();
    lab.wait_until(HANG, "the switch drops keepalived's IPv4 adverts", || multicast_dropped(&lab) >= 3);
    stays("ours stays BACKUP on keepalived's IPv6 adverts alone", t1);
    let info = lab.vrrpd_info(2, A, VRID).expect("ours answers GET");
    // Each family's router has its own "master heard": the IPv6 one is fresh, the IPv4 one stale.
    assert_eq!(info.get("heard6"), Some(&ll1), "ours hears keepalived's link-local address: {info:?}");
    let ago = |k: &str| info.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(u64::MAX);
    assert!(ago("heard6_ago_ms") < ago("heard_ago_ms"), "IPv6 heard after IPv4 stopped: {info:?}");
    assert_ours_dropped_nothing(&lab, 2, &p);
    assert_keepalived_accepted_everything(&k);

    // keepalived stops: its priority-0 IPv6 advert (the IPv4 one is dropped) hands both families over.
    let t2 = Instant::now();
    k.term();
    lab.wait_until(HANG, "ours MASTER of both families after keepalived stops", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        owns_with_vmac(lab.h(2), A, VIP_A, VRID)
            && has_ip6(lab.h(2), A, VIP6_A)
            && lab.live_state(2, A, VRID, &p).as_deref() == Some("MASTER")
    });
    println!("[{} s] ours took both families over {:?} after SIGTERM of keepalived", int.text, t2.elapsed());
    assert_eq!(k.wait_exit(HANG).code(), Some(0), "keepalived's exit status:\n{}", k.log_text());
    assert!(holds_none(&lab, 1), "keepalived released both VIPs");
    assert_keepalived_accepted_everything(&k);
    assert_ours_dropped_nothing(&lab, 2, &p);
}

#[test]
fn v6_ours_master_keepalived_backup_at_100ms_then_ours_killed() {
    if skip() {
        return;
    }
    ours_master_then_killed("k6om10", I_100MS);
}

#[test]
fn v6_keepalived_master_ours_backup_at_100ms_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("k6km10", I_100MS);
}

#[test]
fn v6_ours_master_keepalived_backup_at_1s_then_ours_killed() {
    if skip() {
        return;
    }
    ours_master_then_killed("k6om1", I_1S);
}

#[test]
fn v6_keepalived_master_ours_backup_at_1s_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("k6km1", I_1S);
}

#[test]
fn v6_ours_master_keepalived_backup_at_10ms_then_ours_killed() {
    if skip() {
        return;
    }
    ours_master_then_killed("k6om100", I_10MS);
}

#[test]
fn v6_keepalived_master_ours_backup_at_10ms_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("k6km100", I_10MS);
}
