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

#[path = "../common/mod.rs"]
mod common;
mod permissions;
mod removals;
mod restarts;
mod soak;

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

fn single_lan_args(prio: u8) -> String {
    format!("-i {A} -v {VRID_A} -p {prio} {VIP_A}")
}

fn group_args(ifname: &str, vrid: u8, prio: u8, vip: &str) -> String {
    format!("-i {ifname} -v {vrid} -p {prio} -M 2 {vip}")
}
