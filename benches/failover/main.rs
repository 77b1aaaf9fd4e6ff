//! Failover benchmark, entry point: the environment, one run per implementation, then the report.
//!
//! Ours (`vrrpd -M 2`, one process per interface) against a keepalived `vrrp_sync_group`, on the
//! same namespace lab (2 hosts × 2 LANs, priorities 110/100, VRID 51 on eth0 with VIP_A, VRID 52
//! on eth1 with VIP_B), in parts: VRRPv2 with adverts 1 s, then VRRPv3 with adverts 10 ms and
//! 100 ms (same scenarios, plus a steady window: the master's largest advert gap and each daemon's
//! CPU share from /proc/PID/stat utime + stime); then the many-LAN part: N LANs per host (`-M N`
//! against a sync group of N), link loss on one LAN of the master, at 1 s (v2) and 10 ms (v3).
//!
//! This is a benchmark, not a test: it asserts nothing about times. It prints the raw per-trial
//! figures, then a table of median / worst per scenario for both implementations, the ratio
//! keepalived/ours, and for reference the targets of the project (the "target" column of
//! README.md, "Measured failover").
//!
//! Modules, one concern each: `parse` (captures, monitor events, log times), `system` (commands,
//! /proc, cleanup), `daemons` (the implementations and how they start), `bed` (the lab, settling,
//! waiting), `profile` (VRRP version, interval, Skew_Time, targets), `scenarios` (one trial),
//! `steady` (the v3 window: advert gaps, CPU), `measure` (times and memory from the recordings),
//! `run` (every trial of one implementation), `report` and `steady_report` (figures, table,
//! timelines).
//!
//! Run (root): `scripts/bench.sh` (static release binary, the footprint we ship; `--lans` for the
//! many-LAN part only), or
//! `cargo bench --bench failover`. Environment:
//! - `BENCH_TRIALS`   trials per scenario (default 5);
//! - `VRRPD_BIN`      the vrrpd binary (default: the one cargo built for this bench);
//! - `BENCH_TIMELINE=1` print the timeline of the worst trial of every scenario (it is printed
//!   anyway when ours misses a target);
//! - `BENCH_ONLY=ours|keepalived` run one implementation only;
//! - `BENCH_PART=v2|v3|lans|lans-v2|lans-v3|track` run one part only (default all; `track`: a tracked stand-in service per host, SIGKILLed): v2 at 1 s, v3 at 10 ms and
//!   100 ms, or the many-LAN part (`lans`: N LANs per host, link loss on one LAN of the master, v2 at
//!   1 s and v3 at 10 ms; module `lans`, report `lans_report`);
//! - `BENCH_PART=v6`  the dual-stack part only (module `v6`, report `v6_report`): VRRPv3 routers of
//!   both families on both LANs, host death at 10 ms, time until h2 owns every IPv6 / IPv4 VIP;
//! - `BENCH_LANS`     LANs per host of the many-LAN part (default 32);
//! - `BENCH_WINDOW` seconds of the v3 steady window (largest advert gap, CPU per process; default 60);
//! - `VRRPD_LAB_KEEP=1` keep the lab directories (daemon logs, captures) after the run;
//! - `BENCH_RUNDIR=disk` keep vrrpd's run dirs in the lab dir (temp dir, as the tests do) instead
//!   of tmpfs (/dev/shm, like /run/vrrpd in production): the state file is saved with fdatasync.
//!
//! How times are taken (all on CLOCK_REALTIME, in µs):
//! - "h2 owns both": the later of h2's first gratuitous ARP for VIP_A (captured with `tcpdump -tt`
//!   in client A's namespace) and for VIP_B (client B), after the event. A GARP counts as h2's when
//!   its source MAC is h2's own MAC (keepalived) or the virtual MAC (ours; h1 cannot send one after
//!   the event: it released, died or lost the link, and its repeat GARPs ended before the trial).
//!   Cross-checks in the raw figures: h2's address-add events (`ip -ts monitor address` in h2) and
//!   the moment our poll of `ip -4 -o addr` in h2 saw both VIPs.
//! - link loss: the event is the kernel's notification of the cut: the earlier of the switch-side
//!   veth `h1e1` going down (`ip -ts monitor link` in the switch namespace) and h1's eth1 losing
//!   its carrier (`ip -ts monitor link` in h1), never before our `ip link set down` began. The
//!   monitors run under `chrt -f 10` so that they stamp events as they arrive even on a loaded
//!   machine (they still stamp on read: the true kernel time can be a fraction of a ms earlier).
//!   The local release is from that notification to h1's priority-0 advert captured on LAN A.
//! - signals: the event is the moment just before `kill(2)`.
//! - handback: from the restore (link up, or daemon restart) to the later of h1's VIP address-add
//!   events (monitor in h1), falling back to the poll.
//!
//! Cleanup: the harness's `Lab` drop kills every process it started and whatever else runs in its
//! namespaces (keepalived children included), then deletes the namespaces. A panic hook does the
//! same by namespace name if a panic aborts, and SIGINT/SIGTERM stop the run between steps.

