//! IPv6 virtual addresses (VRRPv3, issue 13) on a real kernel: one election for both families, the IPv6
//! VIPs without DAD and never preferred, the client's neighbour entry and ping through the VIP across a
//! failover, crash recovery, the group on two LANs, and the hostile-LAN kinds over IPv6.
//
// Run as root: `cargo test --test ipv6 -- --test-threads=1`.

mod common;

use common::ipv6::*;
use common::pair::{HANG, assert_running};
use common::unicast::member_json;
use common::*;

const VRID: u8 = 51;
const A: &str = "eth0";
const V3: &str = "--vrrp-version 3 -d 0.1";

/// Host `n` is MASTER of both families: the IPv4 and IPv6 VIPs and the virtual MAC.
fn owns_both(lab: &Lab, n: usize) -> bool {
    owns_with_vmac(lab.h(n), A, VIP_A, VRID) && has_ip6(lab.h(n), A, VIP6_A)
}

/// Host `n` holds neither VIP and has its own MAC back.
fn holds_neither(lab: &Lab, n: usize, own_mac: &str) -> bool {
    released(lab.h(n), A, VIP_A, own_mac) && !has_ip6(lab.h(n), A, VIP6_A)
}

fn args(prio: u8) -> String {
    format!("{V3} -i {A} -v {VRID} -p {prio} {VIP_A} {VIP6_A}/64")
}

