//! IPv6 unicast peers (issues 13 and 14) on a real kernel: a dual-stack pair with `--peer` of both
//! families where the switch drops VRRP multicast of both families; election, SIGKILL failover, per-peer
//! heard times in atropos, strangers counted.
//
// Run as root: `cargo test --test ipv6_unicast -- --test-threads=1`.

mod common;

use common::ipv6::*;
use common::pair::{IFS, VIPS, VRIDS, all_live_state, assert_running};
use common::unicast::*;
use common::*;
use std::time::Duration;

const VRID: u8 = 51;
const A: &str = "eth0";
const HANG: Duration = Duration::from_secs(20);

fn skip() -> bool {
    skip_unless_root() || skip_unless_installed("nft", "--version")
}

/// Host `n` holds both families' VIPs (with `-n`, on its own MAC).
fn owns_both(lab: &Lab, n: usize) -> bool {
    has_ip(lab.h(n), A, VIP_A) && has_ip6(lab.h(n), A, VIP6_A)
}

fn holds_neither(lab: &Lab, n: usize) -> bool {
    !has_ip(lab.h(n), A, VIP_A) && !has_ip6(lab.h(n), A, VIP6_A)
}

/// Host `n`, priority `prio`, unicast to `peer` over IPv4 and to `peer6` over IPv6.
fn dual(lab: &Lab, n: usize, prio: u8, peer: usize, peer6: &str, extra: &str) -> Proc {
    lab.vrrpd(
        n,
        &format!(
            "--vrrp-version 3 -d 0.1 -n -i {A} -v {VRID} -p {prio} --peer {} --peer {peer6}{extra} {VIP_A} {VIP6_A}/64",
            host_ip(peer, 0)
        ),
    )
}

/// (address, seconds since heard) of the peers in host `n`'s atropos --json.
fn heard(lab: &Lab, n: usize) -> Vec<(String, Option<f64>)> {
    peers_seen(lab, n, A)
}

