//! Failover benchmark: ours (`vrrpd -M 2`, one process per interface) against a keepalived
//! `vrrp_sync_group`, on the same namespace lab (2 hosts × 2 LANs, adverts 1 s, priorities 110/100,
//! VRID 51 on eth0 with VIP_A, VRID 52 on eth1 with VIP_B).
//!
//! This is a benchmark, not a test: it asserts nothing about times. It prints the raw per-trial
//! figures, then a table of median / worst per scenario for both implementations, the ratio
//! keepalived/ours, and the targets of `/work/shared/DESIGN.md` ("Where the bar is") for reference.
//!
//! Run (root): `scripts/bench.sh` (static release binary, the footprint we ship), or
//! `cargo bench --bench failover`. Environment:
//! - `BENCH_TRIALS`   trials per scenario (default 5);
//! - `VRRPD_BIN`      the vrrpd binary (default: the one cargo built for this bench);
//! - `BENCH_TIMELINE=1` print the timeline of the worst trial of every scenario (it is printed
//!   anyway when ours misses a target);
//! - `BENCH_ONLY=ours|keepalived` run one implementation only;
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

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

// =============================================================================================
// Parsing: tcpdump -tt -n -e, ip -ts monitor, vrrpd logs

#[derive(Clone, Debug)]
enum PktKind {
    Advert { src_ip: String, vrid: u8, prio: u8 },
    Garp { ip: String },
    Other,
}

#[derive(Clone, Debug)]
struct Pkt {
    t: i64,
    src_mac: String,
    kind: PktKind,
}

/// `1763755178.118193` → µs.
fn parse_epoch_us(s: &str) -> Option<i64> {
    let (sec, frac) = s.split_once('.')?;
    let sec: i64 = sec.parse().ok()?;
    let mut f = frac.to_string();
    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while f.len() < 6 {
        f.push('0');
    }
    Some(sec * 1_000_000 + f[..6].parse::<i64>().ok()?)
}

/// One line of `tcpdump -tt -n -e` (no -v):
/// `TS SRC > DST, ethertype IPv4 (0x0800), length 54: 192.0.2.1 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 0, …`
/// `TS SRC > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: Request who-has X tell X, length 46`
fn parse_pkt(line: &str) -> Option<Pkt> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let t = parse_epoch_us(w.first()?)?;
    let src_mac = w.get(1)?.to_lowercase();
    let dst_mac = w.get(3)?.trim_end_matches(',').to_lowercase();
    let kind = if line.contains("VRRP") {
        let parts: Vec<&str> = line.split(": ").collect();
        let src_ip = parts.get(1).and_then(|p| p.split_whitespace().next()).unwrap_or("").to_string();
        let num_after = |key: &str| -> Option<u8> {
            let i = w.iter().position(|x| *x == key)?;
            w.get(i + 1)?.trim_end_matches(',').parse().ok()
        };
        match (num_after("vrid"), num_after("prio")) {
            (Some(vrid), Some(prio)) => PktKind::Advert { src_ip, vrid, prio },
            _ => PktKind::Other,
        }
    } else if line.contains("ethertype ARP") && dst_mac == "ff:ff:ff:ff:ff:ff" {
        let after = |key: &str| -> Option<String> {
            let i = w.iter().position(|x| *x == key)?;
            Some(w.get(i + 1)?.trim_end_matches(',').to_string())
        };
        match (after("who-has"), after("tell"), after("Reply")) {
            (Some(a), Some(b), _) if a == b => PktKind::Garp { ip: a },
            (_, _, Some(a)) => PktKind::Garp { ip: a },
            _ => PktKind::Other,
        }
    } else {
        PktKind::Other
    };
    Some(Pkt { t, src_mac, kind })
}

