//! atropos against real vrrpd groups (`-M 2` on two hosts × two LANs): `--state` (text, `--json`,
//! monitoring exit codes), `--backup` / `--resume`, `--reduce` / `--increase`, root-only access, and
//! what a member does with malformed requests on its control socket.
//! Run as root: `cargo test --test atropos -- --test-threads=2` (the atropos binary is built next to
//! vrrpd by `common::atropos_bin()` on first use).

mod common;

use common::json::*;
use common::pair::*;
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline only to catch hangs; no transition here needs more than ~4 s.
fn rundir(lab: &Lab, n: usize) -> PathBuf {
    lab.host(n).rundir.clone()
}

// ---------------------------------------------------------------------------------------------
// Running atropos

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    #[allow(dead_code)] // shown by Debug in failure messages
    stderr: String,
}

/// Runs a command to completion; kills it and panics after `HANG`.
fn run_cmd(mut cmd: Command) -> Run {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(Ok(o)) => Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            panic!("{what}: still running after {HANG:?}");
        }
    }
}

/// `atropos -f RUNDIR ARGS` as root, outside any namespace (it only talks to the run dir's sockets).
fn atropos(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(atropos_bin());
    c.arg("-f").arg(dir).args(args);
    run_cmd(c)
}

// ---------------------------------------------------------------------------------------------
// The text table of --state

struct Table {
    first: String,
    rows: Vec<BTreeMap<String, String>>,
}

/// Columns are separated by at least two spaces (cells hold single spaces only).
fn cells(line: &str) -> Vec<String> {
    line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
}

fn parse_table(out: &str) -> Table {
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "atropos --state: a summary line and a header at least:\n{out}");
    let header = cells(lines[1]);
    assert_eq!(header.first().map(String::as_str), Some("IFACE"), "header line:\n{out}");
    let rows = lines[2..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| header.iter().cloned().zip(cells(l)).collect::<BTreeMap<_, _>>())
        .collect();
    Table { first: lines[0].to_string(), rows }
}

fn row<'a>(t: &'a Table, ifname: &str, out: &str) -> &'a BTreeMap<String, String> {
    t.rows
        .iter()
        .find(|r| r.get("IFACE").map(String::as_str) == Some(ifname))
        .unwrap_or_else(|| panic!("no row for {ifname}:\n{out}"))
}

fn cell<'a>(r: &'a BTreeMap<String, String>, col: &str) -> &'a str {
    r.get(col).map(String::as_str).unwrap_or_else(|| panic!("no {col} column in {r:?}"))
}

// ---------------------------------------------------------------------------------------------
// A minimal JSON parser (serde_json is not a dependency)

#[test]
fn json_parser_self_check() {
    let j = parse_json(r#" {"a":1,"b":[true,false,null],"c":"x\"\u0041\n","d":{},"e":[],"f":-2.5e1} "#);
    assert_eq!(j.get("a").num(), 1.0);
    assert_eq!(j.get("b").arr(), &[Json::Bool(true), Json::Bool(false), Json::Null]);
    assert_eq!(j.get("c").str(), "x\"A\n");
    assert_eq!(j.get("d"), &Json::Obj(vec![]));
    assert_eq!(j.get("e"), &Json::Arr(vec![]));
    assert_eq!(j.get("f").num(), -25.0);
}

fn member<'a>(j: &'a Json, ifname: &str) -> &'a Json {
    j.get("members")
        .arr()
        .iter()
        .find(|m| m.get("interface").str() == ifname)
        .unwrap_or_else(|| panic!("no member {ifname} in {j:?}"))
}

// ---------------------------------------------------------------------------------------------
// 1. --state, text and JSON

