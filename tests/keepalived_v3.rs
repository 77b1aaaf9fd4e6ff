//! Interoperability with keepalived speaking VRRPv3 (IPv4) at 1 s, 100 ms and 10 ms adverts, on a real kernel.
//
// Skipped with a message when not root or when keepalived is not installed. `Lab::keepalived` writes
// `vrrp_version 2` and `advert_int 1`, so this file writes its own configuration and starts it with
// `Lab::spawn_keepalived`. Run as root: `cargo test --test keepalived_v3 -- --test-threads=2`.

mod common;

use common::keepalived::{I_1S, I_10MS, I_100MS, Int, assert_keepalived_accepted_everything};
use common::*;
use std::fs;
use std::time::{Duration, Instant};

const VRID: u8 = 51;
const HANG: Duration = Duration::from_secs(15);
const A: &str = "eth0";

fn skip() -> bool {
    skip_unless_root() || skip_unless_installed("keepalived", "--version")
}

/// Starts keepalived in host `n`: VRRPv3, one instance on eth0 with VIP_A at interval `int`.
fn keepalived_v3(lab: &Lab, n: usize, prio: u8, int: Int) -> Proc {
    let base = lab.dir.join(format!("kav3-h{n}-{}", int.centis));
    let conf = base.with_extension("conf");
    let text = format!(
        "global_defs {{\n    router_id {name}_h{n}\n    vrrp_version 3\n    vrrp_garp_master_delay 0\n    \
         vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
         enable_script_security\n}}\n\
         vrrp_instance VI_{VRID} {{\n    state BACKUP\n    interface {A}\n    virtual_router_id {VRID}\n    \
         priority {prio}\n    advert_int {adv}\n    virtual_ipaddress {{\n        {VIP_A}\n    }}\n}}\n",
        name = lab.name,
        adv = int.text,
    );
    fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
    lab.spawn_keepalived(n, &conf, &base)
}

fn ours(lab: &Lab, n: usize, prio: u8, int: Int) -> Proc {
    lab.vrrpd(n, &format!("--vrrp-version 3 -d {} -i {A} -v {VRID} -p {prio} {VIP_A}", int.text))
}

/// Ours (110) is MASTER, keepalived (100) BACKUP and stays so; then ours stops and keepalived takes over.
fn ours_master_then_stopped(tag: &str, int: Int) {
    let lab = Lab::new(tag, 2, 1);
    let orig1 = mac(lab.h(1), A);
    let p = ours(&lab, 1, 110, int);
    lab.wait_until(HANG, "ours (110), alone, owns VIP + vMAC", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
    });
    let k = keepalived_v3(&lab, 2, 100, int);
    let t0 = Instant::now();
    lab.wait_until(HANG, "keepalived (100) is BACKUP without the VIP, ours (110) MASTER", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        k.log_text().contains("Entering BACKUP STATE")
            && !has_ip(lab.h(2), A, VIP_A)
            && lab.live_state(1, A, VRID, &p).as_deref() == Some("MASTER")
    });
    // keepalived must accept our v3 adverts: otherwise it goes MASTER after its Master_Down_Interval.
    let window = int.hold(100).saturating_sub(t0.elapsed());
    hold_for(window, &format!("keepalived stays BACKUP while ours is MASTER at {} s", int.text), || {
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && !has_ip(lab.h(2), A, VIP_A)
    });
    let klog = k.log_text();
    assert!(!klog.contains("Entering MASTER STATE"), "keepalived went MASTER at {} s:\n{klog}", int.text);
    assert_keepalived_accepted_everything(&k);

    // Ours stops (priority 0): keepalived takes over.
    let t1 = Instant::now();
    p.term();
    lab.wait_until(HANG, "keepalived owns the VIP after ours stops", || {
        assert!(k.is_running(), "keepalived exited:\n{}", k.log_text());
        has_ip(lab.h(2), A, VIP_A)
    });
    println!("[{} s] keepalived took over {:?} after SIGTERM of ours", int.text, t1.elapsed());
    assert_eq!(p.wait_exit(HANG).code(), Some(0), "our exit status on SIGTERM:\n{}", p.log_text());
    assert!(released(lab.h(1), A, VIP_A, &orig1), "ours restored its MAC and dropped the VIP");
    lab.wait_until(HANG, "keepalived logs its MASTER state", || k.log_text().contains("Entering MASTER STATE"));
    assert_keepalived_accepted_everything(&k);
}