/// Host 1 (110) then host 2 (100); returns once host 1 owns both families and host 2 holds nothing.
fn start_pair(lab: &Lab) -> (Proc, Proc, String) {
    let orig2 = mac(lab.h(2), A);
    let p1 = lab.vrrpd(1, &args(110));
    lab.wait_until(HANG, "host 1 alone MASTER of both families", || {
        assert_running(std::slice::from_ref(&p1));
        owns_both(lab, 1) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    let p2 = lab.vrrpd(2, &args(100));
    lab.wait_until(HANG, "host 2 BACKUP beside host 1", || {
        assert_running(&[p1.clone(), p2.clone()]);
        lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP") && holds_neither(lab, 2, &orig2)
    });
    (p1, p2, orig2)
}

#[test]
fn v6_election_vip_flags_neighbour_and_ping_across_a_sigkill_failover() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v6elect", 2, 1);
    add_ipv6(&lab);
    let ll1 = link_local(lab.h(1), A);
    let (p1, p2, orig2) = start_pair(&lab);
    // The VIP is never tentative and never a preferred source (keepalived's way: nodad, preferred 0).
    let line = ipv6_line(lab.h(1), A, VIP6_A).expect("VIP line");
    assert!(line.contains("/64") && line.contains("nodad") && line.contains("preferred_lft 0sec"), "{line}");
    assert!(!line.contains("tentative") && !line.contains("dadfailed"), "{line}");
    // The MAC changed in place: the link-local address stays (checked here, the kernel's behaviour
    // the daemon relies on for its advert source).
    assert_eq!(link_local(lab.h(1), A), ll1, "link-local address after the MAC change");
    // atropos shows each family's router: host 2 heard host 1 over IPv4 and over IPv6.
    let ll2 = link_local(lab.h(2), A);
    lab.wait_until(HANG, "host 2's atropos: host 1 heard over both families", || {
        let j = member_json(&lab, 2, A);
        let v6 = j.get("ipv6");
        j.get("master_heard").opt_str() == Some(host_ip(1, 0).as_str())
            && v6.get("master_heard").opt_str() == Some(ll1.as_str())
            && v6.get("master_heard_priority").num() == 110.0
            && v6.get("adverts_received").num() > 0.0
    });
    let j = member_json(&lab, 2, A);
    assert_eq!(j.get("ipv6").get("source").str(), ll2, "host 2's IPv6 advert source");
    assert_eq!(j.get("ipv6").get("adverts_sent").num(), 0.0, "a BACKUP sends no IPv6 advert");
    let j1 = member_json(&lab, 1, A);
    assert!(j1.get("ipv6").get("adverts_sent").num() > 0.0, "host 1 sends IPv6 adverts");
    let vips: Vec<&str> = j1.get("ipv6").get("virtual_addresses").arr().iter().map(|v| v.str()).collect();
    assert_eq!(vips, [format!("{VIP6_A}/64")]);
    let log = p1.log_text();
    assert!(log.contains(&format!("virtual addresses {VIP_A}/32, IPv6 {VIP6_A}/64 from {ll1}")), "{log}");
    let (_, text) = atropos_run(&lab.host(1).rundir, &["--state"]);
    assert!(text.contains(&format!("IPv6: {VIP6_A}/64 from {ll1}, master heard -")), "{text}");
    // Host 2 stays BACKUP while host 1 advertises over both families.
    let c = lab.client(0);
    ping6_ok(&lab, c, VIP6_A, "the client pings the IPv6 VIP (host 1)");
    let before = neigh6_mac(c, VIP6_A).expect("neighbour entry of the IPv6 VIP");
    assert_eq!(before, vmac(VRID), "the IPv6 VIP resolves to the virtual MAC");
    // Host 1 dies: host 2 takes both families over.
    p1.kill9();
    lab.wait_until(HANG, "host 2 MASTER of both families after host 1's SIGKILL", || {
        assert_running(std::slice::from_ref(&p2));
        owns_both(&lab, 2) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    // Host 1's kernel still holds what the killed vrrpd left: take the VIPs away from it by hand,
    // as a dead box would (the recovery test below restarts it instead).
    exec(lab.h(1), &format!("ip -6 addr del {VIP6_A}/64 dev {A}"));
    exec(lab.h(1), &format!("ip addr del {VIP_A}/32 dev {A}"));
    exec(lab.h(1), &format!("ip link set {A} down"));
    ping6_ok(&lab, c, VIP6_A, "the client pings the IPv6 VIP (host 2)");
    assert_eq!(neigh6_mac(c, VIP6_A).as_deref(), Some(before.as_str()), "same MAC after the failover");
    let _ = orig2;
}

#[test]
fn v6_crash_recovery_removes_the_leftover_ipv6_vip() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v6crash", 1, 1);
    add_ipv6(&lab);
    let orig = mac(lab.h(1), A);
    // Set by the administrator: never removed.
    let foreign = "2001:db8:a::201";
    exec(lab.h(1), &format!("ip -6 addr add {foreign}/64 dev {A} nodad"));
    let a = format!("{V3} -i {A} -v {VRID} -p 110 {VIP_A} {VIP6_A}/64 {foreign}/64");
    let p = lab.vrrpd(1, &a);
    lab.wait_until(HANG, "MASTER of both families", || {
        assert_running(std::slice::from_ref(&p));
        owns_both(&lab, 1) && lab.live_state(1, A, VRID, &p).as_deref() == Some("MASTER")
    });
    p.kill9();
    let _ = p.wait_exit(HANG);
    assert!(has_ip6(lab.h(1), A, VIP6_A), "the killed vrrpd left its IPv6 VIP");
    // Restarted at a priority that cannot win at once (-s, another master is not there: it would
    // win after Master_Down_Interval; look before): the leftover is gone, the foreign address stays.
    let q = lab.vrrpd(1, &format!("{V3} -i {A} -v {VRID} -p 110 {VIP_A} {VIP6_A}/64 {foreign}/64"));
    lab.wait_until(HANG, "restarted, the leftover removed", || {
        assert_running(std::slice::from_ref(&q));
        q.log_text().contains(&format!("removed stale virtual address {VIP6_A}/64"))
    });
    assert!(q.log_text().contains(&format!("{foreign}/64 is configured on the interface by someone else")));
    lab.wait_until(HANG, "MASTER again with both families", || {
        owns_both(&lab, 1) && lab.live_state(1, A, VRID, &q).as_deref() == Some("MASTER")
    });
    assert_eq!(ipv6_lines(lab.h(1), A).iter().filter(|l| l.contains(&format!(" {VIP6_A}/"))).count(), 1);
    q.term();
    let _ = q.wait_exit(HANG);
    assert!(holds_neither(&lab, 1, &orig), "SIGTERM gave both VIPs and the MAC back");
    assert!(has_ip6(lab.h(1), A, foreign), "the administrator's address stays");
}

#[test]
fn v6_tcpdump_decodes_both_advert_streams_and_the_neighbor_advertisements() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v6dump", 1, 1);
    add_ipv6(&lab);
    let ll = link_local(lab.h(1), A);
    let cap = tcpdump6(&lab, 0, true);
    let v4 = lab.tcpdump(0);
    let p = lab.vrrpd(1, &args(110));
    lab.wait_until(HANG, "MASTER, IPv6 adverts and NAs seen by tcpdump", || {
        assert_running(std::slice::from_ref(&p));
        let t = cap.text();
        t.matches("VRRPv3, Advertisement").count() >= 3 && t.contains("neighbor advertisement")
    });
    let t = cap.stop();
    let t4 = v4.stop();
    println!("{t}");
    let adv = t.lines().find(|l| l.contains("VRRPv3, Advertisement")).expect("an IPv6 advert");
    assert!(adv.contains(&format!("{ll} > ff02::12")), "from our link-local address to ff02::12: {adv}");
    assert!(adv.contains("hlim 255"), "hop limit 255: {adv}");
    assert!(adv.contains(&vmac(VRID)), "from the virtual MAC: {adv}");
    let body = &t[t.find("VRRPv3, Advertisement").unwrap()..];
    let first = body.lines().next().unwrap();
    assert!(first.contains("vrid 51, prio 110") && first.contains(&format!("addrs: {VIP6_A}")), "{first}");
    assert!(!t.contains("bad vrrp cksum") && !t.contains("[bad"), "checksums: {t}");
    let na =
        t.lines().position(|l| l.contains("neighbor advertisement") && l.contains(VIP6_A)).expect("an NA for the VIP");
    let na_text: String = t.lines().skip(na).take(3).collect::<Vec<_>>().join("\n");
    assert!(na_text.contains("Flags [router, override]"), "{na_text}");
    assert!(na_text.contains(&format!("tgt is {VIP6_A}")) && na_text.contains(&vmac(VRID)), "{na_text}");
    // The IPv4 stream carries the IPv4 VIP only, at the same time.
    let v4adv = t4.lines().find(|l| l.contains("> 224.0.0.18: VRRPv3, Advertisement")).expect("an IPv4 advert");
    assert!(v4adv.trim_end().ends_with(&format!("addrs: {VIP_A}")), "{v4adv}");
}

#[test]
fn v6_neighbours_of_our_own_addresses_follow_the_mac_change() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v6own", 1, 1);
    add_ipv6(&lab);
    let c = lab.client(0);
    let own = host_ip6(1, 0);
    let real = mac(lab.h(1), A);
    ping6_ok(&lab, c, &own, "the client reaches host 1's own IPv6 address");
    assert_eq!(neigh6_mac(c, &own).as_deref(), Some(real.as_str()), "the entry before: the real MAC");
    // The MAC changes in place when host 1 becomes MASTER: its NAs (override) for its own addresses
    // move the client's entry to the virtual MAC without any traffic of the client's.
    let p = lab.vrrpd(1, &args(110));
    lab.wait_until(HANG, "host 1 MASTER", || {
        assert_running(std::slice::from_ref(&p));
        owns_both(&lab, 1) && lab.live_state(1, A, VRID, &p).as_deref() == Some("MASTER")
    });
    lab.wait_until(HANG, "the client's entry for host 1's own address is the virtual MAC", || {
        neigh6_mac(c, &own).as_deref() == Some(vmac(VRID).as_str())
    });
    ping6_ok(&lab, c, &own, "the client still reaches host 1's own address");
}
