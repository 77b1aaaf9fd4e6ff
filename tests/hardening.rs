//! Issue 10 ("Hardening II") on a real kernel, one test (or a few) per case of the issue:
//! 1. the run dir: untrusted owners/modes refused, planted links replaced and never written through,
//!    a FIFO at the state file never blocks the daemon nor atropos;
//! 2. a MASTER that loses its own address resigns (the whole group) and comes back with it;
//! 3. the original MAC survives an interface moved to another network namespace and back; a virtual
//!    MAC with no record is refused;
//! 4. members that disagree on `-M` hold the host BACKUP (the peer owns every LAN), logged and shown;
//! 5. concurrent `atropos --backup` / `--resume` end with the daemon agreeing with the drain file;
//! 6. `-i lo`, a second MAC setter with another run dir, non-UTF-8 arguments, `atropos --backup` where
//!    no vrrpd runs.
//!
//! Every test says in a one-line comment why it fails on the code before the change: 5b3b66a^ for
//! cases 1-5 and the empty-dir atropos check, f9495fe^ for `-i lo` and non-UTF-8 arguments, 45307bf^
//! for the second MAC setter (each checked by running this file against those trees).
//! Run as root, one test at a time: `cargo test --test hardening <name> -- --nocapture`.

mod common;

use common::json::*;
use common::pair::*;
use common::*;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// atropos never waits forever: each socket call has a 1 s deadline and members are asked in parallel.
/// A few calls in a row (a survey, the answers) stay well under this.
const ATROPOS_BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Running commands with a deadline

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs a command to completion; kills it and panics after `HANG` (a hang is a failure, not a wait).
fn run_cmd(mut cmd: Command) -> Run {
    let what = format!("{cmd:?}");
    let t0 = Instant::now();
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
            took: t0.elapsed(),
        },
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            panic!("{what}: still running after {HANG:?}");
        }
    }
}

/// `atropos -f DIR ARGS` as root (outside the namespaces: it only talks to the run dir's sockets).
fn atropos(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(atropos_bin());
    c.arg("-f").arg(dir).args(args);
    run_cmd(c)
}

/// `vrrpd -F -f DIR ARGS` in host `n`, to completion (for refusals: a vrrpd that starts is a timeout).
fn vrrpd_to_exit(lab: &Lab, n: usize, dir: &Path, args: &str) -> Outcome {
    let d = dir.to_string_lossy().into_owned();
    let mut argv = vec![Lab::vrrpd_bin(), "-F", "-f", &d];
    argv.extend(args.split_whitespace());
    lab.run_to_exit(lab.h(n), &argv, &format!("vrrpd-h{n}-refused"), HANG)
}

fn stderr_lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn assert_no_panic(p: &Proc) {
    let log = p.log_text();
    assert!(!log.contains("panicked"), "{} panicked:\n{log}", p.name);
}

