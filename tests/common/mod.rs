//! Real-kernel labs for the integration tests: network namespaces, Linux bridges, veth pairs.
//!
//! A lab is one "switch" namespace holding one bridge per LAN, N host namespaces whose veth legs
//! `eth0`/`eth1` are plugged into those bridges, and one client namespace per LAN (veth `eth0`,
//! `arp_accept=1`, so a gratuitous ARP creates a neighbour entry that shows which MAC owns a VIP).
//!
//! Addresses (documentation ranges): LAN A 192.0.2.0/24 on `eth0`, LAN B 198.51.100.0/24 on `eth1`;
//! host N is `.N`, the client is `.100`; VIPs are `.200` and up.
//!
//! Every name carries the test's tag and the process id, so tests run in parallel threads and
//! parallel `cargo test` runs do not collide. Interface names inside the namespaces are fixed and
//! short (`eth0`, `br0`, `h1e0`…): each lab has its own switch namespace, so they cannot collide.
//!
//! On drop (also after a panic) the lab kills every process it started, by pid (SIGTERM, then
//! SIGKILL after a grace period), kills whatever else still runs inside its own namespaces, and
//! deletes its namespaces. When the test panicked it first prints the tail of every log and a
//! snapshot of the lab. Logs live in a per-lab directory under the temp dir; it is removed after
//! a successful test unless `VRRPD_LAB_KEEP=1`.
#![allow(dead_code)]
pub mod inject;
pub mod inject6;
pub mod ipv6;
pub mod json;
pub mod keepalived;
pub mod lab;
pub mod lans;
pub mod ns;
pub mod pair;
pub mod process;
pub mod sessions;
pub mod track;
pub mod unicast;

pub use lab::*;
pub use ns::*;
pub use process::*;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const LAN_PREFIX: [&str; 2] = ["192.0.2", "198.51.100"];
pub const VIP_A: &str = "192.0.2.200";
pub const VIP_B: &str = "198.51.100.200";
pub const CLIENT_A: &str = "192.0.2.100";
pub const CLIENT_B: &str = "198.51.100.100";
pub const POLL: Duration = Duration::from_millis(25);

/// The virtual MAC of a VRID, as `ip` prints it.
pub fn vmac(vrid: u8) -> String {
    format!("00:00:5e:00:01:{vrid:02x}")
}

/// The address of host `n` on LAN `lan` (0 = A, 1 = B), without prefix.
pub fn host_ip(n: usize, lan: usize) -> String {
    format!("{}.{}", LAN_PREFIX[lan], n)
}

/// Master_Down_Interval of RFC 3768 for a priority, with 1 s adverts.
pub fn master_down_interval(prio: u8) -> Duration {
    Duration::from_secs(3) + Duration::from_secs_f64(f64::from(256 - u32::from(prio)) / 256.0)
}

// ---------------------------------------------------------------------------------------------
// Skips

/// True (and a clear line printed) when the test cannot run because we are not root.
/// Use as `if common::skip_unless_root() { return; }`.
pub fn skip_unless_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root for network namespaces");
        eprintln!("skipped: needs root for network namespaces");
        return true;
    }
    if Command::new("ip").arg("-V").output().map(|o| !o.status.success()).unwrap_or(true) {
        println!("skipped: needs iproute2 (`ip`)");
        eprintln!("skipped: needs iproute2 (`ip`)");
        return true;
    }
    false
}

/// True (and a clear line printed) when a program is not installed.
pub fn skip_unless_installed(program: &str, version_arg: &str) -> bool {
    let ok = Command::new(program).arg(version_arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        println!("skipped: {program} is not installed");
        eprintln!("skipped: {program} is not installed");
    }
    !ok
}

/// Polls `cond` every [`POLL`] until it holds; panics with `what` after `timeout`.
/// Returns the time it took.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `cond` every [`POLL`] during `window` and panics with `what` as soon as it fails:
/// "this stays true for N seconds".
pub fn hold_for(window: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < window {
        if !cond() {
            panic!("{what}: broke after {:?} (expected to hold for {window:?})", start.elapsed());
        }
        std::thread::sleep(POLL);
    }
    assert!(cond(), "{what}: broke at the end of the {window:?} window");
}

/// Sends a signal to a pid.
pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) with a pid we started; no memory is involved.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// The atropos binary next to the vrrpd under test. `cargo test` builds only the binaries of the
/// package whose tests run, so the first call builds atropos (same target dir and profile).
pub fn atropos_bin() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    let vrrpd = Path::new(env!("CARGO_BIN_EXE_vrrpd"));
    let bin = vrrpd.with_file_name("atropos");
    BUILD.call_once(|| {
        let profile_dir = vrrpd.parent().expect("binary directory");
        let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        c.args(["build", "-q", "-p", "atropos"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        if let Some(target_dir) = profile_dir.parent() {
            c.env("CARGO_TARGET_DIR", target_dir);
        }
        match c.status() {
            Ok(st) if st.success() => {}
            other => eprintln!("cargo build -p atropos: {other:?} (using what is in {})", profile_dir.display()),
        }
    });
    assert!(bin.is_file(), "no atropos binary at {} (cargo build -p atropos failed)", bin.display());
    bin
}

/// `atropos -f RUNDIR ARGS`: exit code and stdout.
pub fn atropos_run(rundir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(atropos_bin())
        .arg("-f")
        .arg(rundir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run atropos: {e}"));
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned())
}
