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

mod common;

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

// ---------------------------------------------------------------------------------------------
// A minimal JSON parser (serde_json is not a dependency; the same as in tests/atropos.rs)

// ---------------------------------------------------------------------------------------------
// 1. Interval mismatch

#[test]
fn interval_mismatch_elects_one_master_and_the_backup_waits_three_master_intervals() {
    // Fails before the change: host 2 dropped host 1's 2 s adverts ("advertisement interval differs
    // from ours") and went MASTER after its own 3.61 s, so both held the VIP and atropos said OK.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("cimm", 2, 1);
    let o2 = mac(lab.h(2), A);
    // Host 1 stands in for Advanced Vrrpd 1.15 at its default interval (2 s).
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 -d 2 {VIP_A}"));
    lab.wait_until(HANG, "host 1 (110, -d 2), alone, MASTER with VIP + vMAC", || {
        running(&[&p1]);
        master_with_vmac(&lab, 1, VRID, &p1, VIP_A)
    });
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 {VIP_A}"));
    lab.wait_until(HANG, "host 2 (100, 1 s) BACKUP without VIP", || {
        running(&[&p1, &p2]);
        backup_released(&lab, 2, VRID, &p2, VIP_A, &o2)
    });
    // 8 s is more than twice host 2's own Master_Down_Interval (3.61 s): dropping host 1's adverts
    // would have made it MASTER inside this window.
    hold_for(Duration::from_secs(8), "one master: host 1 MASTER with the VIP, host 2 BACKUP without", || {
        p1.is_running()
            && p2.is_running()
            && master_with_vmac(&lab, 1, VRID, &p1, VIP_A)
            && backup_released(&lab, 2, VRID, &p2, VIP_A, &o2)
    });

    // atropos on host 2: WARNING naming the peer and both intervals.
    let (code, first, out) = state_text(&lab, 2);
    assert_eq!(code, 1, "host 2: atropos --state must exit 1 (WARNING) on an interval mismatch:\n{out}");
    assert!(first.starts_with("VRRP WARNING: host is BACKUP"), "host 2's summary line:\n{out}");
    let want = format!("{A} vrid {VRID}: {} advertises every 2 s, we every 1 s (interval mismatch)", host_ip(1, 0));
    assert!(first.contains(&want), "host 2's summary line must say {want:?}:\n{out}");
    let (jcode, j, jout) = state_json(&lab, 2);
    assert_eq!(jcode, 1, "--json exit status:\n{jout}");
    assert_eq!(j.get("status").str(), "WARNING", "{jout}");
    let m = member(&j, VRID);
    let imm = m.get("interval_mismatch");
    assert_eq!(imm.get("peer").str(), host_ip(1, 0), "{jout}");
    assert_eq!(imm.get("peer_interval").num(), 2.0, "{jout}");
    assert_eq!(imm.get("our_interval").num(), 1.0, "{jout}");
    // At least the adverts of the 8 s window (one every 2 s).
    assert!(imm.get("count").num() >= 4.0, "interval_mismatch count: {jout}");
    assert!(m.get("counters").get("interval_mismatch").num() >= 4.0, "counters.interval_mismatch: {jout}");
    assert!(!dropped(m).contains_key("interval"), "the mismatched adverts are accepted, not dropped: {jout}");
    assert!(j.get("problems").arr().iter().any(|p| p.str() == want), "problems must hold {want:?}: {jout}");
    // Logged, at most once per second (the 8 s window holds at most 9 such lines + the first).
    let log = p2.log_text();
    let line = format!("advert from {} every 2 s, ours every 1 s: accepted (interval_mismatch)", host_ip(1, 0));
    let n_lines = log.lines().filter(|l| l.contains(&line)).count();
    assert!(n_lines >= 1, "host 2 logs {line:?}:\n{log}");
    assert!(n_lines <= 12, "host 2 logs the mismatch {n_lines} times (at most once per second):\n{log}");
    // Host 1 hears nobody (host 2 is a silent BACKUP): OK.
    let (code1, _, out1) = state_text(&lab, 1);
    assert_eq!(code1, 0, "host 1 (the 2 s master) is OK:\n{out1}");

    // SIGKILL of host 1 just after one of its adverts: host 2 waits 3 × 2 s + Skew_Time (0.61 s),
    // counted from that advert; with its own interval it would have taken over within 3.61 s.
    let mut ago = 0u64;
    lab.wait_until(HANG, "host 2 has just heard an advert of host 1 (< 300 ms ago)", || {
        ago = lab
            .vrrpd_info(2, A, VRID)
            .and_then(|i| i.get("heard_ago_ms").and_then(|v| v.parse().ok()))
            .unwrap_or(u64::MAX);
        ago < 300
    });
    let t0 = Instant::now();
    p1.kill9();
    lab.wait_until(HANG, "host 2 MASTER with VIP + vMAC after host 1's SIGKILL", || {
        running(&[&p2]);
        master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
    });
    let took = t0.elapsed();
    let since_advert = took + Duration::from_millis(ago);
    println!("host 2 took over {took:?} after the SIGKILL, {since_advert:?} after host 1's last advert");
    assert!(
        since_advert >= Duration::from_millis(5500) && since_advert <= Duration::from_secs(12),
        "host 2 took over {since_advert:?} after the last advert: expected about 3 × 2 s + 0.61 s (the master's interval)"
    );
}

