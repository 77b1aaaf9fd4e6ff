//! Items 5-6: a 12-byte password against keepalived; two vrids sharing one interface.
use super::*;

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
