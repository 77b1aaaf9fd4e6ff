//! Items 1-2: a peer advertising every 2 s elects with ours; interval and password mismatches are split-brain signals.
use super::*;

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