#[test]
fn strict_interval_drops_the_adverts_and_atropos_signals_the_split_brain() {
    // Fails before the change: --strict-interval did not exist (usage error, exit 2), and a MASTER that
    // dropped another MASTER's adverts said OK.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("cstrict", 2, 1);
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 -d 2 {VIP_A}"));
    lab.wait_until(HANG, "host 1 (110, -d 2), alone, MASTER", || {
        running(&[&p1]);
        master_with_vmac(&lab, 1, VRID, &p1, VIP_A)
    });
    let p2 = lab.vrrpd(2, &format!("--strict-interval -i {A} -v {VRID} -p 100 {VIP_A}"));
    // RFC 3768 to the letter: host 2 drops the 2 s adverts and becomes MASTER too.
    lab.wait_until(HANG, "host 2 (strict) MASTER too, host 1 still MASTER", || {
        running(&[&p1, &p2]);
        master_with_vmac(&lab, 2, VRID, &p2, VIP_A) && master_with_vmac(&lab, 1, VRID, &p1, VIP_A)
    });
    lab.wait_until(HANG, "host 2's atropos reports the interval drops and a conflict", || {
        let (_, j, _) = state_json(&lab, 2);
        let m = member(&j, VRID);
        dropped(m).get("interval").copied().unwrap_or(0.0) >= 1.0 && !m.get("conflict").is_null()
    });
    let (code, j, out) = state_json(&lab, 2);
    // Host 1 advertises priority 110 >= our 100: CRITICAL.
    assert_eq!(code, 2, "host 2 (100) must say CRITICAL:\n{out}");
    assert_eq!(j.get("status").str(), "CRITICAL", "{out}");
    let m = member(&j, VRID);
    let c = m.get("conflict");
    assert_eq!(c.get("peer").str(), host_ip(1, 0), "{out}");
    assert_eq!(c.get("peer_priority").num(), 110.0, "{out}");
    assert_eq!(c.get("reason").str(), "interval", "{out}");
    assert!(c.get("ago_ms").num() < 7000.0, "{out}");
    assert_eq!(m.get("counters").get("interval_mismatch").num(), 0.0, "strict: dropped, not accepted: {out}");
    let (tcode, first, tout) = state_text(&lab, 2);
    assert_eq!(tcode, 2, "{tout}");
    let want =
        format!("{A} vrid {VRID}: {} (priority 110) also advertises vrid {VRID} while we are MASTER", host_ip(1, 0));
    assert!(first.starts_with("VRRP CRITICAL"), "{tout}");
    assert!(
        first.contains(&want) && first.contains("possible split brain"),
        "host 2's summary must say {want:?}:\n{tout}"
    );
    println!("host 2: {first}");
    // Host 1 is MASTER and hears host 2's 1 s adverts: not OK either, naming host 2.
    let (code1, first1, out1) = state_text(&lab, 1);
    println!("host 1: {first1}");
    assert!(code1 == 1 || code1 == 2, "host 1 (110) must say WARNING or CRITICAL while host 2 is MASTER too:\n{out1}");
    assert!(first1.contains(&host_ip(2, 0)), "host 1's summary names host 2:\n{out1}");
}

// ---------------------------------------------------------------------------------------------
// 2. Split-brain signals

