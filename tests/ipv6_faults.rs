//! Faults of the host group (-M 2) with dual-stack members on two LANs: a LAN-A link cut and back
//! moves every IPv4 and IPv6 VIP of both LANs to host 2 and back; a SIGKILLed member's IPv6 VIP is
//! handed over and removed from the dead member's interface, as its IPv4 VIP is.
//!
//! Run as root: `cargo test --test ipv6_faults -- --test-threads=1`.

mod common;

use common::ipv6::*;
use common::pair::{HANG, IFS, VIPS, VRIDS, assert_running, macs};
use common::*;
use std::time::Duration;

const VIPS6: [&str; 2] = [VIP6_A, VIP6_B];
const PRIO: [u8; 2] = [110, 100];

/// Host `n`'s member on LAN `lan`: VRRPv3, the group of two, one IPv4 and one IPv6 VIP.
fn member(lab: &Lab, n: usize, lan: usize) -> Proc {
    lab.vrrpd(
        n,
        &format!(
            "--vrrp-version 3 -d 0.1 -M 2 -i {} -v {} -p {} {} {}/64",
            IFS[lan],
            VRIDS[lan],
            PRIO[n - 1],
            VIPS[lan],
            VIPS6[lan]
        ),
    )
}

/// Host `n` holds every VIP of both families on both LANs, with the virtual MACs.
fn owns_all(lab: &Lab, n: usize) -> bool {
    (0..2).all(|l| owns_with_vmac(lab.h(n), IFS[l], VIPS[l], VRIDS[l]) && has_ip6(lab.h(n), IFS[l], VIPS6[l]))
}

/// Host `n` holds no VIP of either family on either LAN, and its own MACs.
fn holds_none(lab: &Lab, n: usize, orig: &[String]) -> bool {
    (0..2).all(|l| released(lab.h(n), IFS[l], VIPS[l], &orig[l]) && !has_ip6(lab.h(n), IFS[l], VIPS6[l]))
}

/// What host `n` holds, for failure messages.
fn held(lab: &Lab, n: usize) -> String {
    (0..2)
        .map(|l| {
            format!(
                "{}: v4 {} v6 {} mac {}",
                IFS[l],
                has_ip(lab.h(n), IFS[l], VIPS[l]),
                has_ip6(lab.h(n), IFS[l], VIPS6[l]),
                mac(lab.h(n), IFS[l])
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn live_all(lab: &Lab, n: usize, procs: &[Proc], want: &str) -> bool {
    (0..2).all(|l| lab.live_state(n, IFS[l], VRIDS[l], &procs[l]).as_deref() == Some(want))
}

/// Both hosts started, dual-stack; returns once host 1 owns everything and host 2 nothing:
/// (host 1's members, host 2's, host 1's original MACs, host 2's).
fn start_pair(lab: &Lab) -> (Vec<Proc>, Vec<Proc>, Vec<String>, Vec<String>) {
    add_ipv6(lab);
    let (o1, o2) = (macs(lab, 1), macs(lab, 2));
    let h1: Vec<Proc> = (0..2).map(|l| member(lab, 1, l)).collect();
    let h2: Vec<Proc> = (0..2).map(|l| member(lab, 2, l)).collect();
    lab.wait_until(HANG, "host 1 MASTER of both families on both LANs, host 2 BACKUP holding none", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(lab, 1)
            && holds_none(lab, 2, &o2)
            && live_all(lab, 1, &h1, "MASTER")
            && live_all(lab, 2, &h2, "BACKUP")
    });
    (h1, h2, o1, o2)
}

#[test]
fn v6_group_lan_a_link_cut_moves_every_vip_of_both_families_and_both_lans_then_back() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("x6link", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);

    // Pull the switch-side leg of host 1's eth0: host 1 loses carrier on LAN A.
    exec(&lab.switch, "ip link set h1e0 down");
    lab.wait_until(
        HANG,
        "host 2 owns every IPv4 and IPv6 VIP of both LANs after host 1's LAN-A link went down",
        || {
            assert_running(&h1);
            assert_running(&h2);
            owns_all(&lab, 2)
        },
    );
    lab.wait_until(HANG, "host 1 holds no VIP of either family on either LAN (LAN B's IPv6 VIP too)", || {
        holds_none(&lab, 1, &o1)
    });
    lab.wait_until(HANG, "host 1 BACKUP on both LANs, host 2 MASTER on both", || {
        live_all(&lab, 1, &h1, "BACKUP") && live_all(&lab, 2, &h2, "MASTER")
    });
    // The group holds host 1's LAN-B member back although it has the higher priority there.
    hold_for(Duration::from_secs(2), "host 2 keeps everything while host 1's eth0 is down", || {
        let ok = owns_all(&lab, 2) && holds_none(&lab, 1, &o1);
        assert!(ok, "host 1: {} / host 2: {}\n{}", held(&lab, 1), held(&lab, 2), lab.snapshot());
        ok
    });

    // Link back: host 1 (110, preempting) takes everything back.
    exec(&lab.switch, "ip link set h1e0 up");
    lab.wait_until(HANG, "host 1 owns every VIP of both families on both LANs again, host 2 none", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1) && holds_none(&lab, 2, &o2)
    });
    lab.wait_until(HANG, "host 1 MASTER on both LANs, host 2 BACKUP on both", || {
        live_all(&lab, 1, &h1, "MASTER") && live_all(&lab, 2, &h2, "BACKUP")
    });
    hold_for(Duration::from_secs(2), "after the handback host 1 keeps everything", || {
        owns_all(&lab, 1) && holds_none(&lab, 2, &o2)
    });
    // Clients reach both IPv6 VIPs at host 1's virtual MACs.
    ping6_ok(&lab, lab.client(0), VIP6_A, "the LAN A client pings the IPv6 VIP");
    assert_eq!(neigh6_mac(lab.client(0), VIP6_A), Some(vmac(VRIDS[0])), "LAN A's IPv6 VIP at the virtual MAC");
}

