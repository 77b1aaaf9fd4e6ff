//! A drop-in for Advanced Vrrpd 1.15 (issue 9, items 1–6) on a real kernel: a peer advertising every
//! 2 s (1.15's default interval) elects with ours instead of splitting the pair; the split-brain
//! signals of atropos (password or strict-interval mismatch while MASTER); every signal sent to a
//! MASTER (those that stop it release and exit 0, the others leave it MASTER; SIGUSR1 dumps the
//! state line, SIGUSR2 drains the host); 1.15's magic packet (`-I VIP -O GATEWAY`) captured on the
//! gateway's namespace; a 12-byte password against keepalived; two vrids on one interface.
//!
//! Every wait on "host N is MASTER/BACKUP" reads the live process's own record (`Lab::live_state`:
//! the state-file line carrying its pid), not only the kernel, whose VIP and MAC may be leftovers.
//! Run as root: `cargo test --test compat -- --test-threads=1`.

#[path = "../common/mod.rs"]
mod common;
mod magic;
mod peers;
mod signals;
mod split_brain;

use common::json::*;
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Deadline only to catch hangs; the slowest transition here (a backup of a 2 s master) needs ~7 s.
const HANG: Duration = Duration::from_secs(20);
const A: &str = "eth0";
const VRID: u8 = 51;
/// A second virtual address on LAN A (second vrid, or a non-VIP for the usage errors).
const VIP_A2: &str = "192.0.2.201";

fn rundir(lab: &Lab, n: usize) -> PathBuf {
    lab.host(n).rundir.clone()
}

/// The live state of process `p` (member eth0 / `vrid` of host `n`).
fn live(lab: &Lab, n: usize, vrid: u8, p: &Proc) -> Option<String> {
    lab.live_state(n, A, vrid, p)
}

/// `p` on host `n` is MASTER of `vrid` in its own record and the host holds `vip` with the virtual MAC.
fn master_with_vmac(lab: &Lab, n: usize, vrid: u8, p: &Proc, vip: &str) -> bool {
    live(lab, n, vrid, p).as_deref() == Some("MASTER") && owns_with_vmac(lab.h(n), A, vip, vrid)
}

/// `p` on host `n` is BACKUP of `vrid` in its own record and the host holds no `vip`, its own MAC.
fn backup_released(lab: &Lab, n: usize, vrid: u8, p: &Proc, vip: &str, own_mac: &str) -> bool {
    live(lab, n, vrid, p).as_deref() == Some("BACKUP") && released(lab.h(n), A, vip, own_mac)
}

fn running(procs: &[&Proc]) {
    for p in procs {
        assert!(p.is_running(), "{} (pid {}) exited early ({:?}):\n{}", p.name, p.pid, p.try_status(), p.log_text());
    }
}

/// Writes an executable root-owned script (mode 0755) and returns its path.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}")).expect("write script");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod script");
    p
}

/// `vrrpd -f RUNDIR ARGS` in host `n` without `-F` (it would detach if it started), to completion.
fn vrrpd_detaching(lab: &Lab, n: usize, args: &str) -> Outcome {
    let rd = rundir(lab, n).to_string_lossy().into_owned();
    let mut argv = vec![Lab::vrrpd_bin(), "-f", &rd];
    argv.extend(args.split_whitespace());
    lab.run_to_exit(lab.h(n), &argv, &format!("vrrpd-h{n}-refused"), HANG)
}

/// `vrrpd -F -f RUNDIR ARGS` in host `n`, to completion (usage errors).
fn vrrpd_to_exit(lab: &Lab, n: usize, args: &str) -> Outcome {
    let rd = rundir(lab, n).to_string_lossy().into_owned();
    let mut argv = vec![Lab::vrrpd_bin(), "-F", "-f", &rd];
    argv.extend(args.split_whitespace());
    lab.run_to_exit(lab.h(n), &argv, &format!("vrrpd-h{n}-usage"), HANG)
}

// ---------------------------------------------------------------------------------------------
// atropos

/// `atropos --state` on host `n`: exit code, first (summary) line, whole output.
fn state_text(lab: &Lab, n: usize) -> (i32, String, String) {
    let (code, out) = atropos_run(&rundir(lab, n), &["--state"]);
    let first = out.lines().next().unwrap_or("").to_string();
    (code, first, out)
}

/// `atropos --state --json` on host `n`: exit code and the parsed document.
fn state_json(lab: &Lab, n: usize) -> (i32, Json, String) {
    let (code, out) = atropos_run(&rundir(lab, n), &["--state", "--json"]);
    let j = parse_json(out.trim());
    (code, j, out)
}

/// The member of `vrid` in a `--state --json` document.
fn member(j: &Json, vrid: u8) -> &Json {
    j.get("members")
        .arr()
        .iter()
        .find(|m| m.get("vrid") == &Json::Num(f64::from(vrid)))
        .unwrap_or_else(|| panic!("no member with vrid {vrid} in {j:?}"))
}

/// The `"dropped"` object of a member as kind → count.
fn dropped(m: &Json) -> BTreeMap<String, f64> {
    match m.get("dropped") {
        Json::Obj(v) => v.iter().map(|(k, c)| (k.clone(), c.num())).collect(),
        other => panic!("\"dropped\" is not an object: {other:?}"),
    }
}

/// Columns of the text table are separated by at least two spaces (cells hold single spaces only).
fn cells(line: &str) -> Vec<String> {
    line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
}

/// The rows of the `--state` table as column → cell.
fn table_rows(out: &str) -> Vec<BTreeMap<String, String>> {
    let lines: Vec<&str> = out.lines().collect();
    let h = lines.iter().position(|l| l.starts_with("IFACE")).unwrap_or_else(|| panic!("no table header:\n{out}"));
    let header = cells(lines[h]);
    lines[h + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| header.iter().cloned().zip(cells(l)).collect())
        .collect()
}