#[test]
fn password_mismatch_is_a_split_brain_signal_that_clears_when_the_passwords_agree() {
    // Fails before the change: both hosts were MASTER and atropos --state said OK on both.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("cpass", 2, 1);
    let o2 = mac(lab.h(2), A);
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 -a pw/aaaa {VIP_A}"));
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 -a pw/bbbb {VIP_A}"));
    lab.wait_until(HANG, "both MASTER (each drops the other's adverts)", || {
        running(&[&p1, &p2]);
        master_with_vmac(&lab, 1, VRID, &p1, VIP_A) && master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
    });
    lab.wait_until(HANG, "both atropos report a conflict", || {
        [1, 2].iter().all(|&n| !member(&state_json(&lab, n).1, VRID).get("conflict").is_null())
    });
    for (n, peer, peer_prio, code, word) in [(2, 1, 110.0, 2, "CRITICAL"), (1, 2, 100.0, 1, "WARNING")] {
        let (c, j, out) = state_json(&lab, n);
        assert_eq!(c, code, "host {n}: exit status of --state --json:\n{out}");
        assert_eq!(j.get("status").str(), word, "host {n}: {out}");
        let cf = member(&j, VRID).get("conflict");
        assert_eq!(cf.get("peer").str(), host_ip(peer, 0), "host {n}: {out}");
        assert_eq!(cf.get("peer_priority").num(), peer_prio, "host {n}: {out}");
        assert_eq!(cf.get("reason").str(), "auth_data", "host {n}: {out}");
        assert!(cf.get("text").str().contains("password differs"), "host {n}: {out}");
        assert!(dropped(member(&j, VRID)).get("auth_data").copied().unwrap_or(0.0) >= 1.0, "host {n}: {out}");
        let (tc, first, tout) = state_text(&lab, n);
        assert_eq!(tc, code, "host {n}: exit status of --state:\n{tout}");
        let want = format!(
            "{A} vrid {VRID}: {} (priority {peer_prio}) also advertises vrid {VRID} while we are MASTER: \
             authentication password differs from ours - possible split brain",
            host_ip(peer, 0)
        );
        assert!(first.starts_with(&format!("VRRP {word}")), "host {n}: {tout}");
        assert!(first.contains(&want), "host {n}: the summary must say {want:?}:\n{tout}");
        for secret in ["aaaa", "bbbb"] {
            assert!(!out.contains(secret) && !tout.contains(secret), "host {n}: atropos shows the password");
        }
    }

    // Host 2 restarted with host 1's password: one master, and the signal goes away.
    p2.term();
    assert_eq!(p2.wait_exit(HANG).code(), Some(0), "host 2's exit on SIGTERM:\n{}", p2.log_text());
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 -a pw/aaaa {VIP_A}"));
    lab.wait_until(HANG, "host 1 MASTER, host 2 (same password now) BACKUP", || {
        running(&[&p1, &p2]);
        master_with_vmac(&lab, 1, VRID, &p1, VIP_A) && backup_released(&lab, 2, VRID, &p2, VIP_A, &o2)
    });
    // The conflict lasts 3 × our interval + 1 s after the last dropped advert.
    let cleared = lab.wait_until(HANG, "host 1's atropos back to OK without a conflict", || {
        let (c, j, _) = state_json(&lab, 1);
        c == 0 && member(&j, VRID).get("conflict").is_null()
    });
    println!("host 1's conflict cleared {cleared:?} after host 2 became BACKUP");
    assert!(cleared < Duration::from_secs(8), "the conflict lingered {cleared:?}");
    let (c1, first1, out1) = state_text(&lab, 1);
    assert_eq!(c1, 0, "{out1}");
    assert_eq!(first1, "VRRP OK: host is MASTER", "{out1}");
    let (c2, j2, out2) = state_json(&lab, 2);
    assert_eq!(c2, 0, "host 2: {out2}");
    assert!(member(&j2, VRID).get("conflict").is_null(), "host 2: {out2}");
}

// ---------------------------------------------------------------------------------------------
// 3. Signals

