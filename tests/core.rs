//! The core daemon on a real kernel: election, virtual MAC, VIPs, handover, restart, preemption,
//! `-n`, exit codes. Each test builds its own lab (network namespaces, see `common`).
//! Run as root: `cargo test --test core -- --test-threads=2`.

mod common;

use common::*;
use std::time::{Duration, Instant};

const VRID: u8 = 51;
/// Deadline only to catch hangs; the protocol needs at most ~3.6 s for any transition here.
const HANG: Duration = Duration::from_secs(15);
const A: &str = "eth0";

fn args(prio: u8, extra: &str) -> String {
    format!("-i eth0 -v {VRID} -p {prio} {extra} {VIP_A}")
}

/// Host 1 at 110 and host 2 at 100, both started; returns once host 1 is the only master.
fn start_pair(lab: &Lab) -> (Proc, Proc, String, String) {
    let orig1 = mac(lab.h(1), A);
    let orig2 = mac(lab.h(2), A);
    let p1 = lab.vrrpd(1, &args(110, ""));
    let p2 = lab.vrrpd(2, &args(100, ""));
    lab.wait_until(HANG, "host 1 (110) master with VIP + vMAC, host 2 (100) BACKUP without either", || {
        assert!(p1.is_running() && p2.is_running(), "a vrrpd exited early");
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
            && released(lab.h(2), A, VIP_A, &orig2)
            && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
            && lab.vrrpd_state(2, A).as_deref() == Some("BACKUP")
    });
    (p1, p2, orig1, orig2)
}

#[test]
fn election_by_priority() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("elect", 2, 1);
    let (p1, p2, orig1, orig2) = start_pair(&lab);
    assert_ne!(orig1, vmac(VRID));

    // The VIP is a /32 labelled <if>:v<vrid>; the link stayed up through the MAC change.
    let vip = ipv4_addrs_full(lab.h(1), A).into_iter().find(|a| a.ip == VIP_A).expect("VIP on host 1");
    assert_eq!(vip.cidr, format!("{VIP_A}/32"));
    assert_eq!(vip.label, format!("{A}:v{VRID}"));
    assert!(link_is_up(lab.h(1), A), "eth0 of the master must stay up");
    assert!(has_ip(lab.h(1), A, "192.0.2.1"), "the master keeps its own address");

    // Gratuitous ARP from the virtual MAC updated the client without any traffic from it.
    lab.wait_until(HANG, "client's neighbour entry for the VIP = virtual MAC (gratuitous ARP)", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(vmac(VRID).as_str())
    });

    // Stable: no flapping during two advert intervals.
    hold_for(Duration::from_secs(2), "host 1 master / host 2 backup", || {
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && released(lab.h(2), A, VIP_A, &orig2)
    });

    // Run dir: pid file and state file.
    for (n, p, prio, orig) in [(1, &p1, "110", &orig1), (2, &p2, "100", &orig2)] {
        let pidfile = lab.host(n).rundir.join(format!("vrrpd_eth0_{VRID}.pid"));
        let pid = std::fs::read_to_string(&pidfile).unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()));
        assert_eq!(pid.trim(), p.pid.to_string(), "pid file of host {n}");
        let st = read_state_file(&lab.host(n).rundir.join("state"));
        let me = st.iter().find(|m| m.get("if").map(String::as_str) == Some(A)).expect("state line for eth0");
        assert_eq!(me.get("vrid").map(String::as_str), Some("51"), "host {n}: {me:?}");
        assert_eq!(me.get("pid").map(String::as_str), Some(p.pid.to_string().as_str()), "host {n}: {me:?}");
        assert_eq!(me.get("prio").map(String::as_str), Some(prio), "host {n}: {me:?}");
        assert_eq!(me.get("omac").map(|m| m.to_lowercase()), Some(orig.clone()), "host {n}: {me:?}");
    }
    assert!(p1.log_text().contains("-> MASTER"), "host 1 logs its transition:\n{}", p1.log_text());
    assert!(p2.log_text().contains("-> BACKUP"), "host 2 logs its transition:\n{}", p2.log_text());
}

