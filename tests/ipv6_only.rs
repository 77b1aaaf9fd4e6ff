//! IPv6-only virtual routers (VRRPv3, issue 13) on a real kernel: hosts without any IPv4 address elect
//! over IPv6 alone, fail over on SIGKILL with the virtual MAC, and, in a `-M 2` group, a dead IPv6-only
//! member's sibling sends IPv6 priority 0 and removes its VIP.
//
// Run as root: `cargo test --test ipv6_only -- --test-threads=1`.

mod common;

use common::ipv6::*;
use common::pair::{HANG, assert_running};
use common::unicast::member_json;
use common::*;

const VRID: u8 = 51;
const A: &str = "eth0";

/// Host `n` holds the IPv6 VIP with the virtual MAC.
fn owns6(lab: &Lab, n: usize, ifname: &str, vip: &str, vrid: u8) -> bool {
    has_ip6(lab.h(n), ifname, vip) && mac(lab.h(n), ifname) == vmac(vrid)
}

#[test]
fn hosts_without_ipv4_elect_and_fail_over_over_ipv6_alone() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v6only", 2, 1);
    add_ipv6(&lab);
    for n in 1..=2 {
        exec(lab.h(n), &format!("ip -4 addr flush dev {A}"));
    }
    let orig2 = mac(lab.h(2), A);
    // The -U hook gets the IPv6 VIPs in VRRP_VIPS6 (VRRP_VIPS stays IPv4: empty here).
    let hook = lab.dir.join("up6.sh");
    let out = lab.dir.join("up6.out");
    std::fs::write(&hook, format!("#!/bin/sh\necho \"[$VRRP_VIPS][$VRRP_VIPS6]\" >> {}\n", out.display())).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let args = |p: u8| format!("--vrrp-version 3 -d 0.1 -i {A} -v {VRID} -p {p} -U {} {VIP6_A}/64", hook.display());
    let p1 = lab.vrrpd(1, &args(110));
    lab.wait_until(HANG, "host 1 alone MASTER of the IPv6 router", || {
        assert_running(std::slice::from_ref(&p1));
        owns6(&lab, 1, A, VIP6_A, VRID) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    assert!(p1.log_text().contains("primary none (IPv6 only)"), "{}", p1.log_text());
    lab.wait_until(HANG, "host 1's -U hook ran", || out.exists());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().next(), Some(format!("[][{VIP6_A}/64]").as_str()));
    let p2 = lab.vrrpd(2, &args(100));
    let ll1 = link_local(lab.h(1), A);
    lab.wait_until(HANG, "host 2 BACKUP, hearing host 1 over IPv6", || {
        assert_running(&[p1.clone(), p2.clone()]);
        lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
            && !has_ip6(lab.h(2), A, VIP6_A)
            && mac(lab.h(2), A) == orig2
            && member_json(&lab, 2, A).get("ipv6").get("master_heard").opt_str() == Some(ll1.as_str())
    });
    let j1 = member_json(&lab, 1, A);
    assert_eq!(j1.get("adverts_sent").num(), 0.0, "no IPv4 advert from an IPv6-only router");
    assert!(j1.get("ipv6").get("adverts_sent").num() > 0.0);
    assert!(j1.get("virtual_addresses").arr().is_empty());
    let c = lab.client(0);
    ping6_ok(&lab, c, VIP6_A, "the client pings the IPv6 VIP (host 1)");
    let before = neigh6_mac(c, VIP6_A).expect("neighbour entry");
    assert_eq!(before, vmac(VRID));
    p1.kill9();
    lab.wait_until(HANG, "host 2 MASTER after host 1's SIGKILL", || {
        assert_running(std::slice::from_ref(&p2));
        owns6(&lab, 2, A, VIP6_A, VRID) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    exec(lab.h(1), &format!("ip link set {A} down"));
    ping6_ok(&lab, c, VIP6_A, "the client pings the IPv6 VIP (host 2)");
    assert_eq!(neigh6_mac(c, VIP6_A).as_deref(), Some(before.as_str()), "same MAC after the failover");
    // Host 2 loses its link-local address: no advert of any family can leave, so it must not keep the
    // VIP as a silent MASTER: out of the election after two failed adverts, the VIP given back.
    exec(lab.h(2), &format!("ip -6 addr flush dev {A} scope link"));
    lab.wait_until(HANG, "host 2 out of the election, VIP released", || {
        assert_running(std::slice::from_ref(&p2));
        !has_ip6(lab.h(2), A, VIP6_A) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
    });
    let log = p2.log_text();
    assert!(log.contains("has no usable IPv6 link-local address: out of the election"), "{log}");
}

#[test]
fn a_dead_ipv6_only_member_is_released_by_its_sibling_with_ipv6_priority_0() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v6onlyg", 2, 2);
    add_ipv6(&lab);
    let ifs = ["eth0", "eth1"];
    let vips = [VIP6_A, VIP6_B];
    let member = |n: usize, lan: usize, p: u8| {
        lab.vrrpd(
            n,
            &format!("--vrrp-version 3 -d 0.1 -M 2 -i {} -v {} -p {p} {}/64", ifs[lan], VRID + lan as u8, vips[lan]),
        )
    };
    let h1 = [member(1, 0, 110), member(1, 1, 110)];
    lab.wait_until(HANG, "host 1 MASTER on both LANs", || {
        assert_running(&h1);
        (0..2).all(|l| owns6(&lab, 1, ifs[l], vips[l], VRID + l as u8))
    });
    let h2 = [member(2, 0, 100), member(2, 1, 100)];
    lab.wait_until(HANG, "host 1 MASTER, host 2 BACKUP hearing it, on both LANs", || {
        assert_running(&h2);
        (0..2).all(|l| {
            let vrid = VRID + l as u8;
            lab.live_state(1, ifs[l], vrid, &h1[l]).as_deref() == Some("MASTER")
                && lab.live_state(2, ifs[l], vrid, &h2[l]).as_deref() == Some("BACKUP")
                && member_json(&lab, 2, ifs[l]).get("ipv6").get("master_heard").opt_str()
                    == Some(link_local(lab.h(1), ifs[l]).as_str())
        })
    });
    // Host 1's eth1 member dies: its sibling releases eth1 (IPv6 priority 0, VIP removed, MAC back)
    // and the host goes BACKUP on eth0 too; host 2 owns both.
    h1[1].kill9();
    lab.wait_until(HANG, "host 2 MASTER on both LANs after the member's death", || {
        (0..2).all(|l| owns6(&lab, 2, ifs[l], vips[l], VRID + l as u8))
    });
    lab.wait_until(HANG, "host 1 holds no IPv6 VIP", || (0..2).all(|l| !has_ip6(lab.h(1), ifs[l], vips[l])));
    let log = h1[0].log_text();
    assert!(log.contains(&format!("sent IPv6 priority 0 for vrid {} on eth1", VRID + 1)), "{log}");
    assert!(log.contains(&format!("removed virtual address {VIP6_B}/64 from eth1 (dead member)")), "{log}");
}
