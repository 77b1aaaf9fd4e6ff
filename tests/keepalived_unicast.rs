//! Interoperability with keepalived 2.2.7 by unicast (`unicast_src_ip` + `unicast_peer`) on a LAN whose
//! switch drops VRRP multicast: ours higher, keepalived higher (v2, and v3 with `unicast_ttl 64`), each
//! side stopped with SIGTERM; the TTL of both sides' adverts read by tcpdump in the receiving host.
//
// Skipped with a message when not root or when keepalived, nft or tcpdump is missing.
// Run as root: `cargo test --test keepalived_unicast -- --test-threads=1`.

mod common;

use common::keepalived::assert_keepalived_accepted_everything;
use common::unicast::{drop_vrrp_multicast, member_json, multicast_dropped, peers_seen};
use common::*;
use std::fs;
use std::time::{Duration, Instant};

const VRID: u8 = 51;
const HANG: Duration = Duration::from_secs(20);
const A: &str = "eth0";

fn skip() -> bool {
    skip_unless_root()
        || skip_unless_installed("keepalived", "--version")
        || skip_unless_installed("nft", "--version")
        || skip_unless_installed("tcpdump", "--version")
}

/// keepalived in host `n`, unicast to host `peer`: VRRP `version`, advert interval `int` (its syntax),
/// `extra` inside the instance (e.g. `unicast_ttl 64`).
fn keepalived_unicast(lab: &Lab, n: usize, peer: usize, prio: u8, version: u8, int: &str, extra: &str) -> Proc {
    let base = lab.dir.join(format!("kauc-h{n}"));
    let conf = base.with_extension("conf");
    let text = format!(
        "global_defs {{\n    router_id {name}_h{n}\n    vrrp_version {version}\n    vrrp_garp_master_delay 0\n    \
         vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
         enable_script_security\n}}\n\
         vrrp_instance VI_{VRID} {{\n    state BACKUP\n    interface {A}\n    virtual_router_id {VRID}\n    \
         priority {prio}\n    advert_int {int}\n    unicast_src_ip {src}\n    unicast_peer {{\n        {dst}\n    }}\n    \
         {extra}\n    virtual_ipaddress {{\n        {VIP_A}\n    }}\n}}\n",
        name = lab.name,
        src = host_ip(n, 0),
        dst = host_ip(peer, 0),
    );
    fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
    lab.spawn_keepalived(n, &conf, &base)
}

/// Ours in host `n`, unicast to host `peer` (`-n`, which `--peer` needs), with `extra`.
fn ours(lab: &Lab, n: usize, peer: usize, prio: u8, extra: &str) -> Proc {
    lab.vrrpd(n, &format!("-n -i {A} -v {VRID} -p {prio} --peer {} {extra} {VIP_A}", host_ip(peer, 0)))
}

/// tcpdump of VRRP on eth0 of host `n` (where the unicast adverts arrive).
fn capture_in_host(lab: &Lab, n: usize) -> Proc {
    let p = lab.spawn_split(lab.h(n), &["tcpdump", "-i", A, "-vv", "-n", "-l", "-U", "proto", "112"], "tcpdump");
    lab.wait_until(HANG, "tcpdump to listen", || {
        assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
        p.err_text().contains("listening on")
    });
    p
}

/// The TTLs tcpdump printed for adverts from `src` to `dst` (`(tos 0xc0, ttl 255, …)` then
/// `src > dst: VRRPv2, …`, on one line or two).
fn ttls(text: &str, src: &str, dst: &str) -> Vec<u8> {
    let lines: Vec<&str> = text.lines().collect();
    let mut v = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(rest) = l.split("ttl ").nth(1) else { continue };
        let ttl: Option<u8> = rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|t| t.parse().ok());
        let flow = format!("{src} > {dst}: VRRPv");
        let here = l.contains(&flow) || lines.get(i + 1).is_some_and(|n| n.contains(&flow));
        if let (Some(t), true) = (ttl, here) {
            v.push(t);
        }
    }
    v
}

