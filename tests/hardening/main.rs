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

#[path = "../common/mod.rs"]
mod common;
mod edges;
mod group_drain;
mod resign;
mod run_dir;

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

fn lone_args() -> String {
    format!("-i eth0 -v 51 -p 110 {VIP_A}")
}
