//! Interoperability with keepalived 2.2.7 by unicast over both families (VRRPv3, 0.1 s) on a LAN whose
//! switch drops VRRP multicast of both families: ours higher then SIGKILLed, keepalived higher then stopped.
//
// keepalived: instances VI_4 (VIP_A/24, `unicast_src_ip` + `unicast_peer` IPv4) and VI_6 (VIP6_A/64,
// `unicast_src_ip` + `unicast_peer` IPv6) of VRID 51 in one sync group. Ours: one dual-stack election with
// `--peer` keepalived's IPv4 address and `--peer` keepalived's IPv6 source (ours accepts listed peers only).
// The IPv6 addresses of both sides are either the global ones (ours with `--src`) or the link-local ones
// (ours' default source): keepalived 2.2.7 accepts either as `unicast_src_ip` and sends from it (its
// sockpool line names it). keepalived checks no hop limit on unicast and sends IPv6 unicast with 64; ours
// sends 255: both read by tcpdump in the receiving host.
// Skipped with a message when not root or when keepalived, nft or tcpdump is missing.
// Run as root: `cargo test --test keepalived_unicast6 -- --test-threads=1`.

mod common;

use common::ipv6::*;
use common::json::Json;
use common::keepalived::{assert_keepalived_accepted_everything, dual_stack_conf};
use common::unicast::*;
use common::*;
use std::fs;
use std::time::{Duration, Instant};

const VRID: u8 = 51;
const HANG: Duration = Duration::from_secs(20);
const A: &str = "eth0";
/// Well past the Master_Down_Interval of a backup at 100 with 0.1 s adverts (0.36 s).
const HOLD: Duration = Duration::from_millis(2500);

fn skip() -> bool {
    skip_unless_root()
        || skip_unless_installed("keepalived", "--version")
        || skip_unless_installed("nft", "--version")
        || skip_unless_installed("tcpdump", "--version")
}

/// Which IPv6 address each side sends from and names as its peer's.
#[derive(Clone, Copy, Debug)]
enum Src6 {
    Global,
    LinkLocal,
}

impl Src6 {
    /// Host `n`'s IPv6 unicast address of this kind.
    fn of(self, lab: &Lab, n: usize) -> String {
        match self {
            Src6::Global => host_ip6(n, 0),
            Src6::LinkLocal => link_local(lab.h(n), A),
        }
    }
}

/// Two hosts on one LAN with IPv6, VRRP multicast of both families dropped by the switch.
fn unicast_lab(tag: &str) -> Lab {
    let lab = Lab::new(tag, 2, 1);
    add_ipv6(&lab);
    drop_vrrp_multicast(&lab);
    drop_vrrp6_multicast(&lab);
    lab
}

/// keepalived in host `n`, priority `prio`, VI_4 and VI_6 unicast to host `peer`.
fn keepalived(lab: &Lab, n: usize, peer: usize, prio: u8, src6: Src6) -> Proc {
    let base = lab.dir.join(format!("ku6-h{n}"));
    let conf = base.with_extension("conf");
    let instance = |name: &str, src: String, dst: String, vip: String| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface {A}\n    virtual_router_id {VRID}\n    \
             priority {prio}\n    advert_int 0.1\n    unicast_src_ip {src}\n    unicast_peer {{\n        {dst}\n    \
             }}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    let text = dual_stack_conf(
        &lab.name,
        n,
        VRID,
        &instance("VI_4", host_ip(n, 0), host_ip(peer, 0), format!("{VIP_A}/24")),
        &instance("VI_6", src6.of(lab, n), src6.of(lab, peer), format!("{VIP6_A}/64")),
    );
    fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
    lab.spawn_keepalived(n, &conf, &base)
}

