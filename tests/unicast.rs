//! Unicast peers (`--peer`) on LANs whose switch drops VRRP multicast: the control split, election and
//! failover (SIGKILL, link loss, SIGTERM, the drain) with v2 and v3, the `-M 2` group on two LANs, a
//! stranger; `--peer` without `-n` refused.
//
// The switch namespace of each lab drops 224.0.0.18 / protocol 112 with an nftables bridge rule
// (tests/common/unicast.rs). Run as root: `cargo test --test unicast -- --test-threads=1`.

mod common;

use common::inject::{Injector, Ip};
use common::pair::{IFS, VIPS, VRIDS, all_live_state, assert_running, holds_nothing, macs};
use common::unicast::{drop_vrrp_multicast, dropped, member_json, multicast_dropped, peer_args, peers_seen};
use common::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use vrrpd::packet::Advert;
use vrrpd::profile::{Family, Interval};
use vrrpd::wire::Pseudo;

const VRID: u8 = 51;
const A: &str = "eth0";
const HANG: Duration = Duration::from_secs(20);

fn skip() -> bool {
    skip_unless_root() || skip_unless_installed("nft", "--version")
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// State transitions a vrrpd logged.
fn transitions(p: &Proc) -> usize {
    p.log_text().lines().filter(|l| l.contains("MASTER -> BACKUP") || l.contains("BACKUP -> MASTER")).count()
}

/// The `reason=` of host `n`'s record for (`ifname`, `vrid`).
fn reason(lab: &Lab, n: usize, ifname: &str, vrid: u8) -> String {
    lab.vrrpd_record(n, ifname, vrid).and_then(|m| m.get("reason").cloned()).unwrap_or_default()
}

/// Host `n` on LAN A alone, priority `prio`, unicast to the other hosts of `hosts` (with `-n`, which
/// `--peer` needs), with `extra`.
fn uni(lab: &Lab, n: usize, prio: u8, hosts: &[usize], extra: &str) -> Proc {
    lab.vrrpd(n, &format!("-n -i {A} -v {VRID} -p {prio} {}{extra} {VIP_A}", peer_args(n, 0, hosts)))
}

/// Host `n` holds `vip` on `ifname` without any virtual MAC there (`-n`).
fn owns(lab: &Lab, n: usize, ifname: &str, vip: &str) -> bool {
    has_ip(lab.h(n), ifname, vip) && !VRIDS.iter().any(|&v| mac(lab.h(n), ifname) == vmac(v))
}

/// Host `n` owns both LANs' VIPs with its own MACs.
fn owns_all(lab: &Lab, n: usize) -> bool {
    (0..2).all(|lan| owns(lab, n, IFS[lan], VIPS[lan]))
}

/// Host 1 (110) MASTER with VIP + vMAC and host 2 (100) BACKUP without the VIP, each in its own record.
fn pair_ok(lab: &Lab, p1: &Proc, p2: &Proc, orig2: &str) -> bool {
    owns(lab, 1, A, VIP_A)
        && released(lab.h(2), A, VIP_A, orig2)
        && lab.live_state(1, A, VRID, p1).as_deref() == Some("MASTER")
        && lab.live_state(2, A, VRID, p2).as_deref() == Some("BACKUP")
}

/// Starts host 1 (110) first, then host 2 (100), both with `--peer` of the other; returns once the
/// pair is settled.
fn start_unicast_pair(lab: &Lab, extra: &str) -> (Proc, Proc, String) {
    let orig2 = mac(lab.h(2), A);
    let p1 = uni(lab, 1, 110, &[1, 2], extra);
    lab.wait_until(HANG, "host 1, alone, MASTER with VIP + vMAC", || {
        assert!(p1.is_running(), "host 1 exited:\n{}", p1.log_text());
        owns(lab, 1, A, VIP_A) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    let p2 = uni(lab, 2, 100, &[1, 2], extra);
    lab.wait_until(HANG, "host 1 (110) MASTER, host 2 (100) BACKUP by unicast", || {
        assert_running(&[p1.clone(), p2.clone()]);
        pair_ok(lab, &p1, &p2, &orig2)
    });
    (p1, p2, orig2)
}

// ---------------------------------------------------------------------------------------------
// The command line

#[test]
fn peer_without_n_is_a_usage_error() {
    let out = std::process::Command::new(Lab::vrrpd_bin())
        .args(["-F", "-i", "lo", "-v", "51", "--peer", "192.0.2.2", VIP_A])
        .output()
        .expect("run vrrpd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit status; stderr: {err}");
    assert!(err.contains("--peer needs -n"), "one clear message: {err}");
}

// ---------------------------------------------------------------------------------------------
// The control: multicast does not cross this switch

#[test]
fn a_multicast_pair_splits_where_the_switch_drops_vrrp_multicast() {
    if skip() {
        return;
    }
    let lab = Lab::new("ucsplit", 2, 1);
    drop_vrrp_multicast(&lab);
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 {VIP_A}"));
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 {VIP_A}"));
    lab.wait_until(HANG, "both hosts MASTER with VIP + vMAC (they cannot hear each other)", || {
        assert_running(&[p1.clone(), p2.clone()]);
        (1..=2).all(|n| owns_with_vmac(lab.h(n), A, VIP_A, VRID))
            && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
            && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    hold_for(master_down_interval(100) + Duration::from_secs(1), "both stay MASTER (split)", || {
        (1..=2).all(|n| owns_with_vmac(lab.h(n), A, VIP_A, VRID))
    });
    let dropped_by_switch = multicast_dropped(&lab);
    assert!(dropped_by_switch > 0, "the switch's rule dropped no multicast advert");
    for n in 1..=2 {
        assert_eq!(member_json(&lab, n, A).get("adverts_received").num(), 0.0, "host {n} heard an advert");
    }
    println!("split: the switch dropped {dropped_by_switch} multicast adverts");
}

// ---------------------------------------------------------------------------------------------
// VRRPv2, one LAN: election, SIGKILL, restart, SIGTERM

#[test]
fn v2_unicast_pair_elects_one_master_and_fails_over_on_sigkill_and_sigterm() {
    if skip() {
        return;
    }
    let lab = Lab::new("ucv2", 2, 1);
    drop_vrrp_multicast(&lab);
    let orig1 = mac(lab.h(1), A);
    let (p1, p2, orig2) = start_unicast_pair(&lab, "");
    hold_for(master_down_interval(100) + Duration::from_secs(1), "one master by unicast", || {
        pair_ok(&lab, &p1, &p2, &orig2)
    });
    assert_eq!(transitions(&p2), 0, "host 2 changed state:\n{}", p2.log_text());
    // Host 2 hears host 1; host 1 (MASTER) hears nothing from a backup, and says so.
    let seen2 = peers_seen(&lab, 2, A);
    assert_eq!(seen2.len(), 1, "{seen2:?}");
    assert_eq!(seen2[0].0, host_ip(1, 0));
    assert!(seen2[0].1.is_some_and(|s| s < 3.0), "host 2 heard host 1 lately: {seen2:?}");
    assert_eq!(peers_seen(&lab, 1, A), vec![(host_ip(2, 0), None)], "host 1 never heard the backup");
    let m2 = member_json(&lab, 2, A);
    assert_eq!(m2.get("master_heard").str(), host_ip(1, 0), "{m2:?}");
    assert!(matches!(m2.get("dropped"), common::json::Json::Obj(v) if v.is_empty()), "{m2:?}");
    let (_, text) = atropos_run(&lab.host(2).rundir, &["--state"]);
    assert!(text.contains(&format!("unicast peers: {} heard ", host_ip(1, 0))), "atropos --state:\n{text}");
    // Nothing went to the group: the switch's rule saw no VRRP multicast.
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");

    // SIGKILL of the master: host 2 takes over after Master_Down_Interval.
    p1.kill9();
    p1.wait_exit(HANG);
    lab.wait_until(HANG, "host 2 MASTER with VIP + vMAC after host 1's SIGKILL", || {
        assert!(p2.is_running(), "host 2 exited:\n{}", p2.log_text());
        owns(&lab, 2, A, VIP_A) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    let why = reason(&lab, 2, A, VRID);
    assert!(why.contains("no advert for"), "host 2 took over after a silence: {why:?}");

    // Host 1 comes back and preempts (110 > 100), by unicast.
    let p1 = uni(&lab, 1, 110, &[1, 2], "");
    lab.wait_until(HANG, "restarted host 1 MASTER again, host 2 BACKUP", || {
        assert_running(&[p1.clone(), p2.clone()]);
        pair_ok(&lab, &p1, &p2, &orig2)
    });

    // SIGTERM: host 1 resigns with priority 0, which host 2 gets by unicast.
    p1.term();
    lab.wait_until(HANG, "host 2 MASTER after host 1's SIGTERM", || {
        assert!(p2.is_running(), "host 2 exited:\n{}", p2.log_text());
        owns(&lab, 2, A, VIP_A) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    assert_eq!(p1.wait_exit(HANG).code(), Some(0), "host 1's exit status:\n{}", p1.log_text());
    let why = reason(&lab, 2, A, VRID);
    assert!(why.contains(&format!("master {} resigned", host_ip(1, 0))), "host 2 followed the resignation: {why:?}");
    assert!(released(lab.h(1), A, VIP_A, &orig1), "host 1 gave back VIP and MAC");
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}

// ---------------------------------------------------------------------------------------------
// VRRPv3, the -M 2 group on two LANs

/// Host `n`'s member on LAN `lan` of the group: `-M 2`, v3 at 100 ms, unicast to the other host.
fn group_member(lab: &Lab, n: usize, lan: usize) -> Proc {
    let prio = [110, 100][n - 1];
    lab.vrrpd(
        n,
        &format!(
            "-M 2 -n --vrrp-version 3 -d 0.1 -i {} -v {} -p {prio} {}{}",
            IFS[lan],
            VRIDS[lan],
            peer_args(n, lan, &[1, 2]),
            VIPS[lan]
        ),
    )
}

fn group_host(lab: &Lab, n: usize) -> Vec<Proc> {
    (0..2).map(|lan| group_member(lab, n, lan)).collect()
}

/// Host `master` owns both LANs, the other host nothing, each member in its own record.
fn group_settled(lab: &Lab, h: [&[Proc]; 2], master: usize, orig: &[Vec<String>; 2]) -> bool {
    let other = 3 - master;
    owns_all(lab, master)
        && holds_nothing(lab, other, &orig[other - 1])
        && all_live_state(lab, master, h[master - 1], "MASTER")
        && all_live_state(lab, other, h[other - 1], "BACKUP")
}

#[test]
fn v3_unicast_group_on_two_lans_fails_over_on_drain_link_loss_sigkill_and_sigterm() {
    if skip() {
        return;
    }
    let lab = Lab::new("ucgroup", 2, 2);
    drop_vrrp_multicast(&lab);
    let orig = [macs(&lab, 1), macs(&lab, 2)];
    let mut h1 = group_host(&lab, 1);
    lab.wait_until(HANG, "host 1, alone, MASTER on both LANs", || {
        assert_running(&h1);
        owns_all(&lab, 1) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    let h2 = group_host(&lab, 2);
    lab.wait_until(HANG, "host 1 MASTER on both LANs, host 2 BACKUP on both", || {
        assert_running(&h1);
        assert_running(&h2);
        group_settled(&lab, [&h1, &h2], 1, &orig)
    });
    hold_for(Duration::from_secs(2), "host 1 keeps both LANs (20 adverts per LAN by unicast)", || {
        group_settled(&lab, [&h1, &h2], 1, &orig)
    });
    for (lan, ifname) in IFS.iter().enumerate() {
        let seen = peers_seen(&lab, 2, ifname);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, host_ip(1, lan), "host 2's peer on LAN {lan}");
        assert!(seen[0].1.is_some(), "host 2 heard host 1 on LAN {lan}: {seen:?}");
        assert_eq!(member_json(&lab, 2, ifname).get("vrrp_version").num(), 3.0);
    }

    // The drain: host 1 resigns both LANs by unicast and holds; --resume gives them back.
    let (code, out) = atropos_run(&lab.host(1).rundir, &["--backup"]);
    assert_eq!(code, 0, "atropos --backup: {out}");
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's drain", || {
        assert_running(&h1);
        assert_running(&h2);
        group_settled(&lab, [&h1, &h2], 2, &orig)
    });
    for (lan, ifname) in IFS.iter().enumerate() {
        let why = reason(&lab, 2, ifname, VRIDS[lan]);
        assert!(why.contains("resigned"), "host 2 {ifname} took over through a resignation: {why:?}");
    }
    let (code, out) = atropos_run(&lab.host(1).rundir, &["--resume"]);
    assert_eq!(code, 0, "atropos --resume: {out}");
    lab.wait_until(HANG, "host 1 takes both LANs back after --resume", || {
        assert_running(&h1);
        assert_running(&h2);
        group_settled(&lab, [&h1, &h2], 1, &orig)
    });

    // Link loss: host 1's LAN-B leg goes down; host 1 resigns LAN A by unicast, host 2 takes both.
    exec(&lab.switch, "ip link set h1e1 down");
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's LAN-B link went down", || {
        assert_running(&h1);
        assert_running(&h2);
        group_settled(&lab, [&h1, &h2], 2, &orig)
    });
    let why = reason(&lab, 2, "eth0", VRIDS[0]);
    assert!(why.contains(&format!("master {} resigned", host_ip(1, 0))), "host 2 eth0: {why:?}");
    exec(&lab.switch, "ip link set h1e1 up");
    lab.wait_until(HANG, "host 1 takes both LANs back when its link returns", || {
        assert_running(&h1);
        assert_running(&h2);
        group_settled(&lab, [&h1, &h2], 1, &orig)
    });

    // SIGKILL of host 1's LAN-B member: its sibling releases the host and sends the dead member's
    // priority 0 by unicast on LAN B.
    h1[1].kill9();
    h1[1].wait_exit(HANG);
    lab.wait_until(HANG, "host 2 owns both LANs after the SIGKILL of host 1's eth1 member", || {
        assert!(h1[0].is_running(), "host 1 eth0 exited:\n{}", h1[0].log_text());
        assert_running(&h2);
        owns_all(&lab, 2) && all_live_state(&lab, 2, &h2, "MASTER") && holds_nothing(&lab, 1, &orig[0])
    });
    let log = h1[0].log_text();
    assert!(
        log.contains(&format!("sent priority 0 for vrid {} on eth1 for the dead member", VRIDS[1])),
        "the survivor resigned for the dead member:\n{log}"
    );
    for lan in 0..2 {
        let why = reason(&lab, 2, IFS[lan], VRIDS[lan]);
        assert!(why.contains("resigned"), "host 2 {} took over through a resignation: {why:?}", IFS[lan]);
    }
    h1[1] = group_member(&lab, 1, 1);
    lab.wait_until(HANG, "host 1 takes both LANs back when its member is restarted", || {
        assert_running(&h1);
        assert_running(&h2);
        group_settled(&lab, [&h1, &h2], 1, &orig)
    });

    // SIGTERM of host 1 (both members): both resign by unicast.
    for p in &h1 {
        p.term();
    }
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's SIGTERM", || {
        assert_running(&h2);
        owns_all(&lab, 2) && all_live_state(&lab, 2, &h2, "MASTER")
    });
    for p in &h1 {
        assert_eq!(p.wait_exit(HANG).code(), Some(0), "{}'s exit status:\n{}", p.name, p.log_text());
    }
    for lan in 0..2 {
        let why = reason(&lab, 2, IFS[lan], VRIDS[lan]);
        assert!(why.contains("resigned"), "host 2 {} took over through a resignation: {why:?}", IFS[lan]);
    }
    lab.wait_until(HANG, "host 1 holds nothing", || holds_nothing(&lab, 1, &orig[0]));
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}

// ---------------------------------------------------------------------------------------------
// A stranger

/// A valid VRRPv3 advert (100 ms) from `src` to `dst` by unicast, its checksum over that pseudo-header.
fn v3_unicast(src: Ipv4Addr, dst: Ipv4Addr, prio: u8) -> Vec<u8> {
    let a = Advert::v3(VRID, prio, Interval::from_centis(10), Family::V4, vec![IpAddr::V4(ip(VIP_A))]);
    Ip { dst, ..Ip::vrrp(src) }.wrap(&a.encode_with(Pseudo::V4 { src, dst }))
}

#[test]
fn a_stranger_with_valid_unicast_adverts_changes_nothing_and_is_counted_as_unknown_peer() {
    if skip() {
        return;
    }
    // Host 3 runs no vrrpd: it only sends, from its own address, which is no peer of hosts 1 and 2.
    let lab = Lab::new("ucstranger", 3, 1);
    drop_vrrp_multicast(&lab);
    let (p1, p2, orig2) = start_unicast_pair(&lab, "--vrrp-version 3 -d 0.1");
    let (h1, h2, stranger) = (ip(&host_ip(1, 0)), ip(&host_ip(2, 0)), ip(&host_ip(3, 0)));
    let to_master = v3_unicast(stranger, h1, 254);
    let to_backup = v3_unicast(stranger, h2, 0);
    let inj = Injector::open(lab.h(3), A);
    let before = (transitions(&p1), transitions(&p2));
    let mut sent = 0u64;
    let mut conflict_seen = None;
    let start = Instant::now();
    // Past host 2's Master_Down_Interval at 100 ms (0.34 s) many times over, 20 packets a second each.
    while start.elapsed() < Duration::from_secs(3) {
        inj.send(&to_master);
        inj.send(&to_backup);
        sent += 1;
        assert!(pair_ok(&lab, &p1, &p2, &orig2), "the stranger moved the pair:\n{}", lab.snapshot());
        if conflict_seen.is_none() && sent > 10 {
            let (code, out) = atropos_run(&lab.host(1).rundir, &["--state", "--json"]);
            if out.contains(&format!("{stranger} (priority 254) also advertises vrid {VRID} while we are MASTER")) {
                conflict_seen = Some(code);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (n, target) in [(1, "master"), (2, "backup")] {
        lab.wait_until(HANG, &format!("host {n} ({target}) counted every stranger's advert"), || {
            dropped(&lab, n, A, "unknown_peer") >= sent
        });
        assert_eq!(dropped(&lab, n, A, "unknown_peer"), sent, "host {n}: unknown_peer count vs {sent} sent");
    }
    assert_eq!((transitions(&p1), transitions(&p2)), before, "a host changed state");
    assert!(pair_ok(&lab, &p1, &p2, &orig2), "{}", lab.snapshot());
    // The master shows the stranger as a possible split brain (CRITICAL: its priority is above ours).
    assert_eq!(conflict_seen, Some(2), "atropos on host 1 did not report the stranger as CRITICAL");
    // Host 2 still hears its real peer, and the stranger is no peer.
    let seen2 = peers_seen(&lab, 2, A);
    assert_eq!(seen2.len(), 1, "{seen2:?}");
    assert!(seen2[0].0 == host_ip(1, 0) && seen2[0].1.is_some(), "{seen2:?}");
    // Control: the same higher-priority advert from the peer's address (spoofed) is acted upon: the
    // master steps down at once (RFC 5798 §6.4.3), then the pair settles again.
    inj.send(&v3_unicast(h2, h1, 254));
    lab.wait_until(HANG, "host 1 steps down for a priority 254 from its peer's address", || {
        p1.log_text().lines().any(|l| l.contains("MASTER -> BACKUP") && l.contains("254"))
    });
    println!("stranger: {sent} adverts to each host, all counted as unknown_peer, no transition");
}