fn parse_capture(text: &str) -> Vec<Pkt> {
    text.lines().filter_map(parse_pkt).collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-21T19:59:38.118193` (UTC: the monitors run with TZ=UTC) → µs.
fn parse_iso_us(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (h, mi, se) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se;
    parse_epoch_us(&format!("{secs}.{frac}"))
}

#[derive(Clone, Debug)]
enum MonKind {
    Link { ifname: String, flags: Vec<String> },
    AddrAdd { ifname: String, ip: String },
    AddrDel { ifname: String, ip: String },
}

#[derive(Clone, Debug)]
struct MonEv {
    t: i64,
    kind: MonKind,
}

/// One first line of `ip -ts monitor link address`:
/// `[2026-11-21T19:59:38.118193] 2: eth1@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 …`
/// `[…] 2: eth1    inet 10.9.9.200/32 scope global eth1:v52` / `[…] Deleted 2: eth1    inet …`
fn parse_mon(line: &str) -> Option<MonEv> {
    let rest = line.strip_prefix('[')?;
    let (ts, rest) = rest.split_once(']')?;
    let t = parse_iso_us(ts)?;
    let mut w: Vec<&str> = rest.split_whitespace().filter(|x| !x.starts_with('[')).collect();
    let deleted = w.first() == Some(&"Deleted");
    if deleted {
        w.remove(0);
    }
    // w[0] = "2:", w[1] = "eth1@if2:" or "eth1"
    let ifname = w.get(1)?.trim_end_matches(':').split('@').next()?.to_string();
    let kind = match w.get(2) {
        Some(&"inet") => {
            let ip = w.get(3)?.split('/').next()?.to_string();
            if deleted { MonKind::AddrDel { ifname, ip } } else { MonKind::AddrAdd { ifname, ip } }
        }
        Some(f) if f.starts_with('<') => MonKind::Link {
            ifname,
            flags: f.trim_matches(|c| c == '<' || c == '>').split(',').map(str::to_string).collect(),
        },
        _ => return None,
    };
    Some(MonEv { t, kind })
}

fn parse_monitor(text: &str) -> Vec<MonEv> {
    text.lines().filter_map(parse_mon).collect()
}

/// A vrrpd log line `HH:MM:SS.mmm vrrpd[pid] info: …` → µs, on the UTC day of `day_of`.
fn parse_log_time(line: &str, day_of: i64) -> Option<i64> {
    let first = line.split_whitespace().next()?;
    let (hms, ms) = first.split_once('.')?;
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (h, m, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let ms: i64 = ms.parse().ok()?;
    let day = day_of - day_of.rem_euclid(86_400_000_000);
    Some(day + ((h * 3600 + m * 60 + s) * 1000 + ms) * 1000)
}

// =============================================================================================
// Small system helpers (no panics: the bench records failures instead)

fn run_ok(args: &[&str]) -> Result<String, String> {
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
fn vips_held(ns: &str) -> (bool, bool) {
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
fn children_of(pid: i32) -> Vec<i32> {
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

fn descendants_of(pid: i32) -> Vec<i32> {
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

fn alive(pid: i32) -> bool {
    // A zombie still has /proc/PID; state Z counts as dead.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(')').and_then(|(_, a)| a.split_whitespace().next()).is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

/// (VmRSS kB, Pss kB, command name).
fn mem_of(pid: i32) -> Option<(u64, u64, String)> {
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
fn rt<'a>(argv: &[&'a str]) -> Vec<&'a str> {
    let have = Command::new("chrt").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    let mut v = if have { vec!["chrt", "-f", "10"] } else { Vec::new() };
    v.extend_from_slice(argv);
    v
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Emergency cleanup by name: every namespace of this process's labs (`vt<pid>-…`), with what runs in it.
fn emergency_cleanup() {
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

// =============================================================================================
// The bed: one lab, one implementation

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Imp {
    Ours,
    Keepalived,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Ours => "ours",
            Imp::Keepalived => "keepalived",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Scen {
    Link,
    Term,
    Kill1,
    KillAll,
}

impl Scen {
    const ALL: [Scen; 4] = [Scen::Link, Scen::Term, Scen::Kill1, Scen::KillAll];
    fn title(self) -> &'static str {
        match self {
            Scen::Link => "link loss (h1 LAN-B link cut)",
            Scen::Term => "SIGTERM of all h1 daemons",
            Scen::Kill1 => "SIGKILL of h1's eth1 member",
            Scen::KillAll => "SIGKILL of all h1 processes",
        }
    }
}

#[derive(Default, Clone)]
struct Trial {
    /// Event → h2 owns both VIPs (µs).
    takeover: Option<i64>,
    /// Event → priority-0 advert on every remaining link (µs).
    release: Option<i64>,
    /// Restore → h1 owns both VIPs again (µs).
    handback: Option<i64>,
    raw: String,
    timeline: String,
}

struct Mem {
    /// (host, pid, name, rss kB, pss kB)
    procs: Vec<(usize, i32, String, u64, u64)>,
}

struct Bed {
    lab: Lab,
    imp: Imp,
    bin: String,
    /// Per host: ours [eth0 member, eth1 member]; keepalived [parent].
    daemons: [Vec<Proc>; 2],
    /// Every daemon ever started (their logs make the timelines).
    all_daemons: Vec<Proc>,
    /// Captures on LAN A and LAN B (client namespaces).
    caps: Vec<Proc>,
    /// ip -ts monitor in h1, h2, switch.
    mon_h: Vec<Proc>,
    mon_sw: Option<Proc>,
    ka_conf: Vec<PathBuf>,
    ka_runs: usize,
    /// Run dirs on tmpfs (removed on drop), or `None` when they stay in the lab dir.
    tmpfs_base: Option<PathBuf>,
}

fn h2_mac(lan: usize) -> String {
    format!("02:00:00:00:0{lan}:02")
}

impl Bed {
    fn new(imp: Imp, bin: &str) -> Result<Bed, String> {
        let tag = match imp {
            Imp::Ours => "benchours",
            Imp::Keepalived => "benchka",
        };
        let lab = Lab::new(tag, 2, 2);
        let mut bed = Bed {
            lab,
            imp,
            bin: bin.to_string(),
            daemons: [Vec::new(), Vec::new()],
            all_daemons: Vec::new(),
            caps: Vec::new(),
            mon_h: Vec::new(),
            mon_sw: None,
            ka_conf: Vec::new(),
            ka_runs: 0,
            tmpfs_base: None,
        };
        // Captures first, so nothing is missed.
        for lan in 0..2 {
            let c = bed.lab.client(lan).to_string();
            let p = bed.lab.spawn_split(
                &c,
                &[
                    "tcpdump",
                    "-i",
                    "eth0",
                    "-tt",
                    "-n",
                    "-e",
                    "-l",
                    "-U",
                    "--immediate-mode",
                    "ip",
                    "proto",
                    "112",
                    "or",
                    "arp",
                ],
                &format!("tcpdump-lan{}", ['a', 'b'][lan]),
            );
            bed.caps.push(p);
        }
        for n in 1..=2 {
            let ns = bed.lab.h(n).to_string();
            let p = bed.lab.spawn(
                &ns,
                &rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "link", "address"]),
                &format!("monitor-h{n}"),
            );
            bed.mon_h.push(p);
        }
        let sw = bed.lab.switch.clone();
        bed.mon_sw =
            Some(bed.lab.spawn(&sw, &rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "link"]), "monitor-switch"));
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &bed.caps {
            while !c.err_text().contains("listening on") {
                if !c.is_running() {
                    return Err(format!("tcpdump exited: {}", c.err_text()));
                }
                if Instant::now() > deadline {
                    return Err("tcpdump does not listen".into());
                }
                sleep(Duration::from_millis(20));
            }
        }
        sleep(Duration::from_millis(200)); // ip monitor subscribes
        if imp == Imp::Keepalived {
            for n in 1..=2 {
                bed.ka_conf.push(bed.write_ka_conf(n));
            }
        } else if let Some(base) = tmpfs_rundir_base(&bed.lab.name) {
            // Where vrrpd keeps its run dir in production (/run/vrrpd, tmpfs): the state file is
            // written with fdatasync, which costs nothing on tmpfs and milliseconds on a busy disk.
            for h in bed.lab.hosts.iter_mut() {
                h.rundir = base.join(format!("run-h{}", h.n));
                fs::create_dir_all(&h.rundir).map_err(|e| format!("{}: {e}", h.rundir.display()))?;
            }
            bed.tmpfs_base = Some(base);
        }
        for n in 1..=2 {
            bed.start_host(n);
        }
        Ok(bed)
    }

    fn write_ka_conf(&self, n: usize) -> PathBuf {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let inst = |vrid: u8, ifname: &str, vip: &str| {
            format!(
                "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface {ifname}\n    virtual_router_id {vrid}\n    \
                 priority {prio}\n    advert_int 1\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
            )
        };
        let text = format!(
            "global_defs {{\n    router_id {name}_h{n}\n    vrrp_version 2\n    vrrp_garp_master_delay 0\n    \
             vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
             enable_script_security\n}}\n\
             vrrp_sync_group G1 {{\n    group {{\n        VI_{VRID_A}\n        VI_{VRID_B}\n    }}\n}}\n{}{}",
            inst(VRID_A, "eth0", VIP_A),
            inst(VRID_B, "eth1", VIP_B),
            name = self.lab.name,
        );
        let path = self.lab.dir.join(format!("keepalived-sync-h{n}.conf"));
        fs::write(&path, text).expect("keepalived conf");
        path
    }

    fn ours_member(&mut self, n: usize, lan: usize) -> Proc {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let (vrid, vip) = if lan == 0 { (VRID_A, VIP_A) } else { (VRID_B, VIP_B) };
        let rundir = self.lab.host(n).rundir.to_string_lossy().into_owned();
        let (p, v, ifname) = (prio.to_string(), vrid.to_string(), format!("eth{lan}"));
        let argv = [self.bin.as_str(), "-F", "-f", &rundir, "-M", "2", "-i", &ifname, "-v", &v, "-p", &p, vip];
        let ns = self.lab.h(n).to_string();
        let proc = self.lab.spawn(&ns, &argv, &format!("vrrpd-h{n}-eth{lan}"));
        self.all_daemons.push(proc.clone());
        proc
    }

    fn start_host(&mut self, n: usize) {
        match self.imp {
            Imp::Ours => {
                let a = self.ours_member(n, 0);
                let b = self.ours_member(n, 1);
                self.daemons[n - 1] = vec![a, b];
            }
            Imp::Keepalived => {
                self.ka_runs += 1;
                let base = self.lab.dir.join(format!("ka-h{n}-{}", self.ka_runs));
                let p = self.lab.spawn_keepalived(n, &self.ka_conf[n - 1], &base);
                self.all_daemons.push(p.clone());
                self.daemons[n - 1] = vec![p];
            }
        }
    }

    /// Every pid of host n's daemons (keepalived: parent and descendants).
    fn host_pids(&self, n: usize) -> Vec<i32> {
        let mut v = Vec::new();
        for p in &self.daemons[n - 1] {
            if p.is_running() {
                v.push(p.pid);
            }
            v.extend(descendants_of(p.pid));
        }
        v
    }

    fn daemons_running(&self) -> bool {
        self.daemons.iter().flatten().all(Proc::is_running)
    }

    fn settled_now(&self) -> bool {
        let (a1, b1) = vips_held(self.lab.h(1));
        let (a2, b2) = vips_held(self.lab.h(2));
        let mut ok = a1 && b1 && !a2 && !b2;
        if ok && self.imp == Imp::Ours {
            for (n, want) in [(1, "MASTER"), (2, "BACKUP")] {
                for ifname in ["eth0", "eth1"] {
                    ok &= self.lab.vrrpd_state(n, ifname).as_deref() == Some(want);
                }
            }
        }
        ok
    }

    /// Waits for h1 owning both VIPs, h2 neither, all daemons up, holding for SETTLE_HOLD.
    fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut since: Option<Instant> = None;
        loop {
            if stopped() {
                return Err("interrupted".into());
            }
            if !self.daemons_running() {
                return Err(format!("a daemon exited while settling:\n{}", self.lab.snapshot()));
            }
            if self.settled_now() {
                let s = *since.get_or_insert_with(Instant::now);
                if s.elapsed() >= SETTLE_HOLD {
                    return Ok(());
                }
            } else {
                since = None;
            }
            if Instant::now() > deadline {
                return Err(format!("no settled state (h1 owns both) after 45 s:\n{}", self.lab.snapshot()));
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Polls until `cond` holds; returns the time it was seen (µs).
    fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<i64, String> {
        let start = Instant::now();
        loop {
            if cond() {
                return Ok(now_us());
            }
            if stopped() {
                return Err("interrupted".into());
            }
            if start.elapsed() > timeout {
                return Err(format!("timed out after {timeout:?}: {what}\n{}", self.lab.snapshot()));
            }
            sleep(FAST_POLL);
        }
    }

    fn caps(&self) -> [Vec<Pkt>; 2] {
        [parse_capture(&self.caps[0].log_text()), parse_capture(&self.caps[1].log_text())]
    }

    fn mon(&self, n: usize) -> Vec<MonEv> {
        parse_monitor(&self.mon_h[n - 1].log_text())
    }

    /// First GARP for the LAN's VIP after `t0` that comes from h2 (h2's MAC or the vMAC).
    fn h2_garp(pkts: &[Pkt], lan: usize, t0: i64) -> Option<i64> {
        let (vip, vm) = if lan == 0 { (VIP_A, vmac(VRID_A)) } else { (VIP_B, vmac(VRID_B)) };
        pkts.iter()
            .filter(|p| p.t >= t0)
            .find(|p| {
                matches!(&p.kind, PktKind::Garp { ip } if ip == vip) && (p.src_mac == vm || p.src_mac == h2_mac(lan))
            })
            .map(|p| p.t)
    }

    /// First priority-0 advert of h1 on a LAN after `t0`.
    fn h1_prio0(pkts: &[Pkt], lan: usize, t0: i64) -> Option<i64> {
        let src = host_ip(1, lan);
        pkts.iter()
            .filter(|p| p.t >= t0)
            .find(|p| matches!(&p.kind, PktKind::Advert { src_ip, prio: 0, .. } if *src_ip == src))
            .map(|p| p.t)
    }

    /// First address-add of `ip` on host n after t0 (monitor).
    fn addr_add(evs: &[MonEv], ip_want: &str, t0: i64) -> Option<i64> {
        evs.iter()
            .filter(|e| e.t >= t0)
            .find(|e| matches!(&e.kind, MonKind::AddrAdd { ip, .. } if ip == ip_want))
            .map(|e| e.t)
    }

    fn link_ev(evs: &[MonEv], ifname_want: &str, t0: i64, pred: impl Fn(&[String]) -> bool) -> Option<i64> {
        evs.iter()
            .filter(|e| e.t >= t0)
            .find(|e| matches!(&e.kind, MonKind::Link { ifname, flags } if ifname == ifname_want && pred(flags)))
            .map(|e| e.t)
    }

    fn h2_owns_both(&self) -> bool {
        let (a, b) = vips_held(self.lab.h(2));
        a && b
    }

    fn h1_owns_both_alone(&self) -> bool {
        let (a1, b1) = vips_held(self.lab.h(1));
        let (a2, b2) = vips_held(self.lab.h(2));
        a1 && b1 && !a2 && !b2
    }

    fn wait_procs_exit(&self, pids: &[i32], timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            for p in self.daemons.iter().flatten() {
                let _ = p.try_status(); // reaps
            }
            if pids.iter().all(|p| !alive(*p)) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!("processes {pids:?} still alive after {timeout:?}"));
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// One trial of a scenario, from a settled state, ending with h1 master again.
    fn trial(&mut self, sc: Scen) -> Result<Trial, String> {
        self.settle()?;
        let mut tr = Trial::default();
        let mut raw = String::new();
        let h1_pids = self.host_pids(1);
        let before = now_us();

        // ---- the event
        let (t_event, after) = match sc {
            Scen::Link => {
                run_ok(&["ip", "-n", &self.lab.switch, "link", "set", "h1e1", "down"])?;
                (before, now_us())
            }
            Scen::Term => {
                let t = now_us();
                for p in &self.daemons[0] {
                    signal(p.pid, libc::SIGTERM);
                }
                (t, t)
            }
            Scen::Kill1 => {
                let t = now_us();
                signal(self.daemons[0][1].pid, libc::SIGKILL);
                (t, t)
            }
            Scen::KillAll => {
                let t = now_us();
                for p in &h1_pids {
                    signal(*p, libc::SIGKILL);
                }
                (t, t)
            }
        };
        let t_poll = self.wait_for("h2 owns both VIPs", HANG, || self.h2_owns_both());
        sleep(FLUSH);
        let caps = self.caps();
        let mon1 = self.mon(1);
        let mon2 = self.mon(2);
        // Refine the event time of the link cut: the switch's own notification, within [before, after].
        let mut t0 = t_event;
        if sc == Scen::Link {
            // The kernel's notifications of the cut: h1e1 admin down in the switch, eth1 NO-CARRIER
            // in h1 (µs apart in the kernel). Each monitor stamps it when it reads it, a little late:
            // the earliest of the two, never before the `ip link set` began, is the event.
            let sw = parse_monitor(&self.mon_sw.as_ref().map(Proc::log_text).unwrap_or_default());
            let t_sw = Self::link_ev(&sw, "h1e1", before, |f| !f.iter().any(|x| x == "UP"));
            let t_h1 = Self::link_ev(&mon1, "eth1", before, |f| f.iter().any(|x| x == "NO-CARRIER"));
            t0 = [t_sw, t_h1].into_iter().flatten().min().unwrap_or(after).max(before);
            let ms = |t: Option<i64>| t.map(|t| format!("{:.2}", (t - before) as f64 / 1000.0)).unwrap_or("?".into());
            let _ = write!(
                raw,
                "`ip link set down` ran {:.2} ms; seen by the switch monitor at {} ms, by h1's (eth1 NO-CARRIER) at {} ms; ",
                (after - before) as f64 / 1000.0,
                ms(t_sw),
                ms(t_h1)
            );
        }
        let t_poll = match t_poll {
            Ok(t) => t,
            Err(e) => {
                tr.timeline = self.timeline(t0, now_us());
                return Err(format!("{e}\n{}", tr.timeline));
            }
        };
        let garp = [Self::h2_garp(&caps[0], 0, t0), Self::h2_garp(&caps[1], 1, t0)];
        let adds = [Self::addr_add(&mon2, VIP_A, t0), Self::addr_add(&mon2, VIP_B, t0)];
        let rel = |t: Option<i64>| t.map(|t| format!("{:.3}", (t - t0) as f64 / 1e6)).unwrap_or("?".into());
        tr.takeover = match (garp[0], garp[1]) {
            (Some(a), Some(b)) => Some(a.max(b) - t0),
            _ => match (adds[0], adds[1]) {
                (Some(a), Some(b)) => {
                    raw.push_str("(no GARP seen: from h2's address events) ");
                    Some(a.max(b) - t0)
                }
                _ => {
                    raw.push_str("(no GARP, no address event: from the poll) ");
                    Some(t_poll - t0)
                }
            },
        };
        let _ = write!(
            raw,
            "h2 GARP A {} s, B {} s; h2 addr-add A {} s, B {} s; poll {} s",
            rel(garp[0]),
            rel(garp[1]),
            rel(adds[0]),
            rel(adds[1]),
            rel(Some(t_poll))
        );

        // ---- local release
        match sc {
            Scen::Link => {
                let p0 = Self::h1_prio0(&caps[0], 0, before);
                tr.release = p0.map(|t| t - t0);
                let _ = write!(
                    raw,
                    "; prio-0 on A {} ms after the link notification",
                    p0.map(|t| format!("{:.2}", (t - t0) as f64 / 1000.0)).unwrap_or("none".into())
                );
            }
            Scen::Term => {
                let a = Self::h1_prio0(&caps[0], 0, t0);
                let b = Self::h1_prio0(&caps[1], 1, t0);
                if let (Some(a), Some(b)) = (a, b) {
                    tr.release = Some(a.max(b) - t0);
                }
                let ms =
                    |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1000.0)).unwrap_or("none".into());
                let _ = write!(raw, "; prio-0 A {} ms, B {} ms after kill()", ms(a), ms(b));
            }
            Scen::Kill1 => {
                // The remaining link is A; ours also resigns on B for the dead member (shown, not timed).
                let a = Self::h1_prio0(&caps[0], 0, t0);
                let b = Self::h1_prio0(&caps[1], 1, t0);
                tr.release = a.map(|t| t - t0);
                let ms =
                    |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1000.0)).unwrap_or("none".into());
                let _ = write!(raw, "; prio-0 A {} ms (B, for the dead member: {} ms) after kill()", ms(a), ms(b));
            }
            Scen::KillAll => {}
        }
        tr.timeline = self.timeline(t0, t0.max(garp[0].unwrap_or(0)).max(garp[1].unwrap_or(0)).max(t_poll));

        // ---- restore and hand back
        let t_restore;
        match sc {
            Scen::Link => {
                t_restore = now_us();
                run_ok(&["ip", "-n", &self.lab.switch, "link", "set", "h1e1", "up"])?;
            }
            Scen::Term | Scen::KillAll => {
                self.wait_procs_exit(&h1_pids, Duration::from_secs(10))?;
                if sc == Scen::KillAll && self.imp == Imp::Keepalived {
                    // The host "reboots": keepalived left its VIPs behind.
                    let h1 = self.lab.h(1).to_string();
                    let _ = run_ok(&["ip", "-n", &h1, "addr", "del", &format!("{VIP_A}/32"), "dev", "eth0"]);
                    let _ = run_ok(&["ip", "-n", &h1, "addr", "del", &format!("{VIP_B}/32"), "dev", "eth1"]);
                }
                t_restore = now_us();
                self.start_host(1);
            }
            Scen::Kill1 => {
                self.wait_procs_exit(&[self.daemons[0][1].pid], Duration::from_secs(10))?;
                t_restore = now_us();
                let p = self.ours_member(1, 1);
                self.daemons[0][1] = p;
            }
        }
        let t_back =
            self.wait_for("h1 owns both VIPs again (handback)", Duration::from_secs(30), || self.h1_owns_both_alone())?;
        sleep(FLUSH);
        let mon1 = self.mon(1);
        let back = [Self::addr_add(&mon1, VIP_A, t_restore), Self::addr_add(&mon1, VIP_B, t_restore)];
        tr.handback = Some(match back {
            [Some(a), Some(b)] => a.max(b) - t_restore,
            _ => t_back - t_restore,
        });
        let _ = write!(raw, "; handback {:.3} s", tr.handback.unwrap_or(0) as f64 / 1e6);
        tr.raw = raw;
        Ok(tr)
    }

    /// Captures, monitors and daemon logs between t0 - 200 ms and t_end + 200 ms, relative to t0.
    fn timeline(&self, t0: i64, t_end: i64) -> String {
        let (lo, hi) = (t0 - 200_000, t_end + 200_000);
        let mut ev: Vec<(i64, String)> = Vec::new();
        for (lan, cap) in self.caps.iter().enumerate() {
            for p in parse_capture(&cap.log_text()) {
                if p.t < lo || p.t > hi || matches!(p.kind, PktKind::Other) {
                    continue;
                }
                let what = match &p.kind {
                    PktKind::Advert { src_ip, vrid, prio } => format!("advert from {src_ip} vrid {vrid} prio {prio}"),
                    PktKind::Garp { ip } => format!("GARP {ip} from {}", p.src_mac),
                    PktKind::Other => String::new(),
                };
                ev.push((p.t, format!("LAN {} wire : {what}", ['A', 'B'][lan])));
            }
        }
        let mons = self.mon_h.iter().enumerate().map(|(i, p)| (format!("h{} kernel", i + 1), p));
        for (who, p) in mons.chain(self.mon_sw.iter().map(|p| ("switch   ".to_string(), p))) {
            for e in parse_monitor(&p.log_text()) {
                if e.t < lo || e.t > hi {
                    continue;
                }
                let what = match &e.kind {
                    MonKind::Link { ifname, flags } => format!("link {ifname} <{}>", flags.join(",")),
                    MonKind::AddrAdd { ifname, ip } => format!("+addr {ip} on {ifname}"),
                    MonKind::AddrDel { ifname, ip } => format!("-addr {ip} on {ifname}"),
                };
                ev.push((e.t, format!("{who}: {what}")));
            }
        }
        for p in &self.all_daemons {
            let short = p.name.split(" in ").next().unwrap_or("");
            for line in p.log_text().lines() {
                let Some(t) = parse_log_time(line, t0) else { continue };
                if t < lo || t > hi {
                    continue;
                }
                let msg = line.split_once(": ").map(|(_, m)| m).unwrap_or(line);
                ev.push((t, format!("{short} log: {msg}")));
            }
        }
        ev.sort_by_key(|e| e.0);
        let mut s = String::new();
        for (t, what) in ev {
            let _ = writeln!(s, "    {:>+9.1} ms  {what}", (t - t0) as f64 / 1000.0);
        }
        s
    }

    fn memory(&self) -> Mem {
        let mut procs = Vec::new();
        for n in 1..=2 {
            for pid in self.host_pids(n) {
                if let Some((rss, pss, name)) = mem_of(pid) {
                    procs.push((n, pid, name, rss, pss));
                }
            }
        }
        Mem { procs }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        // keepalived: stop the parents, then make sure no child outlives them (the lab's drop also
        // kills whatever is left in its namespaces).
        let mut pids = Vec::new();
        for n in 1..=2 {
            pids.extend(self.host_pids(n));
        }
        for p in self.daemons.iter().flatten() {
            p.term();
        }
        let start = Instant::now();
        while pids.iter().any(|p| alive(*p)) && start.elapsed() < Duration::from_secs(3) {
            for p in self.daemons.iter().flatten() {
                let _ = p.try_status();
            }
            sleep(Duration::from_millis(25));
        }
        for p in pids {
            if alive(p) {
                signal(p, libc::SIGKILL);
            }
        }
        if let Some(base) = &self.tmpfs_base {
            let _ = fs::remove_dir_all(base);
        }
    }
}

/// `BENCH_RUNDIR=disk` keeps the run dirs in the lab dir (under the temp dir, as the tests do);
/// by default they go to tmpfs (/dev/shm), like /run/vrrpd on a production host.
fn tmpfs_rundir_base(lab_name: &str) -> Option<PathBuf> {
    if std::env::var("BENCH_RUNDIR").is_ok_and(|v| v == "disk") {
        return None;
    }
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let is_tmpfs = mounts.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&"/dev/shm") && w.get(2) == Some(&"tmpfs")
    });
    is_tmpfs.then(|| PathBuf::from(format!("/dev/shm/vrrpd-bench-{lab_name}")))
}

fn rundir_kind() -> &'static str {
    if tmpfs_rundir_base("x").is_some() {
        "run dirs on tmpfs (/dev/shm), like /run/vrrpd"
    } else {
        "run dirs in the lab dir under the temp dir (BENCH_RUNDIR=disk or no tmpfs)"
    }
}

// =============================================================================================
// Running and reporting

struct Run {
    imp: Imp,
    trials: BTreeMap<Scen, Vec<Result<Trial, String>>>,
    mem: Option<Mem>,
    mem_end: Option<Mem>,
    error: Option<String>,
    lab_dir: String,
}

fn run_imp(imp: Imp, bin: &str, n: usize) -> Run {
    let mut run = Run { imp, trials: BTreeMap::new(), mem: None, mem_end: None, error: None, lab_dir: String::new() };
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), String> {
        let mut bed = Bed::new(imp, bin)?;
        run.lab_dir = bed.lab.dir.display().to_string();
        eprintln!("[{}] lab {} ({})", imp.name(), bed.lab.name, run.lab_dir);
        bed.settle()?;
        run.mem = Some(bed.memory());
        for sc in Scen::ALL {
            if sc == Scen::Kill1 && imp == Imp::Keepalived {
                continue;
            }
            for i in 1..=n {
                if stopped() {
                    return Err("interrupted".into());
                }
                let t = Instant::now();
                let r = bed.trial(sc);
                match &r {
                    Ok(tr) => eprintln!(
                        "[{}] {} #{i}: takeover {} ({:.0} s)",
                        imp.name(),
                        sc.title(),
                        tr.takeover.map(|t| format!("{:.3} s", t as f64 / 1e6)).unwrap_or("?".into()),
                        t.elapsed().as_secs_f64()
                    ),
                    Err(e) => eprintln!("[{}] {} #{i}: FAILED: {e}", imp.name(), sc.title()),
                }
                let failed = r.is_err();
                run.trials.entry(sc).or_default().push(r);
                if failed {
                    // Try to get back to a settled state; give up on this implementation otherwise.
                    if let Err(e) = recover(&mut bed) {
                        return Err(format!("cannot recover after a failed trial: {e}"));
                    }
                }
            }
        }
        bed.settle()?;
        run.mem_end = Some(bed.memory());
        Ok(())
    }));
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => run.error = Some(e),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            run.error = Some(format!("panic: {msg}"));
        }
    }
    run
}

/// After a failed trial: link up, every daemon running, then a settled state.
fn recover(bed: &mut Bed) -> Result<(), String> {
    let _ = run_ok(&["ip", "-n", &bed.lab.switch, "link", "set", "h1e1", "up"]);
    for n in 1..=2 {
        if !bed.daemons[n - 1].iter().all(Proc::is_running) {
            let pids = bed.host_pids(n);
            for p in &pids {
                signal(*p, libc::SIGKILL);
            }
            bed.wait_procs_exit(&pids, Duration::from_secs(10))?;
            bed.start_host(n);
        }
    }
    bed.settle()
}

fn median(v: &[i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let m = s.len() / 2;
    Some(if s.len() % 2 == 1 { s[m] as f64 } else { (s[m - 1] + s[m]) as f64 / 2.0 })
}

#[derive(Clone, Copy)]
enum Unit {
    S,
    Ms,
}

fn fmt_val(v: f64, u: Unit) -> String {
    match u {
        Unit::S => format!("{:.3} s", v / 1e6),
        Unit::Ms => format!("{:.2} ms", v / 1e3),
    }
}

#[derive(Clone, Copy)]
enum Metric {
    Takeover,
    Release,
    Handback,
}

/// (median, worst, present, total) of a metric over a run's trials of a scenario.
fn stats(run: &Run, sc: Scen, m: Metric) -> Option<(f64, f64, usize, usize)> {
    let trials = run.trials.get(&sc)?;
    let vals: Vec<i64> = trials
        .iter()
        .filter_map(|t| t.as_ref().ok())
        .filter_map(|t| match m {
            Metric::Takeover => t.takeover,
            Metric::Release => t.release,
            Metric::Handback => t.handback,
        })
        .collect();
    let med = median(&vals)?;
    Some((med, *vals.iter().max()? as f64, vals.len(), trials.len()))
}

struct Row {
    label: String,
    ours: String,
    ka: String,
    ratio: String,
    target: String,
    verdict: String,
}

fn cell(s: Option<(f64, f64, usize, usize)>, u: Unit, none: &str) -> String {
    match s {
        Some((med, worst, k, n)) => {
            let mut c = format!("{:>10} {:>10}", fmt_val(med, u), fmt_val(worst, u));
            if k < n {
                let _ = write!(c, " ({k}/{n})");
            }
            c
        }
        None => format!("{none:>21}"),
    }
}

fn ratio(o: Option<(f64, f64, usize, usize)>, k: Option<(f64, f64, usize, usize)>) -> String {
    match (o, k) {
        (Some((om, ow, ..)), Some((km, kw, ..))) if om > 0.0 && ow > 0.0 => {
            format!("{:>7.1}× {:>6.1}×", km / om, kw / ow)
        }
        _ => format!("{:>16}", "–"),
    }
}

fn verdict(o: Option<(f64, f64, usize, usize)>, target_us: Option<f64>) -> String {
    match (o, target_us) {
        (Some((med, worst, k, n)), Some(t)) => {
            if k < n {
                format!("{} of {n} trials measured", k)
            } else if worst <= t {
                "ok".into()
            } else if med <= t {
                "worst over target".into()
            } else {
                "OVER target".into()
            }
        }
        (None, Some(_)) => "not measured".into(),
        _ => String::new(),
    }
}

fn print_report(ours: &Run, ka: Option<&Run>, trials: usize, bin: &str, load_start: &str, load_end: &str) {
    // ---- raw figures
    for run in std::iter::once(ours).chain(ka) {
        println!("\n=== raw figures: {} (lab dir {}) ===", run.imp.name(), run.lab_dir);
        for (sc, v) in &run.trials {
            println!("  {}:", sc.title());
            for (i, t) in v.iter().enumerate() {
                match t {
                    Ok(t) => println!(
                        "    #{}: takeover {}{}  [{}]",
                        i + 1,
                        t.takeover.map(|x| fmt_val(x as f64, Unit::S)).unwrap_or("?".into()),
                        t.release
                            .map(|x| format!(", local release {}", fmt_val(x as f64, Unit::Ms)))
                            .unwrap_or_default(),
                        t.raw
                    ),
                    Err(e) => println!("    #{}: FAILED: {}", i + 1, e.lines().next().unwrap_or("")),
                }
            }
        }
        for (when, m) in
            [("after the first settle", &run.mem), ("after all trials (h1 restarted, h2 not)", &run.mem_end)]
        {
            let Some(m) = m else { continue };
            println!("  memory {when} (VmRSS / PSS):");
            for (n, pid, name, rss, pss) in &m.procs {
                println!(
                    "    h{n} pid {pid:<8} {name:<12} RSS {:>8.2} MiB  PSS {:>8.2} MiB",
                    *rss as f64 / 1024.0,
                    *pss as f64 / 1024.0
                );
            }
        }
        if let Some(e) = &run.error {
            println!("  run stopped early: {e}");
        }
    }

    // ---- table
    let none_ka = ka.is_none();
    let s = |run: Option<&Run>, sc, m| run.and_then(|r| stats(r, sc, m));
    let mut rows = Vec::new();
    let mut add = |label: &str, sc: Scen, m: Metric, u: Unit, target: &str, target_us: Option<f64>, ka_na: bool| {
        let o = s(Some(ours), sc, m);
        let k = if ka_na { None } else { s(ka, sc, m) };
        let ka_cell = if none_ka {
            format!("{:>21}", "not installed")
        } else if ka_na {
            format!("{:>21}", "n/a")
        } else {
            cell(k, u, "none")
        };
        rows.push(Row {
            label: label.to_string(),
            ours: cell(o, u, "none"),
            ka: ka_cell,
            ratio: ratio(o, k),
            target: target.to_string(),
            verdict: verdict(o, target_us),
        });
    };
    use Metric::*;
    add("1 link loss → h2 owns both VIPs", Scen::Link, Takeover, Unit::S, "≤ 1.2 s every trial", Some(1.2e6), false);
    add("  handback after link restore", Scen::Link, Handback, Unit::S, "–", None, false);
    add("2 SIGTERM h1 → h2 owns both", Scen::Term, Takeover, Unit::S, "≤ 0.66 s", Some(0.66e6), false);
    add("  handback after restart", Scen::Term, Handback, Unit::S, "–", None, false);
    add("3 SIGKILL h1 eth1 member → h2 both", Scen::Kill1, Takeover, Unit::S, "–", None, true);
    add("  handback after member restart", Scen::Kill1, Handback, Unit::S, "–", None, true);
    add("4 SIGKILL all of h1 → h2 owns both", Scen::KillAll, Takeover, Unit::S, "≤ 3.66 s", Some(3.66e6), false);
    add("  handback after restart", Scen::KillAll, Handback, Unit::S, "–", None, false);
    add("5 local release: link notif. → prio 0 on A", Scen::Link, Release, Unit::Ms, "≤ 5 ms", Some(5e3), false);
    add("  SIGTERM → prio 0 on A and B", Scen::Term, Release, Unit::Ms, "–", None, false);
    add("  SIGKILL eth1 member → prio 0 on A", Scen::Kill1, Release, Unit::Ms, "–", None, true);

    // Memory: h1's daemons after the first settle.
    // Memory: the largest figure over both hosts and both snapshots (after the first settle, after
    // all trials): a process, and a host's processes summed.
    let memstats = |run: Option<&Run>| -> Option<(f64, f64, f64)> {
        let run = run?;
        let snaps: Vec<&Mem> = [&run.mem, &run.mem_end].into_iter().flatten().collect();
        let (mut max_rss, mut host_rss, mut host_pss) = (0u64, 0u64, 0u64);
        for m in snaps {
            for n in 1..=2 {
                let procs: Vec<_> = m.procs.iter().filter(|p| p.0 == n).collect();
                max_rss = max_rss.max(procs.iter().map(|p| p.3).max().unwrap_or(0));
                host_rss = host_rss.max(procs.iter().map(|p| p.3).sum());
                host_pss = host_pss.max(procs.iter().map(|p| p.4).sum());
            }
        }
        (max_rss > 0).then_some((max_rss as f64, host_rss as f64, host_pss as f64))
    };
    let (om, km) = (memstats(Some(ours)), memstats(ka));
    let mib = |v: Option<f64>| v.map(|x| format!("{:.2} MiB", x / 1024.0)).unwrap_or("?".into());
    let mut mem_row = |label: &str, f: fn((f64, f64, f64)) -> f64, target: &str, target_kb: Option<f64>| {
        let o = om.map(f);
        let k = km.map(f);
        rows.push(Row {
            label: label.to_string(),
            ours: format!("{:>21}", mib(o)),
            ka: if none_ka { format!("{:>21}", "not installed") } else { format!("{:>21}", mib(k)) },
            ratio: match (o, k) {
                (Some(o), Some(k)) if o > 0.0 => format!("{:>16}", format!("{:.1}×", k / o)),
                _ => format!("{:>16}", "–"),
            },
            target: target.to_string(),
            verdict: match (o, target_kb) {
                (Some(o), Some(t)) => {
                    if o <= t {
                        "ok".into()
                    } else {
                        "OVER target".into()
                    }
                }
                _ => String::new(),
            },
        });
    };
    mem_row("M RSS per process (largest seen)", |m| m.0, "≤ 2 MiB", Some(2048.0));
    mem_row("  RSS whole host (all its processes)", |m| m.1, "≤ 4 MB (as MiB)", Some(4096.0));
    mem_row("  PSS whole host (all its processes)", |m| m.2, "–", None);

    println!(
        "\n=== failover benchmark: {trials} trial(s) per scenario, adverts 1 s, priorities 110/100, 2 hosts × 2 LANs ==="
    );
    println!(
        "ours: {bin} -F -M 2 (one process per interface), {}; keepalived: one process tree per host, vrrp_sync_group of 2 instances",
        rundir_kind()
    );
    println!(
        "load average (1/5/15 min) at start: {load_start}; at end: {load_end}; cpus: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!(
        "{:<44} | {:^21} | {:^21} | {:^16} | {:<20} | ours vs target",
        "scenario", "ours median  worst", "keepalived med worst", "ka/ours med worst", "target (DESIGN.md)",
    );
    println!("{}", "-".repeat(44 + 3 + 21 + 3 + 21 + 3 + 16 + 3 + 20 + 3 + 16));
    for r in rows {
        println!("{:<44} | {} | {} | {} | {:<20} | {}", r.label, r.ours, r.ka, r.ratio, r.target, r.verdict);
    }
    println!(
        "(times: median and worst over the trials; \"(k/n)\": measured in k of n trials; memory: largest over h1/h2, after the first settle and after all trials)"
    );

    // ---- timelines
    let all = std::env::var("BENCH_TIMELINE").is_ok_and(|v| v == "1");
    let targets = [
        (Scen::Link, Metric::Takeover, 1.2e6),
        (Scen::Term, Metric::Takeover, 0.66e6),
        (Scen::KillAll, Metric::Takeover, 3.66e6),
        (Scen::Link, Metric::Release, 5e3),
    ];
    for run in std::iter::once(ours).chain(ka) {
        for (sc, v) in &run.trials {
            let get = |t: &Trial, m: Metric| match m {
                Metric::Takeover => t.takeover,
                Metric::Release => t.release,
                Metric::Handback => t.handback,
            };
            for m in [Metric::Takeover, Metric::Release] {
                let limit = targets
                    .iter()
                    .find(|(s, mm, _)| s == sc && std::mem::discriminant(mm) == std::mem::discriminant(&m))
                    .map(|x| x.2);
                let Some((i, worst)) = v
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| t.as_ref().ok().and_then(|t| get(t, m)).map(|x| (i, x)))
                    .max_by_key(|x| x.1)
                else {
                    continue;
                };
                let over = run.imp == Imp::Ours && limit.is_some_and(|l| worst as f64 > l);
                if over || (all && matches!(m, Metric::Takeover)) {
                    let what = if matches!(m, Metric::Takeover) { "takeover" } else { "local release" };
                    println!(
                        "\n--- timeline: {} / {} / worst {what} (trial #{}, {}){}; t = 0 is the event",
                        run.imp.name(),
                        sc.title(),
                        i + 1,
                        fmt_val(worst as f64, if matches!(m, Metric::Release) { Unit::Ms } else { Unit::S }),
                        if over { " — OVER target" } else { "" }
                    );
                    if let Ok(t) = &v[i] {
                        print!("{}", t.timeline);
                    }
                }
            }
        }
    }
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

    let load_start = loadavg();
    eprintln!("failover bench: {trials} trial(s) per scenario, vrrpd = {bin}, load {load_start}");
    let ours = if only.is_empty() || only == "ours" {
        run_imp(Imp::Ours, &bin, trials)
    } else {
        Run {
            imp: Imp::Ours,
            trials: BTreeMap::new(),
            mem: None,
            mem_end: None,
            error: Some("skipped (BENCH_ONLY)".into()),
            lab_dir: String::new(),
        }
    };
    let have_ka =
        Command::new("keepalived").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    let ka = if have_ka && !stopped() && (only.is_empty() || only == "keepalived") {
        Some(run_imp(Imp::Keepalived, &bin, trials))
    } else {
        None
    };
    let load_end = loadavg();
    print_report(&ours, ka.as_ref(), trials, &bin, &load_start, &load_end);

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
