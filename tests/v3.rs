//! Our VRRPv3 (RFC 5798, IPv4) at 10 ms on a real kernel: election, failover, group, mixed versions, tcpdump.
//
// Run as root: `cargo test --test v3 -- --test-threads=2`. `VRRPD_FLOOD` / `VRRPD_FLOOD_RATE` set the flood.

mod common;

use common::inject::{Injector, Ip, advert};
use common::json::{Json, parse_json};
use common::pair::{HANG, all_live_state, assert_running, holds_nothing, macs, owns_all, start_host};
use common::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use vrrpd::packet::{Advert, Auth};
use vrrpd::profile::{Family, Interval};
use vrrpd::wire::Pseudo;

const VRID: u8 = 51;
const A: &str = "eth0";
/// VRRPv3 at 10 ms (1 centisecond).
const V3: &str = "--vrrp-version 3 -d 0.01";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A valid VRRPv3 IPv4 advert from `src` to 224.0.0.18, its checksum over the pseudo-header.
fn v3_advert(src: Ipv4Addr, vrid: u8, prio: u8, centis: u16, vips: &[Ipv4Addr]) -> Vec<u8> {
    let a = Advert::v3(
        vrid,
        prio,
        Interval::from_centis(centis),
        Family::V4,
        vips.iter().map(|v| IpAddr::V4(*v)).collect(),
    );
    Ip::vrrp(src).wrap(&a.encode_with(Pseudo::V4 { src, dst: vrrpd::packet::VRRP_GROUP }))
}