/// The lines of a vrrpd log at error level that contain `what`.
fn error_lines(log: &str, what: &str) -> Vec<String> {
    log.lines().filter(|l| l.contains(" error: ") && l.contains(what)).map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Files planted in a run dir

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Puts a FIFO at `path` in one step (created aside, renamed over whatever is there).
fn plant_fifo(path: &Path) {
    let tmp = path.with_file_name(".planted-fifo");
    let _ = fs::remove_file(&tmp);
    mkfifo(&tmp);
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename a FIFO to {}: {e}", path.display()));
    assert!(is_fifo(path), "{} is a FIFO now", path.display());
}

/// Puts a symbolic link `path` -> `target` in one step.
fn plant_link(path: &Path, target: &Path) {
    let tmp = path.with_file_name(".planted-link");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename a link to {}: {e}", path.display()));
    assert!(is_link(path), "{} is a link now", path.display());
}

/// Removes a FIFO left at its path when dropped (also while a failed test unwinds).
struct NoFifoAt(PathBuf);

impl Drop for NoFifoAt {
    fn drop(&mut self) {
        if is_fifo(&self.0) {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn is_link(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn is_fifo(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_regular(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

fn exists_no_follow(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A root-owned directory only root can write (0700), fresh.
fn fresh_dir(lab: &Lab, name: &str) -> PathBuf {
    let d = lab.dir.join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    d
}

/// Writes a victim file (outside the run dir) and returns its path.
fn victim(lab: &Lab, name: &str, text: &str) -> PathBuf {
    let p = lab.dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn assert_untouched(p: &Path, text: &str) {
    let now = fs::read_to_string(p).unwrap_or_else(|e| panic!("victim {}: {e}", p.display()));
    assert_eq!(now, text, "written through a planted link: {}", p.display());
}

// ---------------------------------------------------------------------------------------------
// A minimal JSON reader for `atropos --json` (serde_json is not a dev-dependency)

fn json_member<'a>(j: &'a Json, ifname: &str) -> &'a Json {
    j.get("members")
        .arr()
        .iter()
        .find(|m| m.get("interface").str() == ifname)
        .unwrap_or_else(|| panic!("no member {ifname} in {j:?}"))
}

// ---------------------------------------------------------------------------------------------
// 1. The run dir

fn lone_args() -> String {
    format!("-i eth0 -v 51 -p 110 {VIP_A}")
}

#[test]
fn untrusted_run_dirs_are_refused_by_vrrpd_and_atropos_and_nothing_is_written() {
    // Fails before the change: vrrpd started in a nobody-owned dir (a timeout here) and wrote its pid
    // through the planted link; atropos --backup wrote through the planted `drain` link.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("untrusted", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, "eth0");

    // A run dir owned by nobody, where that user planted links to files root would write.
    let rd = lab.dir.join("rd-nobody");
    fs::create_dir(&rd).unwrap();
    fs::set_permissions(&rd, fs::Permissions::from_mode(0o755)).unwrap();
    let pid_victim = victim(&lab, "victim-pid", "precious pid\n");
    let drain_victim = victim(&lab, "victim-drain", "precious drain\n");
    let pid_link = rd.join("vrrpd_eth0_51.pid");
    let old_pid_link = rd.join("vrrpd_eth0.pid");
    let drain_link = rd.join("drain");
    for (link, target) in [(&pid_link, &pid_victim), (&old_pid_link, &pid_victim), (&drain_link, &drain_victim)] {
        std::os::unix::fs::symlink(target, link).unwrap();
        std::os::unix::fs::lchown(link, Some(65534), Some(65534)).unwrap();
    }
    std::os::unix::fs::chown(&rd, Some(65534), Some(65534)).unwrap();
    let planted = entries(&rd);

    let o = vrrpd_to_exit(&lab, 1, &rd, &lone_args());
    assert_eq!(o.status.code(), Some(1), "vrrpd in a run dir owned by uid 65534 must exit 1: {o:?}");
    let lines = stderr_lines(&o.stderr);
    assert_eq!(lines.len(), 1, "one line on stderr: {o:?}");
    assert!(lines[0].contains("owned by uid 65534") && lines[0].contains("refused"), "{o:?}");
    assert_untouched(&pid_victim, "precious pid\n");
    assert_eq!(entries(&rd), planted, "vrrpd created nothing in the untrusted dir");
    assert!(released(h, "eth0", VIP_A, &orig), "the interface was not touched:\n{}", lab.snapshot());

    for args in [&["--state"][..], &["--state", "--json"], &["--backup"], &["--resume"], &["--reduce"]] {
        let r = atropos(&rd, args);
        assert_eq!(r.code, Some(3), "atropos {args:?} on a nobody-owned dir exits 3: {r:?}");
        assert!(r.stdout.contains("owned by uid 65534"), "atropos {args:?} says why: {r:?}");
        if args == ["--state"] {
            assert!(r.stdout.starts_with("VRRP UNKNOWN: "), "{r:?}");
        }
    }
    assert_untouched(&drain_victim, "precious drain\n");
    assert_untouched(&pid_victim, "precious pid\n");
    assert_eq!(entries(&rd), planted, "atropos wrote or removed nothing in the untrusted dir");
    assert!(is_link(&drain_link), "--resume left the planted drain link alone");

    // Root-owned but group-writable (group root): refused too.
    let rdg = lab.dir.join("rd-group");
    fs::create_dir(&rdg).unwrap();
    fs::set_permissions(&rdg, fs::Permissions::from_mode(0o770)).unwrap();
    let o = vrrpd_to_exit(&lab, 1, &rdg, &lone_args());
    assert_eq!(o.status.code(), Some(1), "a group-writable run dir must be refused: {o:?}");
    assert!(o.stderr.contains("writable by group or others"), "{o:?}");
    assert!(entries(&rdg).is_empty(), "nothing written in the group-writable dir: {:?}", entries(&rdg));
    let r = atropos(&rdg, &["--backup"]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(entries(&rdg).is_empty(), "atropos wrote nothing: {:?}", entries(&rdg));

    // A link owned by nobody to a trusted dir: refused (its owner can point it anywhere).
    let good = fresh_dir(&lab, "rd-good");
    let via = lab.dir.join("rd-via-link");
    std::os::unix::fs::symlink(&good, &via).unwrap();
    std::os::unix::fs::lchown(&via, Some(65534), Some(65534)).unwrap();
    let o = vrrpd_to_exit(&lab, 1, &via, &lone_args());
    assert_eq!(o.status.code(), Some(1), "a nobody-owned link to the run dir must be refused: {o:?}");
    assert!(o.stderr.contains("symbolic link owned by uid 65534"), "{o:?}");
    assert!(entries(&good).is_empty(), "nothing written through the link: {:?}", entries(&good));
    assert!(released(h, "eth0", VIP_A, &orig), "the interface was not touched:\n{}", lab.snapshot());
}

#[test]
fn links_planted_in_a_trusted_run_dir_are_replaced_and_never_written_through() {
    // Fails before the change: the pid file was opened through the link (the victim got the pid), the
    // lock file was created through the dangling link, and atropos --backup wrote through `drain`.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("links", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, "eth0");
    let rd = lab.host(1).rundir.clone();
    let pid_victim = victim(&lab, "victim-pid", "precious pid\n");
    let state_victim = victim(&lab, "victim-state", "precious state\n");
    let lock_victim = lab.dir.join("victim-lock-never-created");
    plant_link(&rd.join("vrrpd_eth0_51.pid"), &pid_victim);
    plant_link(&rd.join("state"), &state_victim);
    plant_link(&rd.join("state.lock"), &lock_victim);

    let p = lab.vrrpd(1, &lone_args());
    lab.wait_until(HANG, "the lone vrrpd is MASTER with the VIP and the virtual MAC", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        lab.live_state(1, "eth0", 51, &p).as_deref() == Some("MASTER") && owns_with_vmac(h, "eth0", VIP_A, 51)
    });
    assert_untouched(&pid_victim, "precious pid\n");
    assert_untouched(&state_victim, "precious state\n");
    assert!(!exists_no_follow(&lock_victim), "the lock was created through the dangling link");
    let pid_file = rd.join("vrrpd_eth0_51.pid");
    assert!(is_regular(&pid_file), "the planted pid link was replaced by a regular file");
    assert_eq!(fs::read_to_string(&pid_file).unwrap().trim(), p.pid.to_string(), "our pid in our own pid file");
    assert!(is_regular(&rd.join("state")), "the planted state link was replaced by a regular file");
    assert!(is_regular(&rd.join("state.lock")), "the planted lock link was replaced by a regular file");

    // While it runs: links at the state file and its lock again, and one at `drain`; then --backup
    // (a transition: the state is saved under the lock) and --resume.
    let state_victim2 = victim(&lab, "victim-state2", "precious state 2\n");
    let lock_victim2 = lab.dir.join("victim-lock2-never-created");
    let drain_victim = victim(&lab, "victim-drain", "precious drain\n");
    plant_link(&rd.join("state"), &state_victim2);
    plant_link(&rd.join("state.lock"), &lock_victim2);
    plant_link(&rd.join("drain"), &drain_victim);
    let r = atropos(&rd, &["--backup"]);
    assert_eq!(r.code, Some(0), "atropos --backup: {r:?}");
    assert!(is_regular(&rd.join("drain")), "--backup replaced the planted drain link with a regular file");
    assert!(fs::read_to_string(rd.join("drain")).unwrap().contains("atropos --backup"), "the drain file is ours");
    lab.wait_until(HANG, "drained: BACKUP without the VIP, own MAC back", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        lab.live_state(1, "eth0", 51, &p).as_deref() == Some("BACKUP") && released(h, "eth0", VIP_A, &orig)
    });
    assert!(is_regular(&rd.join("state")) && is_regular(&rd.join("state.lock")), "links replaced by the next save");
    assert_untouched(&state_victim2, "precious state 2\n");
    assert!(!exists_no_follow(&lock_victim2), "the lock was created through the dangling link");
    let r = atropos(&rd, &["--resume"]);
    assert_eq!(r.code, Some(0), "atropos --resume: {r:?}");
    assert!(!exists_no_follow(&rd.join("drain")), "--resume removed the drain file");
    lab.wait_until(HANG, "resumed: MASTER again", || {
        lab.live_state(1, "eth0", 51, &p).as_deref() == Some("MASTER") && owns_with_vmac(h, "eth0", VIP_A, 51)
    });
    assert_untouched(&drain_victim, "precious drain\n");
    assert_untouched(&pid_victim, "precious pid\n");

    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0), "{}", p.log_text());
    assert!(released(h, "eth0", VIP_A, &orig), "stop gives the MAC back:\n{}", lab.snapshot());
    assert_no_panic(&p);
}

#[test]
fn a_fifo_at_the_state_file_never_blocks_the_master_sigterm_or_atropos() {
    // Fails before the change: atropos --state blocked opening the FIFO, and the master's next save
    // blocked its event loop (no adverts: host 2 took over while host 1 kept the VIPs; SIGTERM hung).
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("fifo", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    let rd1 = lab.host(1).rundir.clone();
    let state = rd1.join("state");
    // Dropped before the lab: the lab's failure snapshot reads the state file, a FIFO would hang it.
    // For the same reason the waits below are the free `wait_until` (no snapshot).
    let _unplant = NoFifoAt(state.clone());

    // atropos with a FIFO at the state file (renamed in: no member rewrites it on its own).
    plant_fifo(&state);
    let r = atropos(&rd1, &["--state"]);
    assert!(r.took < ATROPOS_BOUND, "atropos --state took {:?} with a FIFO at the state file: {r:?}", r.took);
    assert!(r.stdout.starts_with("VRRP ") && r.stdout.contains("MASTER"), "the members answered: {r:?}");

    // The members' next save meets the FIFO: it is replaced, nothing blocks, the master stays master.
    let r = atropos(&rd1, &["--reduce"]);
    assert_eq!(r.code, Some(0), "atropos --reduce (a save in each member): {r:?}");
    wait_until(HANG, "the FIFO replaced by a regular state file with both records", || {
        is_regular(&state) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    hold_for(master_down_interval(100) + Duration::from_secs(1), "host 1 keeps both LANs, host 2 none", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
    plant_fifo(&state);
    let r = atropos(&rd1, &["--increase"]);
    assert_eq!(r.code, Some(0), "atropos --increase: {r:?}");
    wait_until(HANG, "the FIFO replaced again, priority 110 back", || {
        is_regular(&state)
            && read_state_file(&state).iter().filter(|m| m.get("prio").map(String::as_str) == Some("110")).count() == 2
    });
    hold_for(Duration::from_secs(2), "host 1 still owns both LANs", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });

    // SIGTERM with a FIFO at the state file: completes, gives everything back, the peer takes over.
    plant_fifo(&state);
    for p in &h1 {
        p.term();
    }
    for p in &h1 {
        assert_eq!(p.wait_exit(HANG).code(), Some(0), "SIGTERM completes:\n{}", p.log_text());
        assert_no_panic(p);
    }
    assert!(holds_nothing(&lab, 1, &o1), "host 1 gave both LANs back");
    wait_until(HANG, "host 2 owns both LANs", || owns_all(&lab, 2));

    // No member left on host 1 to replace it: atropos still returns (UNKNOWN), it does not hang.
    plant_fifo(&state);
    let r = atropos(&rd1, &["--state"]);
    assert!(r.took < ATROPOS_BOUND, "atropos --state took {:?}: {r:?}", r.took);
    assert_eq!(r.code, Some(3), "no vrrpd on host 1: UNKNOWN: {r:?}");
    assert!(is_fifo(&state), "atropos --state only reads");
    assert_running(&h2);
}

// ---------------------------------------------------------------------------------------------
// 2. A MASTER that cannot advertise

#[test]
fn a_master_whose_address_is_flushed_resigns_on_every_lan_then_comes_back() {
    // Fails before the change: host 1 kept (and re-added) the VIP with the virtual MAC after the flush,
    // logging send errors, while host 2 took LAN A over too; atropos said OK.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("flush", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    let rd1 = lab.host(1).rundir.clone();

    exec(lab.h(1), "ip addr flush dev eth0");
    lab.wait_until(HANG, "host 1 released both LANs (no VIP, own MACs), host 2 owns both", || {
        assert_running(&h1);
        assert_running(&h2);
        holds_nothing(&lab, 1, &o1) && owns_all(&lab, 2) && all_live_state(&lab, 1, &h1, "BACKUP")
    });
    hold_for(master_down_interval(100) + Duration::from_secs(1), "host 1 stays out, host 2 owns both", || {
        holds_nothing(&lab, 1, &o1) && owns_all(&lab, 2) && all_live_state(&lab, 1, &h1, "BACKUP")
    });
    let log = h1[0].log_text();
    assert!(
        !error_lines(
            &log,
            "eth0 has no IPv4 address of its own left (adverts need a source address): out of the election"
        )
        .is_empty(),
        "the eth0 member logs at error why it left the election:\n{log}"
    );
    let r = atropos(&rd1, &["--state"]);
    assert_eq!(r.code, Some(2), "a member that cannot advertise is CRITICAL: {r:?}");
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.starts_with("VRRP CRITICAL"), "{r:?}");
    assert!(
        first.contains("eth0 vrid 51: cannot advertise: eth0 has no IPv4 address of its own left")
            && first.contains("(out of the election)"),
        "atropos names the member and the reason: {first}"
    );
    let j = parse_json(&atropos(&rd1, &["--state", "--json"]).stdout);
    assert_eq!(j.get("status").str(), "CRITICAL", "{j:?}");
    assert!(json_member(&j, "eth0").get("fault").str().contains("no IPv4 address of its own"), "{j:?}");
    assert_eq!(json_member(&j, "eth1").get("fault"), &Json::Null, "{j:?}");

    // The address is back: host 1 listens, hears host 2 (100 < 110) and takes both LANs back.
    exec(lab.h(1), &format!("ip addr add {}/24 dev eth0", host_ip(1, 0)));
    lab.wait_until(HANG, "host 1 MASTER on both LANs again, host 2 none", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    assert!(
        h1[0].log_text().contains(&format!("address {} is back: rejoining the election", host_ip(1, 0))),
        "{}",
        h1[0].log_text()
    );
    let r = atropos(&rd1, &["--state"]);
    assert_eq!(r.code, Some(0), "back to OK: {r:?}");
    assert!(r.stdout.starts_with("VRRP OK: host is MASTER"), "{r:?}");
    for p in h1.iter().chain(&h2) {
        assert_no_panic(p);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The original MAC across an interface moved to another namespace

/// A network namespace of the test's own (deleted on drop, also after a panic).
struct Netns(String);

impl Netns {
    fn add(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        let o = Command::new("ip").args(["netns", "add", name]).output().expect("ip netns add");
        assert!(o.status.success(), "ip netns add {name}: {}", String::from_utf8_lossy(&o.stderr));
        Netns(name.to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn an_interface_moved_away_while_master_keeps_its_original_mac_record_for_its_return() {
    // Fails before the change: the exit erased the record, so the vrrpd started after the move back
    // adopted the virtual MAC as the interface's own (and kept it after SIGTERM); the vrrpd with no
    // record did not refuse (a timeout here).
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("nsmove", 1, 1);
    let h = lab.h(1).to_string();
    let orig = mac(&h, "eth0");
    let elsewhere = Netns::add(&format!("{}-x", lab.name));
    let x = elsewhere.0.as_str();

    let p = lab.vrrpd(1, &lone_args());
    lab.wait_until(HANG, "lone MASTER with the VIP and the virtual MAC", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        lab.live_state(1, "eth0", 51, &p).as_deref() == Some("MASTER") && owns_with_vmac(&h, "eth0", VIP_A, 51)
    });
    exec(&h, &format!("ip link set eth0 netns {x}"));
    let st = p.wait_exit(HANG);
    let log = p.log_text();
    assert_eq!(st.code(), Some(1), "vrrpd exits 1 when its interface leaves:\n{log}");
    let rec = lab.vrrpd_record(1, "eth0", 51).expect("the state line of eth0 is kept");
    assert_eq!(rec.get("omac"), Some(&orig), "{rec:?}");
    assert_eq!(rec.get("mac"), Some(&vmac(51)), "{rec:?}");
    assert!(
        !error_lines(
            &log,
            &format!("the interface left while carrying {}: its original MAC {orig} stays recorded", vmac(51))
        )
        .is_empty(),
        "the log says the original MAC stays recorded:\n{log}"
    );
    assert_no_panic(&p);
    assert_eq!(mac(x, "eth0"), vmac(51), "the interface left with the virtual MAC");

    // Back home, still with the virtual MAC (the move took its address and set it down).
    exec(x, &format!("ip link set eth0 netns {h}"));
    exec(&h, &format!("ip addr add {}/24 dev eth0", host_ip(1, 0)));
    exec(&h, "ip link set eth0 up");
    assert_eq!(mac(&h, "eth0"), vmac(51), "back with the virtual MAC");

    // A vrrpd with no record of it (another run dir) refuses to take the virtual MAC for its own.
    let empty = fresh_dir(&lab, "rd-empty");
    let o = vrrpd_to_exit(&lab, 1, &empty, &lone_args());
    assert_eq!(o.status.code(), Some(1), "a virtual MAC and no record: exit 1: {o:?}");
    assert!(
        o.stderr.contains(&format!("eth0 carries the virtual MAC {}", vmac(51)))
            && o.stderr.contains("no original MAC is recorded"),
        "{o:?}"
    );
    assert_eq!(mac(&h, "eth0"), vmac(51), "the refused vrrpd changed nothing");
    assert!(!has_ip(&h, "eth0", VIP_A));

    // A vrrpd with the record gives the original MAC back, runs, and leaves the original MAC on stop.
    let p = lab.vrrpd(1, &lone_args());
    lab.wait_until(HANG, "the new vrrpd is MASTER", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        lab.live_state(1, "eth0", 51, &p).as_deref() == Some("MASTER") && owns_with_vmac(&h, "eth0", VIP_A, 51)
    });
    assert!(
        p.log_text().contains(&format!("restored the original MAC {orig}")),
        "the restart restores the recorded MAC:\n{}",
        p.log_text()
    );
    assert_eq!(lab.vrrpd_record(1, "eth0", 51).and_then(|r| r.get("omac").cloned()), Some(orig.clone()));
    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0), "{}", p.log_text());
    assert!(released(&h, "eth0", VIP_A, &orig), "the original MAC is back after stop:\n{}", lab.snapshot());
    assert_no_panic(&p);
}

// ---------------------------------------------------------------------------------------------
// 4. Members that disagree on the group

#[test]
fn members_disagreeing_on_the_group_size_hold_the_host_backup_and_the_peer_owns_every_lan() {
    // Fails before the change: host 1's -M 2 member counted two members and took LAN A while its -M 3
    // sibling stayed BACKUP (host 2 owned LAN B only); no log line, atropos OK.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("disagree", 2, 2);
    let o1 = macs(&lab, 1);
    let o2 = macs(&lab, 2);
    let h1 = vec![
        lab.vrrpd(1, &format!("-M 2 -i eth0 -v 51 -p 110 {VIP_A}")),
        lab.vrrpd(1, &format!("-M 3 -i eth1 -v 52 -p 110 {VIP_B}")),
    ];
    let h2 = start_host(&lab, 2, "");
    let line0 =
        "group: member eth1 vrid 52 runs with -M 3, this one with -M 2: the host stays BACKUP on every interface";
    let line1 =
        "group: member eth0 vrid 51 runs with -M 2, this one with -M 3: the host stays BACKUP on every interface";
    lab.wait_until(HANG, "host 2 owns both LANs, host 1 none, both of host 1's members log the disagreement", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 2)
            && holds_nothing(&lab, 1, &o1)
            && all_live_state(&lab, 2, &h2, "MASTER")
            && all_live_state(&lab, 1, &h1, "BACKUP")
            && !error_lines(&h1[0].log_text(), line0).is_empty()
            && !error_lines(&h1[1].log_text(), line1).is_empty()
    });
    hold_for(master_down_interval(110) * 2, "host 1 (110) stays BACKUP on both LANs, host 2 owns both", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1)
    });
    let rd1 = lab.host(1).rundir.clone();
    let r = atropos(&rd1, &["--state"]);
    assert_eq!(r.code, Some(2), "members disagreeing is CRITICAL: {r:?}");
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.starts_with("VRRP CRITICAL"), "{r:?}");
    assert!(first.contains("members disagree on the group size (eth0 -M 2, eth1 -M 3)"), "{first}");
    let info = lab.vrrpd_info(1, "eth0", 51).expect("eth0 member answers GET");
    assert!(
        info.get("held").is_some_and(|h| h.contains("members disagree on the group: -M 2 here, -M 3 on eth1 vrid 52")),
        "{info:?}"
    );

    // They agree again (eth1 restarted with -M 2): host 1 (110) takes both LANs back.
    h1[1].term();
    assert_eq!(h1[1].wait_exit(HANG).code(), Some(0), "{}", h1[1].log_text());
    let h1 = vec![h1[0].clone(), lab.vrrpd(1, &format!("-M 2 -i eth1 -v 52 -p 110 {VIP_B}"))];
    lab.wait_until(HANG, "host 1 owns both LANs once its members agree", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    let r = atropos(&rd1, &["--state"]);
    assert_eq!(r.code, Some(0), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. Concurrent drain and resume

/// A small deterministic shuffle (xorshift), seeded per round.
fn shuffled<T>(mut v: Vec<T>, seed: u64) -> Vec<T> {
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
    v
}

#[test]
fn concurrent_backup_and_resume_leave_the_daemon_agreeing_with_the_drain_file() {
    // Fails before the change: a DRAIN or RESUME request set the daemon's drain flag whatever the file
    // then said, so an interleaving left it drained without a file (or the reverse) for good.
    if skip_unless_root() {
        return;
    }
    let bin = atropos_bin();
    let bin = bin.to_string_lossy().into_owned();
    let lab = Lab::new("drainrace", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    let rd1 = lab.host(1).rundir.clone();
    let rd1s = rd1.to_string_lossy().into_owned();
    let drain = rd1.join("drain");
    let spawn =
        |c: &'static str| (c, lab.spawn_split(lab.h(1), &[bin.as_str(), "-f", &rd1s, c], &format!("atropos{c}")));
    let rounds = 6;
    let mut outcomes = Vec::new();
    for round in 0..rounds {
        // Three mixes: all 16 shuffled; the 8 --backup first and the 8 --resume as soon as the first drain
        // file is there (the other --backup still writing and broadcasting); the reverse.
        let mut procs: Vec<(&str, Proc)> = Vec::new();
        match round % 3 {
            0 => {
                let cmds: Vec<&'static str> =
                    std::iter::repeat_n("--backup", 8).chain(std::iter::repeat_n("--resume", 8)).collect();
                for c in shuffled(cmds, u64::from(std::process::id()) * 7919 + round) {
                    procs.push(spawn(c));
                }
            }
            1 => {
                procs.extend((0..8).map(|_| spawn("--backup")));
                wait_until(HANG, "the first --backup wrote the drain file", || exists_no_follow(&drain));
                procs.extend((0..8).map(|_| spawn("--resume")));
            }
            _ => {
                let was = exists_no_follow(&drain);
                procs.extend((0..8).map(|_| spawn("--resume")));
                if was {
                    wait_until(HANG, "the first --resume removed the drain file", || !exists_no_follow(&drain));
                }
                procs.extend((0..8).map(|_| spawn("--backup")));
            }
        }
        for (c, p) in &procs {
            let st = p.wait_exit(HANG);
            assert!(
                matches!(st.code(), Some(0) | Some(1)),
                "round {round}: atropos {c} exited {st:?}:\n{}\n{}",
                p.log_text(),
                p.err_text()
            );
        }
        // Every command returned: the file decides, and every member agrees with it.
        let file = exists_no_follow(&drain);
        outcomes.push(file);
        let j = parse_json(&atropos(&rd1, &["--state", "--json"]).stdout);
        assert_eq!(j.get("drained"), &Json::Bool(file), "round {round}: atropos --json drained vs the file: {j:?}");
        let agree = || {
            (0..2).all(|lan| {
                lab.vrrpd_info(1, IFS[lan], VRIDS[lan])
                    .is_some_and(|i| i.get("drained").map(String::as_str) == Some(if file { "1" } else { "0" }))
            })
        };
        assert!(
            agree(),
            "round {round}: the members' drained flags {:?} / {:?} disagree with the file (present: {file})",
            lab.vrrpd_info(1, "eth0", 51),
            lab.vrrpd_info(1, "eth1", 52)
        );
        if file {
            lab.wait_until(HANG, &format!("round {round}: drained: host 1 BACKUP on both, host 2 owns both"), || {
                all_live_state(&lab, 1, &h1, "BACKUP") && holds_nothing(&lab, 1, &o1) && owns_all(&lab, 2)
            });
            let held = lab.vrrpd_info(1, "eth0", 51).and_then(|i| i.get("held").cloned()).unwrap_or_default();
            assert!(held.contains("drained"), "round {round}: held BACKUP because drained: {held:?}");
        } else {
            lab.wait_until(HANG, &format!("round {round}: resumed: host 1 MASTER on both, host 2 none"), || {
                all_live_state(&lab, 1, &h1, "MASTER") && owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
            });
        }
        hold_for(Duration::from_secs(1), &format!("round {round}: the members keep agreeing with the file"), || {
            exists_no_follow(&drain) == file && agree()
        });
        assert_running(&h1);
        assert_running(&h2);
    }
    println!("drain file present after each of the {rounds} rounds: {outcomes:?}");

    let r = atropos(&rd1, &["--resume"]);
    assert!(matches!(r.code, Some(0)), "final --resume: {r:?}");
    lab.wait_until(HANG, "host 1 MASTER on both LANs after the final --resume", || {
        all_live_state(&lab, 1, &h1, "MASTER") && owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Interfaces, MAC claims, arguments, atropos where no vrrpd runs

#[test]
fn loopback_is_refused_without_dash_n() {
    // Fails before the change: vrrpd accepted -i lo and ran (a timeout here), setting lo's MAC.
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("lo", 1, 1);
    let h = lab.h(1);
    let lo_mac = mac(h, "lo");
    let rd = lab.host(1).rundir.clone();
    let o = vrrpd_to_exit(&lab, 1, &rd, &format!("-i lo -v 51 -p 110 {VIP_A}"));
    assert_eq!(o.status.code(), Some(1), "-i lo without -n must exit 1: {o:?}");
    let lines = stderr_lines(&o.stderr);
    assert_eq!(lines.len(), 1, "one line on stderr: {o:?}");
    assert!(lines[0].contains("not an Ethernet interface with a MAC address of its own"), "{o:?}");
    assert!(lines[0].contains("-n"), "the message says how to run it anyway: {o:?}");
    assert_eq!(mac(h, "lo"), lo_mac, "lo's MAC untouched");
    assert!(!has_ip(h, "lo", VIP_A));
}

#[test]
fn a_second_vrrpd_setting_the_same_mac_with_another_run_dir_is_refused() {
    // Fails before the change: the second vrrpd (another -f) started (a timeout here) and both set the MAC.
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("macclaim", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, "eth0");
    let p = lab.vrrpd(1, &lone_args());
    lab.wait_until(HANG, "the first vrrpd is MASTER", || {
        assert!(p.is_running(), "vrrpd exited:\n{}", p.log_text());
        lab.live_state(1, "eth0", 51, &p).as_deref() == Some("MASTER") && owns_with_vmac(h, "eth0", VIP_A, 51)
    });
    let other = fresh_dir(&lab, "rd-other");
    for args in [lone_args(), format!("-i eth0 -v 52 -p 110 {}", "192.0.2.201")] {
        let o = vrrpd_to_exit(&lab, 1, &other, &args);
        assert_eq!(o.status.code(), Some(1), "`vrrpd -f {} {args}` must exit 1: {o:?}", other.display());
        assert!(
            o.stderr.contains("another vrrpd (with another run directory) already sets the virtual MAC on eth0")
                && o.stderr.contains("run this one with -n"),
            "{o:?}"
        );
        assert!(
            !entries(&other).iter().any(|e| e.ends_with(".sock") || e == "state"),
            "the refused vrrpd left no socket or state: {:?}",
            entries(&other)
        );
    }
    hold_for(Duration::from_secs(2), "the first vrrpd keeps the VIP and the virtual MAC", || {
        p.is_running() && owns_with_vmac(h, "eth0", VIP_A, 51) && !has_ip(h, "eth0", "192.0.2.201")
    });
    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0), "{}", p.log_text());
    assert!(released(h, "eth0", VIP_A, &orig), "{}", lab.snapshot());
}

#[test]
fn non_utf8_arguments_are_usage_errors_in_vrrpd_and_atropos() {
    // Fails before the change: both tools panicked on a non-UTF-8 argument (exit 134 / 101, not 2).
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("utf8", 1, 1);
    let rd = lab.host(1).rundir.to_string_lossy().into_owned();
    let bad = OsStr::from_bytes(b"192.0.2.\xff").to_os_string();
    let bad_dir = OsStr::from_bytes(b"/tmp/no-such-\xfe-dir").to_os_string();

    let vrrpd_argv: Vec<OsString> =
        ["-F", "-f", &rd, "-i", "eth0", "-v", "51"].iter().map(OsString::from).chain([bad]).collect();
    let mut c = Command::new("ip");
    c.args(["netns", "exec", lab.h(1), Lab::vrrpd_bin()]).args(&vrrpd_argv);
    let r = run_cmd(c);
    assert_eq!(r.code, Some(2), "vrrpd with a non-UTF-8 argument: usage error (2): {r:?}");
    assert!(r.stderr.contains("argument 8 (") && r.stderr.contains("is not valid UTF-8"), "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");

    for argv in [vec![OsString::from("-f"), bad_dir.clone(), "--state".into()], vec!["--state".into(), bad_dir]] {
        let mut c = Command::new(atropos_bin());
        c.args(&argv);
        let r = run_cmd(c);
        assert_eq!(r.code, Some(2), "atropos {argv:?}: usage error (2): {r:?}");
        assert!(r.stderr.contains("is not valid UTF-8"), "{r:?}");
        assert!(!r.stderr.contains("panicked"), "{r:?}");
    }
    assert!(entries(&lab.host(1).rundir).is_empty(), "nothing written: {:?}", entries(&lab.host(1).rundir));
}

#[test]
fn atropos_writes_nothing_in_a_directory_where_no_vrrpd_runs() {
    // Fails before the change: atropos --backup created `drain` in any directory, then said "no vrrpd
    // found"; --resume removed any file named `drain`.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("nodrain", 1, 1);
    let empty = fresh_dir(&lab, "not-a-rundir");
    let r = atropos(&empty, &["--backup"]);
    assert_eq!(r.code, Some(3), "--backup where no vrrpd runs: UNKNOWN (3): {r:?}");
    assert!(entries(&empty).is_empty(), "atropos --backup left {:?} behind", entries(&empty));
    assert!(r.stdout.contains("nothing drained, nothing written"), "{r:?}");

    // A file named `drain` that is not ours (no state file, no vrrpd): --resume leaves it.
    fs::write(empty.join("drain"), "someone else's\n").unwrap();
    let r = atropos(&empty, &["--resume"]);
    assert_eq!(r.code, Some(3), "--resume in a directory that is not a run dir: UNKNOWN (3): {r:?}");
    assert_eq!(fs::read_to_string(empty.join("drain")).unwrap(), "someone else's\n", "--resume left it alone");
    assert_eq!(entries(&empty), vec!["drain".to_string()], "and wrote nothing else");
}