#[test]
fn every_stopping_signal_releases_and_exits_0_and_the_peer_takes_over() {
    // Fails before the change: SIGQUIT, SIGABRT, SIGXCPU and the fault signals kept their default
    // action (the process died by the signal, the VIP and the virtual MAC stayed on the interface).
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("csigstop", 2, 1);
    let (o1, o2) = (mac(lab.h(1), A), mac(lab.h(2), A));
    let hooks = lab.dir.join("down-h1.log");
    let down = script(&lab.dir, "down.sh", &format!("echo \"$VRRP_PREV_STATE $VRRP_STATE\" >> {}\n", hooks.display()));
    let args1 = format!("-i {A} -v {VRID} -p 110 -D {} {VIP_A}", down.display());
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 {VIP_A}"));
    let sigs = [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    let from_master =
        || fs::read_to_string(&hooks).unwrap_or_default().lines().filter(|l| l.starts_with("MASTER ")).count();
    for (i, (sig, name)) in sigs.into_iter().enumerate() {
        let p1 = lab.vrrpd(1, &args1);
        lab.wait_until(HANG, &format!("before {name}: host 1 (pid {}) MASTER, host 2 BACKUP", p1.pid), || {
            running(&[&p1, &p2]);
            master_with_vmac(&lab, 1, VRID, &p1, VIP_A) && backup_released(&lab, 2, VRID, &p2, VIP_A, &o2)
        });
        let t0 = Instant::now();
        assert!(signal(p1.pid, sig), "kill({}, {name})", p1.pid);
        let st = p1.wait_exit(HANG);
        assert_eq!(st.code(), Some(0), "{name}: vrrpd must release and exit 0, got {st:?}:\n{}", p1.log_text());
        assert!(released(lab.h(1), A, VIP_A, &o1), "{name}: VIP and virtual MAC left behind:\n{}", lab.snapshot());
        lab.wait_until(HANG, &format!("after {name}: host 2 MASTER with VIP + vMAC"), || {
            running(&[&p2]);
            master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
        });
        let took = t0.elapsed();
        println!("{name}: exit 0, host 2 took over {took:?} after the signal");
        // Only a priority-0 advert makes host 2 take over before its Master_Down_Interval (3.61 s).
        assert!(took < Duration::from_secs(3), "{name}: host 2 took {took:?}: no priority-0 advert on the way out");
        lab.wait_until(HANG, &format!("after {name}: the -D hook ran for leaving MASTER"), || from_master() > i);
    }
}

#[test]
fn ignored_signals_leave_the_master_alone_usr1_dumps_and_usr2_drains() {
    // Fails before the change: SIGUSR1 and SIGUSR2 killed vrrpd (exit 140) leaving the VIP and the
    // virtual MAC behind, and so did SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXFSZ and
    // the real-time signals (their default action ends the process).
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("csigign", 2, 1);
    let (o1, o2) = (mac(lab.h(1), A), mac(lab.h(2), A));
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 {VIP_A}"));
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 100 {VIP_A}"));
    let pair = || master_with_vmac(&lab, 1, VRID, &p1, VIP_A) && backup_released(&lab, 2, VRID, &p2, VIP_A, &o2);
    lab.wait_until(HANG, "host 1 MASTER, host 2 BACKUP", || {
        running(&[&p1, &p2]);
        pair()
    });

    let rtmin = libc::SIGRTMIN();
    let ignored = [
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGPWR, "SIGPWR"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGSTKFLT, "SIGSTKFLT"),
        (rtmin, "SIGRT"),
        (rtmin + 5, "SIGRT"),
        (libc::SIGRTMAX(), "SIGRT"),
    ];
    let ignored_lines =
        || p1.log_text().lines().filter(|l| l.contains(" ignored")).map(String::from).collect::<Vec<_>>();
    for (sig, name) in ignored {
        let before = ignored_lines().len();
        assert!(signal(p1.pid, sig), "kill({}, {sig})", p1.pid);
        if sig == libc::SIGPIPE {
            // Ignored without a log line: the next signal's log line shows the process survived it.
            continue;
        }
        lab.wait_until(HANG, &format!("host 1 logs that it ignored signal {sig} ({name}…)"), || {
            assert!(p1.is_running(), "signal {sig} ({name}) ended vrrpd ({:?}):\n{}", p1.try_status(), p1.log_text());
            let lines = ignored_lines();
            lines.len() > before && lines[before..].iter().any(|l| l.contains(name))
        });
    }
    let log = p1.log_text();
    assert!(
        log.contains("SIGHUP ignored (restart vrrpd to change its configuration)"),
        "the SIGHUP line of the log:\n{log}"
    );
    // Still MASTER and still advertising: host 2 would take over 3.61 s after the last advert.
    hold_for(Duration::from_secs(4), "host 1 still MASTER with its VIP, host 2 BACKUP", || p1.is_running() && pair());
    let transitions = p1.log_text().lines().filter(|l| l.contains("BACKUP -> MASTER")).count();
    assert_eq!(transitions, 1, "host 1 became MASTER once only:\n{}", p1.log_text());

    // SIGUSR1: the member's state line in the log.
    assert!(signal(p1.pid, libc::SIGUSR1));
    let pid_field = format!("pid={}", p1.pid);
    lab.wait_until(HANG, "host 1 logs its state line on SIGUSR1", || {
        assert!(p1.is_running(), "SIGUSR1 ended vrrpd ({:?}):\n{}", p1.try_status(), p1.log_text());
        p1.log_text().lines().any(|l| {
            l.contains("SIGUSR1")
                && l.contains("if=eth0")
                && l.contains(&format!("vrid={VRID}"))
                && l.contains(&pid_field)
                && l.contains("state=MASTER")
        })
    });
    assert!(pair(), "SIGUSR1 changed nothing:\n{}", lab.snapshot());

    // SIGUSR2: drained like atropos --backup, and it stays so.
    let t0 = Instant::now();
    assert!(signal(p1.pid, libc::SIGUSR2));
    lab.wait_until(HANG, "after SIGUSR2: host 1 BACKUP without VIP, host 2 MASTER", || {
        running(&[&p1, &p2]);
        backup_released(&lab, 1, VRID, &p1, VIP_A, &o1) && master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
    });
    println!("SIGUSR2: host 2 took over {:?} after the signal", t0.elapsed());
    let drain = rundir(&lab, 1).join("drain");
    assert!(drain.exists(), "SIGUSR2 creates the drain file {}", drain.display());
    let (code, first, out) = state_text(&lab, 1);
    assert_eq!(code, 1, "a drained host is WARNING:\n{out}");
    assert!(first.starts_with("VRRP WARNING: host is DRAINED"), "{out}");
    // Host 1 (110) would preempt host 2 (100) after 3.57 s if the drain did not hold.
    hold_for(Duration::from_secs(5), "host 1 stays BACKUP (drained), host 2 MASTER", || {
        p1.is_running()
            && backup_released(&lab, 1, VRID, &p1, VIP_A, &o1)
            && master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
    });

    // atropos --resume ends it: host 1 preempts again.
    let (rc, rout) = atropos_run(&rundir(&lab, 1), &["--resume"]);
    assert_eq!(rc, 0, "atropos --resume:\n{rout}");
    assert!(!drain.exists(), "--resume removes the drain file");
    lab.wait_until(HANG, "after --resume: host 1 MASTER again, host 2 BACKUP", || {
        running(&[&p1, &p2]);
        pair()
    });
    let (code, first, out) = state_text(&lab, 1);
    assert_eq!((code, first.as_str()), (0, "VRRP OK: host is MASTER"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// 4. Magic packet

/// One datagram to port 1100 seen by `tcpdump -tt -n -e -A` on the client.
#[derive(Debug)]
struct Magic {
    t: f64,
    src_mac: String,
    src: String,
}

/// `tcpdump -tt -n -e -l -U -A udp port 1100` in the client of LAN A (the gateway's stand-in).
fn capture_magic(lab: &Lab) -> Proc {
    let p = lab.spawn_split(
        lab.client(0),
        &["tcpdump", "-i", "eth0", "-tt", "-n", "-e", "-l", "-U", "-A", "udp", "port", "1100"],
        "tcpdump-magic",
    );
    wait_until(Duration::from_secs(10), "tcpdump to listen", || {
        assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
        p.err_text().contains("listening on")
    });
    p
}

/// The datagrams to CLIENT_A port 1100 in a capture.
fn magic_packets(text: &str) -> Vec<Magic> {
    let to = format!(" > {CLIENT_A}.1100: UDP");
    text.lines()
        .filter_map(|l| {
            let t = l.split_whitespace().next()?.parse::<f64>().ok()?;
            let i = l.find(&to)?;
            let src = l[..i].rsplit(' ').next()?;
            let src = src.rsplit_once('.').map(|(a, _)| a)?.to_string();
            let src_mac = l.split_whitespace().nth(1)?.to_lowercase();
            Some(Magic { t, src_mac, src })
        })
        .collect()
}

fn check_magic(what: &str, pkts: &[Magic], text: &str, src_mac: &str) {
    assert!(pkts.len() >= 2, "{what}: at least two magic packets:\n{text}");
    for p in pkts {
        assert_eq!(p.src, VIP_A, "{what}: the magic packet comes from the VIP:\n{text}");
        assert_eq!(p.src_mac, src_mac, "{what}: source MAC of the magic packet:\n{text}");
    }
    let gap = pkts[1].t - pkts[0].t;
    assert!(gap > 0.3 && gap <= 3.0, "{what}: the repeat came {gap:.3} s after the first:\n{text}");
    let payload = format!("vrrpd vrid {VRID} master {VIP_A}");
    assert!(text.matches(&payload).count() >= 2, "{what}: payload {payload:?} in each datagram:\n{text}");
}

#[test]
fn magic_packet_reaches_the_gateway_on_becoming_master_with_and_without_n() {
    // Fails before the change: -I and -O were unknown options (usage error, exit 2), nothing was sent.
    if skip_unless_root() || skip_unless_installed("tcpdump", "--version") {
        return;
    }
    let lab = Lab::new("cmagic", 2, 1);
    let o1 = mac(lab.h(1), A);
    let cap = capture_magic(&lab);

    // With -n: the host's own MAC carries the VIP.
    let p1 = lab.vrrpd(1, &format!("-n -i {A} -v {VRID} -p 110 -I {VIP_A} -O {CLIENT_A} {VIP_A}"));
    lab.wait_until(HANG, "host 1 (-n) alone MASTER with the VIP and its own MAC", || {
        running(&[&p1]);
        live(&lab, 1, VRID, &p1).as_deref() == Some("MASTER") && has_ip(lab.h(1), A, VIP_A) && mac(lab.h(1), A) == o1
    });
    lab.wait_until(HANG, "the gateway sees the magic packet and a repeat", || {
        magic_packets(&cap.log_text()).len() >= 2
    });
    let text = cap.log_text();
    let pkts = magic_packets(&text);
    check_magic("-n", &pkts, &text, &o1);
    println!("-n: {} magic packets: {pkts:?}", pkts.len());
    lab.wait_until(HANG, "the third magic packet (0, 1, 2 s after the transition)", || {
        magic_packets(&cap.log_text()).len() >= 3
    });
    p1.term();
    assert_eq!(p1.wait_exit(HANG).code(), Some(0));
    let seen = magic_packets(&cap.log_text()).len();

    // Without -n, behind a higher master: nothing while BACKUP, the burst on becoming MASTER.
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 120 {VIP_A}"));
    lab.wait_until(HANG, "host 2 (120) MASTER", || {
        running(&[&p2]);
        master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
    });
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 -I {VIP_A} -O {CLIENT_A} {VIP_A}"));
    lab.wait_until(HANG, "host 1 (110) BACKUP", || {
        running(&[&p1, &p2]);
        backup_released(&lab, 1, VRID, &p1, VIP_A, &o1)
    });
    hold_for(Duration::from_secs(2), "no magic packet from host 1 while it is BACKUP", || {
        live(&lab, 1, VRID, &p1).as_deref() == Some("BACKUP") && magic_packets(&cap.log_text()).len() == seen
    });
    p2.term();
    lab.wait_until(HANG, "host 1 MASTER with VIP + vMAC after host 2 stops", || {
        running(&[&p1]);
        master_with_vmac(&lab, 1, VRID, &p1, VIP_A)
    });
    lab.wait_until(HANG, "the gateway sees host 1's magic packet and a repeat", || {
        magic_packets(&cap.log_text()).len() >= seen + 2
    });
    let text = cap.log_text();
    let pkts = magic_packets(&text);
    check_magic("without -n", &pkts[seen..], &text, &vmac(VRID));
    println!("without -n: {} magic packets: {:?}", pkts.len() - seen, &pkts[seen..]);
}

#[test]
fn magic_packet_options_are_checked_before_starting() {
    // Fails before the change: -I / -O were unknown options: exit 2 too, but with getopts' generic
    // "Unrecognized option" instead of a line about what is missing or wrong.
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("cmagicerr", 1, 1);
    let base = format!("-i {A} -v {VRID} -p 110");
    let cases = [
        (format!("{base} -I {VIP_A} {VIP_A}"), vec!["-I", "-O"]),
        (format!("{base} -O {CLIENT_A} {VIP_A}"), vec!["-O", "-I"]),
        (format!("{base} -I {VIP_A2} -O {CLIENT_A} {VIP_A}"), vec!["-I", VIP_A2, "virtual address"]),
        (format!("{base} -I {VIP_A} -O 224.0.0.9 {VIP_A}"), vec!["-O", "224.0.0.9"]),
    ];
    for (args, words) in cases {
        let o = vrrpd_to_exit(&lab, 1, &args);
        assert_eq!(o.status.code(), Some(2), "vrrpd {args}: usage error expected, got {:?}\n{}", o.status, o.stderr);
        let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "vrrpd {args}: one line on stderr:\n{}", o.stderr);
        for w in words {
            assert!(lines[0].contains(w), "vrrpd {args}: the error line must name {w:?}: {}", lines[0]);
        }
        println!("vrrpd {args}: {}", lines[0]);
        assert!(!has_ip(lab.h(1), A, VIP_A), "vrrpd {args} touched the interface");
        let leftovers: Vec<String> = fs::read_dir(rundir(&lab, 1))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("vrrpd_"))
            .collect();
        assert!(leftovers.is_empty(), "vrrpd {args} left {leftovers:?} in the run dir");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Long passwords against keepalived

#[test]
fn twelve_byte_password_interoperates_with_keepalived_both_ways() {
    // Fails before the change: `-a pw/abcdefghijkl` was refused (more than 8 bytes), exit 2.
    if skip_unless_root()
        || skip_unless_installed("keepalived", "--version")
        || skip_unless_installed("tcpdump", "--version")
    {
        return;
    }
    atropos_bin();
    let lab = Lab::new("clongpw", 2, 1);
    let o1 = mac(lab.h(1), A);
    let cap = lab.tcpdump(0);
    let auth = "authentication {\n        auth_type PASS\n        auth_pass abcdefghijkl\n    }";
    let warning = "-a: the password is 12 bytes; VRRPv2 carries 8: only the first 8 are used";
    let no_auth_drops = |n: usize| {
        let (_, j, out) = state_json(&lab, n);
        let d = dropped(member(&j, VRID));
        assert!(
            !d.contains_key("auth_data") && !d.contains_key("auth_type"),
            "host {n} drops keepalived's adverts: {out}"
        );
    };

    // Ours higher (110), keepalived BACKUP (100).
    let ours = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 -a pw/abcdefghijkl {VIP_A}"));
    lab.wait_until(HANG, "ours (110), alone, MASTER", || {
        running(&[&ours]);
        master_with_vmac(&lab, 1, VRID, &ours, VIP_A)
    });
    assert!(ours.log_text().contains(warning), "ours warns about the cut at start:\n{}", ours.log_text());
    let k = lab.keepalived(2, VRID, 100, &[VIP_A], auth);
    lab.wait_until(HANG, "keepalived (100) enters BACKUP", || {
        running(&[&ours, &k]);
        k.log_text().contains("Entering BACKUP STATE")
    });
    // keepalived's Master_Down_Interval is 3.61 s: a password mismatch would make it MASTER.
    hold_for(master_down_interval(100) + Duration::from_secs(2), "ours MASTER, keepalived BACKUP", || {
        ours.is_running()
            && k.is_running()
            && master_with_vmac(&lab, 1, VRID, &ours, VIP_A)
            && !has_ip(lab.h(2), A, VIP_A)
    });
    assert!(!k.log_text().contains("Entering MASTER STATE"), "keepalived log:\n{}", k.log_text());
    // Our priority-0 advert on SIGTERM is honoured by keepalived only if it accepts our password.
    let t0 = Instant::now();
    ours.term();
    assert_eq!(ours.wait_exit(HANG).code(), Some(0));
    lab.wait_until(HANG, "keepalived holds the VIP after ours stops", || has_ip(lab.h(2), A, VIP_A));
    let took = t0.elapsed();
    println!("keepalived took over {took:?} after SIGTERM of ours");
    assert!(took < Duration::from_secs(3), "keepalived took {took:?}: it did not accept our priority-0 advert");

    // keepalived higher (100 now MASTER), ours BACKUP (90).
    let ours = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 90 -a pw/abcdefghijkl {VIP_A}"));
    lab.wait_until(HANG, "ours (90) BACKUP without VIP", || {
        running(&[&ours, &k]);
        backup_released(&lab, 1, VRID, &ours, VIP_A, &o1)
    });
    assert!(ours.log_text().contains(warning), "ours warns about the cut at start:\n{}", ours.log_text());
    hold_for(master_down_interval(90) + Duration::from_secs(2), "keepalived MASTER, ours BACKUP", || {
        ours.is_running()
            && k.is_running()
            && has_ip(lab.h(2), A, VIP_A)
            && backup_released(&lab, 1, VRID, &ours, VIP_A, &o1)
    });
    no_auth_drops(1);
    let heard = lab.vrrpd_info(1, A, VRID).expect("ours answers GET");
    assert_eq!(
        heard.get("heard").map(String::as_str),
        Some(host_ip(2, 0).as_str()),
        "ours hears keepalived: {heard:?}"
    );
    // On the wire both carry the first 8 bytes (tcpdump -vv prints the simple password).
    let text = cap.stop();
    for src in [host_ip(1, 0), host_ip(2, 0)] {
        let adverts: Vec<&str> =
            text.lines().filter(|l| l.trim_start().starts_with(&format!("{src} > 224.0.0.18:"))).collect();
        assert!(!adverts.is_empty(), "no advert of {src} captured:\n{text}");
        for l in adverts {
            assert!(l.contains("authtype simple") && l.contains("auth \"abcdefgh\""), "advert of {src}: {l}");
        }
    }
    // What keepalived says when it rejects an advert (its truncation warning at start aside).
    let klog = k.log_text().to_lowercase();
    for bad in ["invalid", "bogus", "wrong", "mismatch", "bad password", "authentication"] {
        let hits: Vec<&str> = klog.lines().filter(|l| l.contains(bad) && !l.contains("truncat")).collect();
        assert!(hits.is_empty(), "keepalived complained ({bad:?}):\n{}", hits.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Several vrids on one interface

#[test]
fn two_vrids_share_an_interface_one_sets_the_mac_and_the_group_moves_together() {
    // Fails before the change: the second vrrpd on eth0 (vrid 61, -n) was refused ("already running
    // on eth0") and the run-dir names did not carry the vrid.
    if skip_unless_root() {
        return;
    }
    atropos_bin();
    let lab = Lab::new("c2vrid", 2, 1);
    let (o1, o2) = (mac(lab.h(1), A), mac(lab.h(2), A));
    let args = |vrid: u8, prio: u8| {
        let (n, vip) = if vrid == 51 { ("", VIP_A) } else { ("-n", VIP_A2) };
        format!("-M 2 -i {A} -v {vrid} {n} -p {prio} {vip}")
    };
    let h1 = [lab.vrrpd(1, &args(51, 110)), lab.vrrpd(1, &args(61, 110))];
    let h2 = [lab.vrrpd(2, &args(51, 100)), lab.vrrpd(2, &args(61, 100))];
    let all: Vec<&Proc> = h1.iter().chain(&h2).collect();
    lab.wait_until(HANG, "host 1 MASTER of 51 and 61 (both VIPs, vMAC 51), host 2 BACKUP of both", || {
        running(&all);
        master_with_vmac(&lab, 1, 51, &h1[0], VIP_A)
            && live(&lab, 1, 61, &h1[1]).as_deref() == Some("MASTER")
            && has_ip(lab.h(1), A, VIP_A2)
            && backup_released(&lab, 2, 51, &h2[0], VIP_A, &o2)
            && live(&lab, 2, 61, &h2[1]).as_deref() == Some("BACKUP")
            && !has_ip(lab.h(2), A, VIP_A2)
    });
    // Run-dir names carry the vrid.
    for (n, procs) in [(1, &h1), (2, &h2)] {
        for (p, vrid) in procs.iter().zip([51u8, 61]) {
            let pidf = rundir(&lab, n).join(format!("vrrpd_{A}_{vrid}.pid"));
            let sock = rundir(&lab, n).join(format!("vrrpd_{A}_{vrid}.sock"));
            let text = fs::read_to_string(&pidf).unwrap_or_else(|e| panic!("host {n}: {}: {e}", pidf.display()));
            assert_eq!(text.trim(), p.pid.to_string(), "host {n}: {}", pidf.display());
            assert!(sock.exists(), "host {n}: no {}", sock.display());
        }
        assert!(!rundir(&lab, n).join(format!("vrrpd_{A}.pid")).exists(), "host {n}: an old-style pid file");
    }
    // atropos: one row per (interface, vrid).
    let (code, first, out) = state_text(&lab, 1);
    assert_eq!(code, 0, "{out}");
    assert_eq!(first, "VRRP OK: host is MASTER", "{out}");
    let rows: Vec<_> =
        table_rows(&out).into_iter().filter(|r| r.get("IFACE").is_some_and(|i| i.starts_with(A))).collect();
    assert_eq!(rows.len(), 2, "two rows for {A}:\n{out}");
    let mut vrids: Vec<&str> = rows.iter().map(|r| r.get("VRID").map(String::as_str).unwrap_or("")).collect();
    vrids.sort();
    assert_eq!(vrids, ["51", "61"], "{out}");
    assert!(rows.iter().all(|r| r.get("STATE").map(String::as_str) == Some("MASTER")), "{out}");
    let (_, j, jout) = state_json(&lab, 2);
    assert_eq!(j.get("members").arr().len(), 2, "{jout}");
    assert_eq!(member(&j, 51).get("state").str(), "BACKUP", "{jout}");
    assert_eq!(member(&j, 61).get("state").str(), "BACKUP", "{jout}");

    // A third one without -n: refused before detaching, naming the one that sets the MAC.
    let o = vrrpd_detaching(&lab, 1, &format!("-i {A} -v 71 -p 100 192.0.2.202"));
    assert_eq!(
        o.status.code(),
        Some(1),
        "a second MAC claim on {A}: exit 1 expected, got {:?}\n{}",
        o.status,
        o.stderr
    );
    let want = format!("vrrpd pid {} (vrid 51) already sets the virtual MAC on {A}", h1[0].pid);
    assert!(
        o.stderr.contains(&want) && o.stderr.contains("-n"),
        "the refusal must say {want:?} and suggest -n:\n{}",
        o.stderr
    );
    assert!(!rundir(&lab, 1).join(format!("vrrpd_{A}_71.pid")).exists(), "the refused vrrpd left its pid file");
    assert!(!has_ip(lab.h(1), A, "192.0.2.202"), "the refused vrrpd added its VIP");
    // The same (interface, vrid) twice in one run dir.
    let o = vrrpd_detaching(&lab, 1, &format!("-n -i {A} -v 51 -p 100 {VIP_A}"));
    assert_eq!(o.status.code(), Some(1), "{A} vrid 51 twice: exit 1 expected, got {:?}\n{}", o.status, o.stderr);
    let want = format!("already running on {A} vrid 51 (pid {})", h1[0].pid);
    assert!(o.stderr.contains(&want), "the refusal must say {want:?}:\n{}", o.stderr);
    assert!(master_with_vmac(&lab, 1, 51, &h1[0], VIP_A), "the refusals changed host 1:\n{}", lab.snapshot());

    // -M 2: losing vrid 61 on host 1 makes it give up vrid 51 too; host 2 owns both.
    let t0 = Instant::now();
    h1[1].kill9();
    lab.wait_until(HANG, "host 2 MASTER of 51 and 61 with both VIPs, host 1's vrid 51 BACKUP without VIPs", || {
        running(&[&h1[0], &h2[0], &h2[1]]);
        master_with_vmac(&lab, 2, 51, &h2[0], VIP_A)
            && live(&lab, 2, 61, &h2[1]).as_deref() == Some("MASTER")
            && has_ip(lab.h(2), A, VIP_A2)
            && backup_released(&lab, 1, 51, &h1[0], VIP_A, &o1)
            && !has_ip(lab.h(1), A, VIP_A2)
    });
    println!("host 2 owns both vrids {:?} after the SIGKILL of host 1's vrid 61", t0.elapsed());
    hold_for(Duration::from_secs(2), "host 1 stays BACKUP with one member of two", || {
        backup_released(&lab, 1, 51, &h1[0], VIP_A, &o1) && master_with_vmac(&lab, 2, 51, &h2[0], VIP_A)
    });
    let (code, first, out) = state_text(&lab, 1);
    assert_eq!(code, 2, "host 1 misses a member: CRITICAL:\n{out}");
    println!("host 1: {first}");
}
