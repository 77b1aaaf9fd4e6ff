//! The run dir, the state file and the interface destroyed under a running vrrpd.
use super::*;

#[test]
fn state_file_garbage_and_run_dir_removed_while_running() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("rundirgone", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, A);
    let rundir = lab.host(1).rundir.clone();
    let state = rundir.join("state");
    let p = lab.vrrpd(1, &single_lan_args(110));
    lab.wait_until(SETTLE, "lone host MASTER", || {
        assert!(p.is_running(), "vrrpd exited");
        owns_with_vmac(h, A, VIP_A, VRID_A) && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
    });

    // 1. Garbage in the state file: binary, overlong lines, half records, a forged record for eth0.
    let mut rng = Rng::new(seed());
    let mut garbage: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    garbage.extend_from_slice(b"\nif=eth0\tomac=00:00:5e:00:01:33\tvrid=999\n");
    garbage.extend(std::iter::repeat_n(b'x', 100_000));
    garbage.extend_from_slice(b"\nif=\tvrid=1\n\0\0\0if=eth0\n");
    fs::write(&state, &garbage).unwrap();
    let (code, out) = atropos_run(&rundir, &["--state"]);
    assert!(p.is_running(), "vrrpd died after the state file was filled with garbage:\n{}", p.log_text());
    assert!(out.contains("host is MASTER"), "atropos --state with a garbage state file (exit {code}):\n{out}");
    // Make the daemon rewrite its record (a priority change is saved at once).
    let (code, out) = atropos_run(&rundir, &["--reduce"]);
    assert_eq!(code, 0, "atropos --reduce:\n{out}");
    lab.wait_until(HANG, "the state file holds a valid record for eth0 again", || {
        state_omac(&lab, 1, A).as_deref() == Some(orig.as_str())
            && lab.live_state(1, A, VRID_A, &p).as_deref() == Some("MASTER")
    });
    // Text garbage this time (valid UTF-8), with a forged record for eth0 claiming the virtual MAC as
    // the original one: the daemon's next write must put its own record back.
    let forged = format!(
        "garbage line\nif=eth0\tvrid=51\tpid=1\tstate=MASTER\tomac={vm}\tmac={vm}\tvips=10.9.9.9\nif=\tvrid=7\n{}\n",
        "y".repeat(70_000),
        vm = vmac(VRID_A)
    );
    fs::write(&state, forged).unwrap();
    let (code, out) = atropos_run(&rundir, &["--increase"]);
    assert_eq!(code, 0, "atropos --increase:\n{out}");
    lab.wait_until(HANG, "the daemon's own record replaced the forged one", || {
        state_omac(&lab, 1, A).as_deref() == Some(orig.as_str())
            && lab.live_state(1, A, VRID_A, &p).as_deref() == Some("MASTER")
    });
    assert!(p.is_running(), "vrrpd died on a forged state file:\n{}", p.log_text());
    assert!(p.is_running() && owns_with_vmac(h, A, VIP_A, VRID_A), "after the garbage:\n{}", lab.snapshot());

    // 2. The run dir disappears (someone cleans /run).
    // (Renamed away first: the path disappears at once even while the daemon writes in it.)
    let gone = rundir.with_extension("removed");
    fs::rename(&rundir, &gone).unwrap();
    fs::remove_dir_all(&gone).unwrap();
    std::thread::sleep(Duration::from_millis(200)); // pacing: let the daemon run a while without it
    assert!(p.is_running(), "vrrpd died when its run dir was removed:\n{}", p.log_text());
    // Something the daemon must save: a priority change by signal (no socket to reach it any more).
    p.signal(libc::SIGTTIN);
    let rd = rundir.display().to_string();
    lab.wait_until(HANG, "the daemon recreated its state file or logged a clear error naming the run dir", || {
        assert!(p.is_running(), "vrrpd died after its run dir was removed:\n{}", p.log_text());
        state.exists()
            || p.log_text().lines().any(|l| (l.contains(" error: ") || l.contains(" warn: ")) && l.contains(&rd))
    });
    let recovered = state.exists();
    let complaint: Vec<String> = p.log_text().lines().filter(|l| l.contains(&rd)).map(String::from).collect();
    println!("run dir removed: recovered={recovered}; log: {complaint:?}");
    hold_for(Duration::from_secs(2), "still MASTER without a run dir", || {
        p.is_running() && owns_with_vmac(h, A, VIP_A, VRID_A)
    });

    // 3. Stop still gives the MAC back.
    p.term();
    let st = p.wait_exit(HANG);
    assert!(released(h, A, VIP_A, &orig), "stop after the run dir was removed:\n{}", lab.snapshot());
    assert_eq!(st.code(), Some(0), "exit status on SIGTERM:\n{}", p.log_text());
    assert_no_panic(&p);
}

