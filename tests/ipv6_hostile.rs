//! Hostile IPv6 LAN: a third machine (the client namespace) sends a running dual-stack VRRPv3 pair
//! malformed IPv6 adverts of higher priority (hop limit not 255, bad checksum, VRRPv2 or another
//! version over IPv6, truncated, another vrid): the master keeps both families, and each drop is
//! counted by its kind on the IPv6 side (INFO `drops6`, `atropos --json` "ipv6") and logged; a valid
//! one from the same injector takes the master down (the control).
//!
//! Packets are built by `common::inject6` (raw IPv6 socket, our own checksum). Run as root:
//! `cargo test --test ipv6_hostile -- --test-threads=1`.

mod common;

use common::inject6::*;
use common::ipv6::*;
use common::json::Json;
use common::pair::{HANG, assert_running};
use common::unicast::member_json;
use common::*;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;
use vrrpd::packet::{Advert, DropKind};
use vrrpd::profile::{Family, Interval};
use vrrpd::wire::Pseudo;

const VRID: u8 = 51;
const A: &str = "eth0";

/// The packets of one hostile kind, sent in turn: (hop limit, VRRP message).
type Sends = Vec<(u8, Vec<u8>)>;

fn vip6() -> Ipv6Addr {
    VIP6_A.parse().unwrap()
}

/// Host `n` at `prio`, dual-stack, with a debug log (other_vrid drops are logged at debug level).
fn start(lab: &Lab, n: usize, prio: u8) -> Proc {
    let rundir = lab.host(n).rundir.to_string_lossy().into_owned();
    let args = format!("--vrrp-version 3 -d 0.1 -i {A} -v {VRID} -p {prio} {VIP_A} {VIP6_A}/64");
    let mut argv = vec!["env", "VRRPD_LOG=debug", Lab::vrrpd_bin(), "-F", "-f", &rundir];
    argv.extend(args.split_whitespace());
    lab.spawn(lab.h(n), &argv, &format!("vrrpd-h{n}"))
}

/// Host 1 MASTER of both families, host 2 BACKUP holding neither.
fn pair_ok(lab: &Lab, orig2: &str) -> bool {
    owns_with_vmac(lab.h(1), A, VIP_A, VRID)
        && has_ip6(lab.h(1), A, VIP6_A)
        && released(lab.h(2), A, VIP_A, orig2)
        && !has_ip6(lab.h(2), A, VIP6_A)
}

/// Host 1 (110) then host 2 (100); returns once host 1 is the only master.
fn start_pair(lab: &Lab) -> (Proc, Proc, String) {
    add_ipv6(lab);
    let orig2 = mac(lab.h(2), A);
    let p1 = start(lab, 1, 110);
    lab.wait_until(HANG, "host 1 alone MASTER of both families", || {
        assert_running(std::slice::from_ref(&p1));
        lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER") && has_ip6(lab.h(1), A, VIP6_A)
    });
    let p2 = start(lab, 2, 100);
    lab.wait_until(HANG, "host 1 MASTER of both families, host 2 BACKUP", || {
        assert_running(&[p1.clone(), p2.clone()]);
        lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP") && pair_ok(lab, &orig2)
    });
    (p1, p2, orig2)
}

fn count(p: &Proc, what: &str) -> usize {
    p.log_text().lines().filter(|l| l.contains(what)).count()
}

/// `HH:MM:SS.mmm` at the start of a foreground log line, in ms of the day.
fn log_ms(line: &str) -> Option<u64> {
    let (hms, ms) = line.split_whitespace().next()?.split_once('.')?;
    let mut it = hms.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
}

/// The IPv6 drops logged for packets from `src` (receive::note_drop: "dropped an IPv6 packet from
/// SRC: DESCRIPTION"), by kind, with the time of each report.
fn v6_drops(log: &str, src: Ipv6Addr) -> BTreeMap<&'static str, Vec<u64>> {
    let key = format!("dropped an IPv6 packet from {src}: ");
    let mut m: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for line in log.lines() {
        let Some((_, what)) = line.split_once(&key) else { continue };
        let kind = DropKind::ALL
            .into_iter()
            .find(|k| what.starts_with(k.describe()))
            .unwrap_or_else(|| panic!("unknown drop description in {line:?}"));
        m.entry(kind.name()).or_default().push(log_ms(line).unwrap_or_else(|| panic!("no time in {line:?}")));
    }
    m
}

