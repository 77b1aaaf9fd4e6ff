//! Faults on a real kernel, in loops: SIGKILL and restart of a master and of a group member, link flaps
//! faster than the advert interval, the run dir and the state file destroyed under a running daemon, the
//! interface deleted under it, a drain/resume soak that watches for leaks (descriptors, memory, child
//! processes), and the control socket and hook permission checks. Through all of it no virtual address
//! or virtual MAC may be stranded.
//!
//! Loop sizes: `VRRPD_FAULT_CYCLES` (default 5) for the fault loops, `VRRPD_SOAK_CYCLES` (default 20)
//! for the soak. The full run is done by hand:
//! `VRRPD_FAULT_CYCLES=100 VRRPD_SOAK_CYCLES=500 cargo test --test faults -- --test-threads=2 --nocapture`.
//! Run as root (`cargo build --workspace` first, or let the soak build atropos).

mod common;

use common::inject::Rng;
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HANG: Duration = Duration::from_secs(15);
/// Settling after a restart may include a full Master_Down_Interval plus a preemption.
const SETTLE: Duration = Duration::from_secs(20);
const A: &str = "eth0";
const B: &str = "eth1";
const VRID_A: u8 = 51;
const VRID_B: u8 = 52;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn fault_cycles() -> usize {
    env_count("VRRPD_FAULT_CYCLES", 5)
}

fn seed() -> u64 {
    let s = std::env::var("VRRPD_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| (u64::from(std::process::id()) * 0x9e37_79b9) ^ 0x5eed);
    println!("random seed {s} (VRRPD_FAULT_SEED={s} replays it)");
    s
}

fn assert_no_panic(p: &Proc) {
    let log = p.log_text();
    assert!(!log.contains("panicked"), "{} panicked:\n{log}", p.name);
}

fn rundir_str(lab: &Lab, n: usize) -> String {
    lab.host(n).rundir.to_string_lossy().into_owned()
}

fn state_omac(lab: &Lab, n: usize, ifname: &str) -> Option<String> {
    read_state_file(&lab.host(n).rundir.join("state"))
        .into_iter()
        .find(|m| m.get("if").map(String::as_str) == Some(ifname))
        .and_then(|m| m.get("omac").map(|s| s.to_lowercase()))
}

// ---------------------------------------------------------------------------------------------
// atropos and /proc

/// Resources of a process: open descriptors, resident memory, child processes (zombies included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Usage {
    fds: usize,
    rss_kib: u64,
    children: usize,
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        // "pid (comm) S ppid ...": comm may hold spaces or parentheses, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        if rest.split_whitespace().nth(1).and_then(|x| x.parse::<i32>().ok()) == Some(pid) {
            v.push(p);
        }
    }
    v
}

fn usage(pid: i32) -> Usage {
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}")).count();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_else(|e| panic!("/proc/{pid}: {e}"));
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    Usage { fds, rss_kib, children: children_of(pid).len() }
}

fn fd_list(pid: i32) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let target = fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
            format!("{} -> {target}", e.file_name().to_string_lossy())
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Advert timing on the LAN

/// Largest gap allowed between two adverts of a master (1 s interval).
const MAX_ADVERT_GAP: f64 = 1.5;

fn wall() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// tcpdump in the client of LAN A, showing only the adverts of one sender, with epoch timestamps.
struct AdvertWatch {
    cap: Capture,
}

impl AdvertWatch {
    fn start(lab: &Lab, src: &str) -> AdvertWatch {
        let cap = Capture {
            proc: lab.spawn_split(
                lab.client(0),
                &["tcpdump", "-i", "eth0", "-n", "-tt", "-l", "-U", "proto", "112", "and", "src", "host", src],
                "tcpdump-adverts",
            ),
        };
        lab.wait_until(Duration::from_secs(10), "tcpdump to listen", || {
            assert!(cap.proc.is_running(), "tcpdump exited: {}", cap.proc.err_text());
            cap.proc.err_text().contains("listening on")
        });
        lab.wait_until(HANG, "a first advert in the capture", || cap.proc.log_text().contains("VRRP"));
        AdvertWatch { cap }
    }

    /// Stops the capture once an advert after `to` is in; returns the number of adverts from the last
    /// one before `from` to the first one after `to`, and the largest gap between them (s).
    fn stop(self, from: f64, to: f64) -> (usize, f64) {
        let times = |text: &str| -> Vec<f64> {
            text.lines()
                .filter(|l| l.contains("VRRP"))
                .filter_map(|l| l.split_whitespace().next()?.parse().ok())
                .collect()
        };
        let deadline = Instant::now() + HANG;
        while Instant::now() < deadline && !times(&self.cap.proc.log_text()).iter().any(|t| *t >= to) {
            std::thread::sleep(POLL);
        }
        let text = self.cap.stop();
        let t = times(&text);
        let first = t.iter().rposition(|x| *x <= from);
        let last = t.iter().position(|x| *x >= to);
        let (Some(first), Some(last)) = (first, last) else {
            panic!("the capture does not cover {from:.3} to {to:.3}:\n{text}");
        };
        let during = &t[first..=last];
        (during.len(), during.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max))
    }
}

// ---------------------------------------------------------------------------------------------
// (a) SIGKILL + restart of the master

fn single_lan_args(prio: u8) -> String {
    format!("-i {A} -v {VRID_A} -p {prio} {VIP_A}")
}

