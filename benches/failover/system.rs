//! System helpers that never panic (the bench records failures instead): commands, VIPs held, /proc, cleanup.

use crate::VIP_A;
use crate::common::*;
use crate::sleep;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

pub fn run_ok(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// (VIP_A on eth0, VIP_B on eth1) in a namespace, from one `ip -4 -o addr`.
pub fn vips_held(ns: &str) -> (bool, bool) {
    let Ok(out) = run_ok(&["ip", "-n", ns, "-4", "-o", "addr", "show"]) else {
        return (false, false);
    };
    let (mut a, mut b) = (false, false);
    for line in out.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(ifname), Some(cidr)) = (w.get(1), w.get(3)) else { continue };
        let ip = cidr.split('/').next().unwrap_or("");
        a |= *ifname == "eth0" && ip == VIP_A;
        b |= *ifname == "eth1" && ip == VIP_B;
    }
    (a, b)
}

/// Children of a process (from /proc/*/stat).
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else { return v };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        let Some((_, after)) = stat.rsplit_once(')') else { continue };
        let ppid = after.split_whitespace().nth(1).and_then(|x| x.parse::<i32>().ok());
        if ppid == Some(pid) {
            v.push(p);
        }
    }
    v
}

pub fn descendants_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in children_of(p) {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

pub fn alive(pid: i32) -> bool {
    // A zombie still has /proc/PID; state Z counts as dead.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(')').and_then(|(_, a)| a.split_whitespace().next()).is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

/// (VmRSS kB, Pss kB, command name).
pub fn mem_of(pid: i32) -> Option<(u64, u64, String)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |text: &str, key: &str| -> Option<u64> {
        text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
    };
    let rss = field(&status, "VmRSS:")?;
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let pss = field(&rollup, "Pss:").unwrap_or(0);
    let name = status.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("?").to_string();
    Some((rss, pss, name))
}

/// Runs the monitors at a real-time priority (`chrt -f 10`) when chrt exists: they stamp an event
/// when they read it, and on a loaded machine a normal process may read it late.
pub fn rt<'a>(argv: &[&'a str]) -> Vec<&'a str> {
    let have = Command::new("chrt").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    let mut v = if have { vec!["chrt", "-f", "10"] } else { Vec::new() };
    v.extend_from_slice(argv);
    v
}

pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Emergency cleanup by name: every namespace of this process's labs (`vt<pid>-…`), with what runs in it.
pub fn emergency_cleanup() {
    let prefix = format!("vt{}-", std::process::id());
    let Ok(list) = run_ok(&["ip", "netns", "list"]) else { return };
    for ns in list.lines().filter_map(|l| l.split_whitespace().next()).filter(|n| n.starts_with(&prefix)) {
        for round in 0..20 {
            let pids: Vec<i32> = run_ok(&["ip", "netns", "pids", ns])
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                signal(p, if round == 0 { libc::SIGTERM } else { libc::SIGKILL });
            }
            sleep(Duration::from_millis(50));
        }
        let _ = run_ok(&["ip", "netns", "del", ns]);
    }
}

/// utime + stime of a process in clock ticks (/proc/PID/stat fields 14 and 15).
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The command name of a process (/proc/PID/comm).
pub fn comm_of(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}