/// `kind:count` list of an INFO field ("" or "-" when none).
fn info_counts(info: &BTreeMap<String, String>, key: &str) -> Option<BTreeMap<String, u64>> {
    let v = info.get(key)?;
    Some(
        v.split(',')
            .filter(|kv| !kv.is_empty() && *kv != "-")
            .map(|kv| {
                let (k, n) = kv.split_once(':').unwrap_or_else(|| panic!("{key}={v}: {kv:?}"));
                (k.to_string(), n.parse().unwrap_or_else(|_| panic!("{key}={v}: {kv:?}")))
            })
            .collect(),
    )
}

/// Host `n`'s INFO answer and its IPv6 drop counts (`drops6`, required).
fn info6(lab: &Lab, n: usize) -> (BTreeMap<String, String>, BTreeMap<String, u64>) {
    let info = lab.vrrpd_info(n, A, VRID).unwrap_or_else(|| panic!("host {n}: no INFO answer"));
    let d6 = info_counts(&info, "drops6").unwrap_or_else(|| panic!("host {n}: no drops6 in INFO {info:?}"));
    (info, d6)
}

#[test]
fn v6_hostile_kinds_of_higher_priority_are_dropped_by_kind_and_the_master_keeps_both_families() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("x6hostile", 2, 1);
    let (p1, p2, orig2) = start_pair(&lab);
    let inj = Injector6::open(lab.client(0), "eth0");
    let src = inj.src;
    assert!(src.is_unicast_link_local(), "the injector sends from its link-local address: {src}");
    // Our builder and checksum agree with the daemon's encoder, byte for byte.
    let good = inj.advert(VRID, 254, 10, &[vip6()]);
    let theirs = Advert::v3(VRID, 254, Interval::from_centis(10), Family::V6, vec![vip6().into()])
        .encode_with(Pseudo::V6 { src, dst: GROUP6 });
    assert_eq!(good, theirs, "inject6's advert differs from the daemon's encoding");

    // Every packet claims priority 254 (> 110): one of them accepted takes host 1 down.
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let kinds: Vec<(DropKind, Sends)> = vec![
        (DropKind::Ttl, vec![(1, good.clone()), (64, good.clone()), (254, good.clone())]),
        (DropKind::Checksum, vec![(255, with(&|b| b[7] ^= 0x5a)), (255, with(&|b| b[18] ^= 1))]),
        (DropKind::V2OnV3, vec![(255, advert_v2(VRID, 254, 1, &[vip6()]))]),
        (
            DropKind::Version,
            vec![(
                255,
                with(&|b| {
                    b[0] = 0x41;
                    seal(src, GROUP6, b)
                }),
            )],
        ),
        (DropKind::Truncated, vec![(255, Vec::new()), (255, good[..1].to_vec()), (255, good[..7].to_vec())]),
        (DropKind::OtherVrid, vec![(255, inj.advert(VRID + 1, 254, 10, &[vip6()]))]),
    ];
    let mut sent: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, packets) in &kinds {
        // 24 packets over about a second: several of host 1's Master_Down_Intervals (0.3 s).
        for i in 0..24 {
            let (hops, pkt) = &packets[i % packets.len()];
            inj.send(*hops, pkt);
            *sent.entry(kind.name().to_string()).or_insert(0) += 1;
            std::thread::sleep(Duration::from_millis(40)); // pacing
        }
        assert!(pair_ok(&lab, &orig2), "the pair lost its state under {} packets:\n{}", kind.name(), lab.snapshot());
        for (n, p) in [(1, &p1), (2, &p2)] {
            lab.wait_until(HANG, &format!("host {n} to log a {} drop from {src}", kind.name()), || {
                v6_drops(&p.log_text(), src).contains_key(kind.name())
            });
        }
    }
    hold_for(
        Duration::from_secs(1),
        "host 1 MASTER of both families, host 2 BACKUP, after the hostile packets",
        || pair_ok(&lab, &orig2),
    );
    assert_running(&[p1.clone(), p2.clone()]);
    assert_eq!(lab.live_state(1, A, VRID, &p1).as_deref(), Some("MASTER"));
    assert_eq!(lab.live_state(2, A, VRID, &p2).as_deref(), Some("BACKUP"));
    assert_eq!(count(&p1, "MASTER -> BACKUP"), 0, "host 1 stepped down:\n{}", p1.log_text());
    assert_eq!(count(&p1, "BACKUP -> MASTER"), 1, "host 1's transitions:\n{}", p1.log_text());
    assert_eq!(count(&p2, "BACKUP -> MASTER"), 0, "host 2 became MASTER:\n{}", p2.log_text());

    let mut want: Vec<&str> = kinds.iter().map(|(k, _)| k.name()).collect();
    want.sort_unstable();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let log = p.log_text();
        let logged = v6_drops(&log, src);
        println!("host {n}: IPv6 drops logged {logged:?}; sent {sent:?}");
        assert_eq!(logged.keys().copied().collect::<Vec<_>>(), want, "host {n}'s kinds");
        // At most one report of a kind per second (20 ms allowed between the daemon's clock and the log's).
        for (k, times) in &logged {
            for w in times.windows(2) {
                assert!(w[1].saturating_sub(w[0]) >= 980, "host {n}: {k} logged twice within a second:\n{log}");
            }
        }
        assert!(!log.contains("panicked"), "host {n} panicked:\n{log}");
        // The IPv6 router's own counters (INFO drops6): exactly what was sent, kind by kind.
        let mut d6 = BTreeMap::new();
        lab.wait_until(HANG, &format!("host {n}: INFO drops6 to count every packet sent"), || {
            d6 = info6(&lab, n).1;
            sent.iter().all(|(k, v)| d6.get(k).is_some_and(|c| c >= v))
        });
        assert_eq!(d6, sent, "host {n}: drops6 in INFO differs from what was sent");
        let (info, _) = info6(&lab, n);
        // The IPv6 packets are not the IPv4 router's: its counters stay empty.
        assert_eq!(info_counts(&info, "drops"), Some(BTreeMap::new()), "host {n}: IPv4 drops {info:?}");
        // atropos --json shows the same under "ipv6".
        let j = member_json(&lab, n, A);
        let shown: BTreeMap<String, u64> = match j.get("ipv6").get("dropped") {
            Json::Obj(v) => v.iter().map(|(k, c)| (k.clone(), c.num() as u64)).collect(),
            other => panic!("host {n}: ipv6.dropped is not an object: {other:?}"),
        };
        assert_eq!(shown, sent, "host {n}: atropos --json ipv6.dropped");
        assert_eq!(j.get("dropped"), &Json::Obj(Vec::new()), "host {n}: IPv4 drops in atropos --json");
    }
}