#[test]
fn sigkill_and_restart_of_the_master_never_strands_an_address() {
    if skip_unless_root() {
        return;
    }
    let cycles = fault_cycles();
    let mut rng = Rng::new(seed());
    let lab = Lab::new("killmaster", 2, 1);
    let (h1, h2) = (lab.h(1), lab.h(2));
    let orig1 = mac(h1, A);
    let orig2 = mac(h2, A);
    let p2 = lab.vrrpd(2, &single_lan_args(100));
    let mut p1 = lab.vrrpd(1, &single_lan_args(110));
    // The states are those of the running processes (`p1` is host 1's current one), never the record
    // of a SIGKILLed host 1: its MASTER line, VIP and vMAC stay until the restarted one has recovered.
    let h1_master = |p1: &Proc| {
        lab.live_state(1, A, VRID_A, p1).as_deref() == Some("MASTER")
            && lab.live_state(2, A, VRID_A, &p2).as_deref() == Some("BACKUP")
            && owns_with_vmac(h1, A, VIP_A, VRID_A)
            && released(h2, A, VIP_A, &orig2)
    };
    let h2_master = |p1: &Proc| {
        lab.live_state(2, A, VRID_A, &p2).as_deref() == Some("MASTER")
            && lab.live_state(1, A, VRID_A, p1).as_deref() == Some("BACKUP")
            && owns_with_vmac(h2, A, VIP_A, VRID_A)
            && released(h1, A, VIP_A, &orig1)
    };
    lab.wait_until(SETTLE, "host 1 (110) master, host 2 (100) backup", || h1_master(&p1));

    let t0 = Instant::now();
    let (mut killed_master, mut startup_kills, mut backups) = (0, 0, 0);
    let (mut planted, mut flushes): (Vec<std::path::PathBuf>, usize) = (Vec::new(), 0);
    for i in 0..cycles {
        // Kill at a random moment of the settled state (mid-advert interval, right after a GARP…).
        std::thread::sleep(Duration::from_millis(rng.range(0, 1000)));
        let was_master = owns_with_vmac(h1, A, VIP_A, VRID_A);
        killed_master += usize::from(was_master);
        p1.kill9();
        p1.wait_exit(HANG);
        if i % 4 == 3 && was_master {
            // Let the peer take over: the killed master's VIP and vMAC are still on host 1 meanwhile.
            lab.wait_until(SETTLE, "host 2 takes over from the SIGKILLed host 1", || {
                owns_with_vmac(h2, A, VIP_A, VRID_A)
            });
            assert!(owns_with_vmac(h1, A, VIP_A, VRID_A), "cycle {i}: a SIGKILLed master cannot clean up");
        }
        let prio = if i % 3 == 2 { 90 } else { 110 };
        if i % 5 == 1 {
            // A crash during startup (recovery itself interrupted).
            let early = lab.vrrpd(1, &single_lan_args(prio));
            std::thread::sleep(Duration::from_millis(rng.range(0, 300)));
            early.kill9();
            early.wait_exit(HANG);
            startup_kills += 1;
        }
        if i % 7 == 4 {
            // Issue 10 mixed in: a link planted at the pid file and a FIFO at the state lock while no vrrpd
            // runs. The restart must replace both, never write through the link, never block on the FIFO.
            let rd = &lab.host(1).rundir;
            let victim = lab.dir.join(format!("victim-{i}"));
            fs::write(&victim, "precious\n").unwrap();
            let pid = rd.join(format!("vrrpd_{A}_{VRID_A}.pid"));
            let _ = fs::remove_file(&pid);
            std::os::unix::fs::symlink(&victim, &pid).unwrap();
            let _ = fs::remove_file(rd.join("state.lock"));
            vrrpd::sys::proc::mkfifo(&rd.join("state.lock")).unwrap();
            planted.push(victim);
        }
        p1 = lab.vrrpd(1, &single_lan_args(prio));
        let p = p1.clone();
        if prio > 100 {
            lab.wait_until(SETTLE, &format!("cycle {i}: restarted host 1 (110) master, host 2 backup"), || {
                assert!(p.is_running() && p2.is_running(), "cycle {i}: a vrrpd exited");
                h1_master(&p)
            });
        } else {
            backups += 1;
            lab.wait_until(
                SETTLE,
                &format!("cycle {i}: restarted host 1 (90) BACKUP with its own MAC and no VIP, host 2 master"),
                || {
                    assert!(p.is_running() && p2.is_running(), "cycle {i}: a vrrpd exited");
                    h2_master(&p)
                },
            );
        }
        hold_for(Duration::from_millis(300), &format!("cycle {i}: settled state"), || {
            if prio > 100 { h1_master(&p) } else { h2_master(&p) }
        });
        assert_eq!(state_omac(&lab, 1, A).as_deref(), Some(orig1.as_str()), "cycle {i}: recorded original MAC");
        for v in &planted {
            assert_eq!(fs::read_to_string(v).unwrap(), "precious\n", "cycle {i}: written through a planted link");
        }
        if prio > 100 && i % 6 == 3 {
            // Issue 10 mixed in: the master loses its own address (a DHCP client, a network manager): it must
            // resign at once and come back when the address is back.
            exec(h1, "ip addr flush dev eth0");
            lab.wait_until(SETTLE, &format!("cycle {i}: host 1 without an address resigns, host 2 master"), || {
                lab.live_state(1, A, VRID_A, &p).as_deref() == Some("BACKUP")
                    && owns_with_vmac(h2, A, VIP_A, VRID_A)
                    && released(h1, A, VIP_A, &orig1)
            });
            exec(h1, &format!("ip addr add {}/24 dev eth0", host_ip(1, 0)));
            lab.wait_until(SETTLE, &format!("cycle {i}: address back, host 1 master again"), || h1_master(&p));
            flushes += 1;
        }
        assert_eq!(
            ipv4_addrs(h1, A).iter().filter(|a| a.starts_with(VIP_A)).count(),
            usize::from(prio > 100),
            "cycle {i}: VIP count on host 1"
        );
    }
    println!(
        "{cycles} SIGKILL/restart cycles in {:.1?}: {killed_master} killed as MASTER, {startup_kills} extra kills during \
         startup, {backups} restarts ending BACKUP, {} planted link+FIFO restarts, {flushes} address flushes",
        t0.elapsed(),
        planted.len()
    );

    // Stopping gives the original MACs back.
    p1.term();
    assert_eq!(p1.wait_exit(HANG).code(), Some(0), "host 1 exit status on SIGTERM");
    lab.wait_until(HANG, "host 2 takes over after host 1's SIGTERM", || owns_with_vmac(h2, A, VIP_A, VRID_A));
    assert!(released(h1, A, VIP_A, &orig1), "host 1 after stop:\n{}", lab.snapshot());
    p2.term();
    assert_eq!(p2.wait_exit(HANG).code(), Some(0), "host 2 exit status on SIGTERM");
    assert!(released(h2, A, VIP_A, &orig2), "host 2 after stop:\n{}", lab.snapshot());
    assert_no_panic(&p2);
}

