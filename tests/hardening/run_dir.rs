//! Case 1: untrusted run dirs refused, planted links replaced, a FIFO at the state file never blocks.
use super::*;

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
