//! Item 3: every signal sent to a MASTER; the stopping ones release and exit 0, SIGUSR1 dumps, SIGUSR2 drains.
use super::*;

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