// ---------------------------------------------------------------------------------------------
// (b) SIGKILL of one member of a -M 2 group

fn group_args(ifname: &str, vrid: u8, prio: u8, vip: &str) -> String {
    format!("-i {ifname} -v {vrid} -p {prio} -M 2 {vip}")
}

#[test]
fn sigkill_of_a_group_member_then_restart_recovers_the_group() {
    if skip_unless_root() {
        return;
    }
    let cycles = fault_cycles();
    let mut rng = Rng::new(seed());
    let lab = Lab::new("killmember", 1, 2);
    let h = lab.h(1);
    let ifs = [(A, VRID_A, VIP_A), (B, VRID_B, VIP_B)];
    let orig = [mac(h, A), mac(h, B)];
    let start = |k: usize| {
        let (ifname, vrid, vip) = ifs[k];
        lab.vrrpd(1, &group_args(ifname, vrid, 110, vip))
    };
    let mut procs = [start(0), start(1)];
    // Each member's state is that of its running process (`ps[k]`), never the MASTER record of a
    // SIGKILLed member: its VIP and vMAC stay until the restarted one (or the survivor) cleans them.
    let both_master = |ps: &[Proc]| {
        ifs.iter().zip(ps).all(|((ifname, vrid, vip), p)| {
            lab.live_state(1, ifname, *vrid, p).as_deref() == Some("MASTER") && owns_with_vmac(h, ifname, vip, *vrid)
        })
    };
    let both_released = || ifs.iter().zip(&orig).all(|((ifname, _, vip), o)| released(h, ifname, vip, o));
    lab.wait_until(SETTLE, "both members of the lone host MASTER", || both_master(&procs));

    let t0 = Instant::now();
    let mut immediate = 0;
    for i in 0..cycles {
        let victim = i % 2;
        let survivor = 1 - victim;
        std::thread::sleep(Duration::from_millis(rng.range(0, 1000)));
        procs[victim].kill9();
        procs[victim].wait_exit(HANG);
        let restart_at_once = i % 3 == 2;
        if restart_at_once {
            immediate += 1;
        } else {
            // The survivor holds the host BACKUP and cleans the dead member's link.
            let s = procs[survivor].clone();
            lab.wait_until(
                HANG,
                &format!("cycle {i}: {} died: both links released (own MACs, no VIP)", ifs[victim].0),
                || {
                    assert!(s.is_running(), "cycle {i}: the surviving member exited");
                    both_released()
                        && lab.live_state(1, ifs[survivor].0, ifs[survivor].1, &s).as_deref() == Some("BACKUP")
                },
            );
            let st = read_state_file(&lab.host(1).rundir.join("state"));
            let dead = st.iter().find(|m| m.get("if").map(String::as_str) == Some(ifs[victim].0));
            assert_eq!(
                dead.and_then(|m| m.get("state")).map(String::as_str),
                Some("DEAD"),
                "cycle {i}: the dead member's record: {st:?}"
            );
        }
        procs[victim] = start(victim);
        let ps = procs.clone();
        lab.wait_until(SETTLE, &format!("cycle {i}: group recovered, both members MASTER"), || {
            assert!(ps.iter().all(Proc::is_running), "cycle {i}: a member exited");
            both_master(&ps)
        });
        hold_for(Duration::from_millis(300), &format!("cycle {i}: both members stay MASTER"), || both_master(&ps));
    }
    println!("{cycles} member kill/restart cycles in {:.1?} ({immediate} restarted at once)", t0.elapsed());
    for p in &procs {
        p.term();
    }
    for p in &procs {
        assert_eq!(p.wait_exit(HANG).code(), Some(0), "{} exit status on SIGTERM", p.name);
        assert_no_panic(p);
    }
    assert!(both_released(), "after stopping the group:\n{}", lab.snapshot());
}

// ---------------------------------------------------------------------------------------------
// (c) link flaps faster than the advert interval