// ---------------------------------------------------------------------------------------------
// (e) interface deleted under a running vrrpd

fn assert_clean_interface_gone_exit(p: &Proc) {
    let st = p.wait_exit(HANG);
    let log = p.log_text();
    assert_eq!(st.code(), Some(1), "{}: exit status after its interface was deleted:\n{log}", p.name);
    assert!(
        log.lines().any(|l| l.contains(" error: ") && l.contains("interface was deleted")),
        "{}: no clear log line about the deleted interface:\n{log}",
        p.name
    );
    assert_no_panic(p);
}

#[test]
fn interface_deleted_under_a_lone_master_exits_1() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("ifdel", 1, 1);
    let h = lab.h(1);
    // The -D hook still runs when the interface goes away under a MASTER (tunnels, routes elsewhere).
    let calls = lab.dir.join("down-hook.calls");
    let script = lab.dir.join("down-hook.sh");
    fs::write(&script, format!("#!/bin/sh\necho \"$1 $2 $VRRP_PREV_STATE $VRRP_REASON\" >> {}\n", calls.display()))
        .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let p = lab.vrrpd(1, &format!("{} -D {}", single_lan_args(110), script.display()));
    lab.wait_until(SETTLE, "lone host MASTER", || {
        assert!(p.is_running(), "vrrpd exited");
        owns_with_vmac(h, A, VIP_A, VRID_A)
    });
    exec(h, "ip link del eth0");
    assert_clean_interface_gone_exit(&p);
    let text = fs::read_to_string(&calls).unwrap_or_default();
    let last = text.lines().last().unwrap_or("");
    assert!(
        text.lines().count() == 2 && last.starts_with("BACKUP eth0 MASTER") && last.contains("interface deleted"),
        "the -D hook must run at start and once more when the interface is deleted under a MASTER:\n{text}"
    );
    assert_eq!(lab.vrrpd_run_file(1, A, VRID_A, "pid"), None, "pid file left behind");
    assert_eq!(lab.vrrpd_sock(1, A, VRID_A), None, "socket left behind");
    // The interface left carrying the virtual MAC: its record (with the original MAC) stays, so that a
    // vrrpd started when an interface of that name is back can give the MAC back (issue 10).
    let rec = lab.vrrpd_record(1, A, VRID_A).expect("the record of the original MAC must be kept");
    assert_eq!(rec.get("omac").map(String::as_str), Some("02:00:00:00:00:01"), "{rec:?}");
    assert_eq!(rec.get("state").map(String::as_str), Some("INIT"), "{rec:?}");
    assert!(rec.get("reason").is_some_and(|r| r.contains("interface gone while carrying the virtual MAC")), "{rec:?}");
}

#[test]
fn interface_deleted_in_a_group_exits_1_and_the_host_goes_backup() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("ifdelgrp", 1, 2);
    let h = lab.h(1);
    let orig_a = mac(h, A);
    let pa = lab.vrrpd(1, &group_args(A, VRID_A, 110, VIP_A));
    let pb = lab.vrrpd(1, &group_args(B, VRID_B, 110, VIP_B));
    lab.wait_until(SETTLE, "both members MASTER", || {
        assert!(pa.is_running() && pb.is_running(), "a member exited");
        owns_with_vmac(h, A, VIP_A, VRID_A) && owns_with_vmac(h, B, VIP_B, VRID_B)
    });
    // A MASTER member loses its interface.
    exec(h, "ip link del eth1");
    assert_clean_interface_gone_exit(&pb);
    lab.wait_until(HANG, "the other member holds the host BACKUP and gives its link back", || {
        assert!(pa.is_running(), "the eth0 member exited:\n{}", pa.log_text());
        released(h, A, VIP_A, &orig_a) && lab.vrrpd_state(1, A).as_deref() == Some("BACKUP")
    });
    hold_for(Duration::from_secs(2), "eth0 member stays BACKUP without its sibling", || {
        pa.is_running() && released(h, A, VIP_A, &orig_a)
    });
    // A BACKUP member loses its interface.
    exec(h, "ip link del eth0");
    assert_clean_interface_gone_exit(&pa);
}