#[test]
fn routes_survive_becoming_master() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("routes", 1, 1);
    let h = lab.h(1);
    exec(h, "ip route add 203.0.113.0/24 via 192.0.2.254 dev eth0 onlink");
    exec(h, "ip route add 198.18.0.0/15 via 192.0.2.253 dev eth0 onlink metric 50");
    let orig = mac(h, A);
    let main_before = routes(h, A);
    let all_before = routes_all(h, A);
    assert!(main_before.iter().any(|r| r.starts_with("203.0.113.0/24 via 192.0.2.254")), "{main_before:?}");

    let p = lab.vrrpd(1, &args(110, ""));
    lab.wait_until(HANG, "the lone host becomes master with VIP + vMAC", || {
        assert!(p.is_running(), "vrrpd exited early");
        owns_with_vmac(h, A, VIP_A, VRID)
    });
    let without_vip = |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|r| !r.contains(VIP_A)).collect() };
    assert_eq!(routes(h, A), main_before, "main-table routes of eth0 changed when becoming master");
    assert_eq!(without_vip(routes_all(h, A)), all_before, "routes of eth0 (all tables, VIP aside) changed");

    p.term();
    let st = p.wait_exit(HANG);
    assert_eq!(st.code(), Some(0), "exit status on SIGTERM");
    assert!(released(h, A, VIP_A, &orig), "stop restores the MAC and removes the VIP");
    assert_eq!(routes(h, A), main_before, "main-table routes of eth0 changed after stopping");
    assert_eq!(routes_all(h, A), all_before, "routes of eth0 (all tables) changed after stopping");
}

#[test]
fn refused_live_mac_change_falls_back_to_down_set_up_and_reinstalls_routes() {
    if skip_unless_root() {
        return;
    }
    // Some drivers refuse a live MAC change (EBUSY). VRRPD_TEST_MAC_FALLBACK makes vrrpd take that
    // path on veth: link down, MAC set, link up, and the routes the kernel dropped re-installed.
    let lab = Lab::new("fallback", 1, 1);
    let h = lab.h(1);
    exec(h, "ip route add 203.0.113.0/24 via 192.0.2.254 dev eth0 onlink");
    exec(h, "ip route add 198.18.0.0/15 via 192.0.2.253 dev eth0 onlink metric 50");
    let orig = mac(h, A);
    let main_before = routes(h, A);
    let all_before = routes_all(h, A);
    let rundir = lab.host(1).rundir.to_string_lossy().into_owned();
    let argv = [
        "env",
        "VRRPD_TEST_MAC_FALLBACK=1",
        Lab::vrrpd_bin(),
        "-F",
        "-f",
        &rundir,
        "-i",
        "eth0",
        "-v",
        "51",
        "-p",
        "110",
        VIP_A,
    ];
    let p = lab.spawn(h, &argv, "vrrpd-fallback");
    lab.wait_until(HANG, "master with VIP + vMAC through the fallback path", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        owns_with_vmac(h, A, VIP_A, VRID) && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
    });
    let log = p.log_text();
    assert!(
        log.contains("with the link down and up") && log.contains("2 route(s) re-installed"),
        "the fallback path is not logged as expected:\n{log}"
    );
    assert!(link_is_up(h, A), "the link must be up again after the fallback");
    let without_vip = |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|r| !r.contains(VIP_A)).collect() };
    assert_eq!(routes(h, A), main_before, "main-table routes after the down/set/up MAC change");
    assert_eq!(without_vip(routes_all(h, A)), all_before, "routes of eth0 (all tables, VIP aside)");

    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0), "exit status on SIGTERM:\n{}", p.log_text());
    assert!(released(h, A, VIP_A, &orig), "stop restores the MAC (fallback path again) and removes the VIP");
    assert_eq!(routes(h, A), main_before, "main-table routes after stopping");
    assert_eq!(routes_all(h, A), all_before, "routes of eth0 (all tables) after stopping");
}

#[test]
fn sigterm_on_master_hands_over_within_skew_time() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("sigterm", 2, 1);
    let (p1, p2, orig1, _orig2) = start_pair(&lab);

    let t0 = Instant::now();
    p1.term();
    lab.wait_until(HANG, "host 2 owns the VIP and the vMAC after SIGTERM of host 1", || {
        owns_with_vmac(lab.h(2), A, VIP_A, VRID)
    });
    let took = t0.elapsed();
    println!("takeover after SIGTERM: {took:?}");
    // Master_Down_Interval of host 2 is 3.61 s: anything below 3 s proves the priority-0 advert path.
    assert!(took < Duration::from_secs(3), "takeover took {took:?}: the priority-0 advert was not honoured");

    let st = p1.wait_exit(HANG);
    assert_eq!(st.code(), Some(0), "vrrpd exit status on SIGTERM:\n{}", p1.log_text());
    assert!(released(lab.h(1), A, VIP_A, &orig1), "old master restored its MAC and dropped the VIP");
    assert!(p2.is_running());
    // The state file follows the kernel changes (it is written just after them).
    lab.wait_until(HANG, "state file of host 2 says MASTER", || lab.vrrpd_state(2, A).as_deref() == Some("MASTER"));
    lab.wait_until(HANG, "client's neighbour entry for the VIP = virtual MAC", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(vmac(VRID).as_str())
    });
}