#[test]
fn link_flaps_faster_than_the_advert_interval_then_one_owner_per_vip() {
    if skip_unless_root() {
        return;
    }
    let flaps = fault_cycles() * 4;
    let mut rng = Rng::new(seed());
    let lab = Lab::new("flaps", 2, 2);
    let ifs = [(A, VRID_A, VIP_A), (B, VRID_B, VIP_B)];
    let orig: Vec<[String; 2]> = (1..=2).map(|n| [mac(lab.h(n), A), mac(lab.h(n), B)]).collect();
    let mut procs = Vec::new();
    for (n, prio) in [(1, 110), (2, 100)] {
        for (ifname, vrid, vip) in ifs {
            procs.push(lab.vrrpd(n, &group_args(ifname, vrid, prio, vip)));
        }
    }
    // Exactly one owner per VIP, the same host on both LANs, MASTER on both; the other BACKUP on both.
    let converged = || -> Option<usize> {
        let owners: Vec<Vec<usize>> =
            ifs.iter().map(|(ifname, _, vip)| (1..=2).filter(|&n| has_ip(lab.h(n), ifname, vip)).collect()).collect();
        if owners[0].len() != 1 || owners[0] != owners[1] {
            return None;
        }
        let m = owners[0][0];
        let b = 3 - m;
        let ok = ifs.iter().enumerate().all(|(l, (ifname, vrid, vip))| {
            owns_with_vmac(lab.h(m), ifname, vip, *vrid)
                && released(lab.h(b), ifname, vip, &orig[b - 1][l])
                && lab.vrrpd_state(m, ifname).as_deref() == Some("MASTER")
                && lab.vrrpd_state(b, ifname).as_deref() == Some("BACKUP")
        });
        ok.then_some(m)
    };
    lab.wait_until(SETTLE, "host 1 master on both LANs, host 2 backup on both", || converged() == Some(1));

    let legs = ["h1e0", "h1e1", "h2e0", "h2e1"];
    let t0 = Instant::now();
    let mut downs: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..flaps {
        // Mostly the master's legs; sometimes two legs at once.
        let leg = legs[if rng.range(0, 2) == 0 { rng.range(2, 3) } else { rng.range(0, 1) } as usize];
        let also = (i % 7 == 6).then(|| legs[rng.range(0, 3) as usize]).filter(|l| *l != leg);
        for l in std::iter::once(leg).chain(also) {
            exec(&lab.switch, &format!("ip link set {l} down"));
            *downs.entry(l).or_insert(0) += 1;
        }
        std::thread::sleep(Duration::from_millis(rng.range(100, 300)));
        for l in std::iter::once(leg).chain(also) {
            exec(&lab.switch, &format!("ip link set {l} up"));
        }
        std::thread::sleep(Duration::from_millis(rng.range(100, 300)));
        if i % 10 == 9 {
            for p in &procs {
                assert!(p.is_running(), "flap {i}: {} exited:\n{}", p.name, p.log_text());
            }
        }
    }
    println!("{flaps} flaps in {:.1?}: {downs:?}", t0.elapsed());
    for l in legs {
        exec(&lab.switch, &format!("ip link set {l} up"));
    }
    let t1 = Instant::now();
    let mut owner = None;
    lab.wait_until(SETTLE, "after the flaps: one owner per VIP, the same host MASTER on both LANs", || {
        owner = converged();
        owner.is_some()
    });
    println!("converged {:.1?} after the last flap: host {} owns both VIPs", t1.elapsed(), owner.unwrap());
    // Preemption then brings the higher priority back if it was not already there.
    lab.wait_until(SETTLE, "host 1 (110) master on both LANs, host 2 backup on both", || converged() == Some(1));
    println!("host 1 master on both LANs {:.1?} after the last flap", t1.elapsed());
    hold_for(Duration::from_secs(3), "the converged state holds", || converged() == Some(1));
    for p in &procs {
        assert!(p.is_running(), "{} exited:\n{}", p.name, p.log_text());
        assert_no_panic(p);
    }
}

// ---------------------------------------------------------------------------------------------
// (d) run dir removed, state file garbage