#[test]
fn state_on_master_and_backup_text_and_json() {
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("astate", 2, 2);
    let (h1, h2, _o1, o2) = start_pair(&lab);
    let heard = [host_ip(1, 0), host_ip(1, 1)];
    // Host 2's members hear host 1's adverts on each LAN (the first one may still be in flight).
    lab.wait_until(HANG, "host 2's members report host 1 as the master heard", || {
        let r = atropos(&rundir(&lab, 2), &["--state"]);
        let t = parse_table(&r.stdout);
        (0..2).all(|lan| {
            t.rows.iter().any(|row| {
                row.get("IFACE").map(String::as_str) == Some(IFS[lan])
                    && row.get("MASTER HEARD").is_some_and(|h| h.starts_with(&heard[lan]))
            })
        })
    });

    // Host 1: MASTER.
    let r = atropos(&rundir(&lab, 1), &["--state"]);
    assert_eq!(r.code, Some(0), "atropos --state on the master: {r:?}");
    let t = parse_table(&r.stdout);
    assert_eq!(t.first, "VRRP OK: host is MASTER", "{}", r.stdout);
    assert_eq!(t.rows.len(), 2, "one row per member:\n{}", r.stdout);
    for lan in 0..2 {
        let row = row(&t, IFS[lan], &r.stdout);
        assert_eq!(cell(row, "VRID"), VRIDS[lan].to_string(), "{row:?}");
        assert_eq!(cell(row, "STATE"), "MASTER", "{row:?}");
        assert_eq!(cell(row, "PRIO"), "110", "{row:?}");
        assert_eq!(cell(row, "MAC"), vmac(VRIDS[lan]), "{row:?}");
        assert_eq!(cell(row, "VIRTUAL ADDRESSES"), format!("{}/32", VIPS[lan]), "{row:?}");
        assert_eq!(cell(row, "MASTER HEARD"), "-", "the master has heard no other master: {row:?}");
        assert_eq!(cell(row, "PID"), h1[lan].pid.to_string(), "{row:?}");
    }

    // Host 2: BACKUP, hearing host 1.
    let r = atropos(&rundir(&lab, 2), &["-s"]);
    assert_eq!(r.code, Some(0), "atropos -s on the backup: {r:?}");
    let t = parse_table(&r.stdout);
    assert_eq!(t.first, "VRRP OK: host is BACKUP", "{}", r.stdout);
    assert_eq!(t.rows.len(), 2, "one row per member:\n{}", r.stdout);
    for lan in 0..2 {
        let row = row(&t, IFS[lan], &r.stdout);
        assert_eq!(cell(row, "VRID"), VRIDS[lan].to_string(), "{row:?}");
        assert_eq!(cell(row, "STATE"), "BACKUP", "{row:?}");
        assert_eq!(cell(row, "PRIO"), "100", "{row:?}");
        assert_eq!(cell(row, "MAC"), o2[lan], "{row:?}");
        assert_eq!(cell(row, "VIRTUAL ADDRESSES"), format!("{}/32", VIPS[lan]), "{row:?}");
        assert_eq!(cell(row, "MASTER HEARD"), format!("{} (110)", heard[lan]), "{row:?}");
        assert_eq!(cell(row, "PID"), h2[lan].pid.to_string(), "{row:?}");
    }

    // JSON, field by field.
    let r = atropos(&rundir(&lab, 1), &["--state", "--json"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let j = parse_json(r.stdout.trim());
    assert_eq!(j.get("status").str(), "OK");
    assert_eq!(j.get("exit").num(), 0.0);
    assert_eq!(j.get("state").str(), "MASTER");
    assert_eq!(j.get("drained"), &Json::Bool(false));
    assert_eq!(j.get("problems").arr().len(), 0, "{j:?}");
    assert_eq!(j.get("members").arr().len(), 2, "{j:?}");
    for lan in 0..2 {
        let m = member(&j, IFS[lan]);
        assert_eq!(m.get("vrid").num(), f64::from(VRIDS[lan]));
        assert_eq!(m.get("state").str(), "MASTER");
        assert_eq!(m.get("priority").num(), 110.0);
        assert_eq!(m.get("configured_priority").num(), 110.0);
        assert_eq!(m.get("mac").str(), vmac(VRIDS[lan]));
        assert_eq!(m.get("virtual_addresses"), &Json::Arr(vec![Json::Str(format!("{}/32", VIPS[lan]))]));
        assert_eq!(m.get("master_heard"), &Json::Null, "{m:?}");
        assert_eq!(m.get("link").str(), "up");
        assert_eq!(m.get("pid").num(), f64::from(h1[lan].pid));
        assert_eq!(m.get("problem"), &Json::Null);
        assert!(m.get("adverts_sent").num() >= 1.0, "{m:?}");
    }
    let r = atropos(&rundir(&lab, 2), &["--json"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let j = parse_json(r.stdout.trim());
    assert_eq!(j.get("status").str(), "OK");
    assert_eq!(j.get("exit").num(), 0.0);
    assert_eq!(j.get("state").str(), "BACKUP");
    for lan in 0..2 {
        let m = member(&j, IFS[lan]);
        assert_eq!(m.get("vrid").num(), f64::from(VRIDS[lan]));
        assert_eq!(m.get("state").str(), "BACKUP");
        assert_eq!(m.get("priority").num(), 100.0);
        assert_eq!(m.get("mac").str(), o2[lan]);
        assert_eq!(m.get("virtual_addresses"), &Json::Arr(vec![Json::Str(format!("{}/32", VIPS[lan]))]));
        assert_eq!(m.get("master_heard").str(), heard[lan]);
        assert_eq!(m.get("master_heard_priority").num(), 110.0);
        assert!(m.get("adverts_received").num() >= 1.0, "{m:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Exit statuses and root-only access

/// Connects to a Unix socket as uid/gid 65534 (nobody) in a forked child; returns the errno of
/// connect (0 when it succeeded).
fn connect_as_nobody(path: &Path) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: a zeroed sockaddr_un is valid; the path fits (checked).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    assert!(bytes.len() < addr.sun_path.len(), "socket path too long: {}", path.display());
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let mut fds = [0i32; 2];
    // SAFETY: fds is an array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes raw syscalls (async-signal-safe) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: raw syscalls on values prepared before the fork.
        unsafe {
            let mut err: i32 = 0;
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                err = -1;
            } else {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                if fd < 0 {
                    err = -2;
                } else if libc::connect(
                    fd,
                    &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                ) != 0
                {
                    err = *libc::__errno_location();
                }
            }
            libc::write(fds[1], &err as *const i32 as *const libc::c_void, 4);
            libc::_exit(0);
        }
    }
    // SAFETY: valid descriptors and a 4-byte buffer.
    unsafe {
        libc::close(fds[1]);
        let mut err: i32 = -3;
        libc::read(fds[0], &mut err as *mut i32 as *mut libc::c_void, 4);
        libc::close(fds[0]);
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
        err
    }
}

#[test]
fn state_exit_statuses_and_root_only_access() {
    if skip_unless_root() {
        return;
    }
    let bin = atropos_bin();
    let lab = Lab::new("aexit", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    let d1 = rundir(&lab, 1);
    let d2 = rundir(&lab, 2);

    // OK.
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = atropos(&d2, &["--state"]);
    assert_eq!(r.code, Some(0), "{r:?}");

    // Not root: atropos refuses, and so does a member's socket.
    if skip_unless_installed("setpriv", "--version") {
        return;
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin).arg("-f").arg(&d1).arg("--state");
    let r = run_cmd(c);
    assert_eq!(r.code, Some(3), "atropos as nobody must exit 3 (UNKNOWN): {r:?}");
    assert!(r.stdout.contains("atropos must be run as root"), "{r:?}");
    for (ifname, vrid) in IFS.iter().zip(VRIDS) {
        let sock = d1.join(format!("vrrpd_{ifname}_{vrid}.sock"));
        assert!(sock.exists(), "{} exists", sock.display());
        let err = connect_as_nobody(&sock);
        assert_eq!(
            err,
            libc::EACCES,
            "a non-root client connecting to {} must get EACCES (permission denied), got errno {err}",
            sock.display()
        );
    }

    // Drained: WARNING (1).
    let r = atropos(&d1, &["--backup"]);
    assert_eq!(r.code, Some(0), "atropos --backup: {r:?}");
    lab.wait_until(HANG, "host 2 owns both LANs after the drain", || owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1));
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(1), "a drained host is WARNING (1): {r:?}");
    assert!(r.stdout.starts_with("VRRP WARNING: host is DRAINED"), "{r:?}");
    let j = parse_json(atropos(&d1, &["--state", "--json"]).stdout.trim());
    assert_eq!((j.get("status").str(), j.get("exit").num()), ("WARNING", 1.0), "{j:?}");
    assert_eq!(j.get("drained"), &Json::Bool(true));
    let r = atropos(&d1, &["--resume"]);
    assert_eq!(r.code, Some(0), "atropos --resume: {r:?}");
    lab.wait_until(HANG, "host 1 owns both LANs again after --resume", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_state(&lab, 1, "MASTER")
    });
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(0), "{r:?}");

    // A member SIGKILLed: CRITICAL (2), its row says DEAD.
    h1[1].kill9();
    h1[1].wait_exit(HANG);
    lab.wait_until(HANG, "state file: host 1 eth1 DEAD", || lab.vrrpd_state(1, "eth1").as_deref() == Some("DEAD"));
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(2), "a dead member is CRITICAL (2): {r:?}");
    assert!(r.stdout.starts_with("VRRP CRITICAL"), "{r:?}");
    let t = parse_table(&r.stdout);
    assert_eq!(cell(row(&t, "eth1", &r.stdout), "STATE"), "DEAD", "{}", r.stdout);
    assert_eq!(cell(row(&t, "eth0", &r.stdout), "STATE"), "BACKUP", "{}", r.stdout);
    let j = parse_json(atropos(&d1, &["--json"]).stdout.trim());
    assert_eq!((j.get("status").str(), j.get("exit").num()), ("CRITICAL", 2.0), "{j:?}");
    assert_eq!(member(&j, "eth1").get("state").str(), "DEAD");
    assert!(member(&j, "eth1").get("problem").str().contains("dead"), "{j:?}");

    // Every member stopped (SIGTERM): UNKNOWN (3).
    for p in &h2 {
        p.term();
    }
    for p in &h2 {
        assert_eq!(p.wait_exit(HANG).code(), Some(0), "{}", p.log_text());
    }
    let r = atropos(&d2, &["--state"]);
    assert_eq!(r.code, Some(3), "no vrrpd running is UNKNOWN (3): {r:?}");
    assert!(r.stdout.starts_with("VRRP UNKNOWN"), "{r:?}");
    let j = parse_json(atropos(&d2, &["--state", "--json"]).stdout.trim());
    assert_eq!((j.get("status").str(), j.get("exit").num()), ("UNKNOWN", 3.0), "{j:?}");

    // No run dir: UNKNOWN (3).
    let missing = lab.dir.join("no-such-rundir");
    let r = atropos(&missing, &["--state"]);
    assert_eq!(r.code, Some(3), "a missing run dir is UNKNOWN (3): {r:?}");
    assert!(r.stdout.starts_with("VRRP UNKNOWN"), "{r:?}");
    assert_running(&h1[..1]);
}