/// Starts host 1 (110) and host 2 (100) on LAN A with `extra`; returns once host 1 is MASTER with VIP
/// and vMAC and host 2 is BACKUP without the VIP.
fn start_pair(lab: &Lab, extra: &str) -> (Proc, Proc, String) {
    let orig2 = mac(lab.h(2), A);
    // Host 1 first: started together, both may go MASTER after the same 36 ms and host 2 then steps
    // down, a legitimate transition the tests below would count.
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 {extra} {VIP_A}"));
    lab.wait_until(HANG, "host 1, alone, MASTER with VIP + vMAC", || {
        assert!(p1.is_running(), "host 1 exited:\n{}", p1.log_text());
        owns_with_vmac(lab.h(1), A, VIP_A, VRID) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 {extra} {VIP_A}"));
    lab.wait_until(HANG, "host 1 (110) MASTER with VIP + vMAC, host 2 (100) BACKUP without the VIP", || {
        assert_running(&[p1.clone(), p2.clone()]);
        pair_ok(lab, &orig2)
            && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
            && lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
    });
    (p1, p2, orig2)
}

fn pair_ok(lab: &Lab, orig2: &str) -> bool {
    owns_with_vmac(lab.h(1), A, VIP_A, VRID) && released(lab.h(2), A, VIP_A, orig2)
}

/// Number of state transitions a vrrpd logged.
fn transitions(p: &Proc) -> usize {
    p.log_text().lines().filter(|l| l.contains("MASTER -> BACKUP") || l.contains("BACKUP -> MASTER")).count()
}

/// The only member of `atropos --state --json` on host `n`.
fn member_json(lab: &Lab, n: usize) -> Json {
    let (_, out) = atropos_run(&lab.host(n).rundir, &["--state", "--json"]);
    let j = parse_json(out.trim());
    let members = j.get("members").arr();
    assert_eq!(members.len(), 1, "host {n}: one member expected in atropos --json:\n{out}");
    members[0].clone()
}

/// Drop count of `kind` on host `n` (0 when absent).
fn dropped(lab: &Lab, n: usize, kind: &str) -> u64 {
    dropped_all(lab, n).into_iter().find(|(k, _)| k == kind).map(|(_, c)| c).unwrap_or(0)
}

/// Every drop kind counted on host `n`, from `atropos --json`.
fn dropped_all(lab: &Lab, n: usize) -> Vec<(String, u64)> {
    match member_json(lab, n).get("dropped") {
        Json::Obj(v) => v.iter().map(|(k, c)| (k.clone(), c.num() as u64)).collect(),
        other => panic!("host {n}: \"dropped\" is not an object: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Election and failover

#[test]
fn v3_election_at_10ms_higher_priority_wins_and_atropos_shows_version_and_interval() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v3elect", 2, 1);
    let (p1, p2, orig2) = start_pair(&lab, V3);
    // 2 s = 200 adverts, ~55 Master_Down_Intervals of host 2: no flapping allowed.
    hold_for(Duration::from_secs(2), "host 1 MASTER, host 2 BACKUP without VIP at 10 ms", || pair_ok(&lab, &orig2));
    assert_eq!(transitions(&p1), 1, "host 1 changed state more than once:\n{}", p1.log_text());
    assert_eq!(transitions(&p2), 0, "host 2 changed state:\n{}", p2.log_text());
    for (n, want) in [(1, "MASTER"), (2, "BACKUP")] {
        let m = member_json(&lab, n);
        assert_eq!(m.get("state").str(), want, "host {n}: {m:?}");
        assert_eq!(m.get("vrrp_version").num(), 3.0, "host {n}: vrrp_version in atropos --json: {m:?}");
        assert_eq!(m.get("advert_interval").num(), 0.01, "host {n}: advert_interval in atropos --json: {m:?}");
    }
    let m2 = member_json(&lab, 2);
    assert_eq!(m2.get("master_heard").str(), host_ip(1, 0), "host 2 hears host 1 as master: {m2:?}");
    assert!(m2.get("adverts_received").num() >= 100.0, "host 2 received host 1's 10 ms adverts: {m2:?}");
    lab.wait_until(HANG, "client's neighbour entry for the VIP = virtual MAC", || {
        neigh_mac(lab.client(0), VIP_A).as_deref() == Some(vmac(VRID).as_str())
    });
}

#[test]
fn v3_sigkill_of_the_master_at_10ms_peer_takes_over() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v3kill", 2, 1);
    let (p1, p2, _orig2) = start_pair(&lab, V3);
    let t0 = Instant::now();
    p1.kill9();
    p1.wait_exit(HANG);
    lab.wait_until(HANG, "host 2 owns VIP + vMAC and is MASTER after SIGKILL of host 1", || {
        assert!(p2.is_running(), "host 2 exited:\n{}", p2.log_text());
        owns_with_vmac(lab.h(2), A, VIP_A, VRID) && lab.live_state(2, A, VRID, &p2).as_deref() == Some("MASTER")
    });
    // Informative only: Master_Down_Interval of host 2 at 10 ms is 36.1 ms, the bound above catches a hang.
    println!("host 2 MASTER {:?} after the SIGKILL of host 1", t0.elapsed());
    hold_for(Duration::from_secs(1), "host 2 keeps the VIP", || owns_with_vmac(lab.h(2), A, VIP_A, VRID));
    assert_eq!(member_json(&lab, 2).get("vrrp_version").num(), 3.0);
}

// ---------------------------------------------------------------------------------------------
// The host group

#[test]
fn v3_group_at_10ms_link_loss_on_one_lan_moves_both_lans_then_back() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v3group", 2, 2);
    let o1 = macs(&lab, 1);
    let o2 = macs(&lab, 2);
    let h1 = start_host(&lab, 1, V3);
    let h2 = start_host(&lab, 2, V3);
    lab.wait_until(HANG, "host 1 MASTER on both LANs with VIPs + vMACs, host 2 BACKUP on both", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1)
            && holds_nothing(&lab, 2, &o2)
            && all_live_state(&lab, 1, &h1, "MASTER")
            && all_live_state(&lab, 2, &h2, "BACKUP")
    });
    hold_for(Duration::from_secs(1), "host 1 keeps both LANs at 10 ms", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });

    // Host 1 loses carrier on LAN B: the whole host goes to host 2.
    let t0 = Instant::now();
    exec(&lab.switch, "ip link set h1e1 down");
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's LAN-B link went down", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 2)
            && holds_nothing(&lab, 1, &o1)
            && all_live_state(&lab, 1, &h1, "BACKUP")
            && all_live_state(&lab, 2, &h2, "MASTER")
    });
    println!("host 2 owns both LANs {:?} after the link loss", t0.elapsed());
    hold_for(Duration::from_secs(1), "host 2 keeps both LANs while host 1's eth1 is down", || {
        owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1)
    });
    assert!(
        h1[0].log_text().contains("eth1 link down"),
        "host 1 eth0 says why it is held BACKUP:\n{}",
        h1[0].log_text()
    );

    // Link back: host 1 (higher priority) takes both back.
    exec(&lab.switch, "ip link set h1e1 up");
    lab.wait_until(HANG, "host 1 owns both LANs again after the link came back", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    hold_for(Duration::from_secs(1), "host 1 keeps both LANs after the handback", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
}

// ---------------------------------------------------------------------------------------------
// Mixed versions on one LAN

#[test]
fn v2_adverts_on_a_v3_pair_are_counted_v2_on_v3_and_a_flood_causes_no_failover() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v3mixed", 2, 1);
    let (p1, p2, orig2) = start_pair(&lab, V3);
    for n in [1, 2] {
        assert!(dropped_all(&lab, n).is_empty(), "host {n}: drops before any injection: {:?}", dropped_all(&lab, n));
    }
    let inj = Injector::open(lab.client(0), "eth0");
    let stranger = ip(CLIENT_A);
    // Priority 254: were it accepted, host 1 would step down at once.
    let v2 = Ip::vrrp(stranger).wrap(&advert(VRID, 254, 1, &Auth::None, &[ip(VIP_A)]));
    const N: u64 = 300;
    for i in 0..N {
        inj.send(&v2);
        if i % 50 == 49 {
            assert!(pair_ok(&lab, &orig2), "the pair lost its state after {i} v2 adverts:\n{}", lab.snapshot());
        }
    }
    for n in [1, 2] {
        lab.wait_until(HANG, &format!("host {n} counts {N} v2_on_v3 drops"), || dropped(&lab, n, "v2_on_v3") >= N);
        let d = dropped_all(&lab, n);
        assert_eq!(d, vec![("v2_on_v3".to_string(), N)], "host {n}: exactly the v2 adverts were dropped");
    }
    assert!(pair_ok(&lab, &orig2), "v2 adverts at priority 254 moved the VIP:\n{}", lab.snapshot());

    // A flood of valid v3 adverts, priority 50, from an unknown router, interleaved with v2 adverts at
    // 254, paced at FLOOD_RATE packets/s. Unpaced (~160 000/s here), the backup's socket queue overflows,
    // the kernel drops some of the master's adverts with the flood, and at 10 ms (Master_Down_Interval
    // 36 ms) the backup then rightly takes over for a few ms: that is packet loss, not what is tested.
    let flood_n: u64 = std::env::var("VRRPD_FLOOD").ok().and_then(|v| v.parse().ok()).unwrap_or(40_000);
    let rate: u64 = std::env::var("VRRPD_FLOOD_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let low = v3_advert(ip("192.0.2.77"), VRID, 50, 1, &[ip(VIP_A)]);
    let flooder = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut sent = 0u64;
        while sent < flood_n && t0.elapsed() < Duration::from_secs(20) {
            inj.send(if sent.is_multiple_of(2) { &low } else { &v2 });
            sent += 1;
            // Pacing: at most `rate` packets per second, sent in bursts of 100.
            if sent.is_multiple_of(100) {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(ahead) = due.checked_sub(t0.elapsed()) {
                    std::thread::sleep(ahead);
                }
            }
        }
        (sent, t0.elapsed())
    });
    while !flooder.is_finished() {
        assert!(p1.is_running() && p2.is_running(), "a vrrpd died during the flood");
        assert!(pair_ok(&lab, &orig2), "the pair lost its state during the flood:\n{}", lab.snapshot());
        std::thread::sleep(POLL);
    }
    let (sent, took) = flooder.join().expect("flood thread");
    println!("flood: {sent} adverts (v3 prio 50 and v2 prio 254 alternately, paced at {rate}/s) in {took:.2?}");
    assert_eq!(sent, flood_n, "the flood was cut off by its 20 s bound");
    hold_for(Duration::from_secs(1), "host 1 MASTER, host 2 BACKUP after the flood", || pair_ok(&lab, &orig2));
    // A brief flip the 25 ms polling could miss shows in the logs.
    assert_eq!(transitions(&p1), 1, "host 1 changed state under the flood:\n{}", p1.log_text());
    assert_eq!(transitions(&p2), 0, "host 2 changed state under the flood (spurious failover):\n{}", p2.log_text());
    for n in [1, 2] {
        let c = dropped(&lab, n, "v2_on_v3");
        println!(
            "host {n}: v2_on_v3 {c} (of {} v2 adverts sent; the kernel may drop some under the flood)",
            N + sent / 2
        );
        assert!(c > N && c <= N + sent / 2, "host {n}: v2_on_v3 count {c} after the flood");
    }
}