#[test]
fn state_file_garbage_and_run_dir_removed_while_running() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("rundirgone", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, A);
    let rundir = lab.host(1).rundir.clone();
    let state = rundir.join("state");
    let p = lab.vrrpd(1, &single_lan_args(110));
    lab.wait_until(SETTLE, "lone host MASTER", || {
        assert!(p.is_running(), "vrrpd exited");
        owns_with_vmac(h, A, VIP_A, VRID_A) && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
    });

    // 1. Garbage in the state file: binary, overlong lines, half records, a forged record for eth0.
    let mut rng = Rng::new(seed());
    let mut garbage: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    garbage.extend_from_slice(b"\nif=eth0\tomac=00:00:5e:00:01:33\tvrid=999\n");
    garbage.extend(std::iter::repeat_n(b'x', 100_000));
    garbage.extend_from_slice(b"\nif=\tvrid=1\n\0\0\0if=eth0\n");
    fs::write(&state, &garbage).unwrap();
    let (code, out) = atropos_run(&rundir, &["--state"]);
    assert!(p.is_running(), "vrrpd died after the state file was filled with garbage:\n{}", p.log_text());
    assert!(out.contains("host is MASTER"), "atropos --state with a garbage state file (exit {code}):\n{out}");
    // Make the daemon rewrite its record (a priority change is saved at once).
    let (code, out) = atropos_run(&rundir, &["--reduce"]);
    assert_eq!(code, 0, "atropos --reduce:\n{out}");
    lab.wait_until(HANG, "the state file holds a valid record for eth0 again", || {
        state_omac(&lab, 1, A).as_deref() == Some(orig.as_str())
            && lab.live_state(1, A, VRID_A, &p).as_deref() == Some("MASTER")
    });
    // Text garbage this time (valid UTF-8), with a forged record for eth0 claiming the virtual MAC as
    // the original one: the daemon's next write must put its own record back.
    let forged = format!(
        "garbage line\nif=eth0\tvrid=51\tpid=1\tstate=MASTER\tomac={vm}\tmac={vm}\tvips=10.9.9.9\nif=\tvrid=7\n{}\n",
        "y".repeat(70_000),
        vm = vmac(VRID_A)
    );
    fs::write(&state, forged).unwrap();
    let (code, out) = atropos_run(&rundir, &["--increase"]);
    assert_eq!(code, 0, "atropos --increase:\n{out}");
    lab.wait_until(HANG, "the daemon's own record replaced the forged one", || {
        state_omac(&lab, 1, A).as_deref() == Some(orig.as_str())
            && lab.live_state(1, A, VRID_A, &p).as_deref() == Some("MASTER")
    });
    assert!(p.is_running(), "vrrpd died on a forged state file:\n{}", p.log_text());
    assert!(p.is_running() && owns_with_vmac(h, A, VIP_A, VRID_A), "after the garbage:\n{}", lab.snapshot());

    // 2. The run dir disappears (someone cleans /run).
    // (Renamed away first: the path disappears at once even while the daemon writes in it.)
    let gone = rundir.with_extension("removed");
    fs::rename(&rundir, &gone).unwrap();
    fs::remove_dir_all(&gone).unwrap();
    std::thread::sleep(Duration::from_millis(200)); // pacing: let the daemon run a while without it
    assert!(p.is_running(), "vrrpd died when its run dir was removed:\n{}", p.log_text());
    // Something the daemon must save: a priority change by signal (no socket to reach it any more).
    p.signal(libc::SIGTTIN);
    let rd = rundir.display().to_string();
    lab.wait_until(HANG, "the daemon recreated its state file or logged a clear error naming the run dir", || {
        assert!(p.is_running(), "vrrpd died after its run dir was removed:\n{}", p.log_text());
        state.exists()
            || p.log_text().lines().any(|l| (l.contains(" error: ") || l.contains(" warn: ")) && l.contains(&rd))
    });
    let recovered = state.exists();
    let complaint: Vec<String> = p.log_text().lines().filter(|l| l.contains(&rd)).map(String::from).collect();
    println!("run dir removed: recovered={recovered}; log: {complaint:?}");
    hold_for(Duration::from_secs(2), "still MASTER without a run dir", || {
        p.is_running() && owns_with_vmac(h, A, VIP_A, VRID_A)
    });

    // 3. Stop still gives the MAC back.
    p.term();
    let st = p.wait_exit(HANG);
    assert!(released(h, A, VIP_A, &orig), "stop after the run dir was removed:\n{}", lab.snapshot());
    assert_eq!(st.code(), Some(0), "exit status on SIGTERM:\n{}", p.log_text());
    assert_no_panic(&p);
}

// ---------------------------------------------------------------------------------------------
// (e) interface deleted under a running vrrpd

fn assert_clean_interface_gone_exit(p: &Proc) {
    let st = p.wait_exit(HANG);
    let log = p.log_text();
    assert_eq!(st.code(), Some(1), "{}: exit status after its interface was deleted:\n{log}", p.name);
    assert!(
        log.lines().any(|l| l.contains(" error: ") && l.contains("interface was deleted")),
        "{}: no clear log line about the deleted interface:\n{log}",
        p.name
    );
    assert_no_panic(p);
}

#[test]
fn interface_deleted_under_a_lone_master_exits_1() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("ifdel", 1, 1);
    let h = lab.h(1);
    // The -D hook still runs when the interface goes away under a MASTER (tunnels, routes elsewhere).
    let calls = lab.dir.join("down-hook.calls");
    let script = lab.dir.join("down-hook.sh");
    fs::write(&script, format!("#!/bin/sh\necho \"$1 $2 $VRRP_PREV_STATE $VRRP_REASON\" >> {}\n", calls.display()))
        .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let p = lab.vrrpd(1, &format!("{} -D {}", single_lan_args(110), script.display()));
    lab.wait_until(SETTLE, "lone host MASTER", || {
        assert!(p.is_running(), "vrrpd exited");
        owns_with_vmac(h, A, VIP_A, VRID_A)
    });
    exec(h, "ip link del eth0");
    assert_clean_interface_gone_exit(&p);
    let text = fs::read_to_string(&calls).unwrap_or_default();
    let last = text.lines().last().unwrap_or("");
    assert!(
        text.lines().count() == 2 && last.starts_with("BACKUP eth0 MASTER") && last.contains("interface deleted"),
        "the -D hook must run at start and once more when the interface is deleted under a MASTER:\n{text}"
    );
    assert_eq!(lab.vrrpd_run_file(1, A, VRID_A, "pid"), None, "pid file left behind");
    assert_eq!(lab.vrrpd_sock(1, A, VRID_A), None, "socket left behind");
    // The interface left carrying the virtual MAC: its record (with the original MAC) stays, so that a
    // vrrpd started when an interface of that name is back can give the MAC back (issue 10).
    let rec = lab.vrrpd_record(1, A, VRID_A).expect("the record of the original MAC must be kept");
    assert_eq!(rec.get("omac").map(String::as_str), Some("02:00:00:00:00:01"), "{rec:?}");
    assert_eq!(rec.get("state").map(String::as_str), Some("INIT"), "{rec:?}");
    assert!(rec.get("reason").is_some_and(|r| r.contains("interface gone while carrying the virtual MAC")), "{rec:?}");
}

