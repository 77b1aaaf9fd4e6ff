//! Interoperability with keepalived (the Debian package, VRRPv2, 1 s adverts) on a real kernel.
//! Skipped with a message when not root or when keepalived is not installed.
//! Run as root: `cargo test --test keepalived -- --test-threads=2`.

mod common;

use common::keepalived::assert_keepalived_accepted_everything;
use common::*;
use std::time::{Duration, Instant};

const VRID: u8 = 51;
const HANG: Duration = Duration::from_secs(15);
const A: &str = "eth0";

fn skip() -> bool {
    skip_unless_root() || skip_unless_installed("keepalived", "--version")
}

#[test]
fn keepalived_master_ours_backup_then_ours_takes_over() {
    if skip() {
        return;
    }
    let lab = Lab::new("kaMaster", 2, 1);
    let kmac = mac(lab.h(1), A);
    let orig2 = mac(lab.h(2), A);
    let k = lab.keepalived(1, VRID, 110, &[VIP_A], "");
    lab.wait_until(HANG, "keepalived (110), alone, holds the VIP", || {
        assert!(k.is_running(), "keepalived exited early");
        has_ip(lab.h(1), A, VIP_A)
    });
    let ours = lab.vrrpd(2, &format!("-i eth0 -v {VRID} -p 100 {VIP_A}"));
    let t0 = Instant::now();
    lab.wait_until(HANG, "keepalived (110) holds the VIP, ours (100) is BACKUP without VIP", || {
        assert!(k.is_running() && ours.is_running(), "a daemon exited early");
        has_ip(lab.h(1), A, VIP_A)
            && released(lab.h(2), A, VIP_A, &orig2)
            && lab.vrrpd_state(2, A).as_deref() == Some("BACKUP")
    });
    // Ours must accept keepalived's adverts: otherwise it would go MASTER after its
    // Master_Down_Interval. Watch until well past it (counted from the start).
    let window = (master_down_interval(100) + Duration::from_secs(2)).saturating_sub(t0.elapsed());
    hold_for(window, "ours stays backup while keepalived is master", || {
        has_ip(lab.h(1), A, VIP_A) && released(lab.h(2), A, VIP_A, &orig2)
    });
    lab.wait_until(HANG, "client's neighbour entry for the VIP = keepalived host's MAC", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(kmac.as_str())
    });

    // keepalived stops: it sends priority 0, ours takes over in Skew_Time.
    let t1 = Instant::now();
    k.term();
    lab.wait_until(HANG, "ours owns VIP + vMAC after keepalived stops", || owns_with_vmac(lab.h(2), A, VIP_A, VRID));
    let took = t1.elapsed();
    println!("ours took over {took:?} after SIGTERM of keepalived");
    assert!(took < Duration::from_secs(3), "took {took:?}: keepalived's priority-0 advert was not honoured");
    assert_eq!(k.wait_exit(HANG).code(), Some(0));
    assert!(!has_ip(lab.h(1), A, VIP_A), "keepalived released the VIP");
    lab.wait_until(HANG, "client's neighbour entry for the VIP = virtual MAC (gratuitous ARP)", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(vmac(VRID).as_str())
    });
    assert!(ours.log_text().contains("-> MASTER"));
}

#[test]
fn ours_master_keepalived_backup_then_keepalived_takes_over() {
    if skip() {
        return;
    }
    let lab = Lab::new("kaBackup", 2, 1);
    let orig1 = mac(lab.h(1), A);
    let cap = lab.tcpdump(0);
    let ours = lab.vrrpd(1, &format!("-i eth0 -v {VRID} -p 110 {VIP_A}"));
    lab.wait_until(HANG, "ours (110), alone, owns VIP + vMAC", || {
        assert!(ours.is_running(), "vrrpd exited early");
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
    });
    let k = lab.keepalived(2, VRID, 100, &[VIP_A], "");
    let t0 = Instant::now();
    lab.wait_until(HANG, "ours (110) owns VIP + vMAC, keepalived (100) has no VIP", || {
        assert!(k.is_running() && ours.is_running(), "a daemon exited early");
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
            && !has_ip(lab.h(2), A, VIP_A)
            && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
    });
    // keepalived must accept our adverts: otherwise it would go MASTER after its
    // Master_Down_Interval (3.61 s). Watch until well past it.
    let window = (master_down_interval(100) + Duration::from_secs(2)).saturating_sub(t0.elapsed());
    hold_for(window, "keepalived stays backup while ours is master", || {
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && !has_ip(lab.h(2), A, VIP_A)
    });
    assert!(k.log_text().contains("Entering BACKUP STATE"), "keepalived log:\n{}", k.log_text());
    assert!(!k.log_text().contains("Entering MASTER STATE"), "keepalived log:\n{}", k.log_text());
    assert_keepalived_accepted_everything(&k);
    lab.wait_until(HANG, "client's neighbour entry for the VIP = virtual MAC", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(vmac(VRID).as_str())
    });

    // Ours stops: priority 0, keepalived takes over in its Skew_Time.
    let t1 = Instant::now();
    ours.term();
    lab.wait_until(HANG, "keepalived owns the VIP after ours stops", || has_ip(lab.h(2), A, VIP_A));
    let took = t1.elapsed();
    println!("keepalived took over {took:?} after SIGTERM of ours");
    assert!(took < Duration::from_secs(3), "took {took:?}: keepalived did not honour our priority-0 advert");
    assert_eq!(ours.wait_exit(HANG).code(), Some(0), "our exit status on SIGTERM");
    assert!(released(lab.h(1), A, VIP_A, &orig1), "ours restored its MAC and dropped the VIP");
    lab.wait_until(HANG, "keepalived's first advert as master (prio 100) is captured", || {
        cap.text().contains(&format!("vrid {VRID}, prio 100,"))
    });

    // What tcpdump makes of our adverts (two lines per packet with -vv -e).
    let text = cap.stop();
    let lines: Vec<&str> = text.lines().collect();
    let from_ours = |i: usize| i > 0 && lines[i].trim_start().starts_with("192.0.2.1 > 224.0.0.18:");
    let ours_adverts: Vec<usize> = (0..lines.len()).filter(|&i| from_ours(i)).collect();
    assert!(ours_adverts.len() >= 3, "at least three adverts of ours captured:\n{text}");
    for &i in &ours_adverts {
        let (header, l) = (lines[i - 1], lines[i]);
        let prio = if i == *ours_adverts.last().unwrap() { 0 } else { 110 };
        assert!(
            l.contains(&format!("VRRPv2, Advertisement, vrid {VRID}, prio {prio}, authtype none, intvl 1s, length 20")),
            "tcpdump decode of our advert (the last one is the priority-0 one sent on SIGTERM): {l}\n{text}"
        );
        assert!(l.contains(&format!("addrs: {VIP_A}")), "VIP list of our advert: {l}");
        assert!(header.contains("ttl 255"), "our advert must leave with TTL 255: {header}");
        assert!(header.contains("tos 0xc0"), "our advert must have TOS 0xc0: {header}");
        if prio == 110 {
            let from_vmac = format!("{} > 01:00:5e:00:00:12", vmac(VRID));
            assert!(header.contains(&from_vmac), "our advert comes from the virtual MAC: {header}");
        }
    }
    assert!(!text.to_lowercase().contains("bad"), "tcpdump found a bad checksum or field:\n{text}");

    let kmac = mac(lab.h(2), A);
    lab.wait_until(HANG, "client's neighbour entry for the VIP = keepalived host's MAC", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(kmac.as_str())
    });
}
