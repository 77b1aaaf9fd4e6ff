//! Hostile LAN: a third machine (the client namespace) sends the running pair everything a broken or
//! malicious host could: every malformed kind of advert, spoofed sources, foreign configurations, and a
//! flood of valid lower-priority adverts. The pair must keep its roles and addresses, keep advertising
//! on time, count every drop by kind (shown by `atropos --state`, text and JSON) and log each kind at
//! most once per second.
//!
//! Packets are built by `common::inject` (raw IPv4 with our own header, sent from inside the client
//! namespace). Run as root: `cargo build --workspace && cargo test --test hostile -- --test-threads=2`.
//! `VRRPD_FLOOD` sets the flood size (default 100000).

mod common;

use common::inject::{Injector, Ip, advert, fix_checksum};
use common::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use vrrpd::packet::{Auth, DropKind};

const VRID: u8 = 51;
const HANG: Duration = Duration::from_secs(15);
const A: &str = "eth0";
/// The flood may not last longer than this.
const FLOOD_BOUND: Duration = Duration::from_secs(20);
/// Largest gap allowed between two adverts of the master during the flood.
const MAX_ADVERT_GAP: f64 = 1.5;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn vip_a() -> Ipv4Addr {
    ip(VIP_A)
}

// ---------------------------------------------------------------------------------------------
// atropos

fn parse_drops(s: &str) -> BTreeMap<String, u64> {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return BTreeMap::new();
    }
    s.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once(':').unwrap_or_else(|| panic!("DROPPED cell {s:?}: {kv:?} is not kind:count"));
            (k.trim().trim_matches('"').to_string(), v.trim().parse().unwrap_or_else(|_| panic!("count in {kv:?}")))
        })
        .collect()
}

/// The DROPPED column of `ifname`'s row in the text table of `atropos --state`.
fn dropped_from_table(out: &str, ifname: &str) -> BTreeMap<String, u64> {
    let header = out.lines().find(|l| l.starts_with("IFACE")).unwrap_or_else(|| panic!("no table header:\n{out}"));
    let col = |name: &str| -> usize {
        let byte = header.find(name).unwrap_or_else(|| panic!("no {name} column in {header:?}"));
        header[..byte].chars().count()
    };
    let (from, to) = (col("DROPPED"), col("REASON"));
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(ifname))
        .unwrap_or_else(|| panic!("no row for {ifname}:\n{out}"));
    let cell: String = row.chars().skip(from).take(to - from).collect();
    parse_drops(&cell)
}

/// The `"dropped"` object of the only member of `atropos --state --json`.
fn dropped_from_json(out: &str) -> BTreeMap<String, u64> {
    let key = "\"dropped\":{";
    assert_eq!(out.matches(key).count(), 1, "exactly one member with a \"dropped\" object expected:\n{out}");
    let start = out.find(key).unwrap() + key.len();
    let end = start + out[start..].find('}').expect("end of the dropped object");
    parse_drops(&out[start..end])
}

/// Drop counters of host `n`, read both ways; they must agree.
fn drops_of(lab: &Lab, n: usize) -> BTreeMap<String, u64> {
    let rundir = &lab.host(n).rundir;
    let (_, json) = atropos_run(rundir, &["--state", "--json"]);
    let (_, text) = atropos_run(rundir, &["--state"]);
    let j = dropped_from_json(&json);
    let t = dropped_from_table(&text, A);
    assert_eq!(j, t, "host {n}: --json and the text table disagree\n{json}\n{text}");
    j
}