#[test]
fn interface_deleted_in_a_group_exits_1_and_the_host_goes_backup() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("ifdelgrp", 1, 2);
    let h = lab.h(1);
    let orig_a = mac(h, A);
    let pa = lab.vrrpd(1, &group_args(A, VRID_A, 110, VIP_A));
    let pb = lab.vrrpd(1, &group_args(B, VRID_B, 110, VIP_B));
    lab.wait_until(SETTLE, "both members MASTER", || {
        assert!(pa.is_running() && pb.is_running(), "a member exited");
        owns_with_vmac(h, A, VIP_A, VRID_A) && owns_with_vmac(h, B, VIP_B, VRID_B)
    });
    // A MASTER member loses its interface.
    exec(h, "ip link del eth1");
    assert_clean_interface_gone_exit(&pb);
    lab.wait_until(HANG, "the other member holds the host BACKUP and gives its link back", || {
        assert!(pa.is_running(), "the eth0 member exited:\n{}", pa.log_text());
        released(h, A, VIP_A, &orig_a) && lab.vrrpd_state(1, A).as_deref() == Some("BACKUP")
    });
    hold_for(Duration::from_secs(2), "eth0 member stays BACKUP without its sibling", || {
        pa.is_running() && released(h, A, VIP_A, &orig_a)
    });
    // A BACKUP member loses its interface.
    exec(h, "ip link del eth0");
    assert_clean_interface_gone_exit(&pa);
}

// ---------------------------------------------------------------------------------------------
// (f) drain/resume soak

#[test]
fn drain_resume_soak_keeps_descriptors_memory_and_children_flat() {
    if skip_unless_root() {
        return;
    }
    let cycles = env_count("VRRPD_SOAK_CYCLES", 20);
    let lab = Lab::new("soak", 2, 1);
    let (h1, h2) = (lab.h(1), lab.h(2));
    let orig2 = mac(h2, A);
    // Hooks on host 1, so that the soak also runs the hook runner (pipes, child processes).
    let hook_out = lab.dir.join("hooks.out");
    let hook = lab.dir.join("hook.sh");
    fs::write(&hook, format!("#!/bin/sh\necho \"$VRRP_STATE $VRRP_IFACE\" >> {}\n", hook_out.display())).unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let hk = hook.display().to_string();
    let p1 = lab.vrrpd(1, &format!("{} -U {hk} -D {hk}", single_lan_args(110)));
    let p2 = lab.vrrpd(2, &single_lan_args(100));
    let rundir = lab.host(1).rundir.clone();
    let settled = || {
        owns_with_vmac(h1, A, VIP_A, VRID_A)
            && released(h2, A, VIP_A, &orig2)
            && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
            && lab.vrrpd_state(2, A).as_deref() == Some("BACKUP")
            && children_of(p1.pid).is_empty()
    };
    let wait_settled = |what: &str| {
        lab.wait_until(SETTLE, what, || {
            assert!(p1.is_running() && p2.is_running(), "a vrrpd exited during the soak");
            settled()
        })
    };
    wait_settled("host 1 master, host 2 backup");
    let cycle = |i: usize| {
        let (code, out) = atropos_run(&rundir, &["--backup"]);
        assert_eq!(code, 0, "cycle {i}: atropos --backup:\n{out}");
        let (code, out) = atropos_run(&rundir, &["--resume"]);
        assert_eq!(code, 0, "cycle {i}: atropos --resume:\n{out}");
    };
    // Warm-up: first transitions allocate what a daemon keeps for its life.
    for i in 0..3 {
        cycle(i);
        wait_settled("warm-up: host 1 master again");
    }
    let start = [usage(p1.pid), usage(p2.pid)];
    let fds_start = [fd_list(p1.pid), fd_list(p2.pid)];
    println!("soak start: host 1 {:?}, host 2 {:?}", start[0], start[1]);

    let t0 = Instant::now();
    let mut full = 0;
    for i in 0..cycles {
        cycle(i);
        // Every 5th cycle wait until host 1 is MASTER again: full MASTER -> BACKUP -> MASTER transitions.
        if i % 5 == 4 || i + 1 == cycles {
            wait_settled(&format!("cycle {i}: host 1 master again after --resume"));
            full += 1;
        }
        if i % 50 == 49 {
            println!(
                "  cycle {}: host 1 {:?}, host 2 {:?} ({:.0?})",
                i + 1,
                usage(p1.pid),
                usage(p2.pid),
                t0.elapsed()
            );
        }
    }
    wait_settled("end: host 1 master, host 2 backup");
    // Descriptors may be transiently open (an ARP timer, a finishing hook): poll briefly for the
    // settled figure, then compare.
    let mut end = [usage(p1.pid), usage(p2.pid)];
    let deadline = Instant::now() + Duration::from_secs(5);
    while (end[0].fds != start[0].fds || end[1].fds != start[1].fds) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        end = [usage(p1.pid), usage(p2.pid)];
    }
    let hooks_run = fs::read_to_string(&hook_out).map(|s| s.lines().count()).unwrap_or(0);
    println!(
        "soak end after {cycles} drain/resume cycles ({full} full round trips, {hooks_run} hook runs) in {:.1?}: \
         host 1 {:?}, host 2 {:?}",
        t0.elapsed(),
        end[0],
        end[1]
    );
    for n in 0..2 {
        let who = format!("host {}", n + 1);
        assert_eq!(
            end[n].fds,
            start[n].fds,
            "{who}: open descriptors grew\nstart: {:#?}\nend: {:#?}",
            fds_start[n],
            fd_list(if n == 0 { p1.pid } else { p2.pid })
        );
        assert!(
            end[n].rss_kib <= start[n].rss_kib + 256,
            "{who}: RSS grew from {} KiB to {} KiB",
            start[n].rss_kib,
            end[n].rss_kib
        );
        assert_eq!(end[n].children, start[n].children, "{who}: child processes (zombies included)");
    }
    assert!(hooks_run >= 2 * full, "only {hooks_run} hook runs for {full} round trips");
    assert_no_panic(&p1);
    assert_no_panic(&p2);
}

