//! Case 6: -i lo, a second MAC setter, non-UTF-8 arguments, atropos where no vrrpd runs.
use super::*;

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