#[path = "../../tests/common/mod.rs"]
mod common;

mod alone;
mod bed;
mod daemons;
mod lans;
mod lans_report;
mod measure;
mod parse;
mod profile;
mod report;
mod run;
mod scenarios;
mod steady;
mod steady_report;
mod system;
mod v6;
mod v6_report;

use common::*;
use daemons::Imp;
use profile::parts;
use report::print_report;
use run::{Run, run_imp};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use system::{emergency_cleanup, loadavg, run_ok};

const VRID_A: u8 = 51;
const VRID_B: u8 = 52;
const PRIO_H1: u8 = 110;
const PRIO_H2: u8 = 100;
/// Longest wait for any single transition (Master_Down_Interval is 3.6 s here).
const HANG: Duration = Duration::from_secs(15);
/// Poll interval while waiting for a transition (the timing itself comes from captures).
const FAST_POLL: Duration = Duration::from_millis(10);
/// Time a settled state must hold before a trial: ours repeats its GARPs 1 s and 2 s after
/// becoming master; no GARP of h1 may fall inside a trial.
const SETTLE_HOLD: Duration = Duration::from_millis(3000);
/// Time given to tcpdump and ip monitor to write what they saw.
const FLUSH: Duration = Duration::from_millis(300);

static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

fn stopped() -> bool {
    STOP.get().is_some_and(|s| s.load(Ordering::Relaxed))
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

fn sleep(d: Duration) {
    std::thread::sleep(d)
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("failover bench skipped: needs root for network namespaces");
        return;
    }
    let trials: usize = std::env::var("BENCH_TRIALS").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(5);
    let bin = std::env::var("VRRPD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vrrpd").to_string());
    if !std::path::Path::new(&bin).exists() {
        println!("failover bench: VRRPD_BIN={bin} does not exist");
        std::process::exit(1);
    }
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let _ = STOP.set(stop);
    // If a panic aborts (release profiles may use panic = "abort"), no Drop runs: clean by name.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        emergency_cleanup();
    }));

    let have_ka =
        Command::new("keepalived").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    // One part per profile (v2 at 1 s, v3 at 10 ms and 100 ms), each printed as soon as it ends.
    for prof in parts() {
        if stopped() {
            break;
        }
        let load_start = loadavg();
        eprintln!("failover bench: {}, {trials} trial(s) per scenario, vrrpd = {bin}, load {load_start}", prof.label());
        let ours = if only.is_empty() || only == "ours" {
            run_imp(Imp::Ours, &bin, trials, prof)
        } else {
            Run::skipped(Imp::Ours, prof, "skipped (BENCH_ONLY)")
        };
        let ka = if have_ka && !stopped() && (only.is_empty() || only == "keepalived") {
            Some(run_imp(Imp::Keepalived, &bin, trials, prof))
        } else {
            None
        };
        let load_end = loadavg();
        print_report(&ours, ka.as_ref(), trials, &bin, &load_start, &load_end);
    }
    // The many-LAN part: N LANs per host, one run per implementation and profile.
    let lans = lans::lans_count();
    for prof in lans::lan_parts() {
        if stopped() {
            break;
        }
        let load_start = loadavg();
        eprintln!("failover bench: {lans} LANs per host, {}, {trials} trial(s), load {load_start}", prof.label());
        let ours = if only.is_empty() || only == "ours" {
            lans_report::run_lans(Imp::Ours, &bin, trials, prof, lans)
        } else {
            lans_report::LanRun::skipped(Imp::Ours, prof, lans)
        };
        let ka = (have_ka && !stopped() && (only.is_empty() || only == "keepalived"))
            .then(|| lans_report::run_lans(Imp::Keepalived, &bin, trials, prof, lans));
        let load_end = loadavg();
        lans_report::print_lans_report(&ours, ka.as_ref(), trials, &bin, (&load_start, &load_end));
    }

    // The dual-stack part: IPv4 and IPv6 VIPs on both LANs, host death at 10 ms.
    if v6::v6_enabled() && !stopped() {
        let load_start = loadavg();
        eprintln!("failover bench: dual-stack, {}, {trials} trial(s), load {load_start}", v6::PROF.label());
        let ours = if only.is_empty() || only == "ours" {
            v6_report::run_v6(Imp::Ours, &bin, trials)
        } else {
            v6_report::V6Run::skipped(Imp::Ours)
        };
        let ka = (have_ka && !stopped() && (only.is_empty() || only == "keepalived"))
            .then(|| v6_report::run_v6(Imp::Keepalived, &bin, trials));
        let load_end = loadavg();
        v6_report::print_v6_report(&ours, ka.as_ref(), trials, &bin, (&load_start, &load_end));
    }

    // Nothing of ours may survive: say so if a namespace is left.
    let prefix = format!("vt{}-", std::process::id());
    let left: Vec<String> = run_ok(&["ip", "netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    if !left.is_empty() {
        eprintln!("failover bench: namespaces left behind, removing: {left:?}");
        emergency_cleanup();
    }
}