// ---------------------------------------------------------------------------------------------
// (g) control sockets and hook permissions

const PY_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(sys.argv[1])
except Exception as e:
    print("EXC " + type(e).__name__ + " " + str(e))
    sys.exit(0)
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except Exception as e:
    # The daemon may answer and close before the request is written: read what it said anyway.
    print("SEND " + type(e).__name__)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except Exception as e:
    print("RECV " + type(e).__name__)
print("REPLY " + repr(data))
"#;

/// Connects to `sock` as uid/gid 65534 (no groups) and sends `line`; returns what the client printed.
fn as_nobody(sock: &Path, line: &str) -> String {
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", PY_CLIENT])
        .arg(sock)
        .arg(line)
        .output()
        .expect("setpriv");
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// One raw request as root; returns what came back before the daemon closed or 2 s passed.
fn raw_request(sock: &Path, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("{}: {e}", sock.display()));
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn control_socket_refuses_non_root_peers_and_malformed_requests() {
    if skip_unless_root()
        || skip_unless_installed("setpriv", "--version")
        || skip_unless_installed("/usr/bin/python3", "--version")
        || skip_unless_installed("tcpdump", "--version")
    {
        return;
    }
    let lab = Lab::new("ctlsock", 1, 1);
    let h = lab.h(1);
    let rundir = lab.host(1).rundir.clone();
    let p = lab.vrrpd(1, &single_lan_args(110));
    let master = || p.is_running() && owns_with_vmac(h, A, VIP_A, VRID_A);
    lab.wait_until(SETTLE, "lone host MASTER", || {
        assert!(p.is_running(), "vrrpd exited");
        master()
            && lab.live_state(1, A, VRID_A, &p).as_deref() == Some("MASTER")
            && lab.vrrpd_sock(1, A, VRID_A).is_some()
    });
    let sock = lab.vrrpd_sock(1, A, VRID_A).expect("control socket");

    // 1. The socket file itself keeps other users out.
    let mode = fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "control socket mode {mode:o}: others may connect");
    let out = as_nobody(&sock, "DRAIN");
    assert!(out.contains("EXC PermissionError"), "uid 65534 connecting to a 0{mode:o} socket: {out}");

    // 2. Even when the file is opened up by mistake, the daemon checks the peer's uid.
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o666)).unwrap();
    for req in ["DRAIN", "GET", "REDUCE"] {
        let out = as_nobody(&sock, req);
        assert!(out.contains("REPLY") && out.contains("ERR"), "uid 65534 sent {req}: {out}");
        assert!(!out.contains("INFO") && !out.contains("OK"), "uid 65534 sent {req} and was answered: {out}");
    }
    assert!(
        p.log_text().contains("refused a control connection from uid 65534"),
        "no log line for the refused peer:\n{}",
        p.log_text()
    );
    hold_for(Duration::from_millis(500), "a refused DRAIN changes nothing", master);
    let (code, out) = atropos_run(&rundir, &["--state", "--json"]);
    assert_eq!(code, 0, "atropos --state after the refused requests:\n{out}");
    assert!(
        out.contains("\"drained\":false") && out.contains("\"priority\":110") && !rundir.join("drain").exists(),
        "a refused peer changed something:\n{out}"
    );

    // 3. atropos itself refuses to run for another user.
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(atropos_bin())
        .args(["-f", &rundir.display().to_string(), "--state"])
        .output()
        .expect("setpriv");
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    if text.contains("Permission denied") && o.status.code() != Some(3) {
        println!("skipped: uid 65534 cannot execute {} ({text})", atropos_bin().display());
    } else {
        assert_eq!(o.status.code(), Some(3), "atropos as uid 65534: {text}");
        assert!(text.contains("root"), "atropos as uid 65534 says why: {text}");
    }

    // 4. Malformed and abusive requests from root: an error answer or a disconnect, never a crash, and
    // never a stall of the protocol (the master's adverts are watched on the LAN throughout).
    let watch = AdvertWatch::start(&lab, &host_ip(1, 0));
    let abuse_start = wall();
    let long_line = vec![b'A'; 20_000];
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty line", b"\n".to_vec()),
        ("lower-case verb", b"get\n".to_vec()),
        ("field without =", b"GET\tnovalue\n".to_vec()),
        ("empty field name", b"GET\t=x\n".to_vec()),
        ("unknown verb", b"REBOOT\n".to_vec()),
        (
            "member message outside a group",
            b"HELLO\tif=eth9\tvrid=1\tpid=1\tstate=MASTER\twants=1\tlink=up\tprio=1\n".to_vec(),
        ),
        ("truncated STATUS", b"STATUS\tif=eth0\n".to_vec()),
        ("binary", vec![0, 1, 2, 0xff, 0xfe, b'\n']),
        ("invalid UTF-8 verb", b"G\xc3\x28T\n".to_vec()),
        ("CR LF", b"GET\r\n".to_vec()),
        ("no newline at all", b"GET".to_vec()),
        ("line longer than the limit", long_line),
        ("many requests in one write", b"GET\nGET\nREBOOT\nGET\n".to_vec()),
    ];
    for (what, bytes) in &malformed {
        let reply = raw_request(&sock, bytes);
        let first = reply.lines().next().unwrap_or("");
        assert!(
            reply.is_empty() || first.starts_with("ERR") || first.starts_with("INFO"),
            "{what}: unexpected answer {reply:?}"
        );
        if *what != "many requests in one write" && *what != "no newline at all" && !bytes.ends_with(b"GET\r\n") {
            assert!(!reply.contains("INFO"), "{what}: answered as a valid request: {reply:?}");
        }
        assert!(p.is_running(), "vrrpd died on a malformed request ({what}):\n{}", p.log_text());
        println!("{what:<32} -> {:?}", first.chars().take(70).collect::<String>());
    }

    // A client that sends requests and never reads its answers is cut off.
    {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.set_nonblocking(true).unwrap();
        let req = b"GET\n".repeat(1000);
        let t = Instant::now();
        let mut sent = 0usize;
        let mut cut = false;
        while t.elapsed() < Duration::from_secs(10) {
            match s.write(&req) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => {
                    cut = true;
                    break;
                }
            }
        }
        println!("non-reading client: {sent} bytes of requests written, disconnected: {cut}");
        assert!(cut, "a client that never reads was not disconnected after {sent} bytes");
    }
    // Right after cutting that client off, the daemon answers the others at once.
    let t = Instant::now();
    let after_cut = atropos_run(&rundir, &["--state"]);
    let after_cut_took = t.elapsed();
    let t = Instant::now();
    lab.wait_until(HANG, "the daemon answers atropos again", || atropos_run(&rundir, &["--state"]).0 == 0);
    println!(
        "atropos right after the cut-off: exit {} in {after_cut_took:.2?}; answering again after {:.2?} more",
        after_cut.0,
        t.elapsed()
    );
    // Idle connections and a half-written request do not block others.
    let idle: Vec<UnixStream> = (0..200).map(|_| UnixStream::connect(&sock).unwrap()).collect();
    let mut partial = UnixStream::connect(&sock).unwrap();
    partial.write_all(b"GE").unwrap();
    let t = Instant::now();
    let (code, out) = atropos_run(&rundir, &["--state"]);
    assert_eq!(code, 0, "atropos --state with 200 idle connections open:\n{out}");
    assert!(t.elapsed() < Duration::from_secs(2), "atropos --state took {:?}", t.elapsed());
    drop(idle);
    drop(partial);

    hold_for(Duration::from_secs(1), "still MASTER after the malformed requests", master);
    let abuse_end = wall();
    let (n, gap) = watch.stop(abuse_start, abuse_end);
    println!("master adverts during the control-socket abuse: {n}, largest gap {gap:.3} s");
    assert!(
        gap <= MAX_ADVERT_GAP,
        "the master stopped advertising for {gap:.3} s while serving its control socket (a peer would have taken over)"
    );
    assert_eq!(after_cut.0, 0, "no answer to atropos right after a flooding client was cut off:\n{}", after_cut.1);
    let (code, out) = atropos_run(&rundir, &["--state"]);
    assert_eq!(code, 0, "atropos --state at the end:\n{out}");
    assert_no_panic(&p);
}