/// Ours in host `n`, priority `prio`, unicast to host `peer` over both families.
fn ours(lab: &Lab, n: usize, peer: usize, prio: u8, src6: Src6) -> Proc {
    let src = match src6 {
        Src6::Global => format!(" --src {}", host_ip6(n, 0)),
        Src6::LinkLocal => String::new(),
    };
    let peers = format!("--peer {} --peer {}{src}", host_ip(peer, 0), src6.of(lab, peer));
    lab.vrrpd(n, &format!("--vrrp-version 3 -d 0.1 -n -i {A} -v {VRID} -p {prio} {peers} {VIP_A} {VIP6_A}/64"))
}

fn holds_both(lab: &Lab, n: usize) -> bool {
    has_ip(lab.h(n), A, VIP_A) && has_ip6(lab.h(n), A, VIP6_A)
}

fn holds_none(lab: &Lab, n: usize) -> bool {
    !has_ip(lab.h(n), A, VIP_A) && !has_ip6(lab.h(n), A, VIP6_A)
}

/// keepalived's log says both instances entered `state` ("BACKUP", "MASTER") at least once.
fn both_entered(k: &Proc, state: &str) -> bool {
    let log = k.log_text();
    ["VI_4", "VI_6"].iter().all(|i| log.contains(&format!("({i}) Entering {state} STATE")))
}

/// keepalived rejected nothing, nor complained of a multicast advert where it expects unicast (or of
/// an unexpected address count).
fn assert_keepalived_quiet(k: &Proc) {
    assert_keepalived_accepted_everything(k);
    let log = k.log_text().to_lowercase();
    let hits: Vec<&str> = log.lines().filter(|l| l.contains("expected")).collect();
    assert!(hits.is_empty(), "keepalived complained:\n{}", hits.join("\n"));
}

/// Ours dropped nothing on either family (atropos --json "dropped" and "ipv6.dropped", no log line).
fn assert_ours_dropped_nothing(lab: &Lab, n: usize, p: &Proc) {
    let m = member_json(lab, n, A);
    assert_eq!(m.get("dropped"), &Json::Obj(vec![]), "ours dropped IPv4 adverts: {m:?}");
    assert_eq!(m.get("ipv6").get("dropped"), &Json::Obj(vec![]), "ours dropped IPv6 adverts: {m:?}");
    let log = p.log_text();
    let hits: Vec<&str> = log.lines().filter(|l| l.contains("dropped")).collect();
    assert!(hits.is_empty(), "ours dropped packets:\n{}", hits.join("\n"));
}

/// tcpdump of IPv6 VRRP on eth0 of host `n` (where the unicast adverts arrive), once it listens.
fn capture6_in_host(lab: &Lab, n: usize) -> Proc {
    let argv = ["tcpdump", "-i", A, "-vv", "-n", "-l", "-U", "ip6", "proto", "112"];
    let p = lab.spawn_split(lab.h(n), &argv, "tcpdump6");
    lab.wait_until(HANG, "tcpdump to listen", || {
        assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
        p.err_text().contains("listening on")
    });
    p
}

/// The hop limits tcpdump printed for IPv6 adverts from `src` to `dst` (`(class 0xc0, hlim 255, …)`
/// then `src > dst: VRRPv3, …`, on one line or two).
fn hop_limits(text: &str, src: &str, dst: &str) -> Vec<u8> {
    let lines: Vec<&str> = text.lines().collect();
    let flow = format!("{src} > {dst}: VRRPv3");
    let mut v = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(rest) = l.split("hlim ").nth(1) else { continue };
        let hlim: Option<u8> = rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|t| t.parse().ok());
        let here = l.contains(&flow) || lines.get(i + 1).is_some_and(|n| n.contains(&flow));
        if let (Some(h), true) = (hlim, here) {
            v.push(h);
        }
    }
    v
}