// ---------------------------------------------------------------------------------------------
// 3. --backup holds, across a restart, until --resume

#[test]
fn backup_drains_the_host_until_resume_even_across_a_restart() {
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("adrain", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    let d1 = rundir(&lab, 1);

    let t0 = Instant::now();
    let r = atropos(&d1, &["--backup"]);
    assert_eq!(r.code, Some(0), "atropos --backup: {r:?}");
    lab.wait_until(HANG, "host 2 owns both LANs after the drain", || owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1));
    println!("host 2 owns both LANs {:?} after atropos --backup", t0.elapsed());
    assert!(r.stdout.contains("took over"), "atropos --backup reports the peer's takeover: {r:?}");
    let window = master_down_interval(110) * 2;
    hold_for(window, "drained host 1 (110) stays BACKUP although host 2 has 100", || {
        assert_running(&h1);
        assert_running(&h2);
        holds_nothing(&lab, 1, &o1) && all_state(&lab, 1, "BACKUP") && owns_all(&lab, 2)
    });

    // Restart host 1's eth1 member: the drain holds across it.
    h1[1].term();
    assert_eq!(h1[1].wait_exit(HANG).code(), Some(0), "{}", h1[1].log_text());
    let again = start_member(&lab, 1, 1);
    lab.wait_until(HANG, "the restarted member reaches BACKUP", || {
        assert_running(std::slice::from_ref(&again));
        lab.vrrpd_state(1, "eth1").as_deref() == Some("BACKUP")
            && read_state_file(&d1.join("state")).iter().any(|m| {
                m.get("if").map(String::as_str) == Some("eth1") && m.get("pid") == Some(&again.pid.to_string())
            })
    });
    assert!(
        again.log_text().contains("DRAINED"),
        "the restarted member knows the host is drained:\n{}",
        again.log_text()
    );
    hold_for(window, "host 1 stays drained after the restart", || {
        assert_running(std::slice::from_ref(&again));
        holds_nothing(&lab, 1, &o1) && all_state(&lab, 1, "BACKUP") && owns_all(&lab, 2)
    });

    // --resume: host 1 (110) preempts on both LANs.
    let r = atropos(&d1, &["--resume"]);
    assert_eq!(r.code, Some(0), "atropos --resume: {r:?}");
    lab.wait_until(HANG, "host 1 takes both LANs back after --resume", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_state(&lab, 1, "MASTER")
    });
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.starts_with("VRRP OK: host is MASTER"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. --reduce / --increase

/// Priorities of the adverts from `src` for `vrid` in a `-vv -e` capture, in order.
fn prios_from(text: &str, src: &str, vrid: u8) -> Vec<u8> {
    let head = format!("{src} > 224.0.0.18:");
    let key = format!("VRRPv2, Advertisement, vrid {vrid}, prio ");
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&head))
        .filter_map(|l| l.split_once(&key).map(|(_, r)| r))
        .filter_map(|r| r.split(',').next().and_then(|p| p.trim().parse().ok()))
        .collect()
}