#[test]
fn hook_scripts_that_others_can_write_are_refused_at_start() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("hookperm", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, A);
    let rundir = rundir_str(&lab, 1);
    let write_script = |name: &str, mode: u32, owner: Option<u32>| -> String {
        let p = lab.dir.join(name);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
        }
        p.display().to_string()
    };
    let cases = [
        ("world-writable", write_script("ww.sh", 0o777, None), "writable"),
        ("other-writable", write_script("ow.sh", 0o757, None), "writable"),
        ("group-writable", write_script("gw.sh", 0o775, None), "writable"),
        ("owned by another user", write_script("nobody.sh", 0o755, Some(65534)), "owned by uid 65534"),
        ("not executable", write_script("noexec.sh", 0o644, None), "not executable"),
    ];
    let bin = Lab::vrrpd_bin();
    for (what, script, want) in &cases {
        for opt in ["-U", "-D"] {
            let argv = [bin, "-F", "-f", &rundir, "-i", A, "-v", "51", "-p", "110", opt, script.as_str(), VIP_A];
            let o = lab.run_to_exit(h, &argv, "vrrpd-hook", HANG);
            assert_eq!(o.status.code(), Some(1), "{opt} script {what}: must exit 1: {o:?}");
            let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("# ")).collect();
            assert_eq!(lines.len(), 1, "{opt} script {what}: one line on stderr: {:?}", o.stderr);
            assert!(
                lines[0].contains(opt) && lines[0].contains(script.as_str()) && lines[0].contains(want),
                "{opt} script {what}: {:?} should name the option, the file and say {want:?}",
                lines[0]
            );
            assert!(released(h, A, VIP_A, &orig), "{opt} script {what}: the interface was touched");
        }
    }
    // The same script, safe, is accepted: the refusals above were about permissions.
    let good = write_script("good.sh", 0o755, None);
    let p = lab.vrrpd(1, &format!("{} -U {good} -D {good}", single_lan_args(110)));
    lab.wait_until(SETTLE, "vrrpd with a root-owned 0755 hook becomes MASTER", || {
        assert!(p.is_running(), "vrrpd refused a safe hook:\n{}", p.log_text());
        owns_with_vmac(h, A, VIP_A, VRID_A)
    });
    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0));
    assert!(released(h, A, VIP_A, &orig));
}