/// `"adverts_received":N` of the only member.
fn received_of(lab: &Lab, n: usize) -> u64 {
    let (_, json) = atropos_run(&lab.host(n).rundir, &["--state", "--json"]);
    let key = "\"adverts_received\":";
    let i = json.find(key).unwrap_or_else(|| panic!("no {key} in {json}")) + key.len();
    json[i..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The daemon's log

/// `HH:MM:SS.mmm` at the start of a foreground log line, in ms of the day.
fn log_ms(line: &str) -> Option<u64> {
    let t = line.split_whitespace().next()?;
    let (hms, ms) = t.split_once('.')?;
    let mut it = hms.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
}

/// Drop reports of one kind in a log: (time in ms, "N more" count).
fn drop_reports(log: &str, kind: DropKind) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    for line in log.lines() {
        let Some((_, rest)) = line.split_once("dropped a packet from ") else { continue };
        let Some((_, what)) = rest.split_once(": ") else { continue };
        if !what.starts_with(kind.describe()) {
            continue;
        }
        let t = log_ms(line).unwrap_or_else(|| panic!("no timestamp in {line:?}"));
        let more = what
            .split_once(" (")
            .and_then(|(_, m)| m.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        v.push((t, more));
    }
    v
}

/// Every kind is logged at most once per second: no two reports of a kind within one second (20 ms
/// allowed for the distance between the daemon's clock reading and the log's), and the reports never
/// claim more drops than were counted.
fn check_drop_log(who: &str, log: &str, counted: &BTreeMap<String, u64>, must_log: &[DropKind]) {
    for kind in DropKind::ALL {
        let reports = drop_reports(log, kind);
        let count = counted.get(kind.name()).copied().unwrap_or(0);
        let windows: BTreeMap<u64, usize> = reports.iter().fold(BTreeMap::new(), |mut m, (t, _)| {
            *m.entry(t / 1000).or_insert(0) += 1;
            m
        });
        let busiest = windows.values().max().copied().unwrap_or(0);
        if !reports.is_empty() || count > 0 {
            println!(
                "{who}: {:<15} counted {count:>6}, {} log line(s), at most {busiest} in one second",
                kind.name(),
                reports.len()
            );
        }
        for w in reports.windows(2) {
            let gap = w[1].0.saturating_sub(w[0].0);
            assert!(gap >= 980, "{who}: kind {} logged twice within {gap} ms:\n{}", kind.name(), grep(log, kind));
        }
        assert!(busiest <= 1, "{who}: kind {} logged {busiest} times in one second", kind.name());
        let claimed: u64 = reports.iter().map(|(_, m)| 1 + m).sum();
        assert!(claimed <= count, "{who}: the log reports {claimed} drops of {} but {count} were counted", kind.name());
        if must_log.contains(&kind) {
            assert!(!reports.is_empty(), "{who}: {count} drops of kind {} but no log line", kind.name());
        }
    }
}

fn grep(log: &str, kind: DropKind) -> String {
    log.lines().filter(|l| l.contains(kind.describe())).collect::<Vec<_>>().join("\n")
}

fn assert_no_panic(who: &str, p: &Proc) {
    let log = p.log_text();
    assert!(!log.contains("panicked"), "{who} panicked:\n{log}");
}

// ---------------------------------------------------------------------------------------------
// The pair

/// Starts host 1 (110) and host 2 (100, debug log so that other_vrid reports show) with `extra`
/// options; returns once host 1 is the only master.
fn start_pair(lab: &Lab, extra: &str) -> (Proc, Proc, String) {
    let orig2 = mac(lab.h(2), A);
    let argv = |n: usize, prio: u8| -> Vec<String> {
        let mut v: Vec<String> = vec!["env".into()];
        if n == 2 {
            v.push("VRRPD_LOG=debug".into());
        }
        v.push(Lab::vrrpd_bin().into());
        v.extend(["-F".into(), "-f".into(), lab.host(n).rundir.to_string_lossy().into_owned()]);
        v.extend(format!("-i {A} -v {VRID} -p {prio} {extra} {VIP_A}").split_whitespace().map(String::from));
        v
    };
    let spawn = |n: usize, prio: u8| {
        let a = argv(n, prio);
        lab.spawn(lab.h(n), &a.iter().map(String::as_str).collect::<Vec<_>>(), &format!("vrrpd-h{n}"))
    };
    let p1 = spawn(1, 110);
    let p2 = spawn(2, 100);
    lab.wait_until(HANG, "host 1 (110) MASTER with VIP + vMAC, host 2 (100) BACKUP without", || {
        assert!(p1.is_running() && p2.is_running(), "a vrrpd exited early");
        pair_ok(lab, &orig2)
            && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
            && lab.vrrpd_state(2, A).as_deref() == Some("BACKUP")
    });
    (p1, p2, orig2)
}

fn pair_ok(lab: &Lab, orig2: &str) -> bool {
    owns_with_vmac(lab.h(1), A, VIP_A, VRID) && released(lab.h(2), A, VIP_A, orig2)
}

fn assert_pair_kept(lab: &Lab, p1: &Proc, p2: &Proc, orig2: &str) {
    assert!(p1.is_running(), "host 1's vrrpd died:\n{}", p1.log_text());
    assert!(p2.is_running(), "host 2's vrrpd died:\n{}", p2.log_text());
    assert!(pair_ok(lab, orig2), "the pair lost its state:\n{}", lab.snapshot());
    assert_eq!(lab.vrrpd_state(1, A).as_deref(), Some("MASTER"));
    assert_eq!(lab.vrrpd_state(2, A).as_deref(), Some("BACKUP"));
    for n in [1, 2] {
        let (_, text) = atropos_run(&lab.host(n).rundir, &["--state"]);
        let want = if n == 1 { "MASTER" } else { "BACKUP" };
        assert!(text.contains(&format!("host is {want}")), "host {n}: atropos --state:\n{text}");
    }
    // Neither host saw a transition after the start.
    for (n, p) in [(1, p1), (2, p2)] {
        let log = p.log_text();
        let transitions =
            log.lines().filter(|l| l.contains("MASTER -> BACKUP") || l.contains("BACKUP -> MASTER")).count();
        let expected = if n == 1 { 1 } else { 0 };
        assert_eq!(transitions, expected, "host {n} changed state under hostile traffic:\n{log}");
    }
}

/// One kind of hostile packet: how to build it and which hosts must count it.
struct Hostile {
    kind: DropKind,
    /// Variants sent in turn.
    packets: Vec<Vec<u8>>,
    /// Host numbers that must drop it as `kind`.
    seen_by: Vec<usize>,
}

/// Sends every kind `rounds × per_round` times, round-robin, pacing each round; checks the pair
/// between rounds. Returns the expected drop counts per host.
fn inject_all(
    lab: &Lab,
    inj: &Injector,
    kinds: &[Hostile],
    rounds: usize,
    per_round: usize,
    orig2: &str,
) -> [BTreeMap<String, u64>; 2] {
    let mut expected: [BTreeMap<String, u64>; 2] = Default::default();
    for r in 0..rounds {
        for k in kinds {
            for i in 0..per_round {
                inj.send(&k.packets[(r * per_round + i) % k.packets.len()]);
                for &n in &k.seen_by {
                    *expected[n - 1].entry(k.kind.name().to_string()).or_insert(0) += 1;
                }
            }
        }
        if r % 5 == 4 {
            assert!(pair_ok(lab, orig2), "the pair lost its state in round {r}:\n{}", lab.snapshot());
        }
        std::thread::sleep(Duration::from_millis(50)); // pacing
    }
    expected
}

/// Waits until every host's counters reach the expected values, then requires them equal.
fn expect_drops(lab: &Lab, before: &[BTreeMap<String, u64>; 2], sent: &[BTreeMap<String, u64>; 2]) {
    for n in [1, 2] {
        let mut want = before[n - 1].clone();
        for (k, v) in &sent[n - 1] {
            *want.entry(k.clone()).or_insert(0) += v;
        }
        let mut got = BTreeMap::new();
        let reached = Instant::now();
        while reached.elapsed() < HANG {
            got = drops_of(lab, n);
            if want.iter().all(|(k, v)| got.get(k).copied().unwrap_or(0) >= *v) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(got, want, "host {n}: drop counters (atropos) differ from what was sent");
        println!("host {n}: dropped {got:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn malformed_and_foreign_adverts_are_dropped_counted_and_logged_then_a_flood_changes_nothing() {
    if skip_unless_root() || skip_unless_installed("tcpdump", "--version") {
        return;
    }
    let lab = Lab::new("hostile", 2, 1);
    // The kernel drops a packet whose source is one of the receiver's own addresses (martian) unless
    // accept_local is set; set it so that the daemon's own-address check is what is tested.
    for n in [1, 2] {
        exec(lab.h(n), "sysctl -q -w net.ipv4.conf.all.accept_local=1 net.ipv4.conf.eth0.accept_local=1");
    }
    let (p1, p2, orig2) = start_pair(&lab, "");
    let before = [drops_of(&lab, 1), drops_of(&lab, 2)];
    assert!(before.iter().all(|m| m.is_empty()), "drops before any injection: {before:?}");

    let inj = Injector::open(lab.client(0), "eth0");
    let stranger = ip(CLIENT_A);
    let good = |prio: u8| advert(VRID, prio, 1, &Auth::None, &[vip_a()]);
    let from = |src: Ipv4Addr, vrrp: &[u8]| Ip::vrrp(src).wrap(vrrp);
    // Structurally broken adverts claim priority 254: any of them accepted would take the master down.
    let mutated = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good(254);
        f(&mut b);
        from(stranger, &b)
    };
    let both = vec![1, 2];
    let kinds = vec![
        Hostile {
            kind: DropKind::Ttl,
            packets: [254u8, 1, 64, 0].iter().map(|&t| Ip::vrrp(stranger).ttl(t).wrap(&good(254))).collect(),
            seen_by: both.clone(),
        },
        Hostile { kind: DropKind::Checksum, packets: vec![mutated(&|b| b[7] ^= 0x5a)], seen_by: both.clone() },
        Hostile {
            kind: DropKind::Version,
            packets: vec![mutated(&|b| {
                b[0] = 0xf1;
                fix_checksum(b)
            })],
            seen_by: both.clone(),
        },
        // A VRRPv3 header on a v2 router: its own kind (RFC 5798 §8.4 mixed-version LANs).
        Hostile {
            kind: DropKind::V3OnV2,
            packets: vec![mutated(&|b| {
                b[0] = 0x31;
                fix_checksum(b)
            })],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::Type,
            packets: vec![
                mutated(&|b| {
                    b[0] = 0x22;
                    fix_checksum(b)
                }),
                mutated(&|b| {
                    b[0] = 0x2f;
                    fix_checksum(b)
                }),
            ],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::Truncated,
            packets: vec![from(stranger, &good(254)[..6]), from(stranger, &[]), from(stranger, &good(254)[..1])],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::TrailingBytes,
            packets: vec![
                mutated(&|b| b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef])),
                mutated(&|b| b.extend(std::iter::repeat_n(0x41, 1200))),
                mutated(&|b| {
                    b.push(0);
                    fix_checksum(b)
                }),
            ],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::CountMismatch,
            packets: vec![
                mutated(&|b| {
                    b[3] = 3;
                    fix_checksum(b)
                }),
                mutated(&|b| {
                    b[3] = 255;
                    fix_checksum(b)
                }),
                from(stranger, &good(254)[..19]),
            ],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::AuthType,
            packets: vec![from(stranger, &advert(VRID, 254, 1, &Auth::password(b"secret").unwrap(), &[vip_a()]))],
            seen_by: both.clone(),
        },
        // Interval 0 is never valid; another interval than ours is accepted (it counts for the election,
        // see tests/compat/split_brain.rs), and dropped only with --strict-interval.
        Hostile {
            kind: DropKind::Interval,
            packets: vec![
                from(stranger, &advert(VRID, 254, 0, &Auth::None, &[vip_a()])),
                from(stranger, &advert(VRID, 50, 0, &Auth::None, &[vip_a()])),
            ],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::OtherVrid,
            packets: vec![from(stranger, &advert(VRID + 1, 254, 1, &Auth::None, &[vip_a()]))],
            seen_by: both.clone(),
        },
        Hostile {
            kind: DropKind::AddrList,
            packets: vec![
                from(stranger, &advert(VRID, 254, 1, &Auth::None, &[ip("192.0.2.201")])),
                from(stranger, &advert(VRID, 254, 1, &Auth::None, &[vip_a(), ip("192.0.2.201")])),
                from(stranger, &advert(VRID, 254, 1, &Auth::None, &[])),
            ],
            seen_by: both.clone(),
        },
        // Host 1's own address, priority 254: host 1 must drop it (else it would step down); host 2
        // takes it for its master's advert, which is harmless.
        Hostile { kind: DropKind::OwnAddress, packets: vec![from(ip(&host_ip(1, 0)), &good(254))], seen_by: vec![1] },
        // Host 2's own address, priority 100 (a higher one would legitimately demote host 1).
        Hostile { kind: DropKind::OwnAddress, packets: vec![from(ip(&host_ip(2, 0)), &good(100))], seen_by: vec![2] },
    ];
    let t0 = Instant::now();
    let sent = inject_all(&lab, &inj, &kinds, 40, 3, &orig2);
    println!("injected {} kinds x 120 packets in {:?}", kinds.len(), t0.elapsed());
    expect_drops(&lab, &before, &sent);
    hold_for(Duration::from_secs(1), "host 1 master, host 2 backup after the hostile packets", || {
        pair_ok(&lab, &orig2)
    });
    assert_pair_kept(&lab, &p1, &p2, &orig2);
    let after_kinds = [drops_of(&lab, 1), drops_of(&lab, 2)];

    // ----- flood: valid adverts, priority 50, from an unknown router -----
    let flood_n: u64 = std::env::var("VRRPD_FLOOD").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let h1_addr = host_ip(1, 0);
    let cap = Capture {
        proc: lab.spawn_split(
            lab.client(0),
            &[
                "tcpdump", "-i", "eth0", "-n", "-tt", "-l", "-U", "-B", "4096", "proto", "112", "and", "src", "host",
                &h1_addr,
            ],
            "tcpdump-h1-adverts",
        ),
    };
    lab.wait_until(Duration::from_secs(10), "tcpdump to listen", || {
        assert!(cap.proc.is_running(), "tcpdump exited: {}", cap.proc.err_text());
        cap.proc.err_text().contains("listening on")
    });
    let recv_before = [received_of(&lab, 1), received_of(&lab, 2)];
    // An advert of host 1 captured before the flood starts, to measure the first gap from.
    lab.wait_until(HANG, "tcpdump to show an advert of host 1", || cap.proc.log_text().contains("VRRP"));
    let wall = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let flood_wall_start = wall();
    let pkt = Ip::vrrp(ip("192.0.2.77")).wrap(&good(50));
    let flooder = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut sent = 0u64;
        while sent < flood_n && t0.elapsed() < FLOOD_BOUND {
            inj.send(&pkt);
            sent += 1;
        }
        (sent, t0.elapsed())
    });
    let t_flood = Instant::now();
    let mut polls = 0;
    while !flooder.is_finished() {
        assert!(p1.is_running() && p2.is_running(), "a vrrpd died during the flood");
        assert!(
            pair_ok(&lab, &orig2),
            "the pair lost its state {:?} into the flood:\n{}",
            t_flood.elapsed(),
            lab.snapshot()
        );
        polls += 1;
        std::thread::sleep(POLL);
    }
    let (flooded, took) = flooder.join().expect("flood thread");
    let flood_wall_end = wall();
    println!(
        "flood: {flooded} adverts (priority 50, from 192.0.2.77) in {took:.2?} = {:.0}/s; VIP ownership polled {polls} times",
        flooded as f64 / took.as_secs_f64()
    );
    assert_eq!(flooded, flood_n, "the flood was cut off by its {FLOOD_BOUND:?} bound");
    // Keep watching a little after the flood: a starved daemon shows up here too.
    hold_for(Duration::from_secs(3), "host 1 master, host 2 backup after the flood", || pair_ok(&lab, &orig2));
    let text = cap.stop();
    let times: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("VRRP") && l.contains(&format!("vrid {VRID}")))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    // The adverts from the last one before the flood to the first one after it.
    let first = times.iter().rposition(|t| *t <= flood_wall_start).unwrap_or(0);
    let last = times.iter().position(|t| *t >= flood_wall_end).unwrap_or(times.len().saturating_sub(1));
    let during = &times[first..=last.max(first)];
    let max_gap = during.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    println!(
        "host 1 adverts on the LAN around the flood: {} from {:+.3} s to {:+.3} s of its start, largest gap {max_gap:.3} s",
        during.len(),
        during.first().copied().unwrap_or(0.0) - flood_wall_start,
        during.last().copied().unwrap_or(0.0) - flood_wall_start,
    );
    assert!(
        during.first().is_some_and(|t| *t <= flood_wall_start) && during.last().is_some_and(|t| *t >= flood_wall_end),
        "the capture does not cover the flood ({flood_wall_start:.3} to {flood_wall_end:.3}):\n{text}"
    );
    assert!(max_gap <= MAX_ADVERT_GAP, "host 1's adverts stalled: gap of {max_gap:.3} s during the flood:\n{text}");
    let recv_after = [received_of(&lab, 1), received_of(&lab, 2)];
    println!(
        "valid adverts counted during the flood: host 1 {}, host 2 {} (of {flooded} sent; the kernel may drop some)",
        recv_after[0] - recv_before[0],
        recv_after[1] - recv_before[1]
    );

    // The flood was valid traffic: no drop counted, no state change.
    assert_eq!([drops_of(&lab, 1), drops_of(&lab, 2)], after_kinds, "the flood changed the drop counters");
    assert_pair_kept(&lab, &p1, &p2, &orig2);

    // Every kind logged at most once per second.
    let warn_kinds: Vec<DropKind> = kinds.iter().map(|k| k.kind).filter(|k| *k != DropKind::OtherVrid).collect();
    check_drop_log("host 1", &p1.log_text(), &after_kinds[0], &warn_kinds);
    // Host 2 runs with a debug log: its other_vrid reports must be rate-limited as well.
    let mut h2_kinds = warn_kinds.clone();
    h2_kinds.push(DropKind::OtherVrid);
    check_drop_log("host 2", &p2.log_text(), &after_kinds[1], &h2_kinds);
    assert_no_panic("host 1", &p1);
    assert_no_panic("host 2", &p2);
}