/// keepalived (110) is MASTER, ours (100) BACKUP and stays so past Master_Down_Interval; then
/// keepalived stops and ours takes over.
fn keepalived_master_then_stopped(tag: &str, int: Int) {
    let lab = Lab::new(tag, 2, 1);
    let orig2 = mac(lab.h(2), A);
    let k = keepalived_v3(&lab, 1, 110, int);
    lab.wait_until(HANG, "keepalived (110), alone, holds the VIP", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        has_ip(lab.h(1), A, VIP_A)
    });
    let p = ours(&lab, 2, 100, int);
    let t0 = Instant::now();
    lab.wait_until(HANG, "ours (100) is BACKUP without the VIP, keepalived keeps it", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        has_ip(lab.h(1), A, VIP_A)
            && released(lab.h(2), A, VIP_A, &orig2)
            && lab.live_state(2, A, VRID, &p).as_deref() == Some("BACKUP")
    });
    let window = int.hold(100).saturating_sub(t0.elapsed());
    hold_for(window, &format!("ours stays BACKUP while keepalived is MASTER at {} s", int.text), || {
        has_ip(lab.h(1), A, VIP_A) && released(lab.h(2), A, VIP_A, &orig2)
    });
    let log = p.log_text();
    assert!(!log.contains("-> MASTER"), "ours went MASTER while keepalived was master:\n{log}");
    let (_, json) = atropos_run(&lab.host(2).rundir, &["--state", "--json"]);
    assert!(json.contains(&format!("\"master_heard\":\"{}\"", host_ip(1, 0))), "ours hears keepalived: {json}");
    assert!(json.contains("\"vrrp_version\":3"), "ours speaks v3: {json}");
    assert!(json.contains("\"dropped\":{}"), "ours dropped none of keepalived's adverts: {json}");

    // keepalived stops (priority 0): ours takes over.
    let t1 = Instant::now();
    k.term();
    lab.wait_until(HANG, "ours owns VIP + vMAC after keepalived stops", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        owns_with_vmac(lab.h(2), A, VIP_A, VRID) && lab.live_state(2, A, VRID, &p).as_deref() == Some("MASTER")
    });
    println!("[{} s] ours took over {:?} after SIGTERM of keepalived", int.text, t1.elapsed());
    assert_eq!(k.wait_exit(HANG).code(), Some(0), "keepalived's exit status:\n{}", k.log_text());
    assert!(!has_ip(lab.h(1), A, VIP_A), "keepalived released the VIP");
    assert_keepalived_accepted_everything(&k);
}

#[test]
fn ours_master_keepalived_backup_at_1s_then_ours_stops() {
    if skip() {
        return;
    }
    ours_master_then_stopped("kav3om1", I_1S);
}

#[test]
fn ours_master_keepalived_backup_at_100ms_then_ours_stops() {
    if skip() {
        return;
    }
    ours_master_then_stopped("kav3om10", I_100MS);
}

#[test]
fn ours_master_keepalived_backup_at_10ms_then_ours_stops() {
    if skip() {
        return;
    }
    ours_master_then_stopped("kav3om100", I_10MS);
}

#[test]
fn keepalived_master_ours_backup_at_1s_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("kav3km1", I_1S);
}

#[test]
fn keepalived_master_ours_backup_at_100ms_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("kav3km10", I_100MS);
}

#[test]
fn keepalived_master_ours_backup_at_10ms_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("kav3km100", I_10MS);
}