/// Ours (110) MASTER, keepalived (100) BACKUP by unicast; then ours stops and keepalived takes over.
#[test]
fn ours_master_keepalived_backup_by_unicast_then_ours_stops() {
    if skip() {
        return;
    }
    let lab = Lab::new("ucka1", 2, 1);
    drop_vrrp_multicast(&lab);
    let orig1 = mac(lab.h(1), A);
    let p = ours(&lab, 1, 2, 110, "");
    lab.wait_until(HANG, "ours (110), alone, owns the VIP", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        has_ip(lab.h(1), A, VIP_A) && lab.live_state(1, A, VRID, &p).as_deref() == Some("MASTER")
    });
    let cap = capture_in_host(&lab, 2);
    let k = keepalived_unicast(&lab, 2, 1, 100, 2, "1", "");
    let t0 = Instant::now();
    lab.wait_until(HANG, "keepalived (100) BACKUP without the VIP, ours MASTER", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        k.log_text().contains("Entering BACKUP STATE") && !has_ip(lab.h(2), A, VIP_A)
    });
    // keepalived must accept our unicast adverts, or it goes MASTER after its Master_Down_Interval.
    let window = (master_down_interval(100) + Duration::from_secs(2)).saturating_sub(t0.elapsed());
    hold_for(window, "keepalived stays BACKUP while ours is MASTER", || {
        has_ip(lab.h(1), A, VIP_A) && !has_ip(lab.h(2), A, VIP_A)
    });
    assert!(!k.log_text().contains("Entering MASTER STATE"), "keepalived went MASTER:\n{}", k.log_text());
    assert_keepalived_accepted_everything(&k);
    let seen = ttls(&cap.log_text(), &host_ip(1, 0), &host_ip(2, 0));
    assert!(!seen.is_empty(), "tcpdump saw none of our unicast adverts:\n{}", cap.log_text());
    assert!(seen.iter().all(|&t| t == 255), "our unicast adverts' TTLs: {seen:?}");
    assert_eq!(peers_seen(&lab, 1, A), vec![(host_ip(2, 0), None)], "keepalived as BACKUP sends nothing");

    // Ours stops (priority 0 by unicast): keepalived takes over.
    p.term();
    lab.wait_until(HANG, "keepalived owns the VIP after ours stops", || {
        assert!(k.is_running(), "keepalived exited:\n{}", k.log_text());
        has_ip(lab.h(2), A, VIP_A)
    });
    assert_eq!(p.wait_exit(HANG).code(), Some(0), "our exit status on SIGTERM:\n{}", p.log_text());
    assert!(released(lab.h(1), A, VIP_A, &orig1), "ours dropped the VIP");
    lab.wait_until(HANG, "keepalived logs its MASTER state", || k.log_text().contains("Entering MASTER STATE"));
    assert_keepalived_accepted_everything(&k);
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}

/// keepalived (110) MASTER, ours (100) BACKUP by unicast past Master_Down_Interval; then keepalived stops.
fn keepalived_master_then_stopped(tag: &str, version: u8, int: &str, ours_extra: &str, k_extra: &str, ttl: u8) {
    let lab = Lab::new(tag, 2, 1);
    drop_vrrp_multicast(&lab);
    let orig2 = mac(lab.h(2), A);
    let k = keepalived_unicast(&lab, 1, 2, 110, version, int, k_extra);
    lab.wait_until(HANG, "keepalived (110), alone, holds the VIP", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        has_ip(lab.h(1), A, VIP_A)
    });
    let cap = capture_in_host(&lab, 2);
    let p = ours(&lab, 2, 1, 100, ours_extra);
    let t0 = Instant::now();
    lab.wait_until(HANG, "ours (100) BACKUP without the VIP, keepalived keeps it", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        has_ip(lab.h(1), A, VIP_A)
            && released(lab.h(2), A, VIP_A, &orig2)
            && lab.live_state(2, A, VRID, &p).as_deref() == Some("BACKUP")
    });
    let window = (master_down_interval(100) + Duration::from_secs(2)).saturating_sub(t0.elapsed());
    hold_for(window, "ours stays BACKUP while keepalived is MASTER", || {
        has_ip(lab.h(1), A, VIP_A) && released(lab.h(2), A, VIP_A, &orig2)
    });
    assert!(!p.log_text().contains("-> MASTER"), "ours went MASTER:\n{}", p.log_text());
    let m = member_json(&lab, 2, A);
    assert_eq!(m.get("master_heard").str(), host_ip(1, 0), "ours hears keepalived: {m:?}");
    assert!(matches!(m.get("dropped"), common::json::Json::Obj(v) if v.is_empty()), "ours dropped adverts: {m:?}");
    assert_eq!(m.get("vrrp_version").num(), f64::from(version));
    let seen = peers_seen(&lab, 2, A);
    assert!(seen.len() == 1 && seen[0].0 == host_ip(1, 0) && seen[0].1.is_some(), "{seen:?}");
    // keepalived's TTL, which ours accepts on unicast whatever it is.
    let got = ttls(&cap.log_text(), &host_ip(1, 0), &host_ip(2, 0));
    assert!(!got.is_empty(), "tcpdump saw none of keepalived's unicast adverts:\n{}", cap.log_text());
    assert!(got.iter().all(|&t| t == ttl), "keepalived's unicast TTLs {got:?}, expected {ttl}");

    // keepalived stops (priority 0 by unicast): ours takes over through the resignation.
    k.term();
    lab.wait_until(HANG, "ours owns the VIP after keepalived stops", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        has_ip(lab.h(2), A, VIP_A) && lab.live_state(2, A, VRID, &p).as_deref() == Some("MASTER")
    });
    let why = lab.vrrpd_record(2, A, VRID).and_then(|r| r.get("reason").cloned()).unwrap_or_default();
    assert!(why.contains(&format!("master {} resigned", host_ip(1, 0))), "ours followed the resignation: {why:?}");
    assert_eq!(k.wait_exit(HANG).code(), Some(0), "keepalived's exit status:\n{}", k.log_text());
    assert!(!has_ip(lab.h(1), A, VIP_A), "keepalived released the VIP");
    assert_keepalived_accepted_everything(&k);
    assert_eq!(multicast_dropped(&lab), 0, "a unicast router sent a multicast advert");
}

#[test]
fn keepalived_master_ours_backup_by_unicast_v2_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("ucka2", 2, "1", "", "", 255);
}

#[test]
fn keepalived_v3_master_with_unicast_ttl_64_ours_backup_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("ucka3", 3, "0.1", "--vrrp-version 3 -d 0.1", "unicast_ttl 64", 64);
}