#[test]
fn wrong_password_and_auth_type_are_dropped_by_a_password_pair() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("hostpw", 2, 1);
    let (p1, p2, orig2) = start_pair(&lab, "-a pw/secret");
    let before = [drops_of(&lab, 1), drops_of(&lab, 2)];
    assert!(before.iter().all(|m| m.is_empty()), "drops before any injection: {before:?}");

    let inj = Injector::open(lab.client(0), "eth0");
    let stranger = ip(CLIENT_A);
    let pkt = |auth: &Auth| Ip::vrrp(stranger).wrap(&advert(VRID, 254, 1, auth, &[vip_a()]));
    let kinds = vec![
        Hostile {
            kind: DropKind::AuthData,
            packets: vec![
                pkt(&Auth::password(b"wrong").unwrap()),
                pkt(&Auth::password(b"secret1").unwrap()),
                pkt(&Auth::password(b"secre").unwrap()),
                pkt(&Auth::password(b"SECRET").unwrap()),
            ],
            seen_by: vec![1, 2],
        },
        Hostile { kind: DropKind::AuthType, packets: vec![pkt(&Auth::None)], seen_by: vec![1, 2] },
        Hostile {
            kind: DropKind::AuthType,
            packets: vec![{
                // Auth type 2 (IPsec AH, removed by RFC 3768) with the right password bytes.
                let mut b = advert(VRID, 254, 1, &Auth::password(b"secret").unwrap(), &[vip_a()]);
                b[4] = 2;
                fix_checksum(&mut b);
                Ip::vrrp(stranger).wrap(&b)
            }],
            seen_by: vec![1, 2],
        },
    ];
    let sent = inject_all(&lab, &inj, &kinds, 40, 3, &orig2);
    expect_drops(&lab, &before, &sent);
    hold_for(Duration::from_secs(1), "host 1 master, host 2 backup", || pair_ok(&lab, &orig2));
    assert_pair_kept(&lab, &p1, &p2, &orig2);
    let counted = [drops_of(&lab, 1), drops_of(&lab, 2)];
    let must = [DropKind::AuthData, DropKind::AuthType];
    check_drop_log("host 1", &p1.log_text(), &counted[0], &must);
    check_drop_log("host 2", &p2.log_text(), &counted[1], &must);
    // The password never reaches a log or atropos.
    for (who, text) in [
        ("host 1 log", p1.log_text()),
        ("host 2 log", p2.log_text()),
        ("atropos --state", atropos_run(&lab.host(1).rundir, &["--state"]).1),
        ("atropos --json", atropos_run(&lab.host(1).rundir, &["--state", "--json"]).1),
    ] {
        // (The lab writes the command line as a `# ` comment at the top of each log.)
        let shown: Vec<&str> = text.lines().filter(|l| !l.starts_with("# ") && l.contains("secret")).collect();
        assert!(shown.is_empty(), "{who} shows the password: {shown:?}");
    }
    assert_no_panic("host 1", &p1);
    assert_no_panic("host 2", &p2);
}
