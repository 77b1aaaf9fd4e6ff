//! Unicast peers, more labs: `--src` (adverts from a chosen secondary address) and three peers.
//
// As tests/unicast.rs: the switch drops VRRP multicast (tests/common/unicast.rs), so only unicast
// adverts pass. Run as root: `cargo test --test unicast_more -- --test-threads=1`.

mod common;

use common::pair::assert_running;
use common::unicast::{
    count_resignations_from, drop_vrrp_multicast, dropped, member_json, multicast_dropped, peers_seen,
    resignations_from,
};
use common::*;
use std::time::Duration;

const VRID: u8 = 52;
const A: &str = "eth0";
const HANG: Duration = Duration::from_secs(20);

fn skip() -> bool {
    skip_unless_root() || skip_unless_installed("nft", "--version")
}

/// State transitions a vrrpd logged.
fn transitions(p: &Proc) -> usize {
    p.log_text().lines().filter(|l| l.contains("MASTER -> BACKUP") || l.contains("BACKUP -> MASTER")).count()
}

/// Host `n` holds the VIP on LAN A without the virtual MAC (`-n`).
fn owns(lab: &Lab, n: usize) -> bool {
    has_ip(lab.h(n), A, VIP_A) && mac(lab.h(n), A) != vmac(VRID)
}

fn state(lab: &Lab, n: usize, p: &Proc) -> Option<String> {
    lab.live_state(n, A, VRID, p)
}

/// Host `n` on LAN A, priority `prio`, unicast to each of `peers`, with `extra`.
fn uni(lab: &Lab, n: usize, prio: u8, peers: &[String], extra: &str) -> Proc {
    let peers: String = peers.iter().map(|p| format!("--peer {p} ")).collect();
    lab.vrrpd(n, &format!("-n -i {A} -v {VRID} -p {prio} {peers}{extra} {VIP_A}"))
}

/// The master host `n` hears on LAN A (`master_heard` of atropos --json), if any.
fn heard(lab: &Lab, n: usize) -> Option<String> {
    let j = member_json(lab, n, A);
    let m = j.get("master_heard");
    if m.is_null() { None } else { Some(m.str().to_string()) }
}

/// The address of host `n` on LAN A.
fn a(n: usize) -> String {
    host_ip(n, 0)
}

// ---------------------------------------------------------------------------------------------
// --src: a host with two addresses on the LAN sends from the one it is told

#[test]
fn src_picks_the_secondary_address_as_the_source_of_the_adverts() {
    if skip() {
        return;
    }
    let lab = Lab::new("pqsrc", 2, 1);
    drop_vrrp_multicast(&lab);
    // Host 1 gets a second address on LAN A; its primary stays host_ip(1, 0).
    let second = format!("{}.11", LAN_PREFIX[0]);
    exec(lab.h(1), &format!("ip addr add {second}/24 dev {A}"));
    assert!(has_ip(lab.h(1), A, &a(1)) && has_ip(lab.h(1), A, &second), "host 1 has both addresses");
    let orig2 = mac(lab.h(2), A);
    let src = format!("--src {second}");
    // Host 2 knows host 1 only by its second address: an advert from the primary would be an
    // unknown peer's.
    let p1 = uni(&lab, 1, 110, &[a(2)], &src);
    lab.wait_until(HANG, "host 1, alone, MASTER", || {
        assert!(p1.is_running(), "host 1 exited:\n{}", p1.log_text());
        owns(&lab, 1) && state(&lab, 1, &p1).as_deref() == Some("MASTER")
    });
    let p2 = uni(&lab, 2, 100, std::slice::from_ref(&second), "");
    lab.wait_until(HANG, "host 1 MASTER, host 2 BACKUP, hearing host 1's adverts from --src", || {
        assert_running(&[p1.clone(), p2.clone()]);
        owns(&lab, 1)
            && released(lab.h(2), A, VIP_A, &orig2)
            && state(&lab, 2, &p2).as_deref() == Some("BACKUP")
            && heard(&lab, 2) == Some(second.clone())
    });
    hold_for(master_down_interval(100) + Duration::from_secs(1), "host 2 stays BACKUP", || {
        state(&lab, 2, &p2).as_deref() == Some("BACKUP") && owns(&lab, 1)
    });
    assert_eq!(transitions(&p2), 0, "host 2 changed state:\n{}", p2.log_text());
    let seen = peers_seen(&lab, 2, A);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, second, "host 2's only peer");
    assert!(seen[0].1.is_some_and(|s| s < 3.0), "host 2 heard host 1's second address lately: {seen:?}");
    assert_eq!(dropped(&lab, 2, A, "unknown_peer"), 0, "an advert came from host 1's primary address");
    assert!(member_json(&lab, 2, A).get("adverts_received").num() >= 3.0, "host 2 heard adverts");
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");

    // Failover: SIGKILL of host 1, host 2 takes over; host 1 restarted with --src preempts again.
    p1.kill9();
    p1.wait_exit(HANG);
    lab.wait_until(HANG, "host 2 MASTER after host 1's SIGKILL", || {
        assert!(p2.is_running(), "host 2 exited:\n{}", p2.log_text());
        owns(&lab, 2) && state(&lab, 2, &p2).as_deref() == Some("MASTER")
    });
    let p1 = uni(&lab, 1, 110, &[a(2)], &src);
    lab.wait_until(HANG, "restarted host 1 MASTER again, host 2 BACKUP", || {
        assert_running(&[p1.clone(), p2.clone()]);
        owns(&lab, 1)
            && released(lab.h(2), A, VIP_A, &orig2)
            && state(&lab, 1, &p1).as_deref() == Some("MASTER")
            && state(&lab, 2, &p2).as_deref() == Some("BACKUP")
    });
    // Host 1 heard host 2's adverts (from its primary) while host 2 was MASTER, before preempting.
    assert_eq!(dropped(&lab, 1, A, "unknown_peer"), 0, "host 1 dropped host 2's adverts");
    assert_eq!(heard(&lab, 2), Some(second.clone()), "host 2 hears host 1 from --src");
    assert_eq!(dropped(&lab, 2, A, "unknown_peer"), 0, "an advert came from host 1's primary address");
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}