#[test]
fn sigkill_on_master_backup_takes_over_after_master_down_interval() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("sigkill", 2, 1);
    let (p1, p2, _orig1, _orig2) = start_pair(&lab);

    let t0 = Instant::now();
    p1.kill9();
    lab.wait_until(Duration::from_secs(10), "host 2 owns the VIP and the vMAC after SIGKILL of host 1", || {
        owns_with_vmac(lab.h(2), A, VIP_A, VRID)
    });
    let took = t0.elapsed();
    println!("takeover after SIGKILL: {took:?} (Master_Down_Interval {:?})", master_down_interval(100));
    // The last advert left at most 1 s before the kill, so the takeover cannot honestly come
    // before Master_Down_Interval - 1 s = 2.6 s.
    assert!(took > Duration::from_secs(2), "takeover after {took:?}: faster than Master_Down_Interval allows");
    assert!(p2.is_running());
    lab.wait_until(HANG, "state file of host 2 says MASTER", || lab.vrrpd_state(2, A).as_deref() == Some("MASTER"));
    // Nobody cleaned up behind the killed daemon.
    assert!(owns_with_vmac(lab.h(1), A, VIP_A, VRID), "a SIGKILLed daemon leaves VIP and vMAC behind");
}

#[test]
fn restart_after_sigkill_restores_original_mac_and_removes_stale_vip() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("restart", 2, 1);
    let (p1, _p2, orig1, _orig2) = start_pair(&lab);
    p1.kill9();
    p1.wait_exit(HANG);
    lab.wait_until(HANG, "host 2 takes over after SIGKILL of host 1", || owns_with_vmac(lab.h(2), A, VIP_A, VRID));
    assert!(owns_with_vmac(lab.h(1), A, VIP_A, VRID), "stale VIP and vMAC left on host 1 by the SIGKILL");

    // Restart below the peer's priority: it must clean up and stay backup.
    let p1b = lab.vrrpd(1, &args(90, ""));
    lab.wait_until(HANG, "restarted host 1: original MAC back, stale VIP gone, BACKUP", || {
        assert!(p1b.is_running(), "restarted vrrpd exited");
        // BACKUP in the restarted process's own record (written after its recovery), not the killed one's.
        lab.live_state(1, A, VRID, &p1b).as_deref() == Some("BACKUP") && released(lab.h(1), A, VIP_A, &orig1)
    });
    hold_for(Duration::from_secs(2), "host 2 master, restarted host 1 clean backup", || {
        owns_with_vmac(lab.h(2), A, VIP_A, VRID) && released(lab.h(1), A, VIP_A, &orig1)
    });
    // The restart recorded the real original MAC again, not the virtual one it found.
    let st = read_state_file(&lab.host(1).rundir.join("state"));
    let me = st.iter().find(|m| m.get("if").map(String::as_str) == Some(A)).expect("state line for eth0");
    assert_eq!(me.get("omac").map(|m| m.to_lowercase()), Some(orig1.clone()), "{me:?}");
    assert_eq!(me.get("pid").map(String::as_str), Some(p1b.pid.to_string().as_str()), "{me:?}");
}

#[test]
fn preemption_on_higher_priority_takes_over() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("preempt", 2, 1);
    let orig1 = mac(lab.h(1), A);
    let orig2 = mac(lab.h(2), A);
    let p2 = lab.vrrpd(2, &args(100, ""));
    lab.wait_until(HANG, "host 2 (100), alone, becomes master", || {
        assert!(p2.is_running(), "vrrpd exited early");
        owns_with_vmac(lab.h(2), A, VIP_A, VRID)
    });
    let p1 = lab.vrrpd(1, &args(110, ""));
    lab.wait_until(HANG, "host 1 (110) preempts host 2 (100)", || {
        assert!(p1.is_running() && p2.is_running(), "a vrrpd exited early");
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
            && released(lab.h(2), A, VIP_A, &orig2)
            && lab.vrrpd_state(2, A).as_deref() == Some("BACKUP")
    });
    assert_ne!(orig1, vmac(VRID));
    hold_for(Duration::from_secs(2), "host 1 stays master after preempting", || {
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && released(lab.h(2), A, VIP_A, &orig2)
    });
}