#[test]
fn reduce_and_increase_change_the_advertised_priority_and_the_election() {
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("aprio", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    let d1 = rundir(&lab, 1);
    let cap = lab.tcpdump(0);
    let h1a = host_ip(1, 0);
    lab.wait_until(HANG, "an advert of host 1 at 110 is captured", || prios_from(&cap.text(), &h1a, 51).contains(&110));

    // First --reduce: 110 -> 100. Host 1 stays master (host 2 at 100 does not preempt an equal).
    let seen_before = prios_from(&cap.text(), &h1a, 51).len();
    let r = atropos(&d1, &["--reduce"]);
    assert_eq!(r.code, Some(0), "atropos --reduce: {r:?}");
    lab.wait_until(HANG, "host 1 advertises priority 100 after --reduce", || {
        prios_from(&cap.text(), &h1a, 51)[seen_before..].iter().filter(|p| **p == 100).count() >= 2
    });
    // At most one advert at 110 was on its way while atropos ran; from the first 100 on, only 100.
    let after: Vec<u8> = prios_from(&cap.text(), &h1a, 51)[seen_before..].to_vec();
    let first = after.iter().position(|p| *p == 100).unwrap();
    assert!(first <= 1 && after[..first].iter().all(|p| *p == 110), "adverts around --reduce: {after:?}");
    assert!(after[first..].iter().all(|p| *p == 100), "after --reduce host 1 advertises 100 only: {after:?}");
    for ifname in IFS {
        let st = read_state_file(&d1.join("state"));
        let m = st.iter().find(|m| m.get("if").map(String::as_str) == Some(ifname)).expect("state line");
        assert_eq!(m.get("prio").map(String::as_str), Some("100"), "{m:?}");
        assert_eq!(m.get("cfgprio").map(String::as_str), Some("110"), "{m:?}");
    }
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(1), "a priority changed by hand is WARNING (1): {r:?}");
    let t = parse_table(&r.stdout);
    assert_eq!(cell(row(&t, "eth0", &r.stdout), "PRIO"), "100/110", "{}", r.stdout);
    hold_for(
        master_down_interval(100) + Duration::from_secs(1),
        "host 1 (now 100) stays master: no preemption by an equal",
        || {
            assert_running(&h1);
            assert_running(&h2);
            owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
        },
    );

    // Second --reduce: 90 < 100, host 2 preempts both LANs.
    let r = atropos(&d1, &["-z"]);
    assert_eq!(r.code, Some(0), "atropos -z: {r:?}");
    lab.wait_until(HANG, "host 2 (100) preempts host 1 (90) on both LANs", || {
        owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1)
    });
    assert!(prios_from(&cap.text(), &h1a, 51).contains(&90), "host 1 advertised 90 before losing:\n{}", cap.text());
    lab.wait_until(HANG, "host 2's adverts as master (prio 100) are captured", || {
        prios_from(&cap.text(), &host_ip(2, 0), 51).contains(&100)
    });

    // --increase twice: 90 -> 100 -> 110, host 1 preempts again.
    let r = atropos(&d1, &["--increase"]);
    assert_eq!(r.code, Some(0), "atropos --increase: {r:?}");
    let r = atropos(&d1, &["-x"]);
    assert_eq!(r.code, Some(0), "atropos -x: {r:?}");
    for ifname in IFS {
        let st = read_state_file(&d1.join("state"));
        let m = st.iter().find(|m| m.get("if").map(String::as_str) == Some(ifname)).expect("state line");
        assert_eq!(m.get("prio").map(String::as_str), Some("110"), "{m:?}");
    }
    let seen_before = prios_from(&cap.text(), &h1a, 51).len();
    lab.wait_until(HANG, "host 1 (110 again) preempts on both LANs", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_state(&lab, 1, "MASTER")
    });
    lab.wait_until(HANG, "host 1 advertises 110 again", || {
        prios_from(&cap.text(), &h1a, 51)[seen_before..].contains(&110)
    });
    let r = atropos(&d1, &["--state"]);
    assert_eq!(r.code, Some(0), "priority back to the configured one: OK (0): {r:?}");
    let text = cap.stop();
    assert!(!text.to_lowercase().contains("bad"), "tcpdump found a bad field:\n{text}");
}