// ---------------------------------------------------------------------------------------------
// Three peers, each listing the two others

#[test]
fn three_peers_elect_one_master_and_exactly_one_backup_takes_over_after_its_sigkill() {
    if skip() {
        return;
    }
    let lab = Lab::new("pqthree", 3, 1);
    drop_vrrp_multicast(&lab);
    let others = |n: usize| -> Vec<String> { (1..=3).filter(|&h| h != n).map(a).collect() };
    let orig: Vec<String> = (1..=3).map(|n| mac(lab.h(n), A)).collect();
    let p1 = uni(&lab, 1, 120, &others(1), "");
    lab.wait_until(HANG, "host 1, alone, MASTER", || {
        assert!(p1.is_running(), "host 1 exited:\n{}", p1.log_text());
        owns(&lab, 1) && state(&lab, 1, &p1).as_deref() == Some("MASTER")
    });
    let p2 = uni(&lab, 2, 110, &others(2), "");
    let p3 = uni(&lab, 3, 100, &others(3), "");
    let all = [p1.clone(), p2.clone(), p3.clone()];
    let settled_on_1 = || {
        owns(&lab, 1)
            && (2..=3).all(|n| released(lab.h(n), A, VIP_A, &orig[n - 1]))
            && state(&lab, 1, &p1).as_deref() == Some("MASTER")
            && (2..=3).all(|n| state(&lab, n, &all[n - 1]).as_deref() == Some("BACKUP"))
    };
    lab.wait_until(HANG, "host 1 MASTER, hosts 2 and 3 BACKUP", || {
        assert_running(&all);
        settled_on_1()
    });
    hold_for(master_down_interval(100) + Duration::from_secs(1), "one master among three", settled_on_1);
    // Host 1's adverts reach both peers; each backup lists two peers and has heard only the master.
    for n in 2..=3 {
        let seen = peers_seen(&lab, n, A);
        assert_eq!(seen.len(), 2, "host {n}: {seen:?}");
        for (addr, ago) in &seen {
            if *addr == a(1) {
                assert!(ago.is_some_and(|s| s < 3.0), "host {n} heard host 1 lately: {seen:?}");
            } else {
                assert!(ago.is_none(), "host {n} heard a backup: {seen:?}");
            }
        }
        assert_eq!(heard(&lab, n), Some(a(1)), "host {n}");
        assert_eq!(dropped(&lab, n, A, "unknown_peer"), 0, "host {n}");
        assert_eq!(transitions(&all[n - 1]), 0, "host {n} changed state:\n{}", all[n - 1].log_text());
    }

    // SIGKILL of the master: host 2 (110) takes over, host 3 (100) stays BACKUP and hears host 2.
    p1.kill9();
    p1.wait_exit(HANG);
    let settled_on_2 = || {
        owns(&lab, 2)
            && released(lab.h(3), A, VIP_A, &orig[2])
            && state(&lab, 2, &p2).as_deref() == Some("MASTER")
            && state(&lab, 3, &p3).as_deref() == Some("BACKUP")
            && heard(&lab, 3) == Some(a(2))
    };
    lab.wait_until(HANG, "host 2 MASTER, host 3 BACKUP after host 1's SIGKILL", || {
        assert_running(&[p2.clone(), p3.clone()]);
        settled_on_2()
    });
    hold_for(master_down_interval(100) + Duration::from_secs(1), "host 2 MASTER, host 3 BACKUP", settled_on_2);
    assert_eq!(transitions(&p2), 1, "host 2 took over once:\n{}", p2.log_text());
    assert_eq!(transitions(&p3), 0, "host 3 never changed state:\n{}", p3.log_text());
    let seen3 = peers_seen(&lab, 3, A);
    assert!(seen3.iter().any(|(addr, ago)| *addr == a(2) && ago.is_some_and(|s| s < 3.0)), "{seen3:?}");
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}