#[test]
fn v3_adverts_on_a_v2_pair_are_counted_v3_on_v2() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("v3onv2", 2, 1);
    let (p1, p2, orig2) = start_pair(&lab, "");
    let inj = Injector::open(lab.client(0), "eth0");
    // A well-formed VRRPv3 advert at priority 254 (1 s interval): a v2 router must not take it.
    let pkt = v3_advert(ip(CLIENT_A), VRID, 254, 100, &[ip(VIP_A)]);
    const N: u64 = 200;
    for _ in 0..N {
        inj.send(&pkt);
    }
    for n in [1, 2] {
        lab.wait_until(HANG, &format!("host {n} counts {N} v3_on_v2 drops"), || dropped(&lab, n, "v3_on_v2") >= N);
        assert_eq!(dropped_all(&lab, n), vec![("v3_on_v2".to_string(), N)], "host {n}: exactly the v3 adverts");
        assert_eq!(member_json(&lab, n).get("vrrp_version").num(), 2.0, "host {n} speaks v2");
    }
    hold_for(Duration::from_secs(1), "host 1 MASTER, host 2 BACKUP", || pair_ok(&lab, &orig2));
    assert_eq!(transitions(&p1), 1, "{}", p1.log_text());
    assert_eq!(transitions(&p2), 0, "{}", p2.log_text());
}