// ---------------------------------------------------------------------------------------------
// 5. Malformed requests on a member's socket

/// Sends `data` on a fresh connection and returns what came back until the peer closed or 3 s passed:
/// (answer, closed by the peer).
fn exchange(sock: &Path, data: &[u8]) -> (String, bool) {
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    // A peer that disconnects while we write is an acceptable answer.
    let _ = s.write_all(data);
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(3) {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.ends_with(b"\n") {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

#[test]
fn malformed_and_unknown_requests_get_err_and_change_nothing() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("amalf", 2, 2);
    let (h1, h2, _o1, o2) = start_pair(&lab);
    let sock = rundir(&lab, 1).join("vrrpd_eth0_51.sock");
    let state_before: Vec<(String, String, String)> = read_state_file(&rundir(&lab, 1).join("state"))
        .iter()
        .filter(|m| m.contains_key("if"))
        .map(|m| (m["if"].clone(), m["state"].clone(), m["prio"].clone()))
        .collect();

    let (a, _) = exchange(&sock, b"FOO\n");
    assert!(a.starts_with("ERR"), "an unknown request gets ERR: {a:?}");
    assert!(a.contains("FOO"), "the answer names the unknown request: {a:?}");
    let (a, _) = exchange(&sock, b"get\n");
    assert!(a.starts_with("ERR"), "a lower-case verb is malformed: {a:?}");
    let (a, _) = exchange(&sock, b"GET\tnovalue\n");
    assert!(a.starts_with("ERR"), "a field without = is malformed: {a:?}");
    let (a, closed) = exchange(&sock, &vec![b'A'; 10 * 1024]);
    assert!(
        closed || a.starts_with("ERR"),
        "10 KB without a newline: ERR or a disconnect, got {a:?} (closed {closed})"
    );
    assert!(!a.starts_with("INFO") && !a.starts_with("OK"), "{a:?}");
    // A status message from a "member" that is not one: ignored or refused, never trusted blindly.
    let (a, _) = exchange(&sock, b"STATUS\tif=eth0\n");
    assert!(!a.starts_with("OK") && !a.starts_with("INFO"), "{a:?}");

    // The member is alive, answers a real GET, and nothing changed.
    assert_running(&h1);
    assert_running(&h2);
    let (a, _) = exchange(&sock, b"GET\n");
    assert!(a.starts_with("INFO"), "a valid GET still works: {a:?}");
    assert!(a.contains("\tstate=MASTER") && a.contains("\tprio=110") && a.contains("\tif=eth0"), "{a:?}");
    let state_after: Vec<(String, String, String)> = read_state_file(&rundir(&lab, 1).join("state"))
        .iter()
        .filter(|m| m.contains_key("if"))
        .map(|m| (m["if"].clone(), m["state"].clone(), m["prio"].clone()))
        .collect();
    assert_eq!(state_before.len(), 2, "{state_before:?}");
    assert_eq!(state_before, state_after, "the state file did not change");
    hold_for(Duration::from_secs(2), "host 1 still owns both LANs, host 2 none", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
    let log = h1[0].log_text();
    assert!(log.contains("disconnecting"), "the member logs the overlong line:\n{log}");
}