// ---------------------------------------------------------------------------------------------
// A link flap on the master: nothing stale leaves after the link is back

/// The kernel forgets its neighbours when the carrier drops; what the master sends then (its priority
/// 0) waits in a new, unresolved ARP entry whose request was lost with the link, and leaves only when
/// the entry resolves, up to a second later. The daemon forgets that entry when the link is back, so
/// the peer never hears a resignation from a master that has returned (it would take over again).
#[test]
fn a_unicast_master_whose_link_flapped_sends_no_stale_resignation_when_it_returns() {
    if skip() {
        return;
    }
    let lab = Lab::new("pqflap", 2, 1);
    drop_vrrp_multicast(&lab);
    count_resignations_from(&lab, &a(1));
    let orig2 = mac(lab.h(2), A);
    let v3 = "--vrrp-version 3 -d 0.1";
    let p1 = uni(&lab, 1, 110, &[a(2)], v3);
    lab.wait_until(HANG, "host 1, alone, MASTER", || {
        assert!(p1.is_running(), "host 1 exited:\n{}", p1.log_text());
        owns(&lab, 1) && state(&lab, 1, &p1).as_deref() == Some("MASTER")
    });
    let p2 = uni(&lab, 2, 100, &[a(1)], v3);
    let both = [p1.clone(), p2.clone()];
    let settled_on_1 = || {
        owns(&lab, 1)
            && released(lab.h(2), A, VIP_A, &orig2)
            && state(&lab, 1, &p1).as_deref() == Some("MASTER")
            && state(&lab, 2, &p2).as_deref() == Some("BACKUP")
    };
    lab.wait_until(HANG, "host 1 MASTER, host 2 BACKUP and hearing host 1", || {
        assert_running(&both);
        settled_on_1() && heard(&lab, 2) == Some(a(1))
    });

    exec(&lab.switch, "ip link set h1e0 down");
    lab.wait_until(HANG, "host 2 MASTER after host 1's link went down", || {
        assert_running(&both);
        owns(&lab, 2) && state(&lab, 2, &p2).as_deref() == Some("MASTER")
    });
    assert!(p1.log_text().contains("link is down"), "host 1 saw its link go:\n{}", p1.log_text());
    exec(&lab.switch, "ip link set h1e0 up");
    lab.wait_until(HANG, "host 1 takes LAN A back when its link returns", || {
        assert_running(&both);
        settled_on_1()
    });
    // Past the kernel's ARP retransmission (1 s after the send on the dead link): a queued advert
    // would have left by now, and host 2 would have taken over again on its priority 0.
    hold_for(Duration::from_millis(1500), "host 1 keeps LAN A after its link returned", settled_on_1);
    assert_eq!(resignations_from(&lab, &a(1)), 0, "host 2 got a priority 0 from host 1:\n{}", p2.log_text());
    assert_eq!(transitions(&p2), 2, "host 2 took over once and gave back once:\n{}", p2.log_text());
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}