#[test]
fn v6_valid_higher_priority_advert_from_the_injector_takes_the_master_down() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("x6control", 2, 1);
    let (p1, p2, orig2) = start_pair(&lab);
    let inj = Injector6::open(lab.client(0), "eth0");
    // Max Adver Int 1 s: the backups learn it, so that a missed poll below cannot let them take over.
    let good = inj.advert(VRID, 254, 100, &[vip6()]);
    let nobody = |lab: &Lab| {
        (1..=2).all(|n| !has_ip(lab.h(n), A, VIP_A) && !has_ip6(lab.h(n), A, VIP6_A))
            && lab.live_state(1, A, VRID, &p1).as_deref() == Some("BACKUP")
            && lab.live_state(2, A, VRID, &p2).as_deref() == Some("BACKUP")
    };
    lab.wait_until(HANG, "host 1 steps down for the injected priority-254 IPv6 advert", || {
        inj.send(255, &good);
        nobody(&lab)
    });
    hold_for(Duration::from_secs(2), "both hosts BACKUP, neither holding a VIP, while the injector advertises", || {
        inj.send(255, &good);
        nobody(&lab)
    });
    // Host 1's IPv6 router heard the injector and counted its adverts as received, not dropped.
    lab.wait_until(HANG, "host 1's INFO: the injector heard over IPv6 at priority 254", || {
        inj.send(255, &good);
        let (info, d6) = info6(&lab, 1);
        let recv6: u64 = info.get("recv6").and_then(|v| v.parse().ok()).unwrap_or(0);
        info.get("heard6") == Some(&inj.src.to_string())
            && info.get("heard6_prio").map(String::as_str) == Some("254")
            && recv6 > 0
            && d6.is_empty()
    });
    let why = format!("MASTER -> BACKUP: higher priority master {} (priority 254 > 110)", inj.src);
    assert!(p1.log_text().contains(&why), "host 1's log lacks {why:?}:\n{}", p1.log_text());
    // Silence: host 1 (the higher of the two) is MASTER of both families again.
    lab.wait_until(HANG, "host 1 MASTER of both families again after the injector fell silent", || {
        assert_running(&[p1.clone(), p2.clone()]);
        pair_ok(&lab, &orig2) && lab.live_state(1, A, VRID, &p1).as_deref() == Some("MASTER")
    });
    for (n, p) in [(1, &p1), (2, &p2)] {
        let d = v6_drops(&p.log_text(), inj.src);
        assert!(d.is_empty(), "host {n} dropped the valid IPv6 adverts: {d:?}\n{}", p.log_text());
    }
    assert_eq!(count(&p2, "BACKUP -> MASTER"), 0, "host 2 became MASTER:\n{}", p2.log_text());
}