#[test]
fn dual_stack_unicast_pair_elects_over_both_families_and_fails_over_on_sigkill() {
    if skip() {
        return;
    }
    let lab = Lab::new("v6uni", 2, 1);
    add_ipv6(&lab);
    drop_vrrp_multicast(&lab);
    drop_vrrp6_multicast(&lab);
    let ll1 = link_local(lab.h(1), A);
    // The control: a multicast dual-stack router's IPv6 adverts are dropped by the switch.
    let m = lab.vrrpd(1, &format!("--vrrp-version 3 -d 0.1 -i {A} -v {VRID} {VIP_A} {VIP6_A}/64"));
    lab.wait_until(HANG, "the switch drops IPv6 VRRP multicast", || {
        assert_running(std::slice::from_ref(&m));
        multicast6_dropped(&lab) > 0
    });
    m.stop(Duration::from_secs(5));
    lab.wait_until(HANG, "host 1 gave its VIPs back", || holds_neither(&lab, 1));
    let before6 = multicast6_dropped(&lab);

    // Host 2 (100) unicasts from its global address (--src) to host 1's link-local, host 1 (110) from
    // its link-local (the default) to host 2's global address.
    let g2 = host_ip6(2, 0);
    let p1 = dual(&lab, 1, 110, 2, &g2, "");
    lab.wait_until(HANG, "host 1 alone MASTER of both families", || {
        assert_running(std::slice::from_ref(&p1));
        owns_both(&lab, 1) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    let p2 = dual(&lab, 2, 100, 1, &ll1, &format!(" --src {g2}"));
    lab.wait_until(HANG, "host 2 BACKUP, hearing host 1 on both peers", || {
        assert_running(&[p1.clone(), p2.clone()]);
        // atropos only once the member has its state line.
        lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
            && holds_neither(&lab, 2)
            && heard(&lab, 2).iter().filter(|(_, ago)| ago.is_some()).count() == 2
    });
    let h = heard(&lab, 2);
    assert_eq!(h.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(), [host_ip(1, 0), ll1.clone()]);
    let j2 = member_json(&lab, 2, A);
    assert_eq!(j2.get("ipv6").get("master_heard").str(), ll1, "host 1's IPv6 adverts come from its link-local");
    assert_eq!(j2.get("ipv6").get("source").str(), g2, "host 2's --src");
    assert!(member_json(&lab, 1, A).get("ipv6").get("adverts_sent").num() > 0.0);
    assert_eq!(j2.get("dropped"), &common::json::Json::Obj(vec![]), "host 2 dropped nothing over IPv4");
    assert_eq!(j2.get("ipv6").get("dropped"), &common::json::Json::Obj(vec![]), "nor over IPv6");
    assert_eq!(multicast6_dropped(&lab), before6, "a unicast router sends no IPv6 multicast advert");
    assert!(p1.log_text().contains(&format!("unicast to {g2}")), "{}", p1.log_text());

    // Host 1 dies: host 2 takes both families over.
    p1.kill9();
    lab.wait_until(HANG, "host 2 MASTER of both families after host 1's SIGKILL", || {
        assert_running(std::slice::from_ref(&p2));
        owns_both(&lab, 2) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    ping6_ok(&lab, lab.client(0), VIP6_A, "the client pings the IPv6 VIP on host 2");
}

#[test]
fn a_stranger_over_ipv6_is_not_a_peer_and_is_counted() {
    if skip() {
        return;
    }
    let lab = Lab::new("v6unistr", 3, 1);
    add_ipv6(&lab);
    let ll3 = link_local(lab.h(3), A);
    // Hosts 1 and 2 are peers; host 3 multicasts with a higher priority, over both families.
    let p1 = dual(&lab, 1, 110, 2, &link_local(lab.h(2), A), "");
    let p2 = dual(&lab, 2, 100, 1, &link_local(lab.h(1), A), "");
    lab.wait_until(HANG, "host 1 MASTER, host 2 BACKUP", || {
        assert_running(&[p1.clone(), p2.clone()]);
        owns_both(&lab, 1)
            && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
            && lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
    });
    // The stranger unicasts valid higher-priority adverts of both families to host 1's addresses.
    let p3 = dual(&lab, 3, 200, 1, &host_ip6(1, 0), "");
    let unknown6 = |n: usize| {
        let d = member_json(&lab, n, A).get("ipv6").get("dropped").clone();
        match d {
            common::json::Json::Obj(v) => v.iter().find(|(k, _)| k == "unknown_peer").map_or(0.0, |(_, c)| c.num()),
            other => panic!("dropped: {other:?}"),
        }
    };
    lab.wait_until(HANG, "host 1 counts the stranger's IPv6 adverts as unknown_peer", || {
        assert_running(&[p1.clone(), p2.clone(), p3.clone()]);
        unknown6(1) >= 3.0 && dropped(&lab, 1, A, "unknown_peer") >= 3
    });
    assert_eq!(lab.live_state(1, A, VRID, &p1).as_deref(), Some("MASTER"), "the stranger changed nothing");
    assert!(owns_both(&lab, 1));
    let log = p1.log_text();
    assert!(log.contains(&format!("dropped an IPv6 packet from {ll3}")), "{log}");
}

/// As tests/unicast_more.rs for IPv4: the kernel forgets its IPv6 neighbours too when the carrier
/// drops, and the priority 0 sent then waits in an unresolved ND entry. When the link is back, the
/// daemon removes the entries of its peers of both families, so host 2 hears no stale resignation.
#[test]
fn a_dual_stack_unicast_master_whose_link_flapped_sends_no_stale_resignation() {
    if skip() {
        return;
    }
    let lab = Lab::new("v6uniflap", 2, 1);
    add_ipv6(&lab);
    drop_vrrp_multicast(&lab);
    drop_vrrp6_multicast(&lab);
    let ll1 = link_local(lab.h(1), A);
    count_resignations_from(&lab, &host_ip(1, 0));
    count_resignations_from(&lab, &ll1);
    let p1 = dual(&lab, 1, 110, 2, &host_ip6(2, 0), "");
    lab.wait_until(HANG, "host 1 alone MASTER of both families", || {
        assert_running(std::slice::from_ref(&p1));
        owns_both(&lab, 1) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    let p2 = dual(&lab, 2, 100, 1, &ll1, "");
    let both = [p1.clone(), p2.clone()];
    let settled_on_1 = || {
        owns_both(&lab, 1)
            && holds_neither(&lab, 2)
            && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
            && lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
    };
    lab.wait_until(HANG, "host 2 BACKUP, hearing host 1 on both peers", || {
        assert_running(&both);
        settled_on_1() && heard(&lab, 2).iter().filter(|(_, ago)| ago.is_some()).count() == 2
    });

    exec(&lab.switch, "ip link set h1e0 down");
    lab.wait_until(HANG, "host 2 MASTER of both families after host 1's link went down", || {
        assert_running(&both);
        owns_both(&lab, 2) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    exec(&lab.switch, "ip link set h1e0 up");
    lab.wait_until(HANG, "host 1 takes both families back when its link returns", || {
        assert_running(&both);
        settled_on_1()
    });
    // Past the kernel's ARP and ND retransmission (1 s after the sends on the dead link).
    hold_for(Duration::from_millis(1500), "host 1 keeps both families after its link returned", settled_on_1);
    for src in [host_ip(1, 0), ll1] {
        assert_eq!(resignations_from(&lab, &src), 0, "host 2 got a priority 0 from {src}:\n{}", p2.log_text());
    }
    let removed = p1.log_text().lines().filter(|l| l.contains("removed the unresolved neighbour entry")).count();
    assert!(removed >= 1, "host 1 removed what the link loss left:\n{}", p1.log_text());
}

/// Host `n`'s member on LAN `lan` of a `-M 2` group, dual-stack, unicast to the other host over both
/// families, its IPv6 adverts from its global address (`--src`).
fn grouped(lab: &Lab, n: usize, lan: usize) -> Proc {
    let (prio, other) = [(110, 2), (100, 1)][n - 1];
    lab.vrrpd(
        n,
        &format!(
            "-M 2 --vrrp-version 3 -d 0.1 -n -i {} -v {} -p {prio} --peer {} --peer {} --src {} {} {}/64",
            IFS[lan],
            VRIDS[lan],
            host_ip(other, lan),
            host_ip6(other, lan),
            host_ip6(n, lan),
            VIPS[lan],
            [VIP6_A, VIP6_B][lan],
        ),
    )
}

/// A survivor sends the IPv6 priority 0 of a dead member from that member's `--src`: its peer lists
/// that address and would drop one from the link-local address as `unknown_peer`.
#[test]
fn a_dead_dual_stack_members_ipv6_priority_0_leaves_from_its_src() {
    if skip() {
        return;
    }
    let lab = Lab::new("v6unidead", 2, 2);
    add_ipv6(&lab);
    drop_vrrp_multicast(&lab);
    drop_vrrp6_multicast(&lab);
    let g1b = host_ip6(1, 1);
    count_resignations_from(&lab, &g1b);
    let owns_lan = |n: usize, lan: usize| {
        has_ip(lab.h(n), IFS[lan], VIPS[lan]) && has_ip6(lab.h(n), IFS[lan], [VIP6_A, VIP6_B][lan])
    };
    let h1: Vec<Proc> = (0..2).map(|lan| grouped(&lab, 1, lan)).collect();
    lab.wait_until(HANG, "host 1, alone, MASTER on both LANs", || {
        assert_running(&h1);
        (0..2).all(|lan| owns_lan(1, lan)) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    let h2: Vec<Proc> = (0..2).map(|lan| grouped(&lab, 2, lan)).collect();
    lab.wait_until(HANG, "host 2 BACKUP on both LANs, hearing host 1's IPv6 adverts from its --src", || {
        assert_running(&h1);
        assert_running(&h2);
        all_live_state(&lab, 2, &h2, "BACKUP")
            && member_json(&lab, 2, IFS[1]).get("ipv6").get("master_heard").opt_str() == Some(g1b.as_str())
    });

    h1[1].kill9();
    h1[1].wait_exit(HANG);
    lab.wait_until(HANG, "host 2 owns both LANs, both families, after the SIGKILL of host 1's eth1 member", || {
        assert!(h1[0].is_running(), "host 1 eth0 exited:\n{}", h1[0].log_text());
        assert_running(&h2);
        (0..2).all(|lan| owns_lan(2, lan)) && all_live_state(&lab, 2, &h2, "MASTER")
    });
    let log = h1[0].log_text();
    let sent = format!("sent IPv6 priority 0 for vrid {} on {} to {}", VRIDS[1], IFS[1], host_ip6(2, 1));
    assert!(log.contains(&sent), "the survivor resigned for the dead member:\n{log}");
    assert!(resignations_from(&lab, &g1b) >= 1, "no IPv6 priority 0 from {g1b} on LAN B:\n{log}");
    let dropped6 = member_json(&lab, 2, IFS[1]).get("ipv6").get("dropped").clone();
    assert_eq!(dropped6, common::json::Json::Obj(vec![]), "host 2 eth1 dropped nothing over IPv6");
}