/// Host 1's LAN-B member SIGKILLed: host 2 takes both LANs; returns host 1's surviving member.
fn kill_lan_b_member(lab: &Lab) -> (Vec<Proc>, Vec<Proc>, Vec<String>) {
    let (h1, h2, o1, _o2) = start_pair(lab);
    h1[1].kill9();
    h1[1].wait_exit(HANG);
    lab.wait_until(HANG, "host 2 owns every VIP of both families after host 1's eth1 member was SIGKILLed", || {
        assert_running(&h2);
        assert!(h1[0].is_running(), "host 1 eth0 member exited:\n{}", h1[0].log_text());
        owns_all(lab, 2) && live_all(lab, 2, &h2, "MASTER")
    });
    (h1, h2, o1)
}

#[test]
fn v6_group_sigkill_of_a_member_hands_both_families_of_both_lans_to_host_2() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("x6kill", 2, 2);
    let (h1, h2, o1) = kill_lan_b_member(&lab);
    // The survivor (eth0) gives up both families on its own LAN.
    lab.wait_until(HANG, "host 1 eth0: no IPv4 or IPv6 VIP, its own MAC", || {
        released(lab.h(1), "eth0", VIPS[0], &o1[0]) && !has_ip6(lab.h(1), "eth0", VIP6_A)
    });
    // The dead member's IPv4 side is cleaned by the survivor, as in tests/group.rs.
    lab.wait_until(HANG, "host 1 eth1: original MAC back and no IPv4 VIP (cleaned by the survivor)", || {
        released(lab.h(1), "eth1", VIPS[1], &o1[1])
    });
    lab.wait_until(HANG, "state file: eth1 DEAD, eth0 BACKUP", || {
        lab.vrrpd_state(1, "eth1").as_deref() == Some("DEAD") && lab.vrrpd_state(1, "eth0").as_deref() == Some("BACKUP")
    });
    hold_for(Duration::from_secs(2), "host 2 keeps both families on both LANs", || {
        assert_running(&h2);
        owns_all(&lab, 2) && live_all(&lab, 2, &h2, "MASTER")
    });
    ping6_ok(&lab, lab.client(0), VIP6_A, "the LAN A client pings the IPv6 VIP at host 2");
    let _ = h1;
}

#[test]
fn v6_group_sigkill_survivor_removes_the_dead_members_ipv6_vip() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("x6dead6", 2, 2);
    let (h1, _h2, o1) = kill_lan_b_member(&lab);
    // Host 2 holds VIP6_B now: the killed member's copy on host 1's eth1 must go (else two hosts answer
    // Neighbor Solicitations for it, host 1 with its own MAC).
    lab.wait_until(HANG, "host 1 eth1: the dead member's IPv6 VIP removed by the survivor", || {
        assert!(h1[0].is_running(), "host 1 eth0 member exited:\n{}", h1[0].log_text());
        !has_ip6(lab.h(1), "eth1", VIP6_B)
    });
    lab.wait_until(HANG, "host 1 holds nothing of either family on either LAN", || holds_none(&lab, 1, &o1));
}