#[test]
fn preemption_off_higher_priority_waits_for_the_master_to_leave() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("nopreempt", 2, 1);
    let orig1 = mac(lab.h(1), A);
    let orig2 = mac(lab.h(2), A);
    let p2 = lab.vrrpd(2, &args(100, ""));
    lab.wait_until(HANG, "host 2 (100), alone, becomes master", || {
        assert!(p2.is_running(), "vrrpd exited early");
        owns_with_vmac(lab.h(2), A, VIP_A, VRID)
    });
    let p1 = lab.vrrpd(1, &args(110, "-s"));
    lab.wait_until(HANG, "host 1 (110, -s) reaches BACKUP", || {
        assert!(p1.is_running(), "vrrpd exited early");
        lab.vrrpd_state(1, A).as_deref() == Some("BACKUP")
    });
    let window = master_down_interval(110) * 2;
    hold_for(window, "host 1 (-s) stays backup while the lower-priority master lives", || {
        released(lab.h(1), A, VIP_A, &orig1) && owns_with_vmac(lab.h(2), A, VIP_A, VRID)
    });

    p2.term();
    lab.wait_until(HANG, "host 1 takes over once host 2 stops", || {
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && released(lab.h(2), A, VIP_A, &orig2)
    });
    assert_eq!(p2.wait_exit(HANG).code(), Some(0));
}

#[test]
fn no_vmac_keeps_the_real_mac() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("novmac", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, A);
    let p = lab.vrrpd(1, &args(110, "-n"));
    lab.wait_until(HANG, "-n master holds the VIP", || {
        assert!(p.is_running(), "vrrpd exited early");
        assert_eq!(mac(h, A), orig, "-n: the MAC must never change");
        has_ip(h, A, VIP_A) && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
    });
    lab.wait_until(HANG, "client's neighbour entry for the VIP = the host's real MAC (gratuitous ARP)", || {
        assert_eq!(mac(h, A), orig, "-n: the MAC must never change");
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(orig.as_str())
    });
    hold_for(Duration::from_secs(2), "-n master keeps VIP and real MAC", || has_ip(h, A, VIP_A) && mac(h, A) == orig);
    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0));
    assert!(released(h, A, VIP_A, &orig));
}

#[test]
fn exit_codes_of_bad_command_lines_and_environment_errors() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("exitcodes", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, A);
    let rundir = lab.host(1).rundir.to_string_lossy().into_owned();
    let bin = Lab::vrrpd_bin();
    let run = |args: &str| -> Outcome {
        let mut argv = vec![bin, "-F", "-f", &rundir];
        argv.extend(args.split_whitespace());
        lab.run_to_exit(h, &argv, "vrrpd-cli", HANG)
    };

    let usage_errors = [
        ("-i eth0 -v 0 192.0.2.200", "-v 0"),
        ("-i eth0 -v 256 192.0.2.200", "-v 256"),
        ("-i eth0 -v 51 -p 256 192.0.2.200", "-p 256"),
        ("-i eth0 -v 51 -d 0 192.0.2.200", "-d 0"),
        ("-i eth0 -v 51", "virtual address"),
        ("-v 51 192.0.2.200", "-i"),
        ("-i eth0 -v 51 -q 192.0.2.200", "q"),
        ("-i eth0 -v 51 192.0.2.300", "192.0.2.300"),
    ];
    for (line, want) in usage_errors {
        let o = run(line);
        assert_eq!(o.status.code(), Some(2), "`vrrpd {line}` must exit 2: {o:?}");
        let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "`vrrpd {line}`: one line on stderr, got {:?}", o.stderr);
        assert!(lines[0].contains(want), "`vrrpd {line}`: {:?} should mention {want:?}", lines[0]);
    }

    let o = run("-i nope0 -v 51 192.0.2.200");
    assert_eq!(o.status.code(), Some(1), "missing interface must exit 1: {o:?}");
    assert!(o.stderr.contains("nope0"), "the message names the interface: {:?}", o.stderr);

    let o = lab.run_to_exit(h, &[bin, "-h"], "vrrpd-help", HANG);
    assert_eq!(o.status.code(), Some(0), "-h exits 0: {o:?}");
    assert!(o.stdout.contains("-i") && o.stdout.contains("-v"), "-h prints the usage on stdout: {o:?}");

    // None of this touched the interface.
    assert!(released(h, A, VIP_A, &orig));
}