/// Ours (110, host 1) MASTER of both families, keepalived (100, host 2) BACKUP in VI_4 and VI_6 holding
/// neither VIP; then ours is SIGKILLed and keepalived takes both VIPs.
fn ours_master_then_killed(tag: &str, src6: Src6) {
    let lab = unicast_lab(tag);
    let p = ours(&lab, 1, 2, 110, src6);
    lab.wait_until(HANG, "ours (110), alone, MASTER of both families", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        holds_both(&lab, 1) && lab.live_state(1, A, VRID, &p).as_deref() == Some("MASTER")
    });
    let cap = capture6_in_host(&lab, 2);
    let k = keepalived(&lab, 2, 1, 100, src6);
    let t0 = Instant::now();
    lab.wait_until(HANG, "keepalived (100) BACKUP in VI_4 and VI_6 without the VIPs", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        both_entered(&k, "BACKUP") && holds_none(&lab, 2)
    });
    // VI_6 hears only our IPv6 unicast adverts: had it missed them, the sync group would take VI_4 along.
    hold_for(HOLD.saturating_sub(t0.elapsed()), &format!("keepalived stays BACKUP ({src6:?})"), || {
        holds_both(&lab, 1) && holds_none(&lab, 2)
    });
    assert!(!k.log_text().contains("Entering MASTER STATE"), "keepalived went MASTER:\n{}", k.log_text());
    assert_eq!(lab.live_state(1, A, VRID, &p).as_deref(), Some("MASTER"), "ours is still MASTER");
    assert_keepalived_quiet(&k);
    assert_ours_dropped_nothing(&lab, 1, &p);
    let m = member_json(&lab, 1, A);
    let v6 = m.get("ipv6");
    assert_eq!(v6.get("source").str(), src6.of(&lab, 1), "our IPv6 source: {m:?}");
    assert!(v6.get("adverts_sent").num() > 0.0, "ours sent IPv6 adverts: {m:?}");
    let want = vec![(host_ip(2, 0), None), (src6.of(&lab, 2), None)];
    assert_eq!(peers_seen(&lab, 1, A), want, "keepalived as BACKUP sends nothing");
    let hl = hop_limits(&cap.log_text(), &src6.of(&lab, 1), &src6.of(&lab, 2));
    assert!(!hl.is_empty(), "tcpdump saw none of our IPv6 unicast adverts:\n{}", cap.log_text());
    assert!(hl.iter().all(|&h| h == 255), "our IPv6 unicast hop limits: {hl:?}");
    assert_eq!((multicast_dropped(&lab), multicast6_dropped(&lab)), (0, 0), "a unicast router multicast");

    // Ours dies without a word: keepalived takes both families after its Master_Down_Interval.
    p.kill9();
    lab.wait_until(HANG, "keepalived holds both VIPs after ours' SIGKILL", || {
        assert!(k.is_running(), "keepalived exited:\n{}", k.log_text());
        holds_both(&lab, 2) && both_entered(&k, "MASTER")
    });
    assert_keepalived_quiet(&k);
    assert_eq!((multicast_dropped(&lab), multicast6_dropped(&lab)), (0, 0), "keepalived multicast");
}