// ---------------------------------------------------------------------------------------------
// On the wire

#[test]
fn tcpdump_decodes_our_v3_advert_with_a_good_checksum() {
    if skip_unless_root() || skip_unless_installed("tcpdump", "--version") {
        return;
    }
    let lab = Lab::new("v3dump", 2, 1);
    let cap = lab.tcpdump(0);
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 {V3} {VIP_A}"));
    lab.wait_until(HANG, "host 1, alone, owns VIP + vMAC", || {
        assert!(p1.is_running(), "vrrpd exited:\n{}", p1.log_text());
        owns_with_vmac(lab.h(1), A, VIP_A, VRID)
    });
    let want = format!("VRRPv3, Advertisement, vrid {VRID}, prio 110, intvl 1cs, length 12");
    lab.wait_until(HANG, "tcpdump shows at least 20 adverts of ours", || cap.text().matches(&want).count() >= 20);
    // A control: an advert with the v2 checksum (no pseudo-header) must be flagged bad by this tcpdump,
    // otherwise the absence of "bad" below would prove nothing.
    let inj = Injector::open(lab.client(0), "eth0");
    let wrong = Advert::v3(VRID, 50, Interval::from_centis(1), Family::V4, vec![IpAddr::V4(ip(VIP_A))]);
    inj.send(&Ip::vrrp(ip("192.0.2.77")).wrap(&wrong.encode_with(Pseudo::None)));
    lab.wait_until(HANG, "tcpdump shows the injected advert", || cap.text().contains("vrid 51, prio 50,"));
    let text = cap.stop();
    let lines: Vec<&str> = text.lines().collect();
    let ours: Vec<usize> =
        (1..lines.len()).filter(|&i| lines[i].trim_start().starts_with("192.0.2.1 > 224.0.0.18:")).collect();
    assert!(ours.len() >= 20, "adverts of ours captured:\n{text}");
    for &i in &ours {
        let (header, l) = (lines[i - 1], lines[i]);
        assert!(l.contains(&want), "tcpdump decode of our advert: {l}\nwant {want:?}");
        assert!(l.contains(&format!("addrs: {VIP_A}")), "VIP list of our advert: {l}");
        assert!(!l.to_lowercase().contains("bad"), "tcpdump flags our advert: {l}");
        assert!(header.contains("ttl 255") && header.contains("tos 0xc0"), "TTL 255 and TOS 0xc0: {header}");
        assert!(header.contains(&format!("{} > 01:00:5e:00:00:12", vmac(VRID))), "sent from the vMAC: {header}");
    }
    let control: Vec<&str> = lines.iter().copied().filter(|l| l.contains("192.0.2.77 > 224.0.0.18")).collect();
    assert_eq!(control.len(), 1, "the control advert captured once:\n{text}");
    if control[0].to_lowercase().contains("bad") {
        println!("control: tcpdump flags a v3 advert with a wrong checksum: {}", control[0].trim());
    } else {
        println!("note: this tcpdump does not verify VRRPv3 checksums: {}", control[0].trim());
    }
    // Every "bad" in the capture is the control's.
    let bad: Vec<&str> = lines.iter().copied().filter(|l| l.to_lowercase().contains("bad")).collect();
    assert!(bad.iter().all(|l| l.contains("192.0.2.77")), "tcpdump found something bad besides the control:\n{bad:?}");
}