/// keepalived (110, host 1) MASTER of both instances, ours (100, host 2) BACKUP holding neither VIP and
/// hearing both of keepalived's sources; then keepalived stops (priority 0) and ours takes both families.
fn keepalived_master_then_stopped(tag: &str, src6: Src6) {
    let lab = unicast_lab(tag);
    let k = keepalived(&lab, 1, 2, 110, src6);
    lab.wait_until(HANG, "keepalived (110), alone, MASTER of VI_4 and VI_6 with both VIPs", || {
        assert!(k.is_running(), "keepalived exited early:\n{}", k.log_text());
        both_entered(&k, "MASTER") && holds_both(&lab, 1)
    });
    // keepalived's sockpool line names the source it sends from.
    let sock6 = format!("unicast, address({})", src6.of(&lab, 1));
    let klog = k.log_text();
    assert!(klog.lines().any(|l| l.contains("family(IPv6)") && l.contains(&sock6)), "keepalived's source:\n{klog}");
    let backups = k.log_text().matches("Entering BACKUP STATE").count();
    let cap = capture6_in_host(&lab, 2);
    let p = ours(&lab, 2, 1, 100, src6);
    let t0 = Instant::now();
    let (k4, k6) = (host_ip(1, 0), src6.of(&lab, 1));
    lab.wait_until(HANG, "ours (100) BACKUP holding neither VIP, hearing both peers", || {
        assert!(p.is_running(), "vrrpd exited early:\n{}", p.log_text());
        lab.live_state(2, A, VRID, &p).as_deref() == Some("BACKUP")
            && holds_both(&lab, 1)
            && holds_none(&lab, 2)
            && peers_seen(&lab, 2, A).iter().filter(|(_, ago)| ago.is_some()).count() == 2
    });
    hold_for(HOLD.saturating_sub(t0.elapsed()), &format!("ours stays BACKUP ({src6:?})"), || {
        holds_both(&lab, 1) && holds_none(&lab, 2)
    });
    assert!(!p.log_text().contains("-> MASTER"), "ours went MASTER:\n{}", p.log_text());
    let now = k.log_text().matches("Entering BACKUP STATE").count();
    assert_eq!(now, backups, "keepalived left MASTER:\n{}", k.log_text());
    let seen = peers_seen(&lab, 2, A);
    let addrs: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(addrs, [k4.as_str(), k6.as_str()], "ours' peers: {seen:?}");
    assert!(seen.iter().all(|(_, ago)| ago.is_some()), "ours heard both of keepalived's sources: {seen:?}");
    let m = member_json(&lab, 2, A);
    assert_eq!(m.get("master_heard").str(), k4, "ours hears keepalived's VI_4: {m:?}");
    let v6 = m.get("ipv6");
    assert_eq!(v6.get("master_heard").str(), k6, "ours hears keepalived's VI_6 from its source: {m:?}");
    assert_eq!(v6.get("master_heard_priority").num(), 110.0, "{m:?}");
    assert!(v6.get("adverts_received").num() > 0.0, "{m:?}");
    assert_ours_dropped_nothing(&lab, 2, &p);
    assert_keepalived_quiet(&k);
    // keepalived sets no hop limit on IPv6 unicast (the kernel's default, 64), which ours accepts.
    let hl = hop_limits(&cap.log_text(), &k6, &src6.of(&lab, 2));
    assert!(!hl.is_empty(), "tcpdump saw none of keepalived's IPv6 unicast adverts:\n{}", cap.log_text());
    assert!(hl.iter().all(|&h| h == 64), "keepalived's IPv6 unicast hop limits: {hl:?}");

    // keepalived stops: its priority-0 adverts hand both families over.
    k.term();
    lab.wait_until(HANG, "ours MASTER of both families after keepalived stops", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        holds_both(&lab, 2) && lab.live_state(2, A, VRID, &p).as_deref() == Some("MASTER")
    });
    let why = lab.vrrpd_record(2, A, VRID).and_then(|r| r.get("reason").cloned()).unwrap_or_default();
    let resigned = [&k4, &k6].iter().any(|a| why.contains(&format!("master {a} resigned")));
    assert!(resigned, "ours followed keepalived's priority-0 advert: {why:?}");
    assert_eq!(k.wait_exit(HANG).code(), Some(0), "keepalived's exit status:\n{}", k.log_text());
    assert!(holds_none(&lab, 1), "keepalived released both VIPs");
    assert_keepalived_quiet(&k);
    assert_ours_dropped_nothing(&lab, 2, &p);
    assert_eq!((multicast_dropped(&lab), multicast6_dropped(&lab)), (0, 0), "a unicast router multicast");
}

#[test]
fn global_sources_ours_master_keepalived_backup_then_ours_killed() {
    if skip() {
        return;
    }
    ours_master_then_killed("ku6og", Src6::Global);
}

#[test]
fn global_sources_keepalived_master_ours_backup_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("ku6kg", Src6::Global);
}

#[test]
fn link_local_sources_ours_master_keepalived_backup_then_ours_killed() {
    if skip() {
        return;
    }
    ours_master_then_killed("ku6ol", Src6::LinkLocal);
}

#[test]
fn link_local_sources_keepalived_master_ours_backup_then_keepalived_stops() {
    if skip() {
        return;
    }
    keepalived_master_then_stopped("ku6kl", Src6::LinkLocal);
}
