//! Service tracking and the preempt delay on a real kernel: a stand-in service (HTTP server) that
//! dies and comes back, a check script that fails (fall/rise) and that hangs (killed), a tracked
//! interface that loses its carrier (with unicast peers), the preempt delay at start, and the
//! trackers refused at start. Run as root: `cargo test --test track -- --test-threads=2`.

mod common;

use common::json::*;
use common::pair::*;
use common::track::*;
use common::*;
use std::time::{Duration, Instant};

const V3: &str = "--vrrp-version 3 -d 0.1";

fn log_of(procs: &[Proc]) -> String {
    procs.iter().map(|p| p.log_text()).collect::<Vec<_>>().join("\n")
}

#[test]
fn service_death_moves_every_vip_and_its_return_hands_them_back() {
    if Lab::skip_unless_root() {
        return;
    }
    let lab = Lab::new("trkproc", 2, 2);
    let (o1, o2) = (macs(&lab, 1), macs(&lab, 2));
    let s1 = start_service(&lab, 1);
    let _s2 = start_service(&lab, 2);
    let extra = |n| format!("{V3} --preempt-delay 1 --track-process {}", service_name(n));
    let h1 = start_host(&lab, 1, &extra(1));
    let h2 = start_host(&lab, 2, &extra(2));
    lab.wait_until(HANG, "host 1 MASTER on both LANs, host 2 BACKUP", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_live_state(&lab, 2, &h2, "BACKUP")
    });
    assert_eq!(served_by(&lab).as_deref(), Some("h1"));
    let (code, _) = atropos_run(&lab.host(1).rundir, &["--state"]);
    assert_eq!(code, 0, "host 1 healthy:\n{}", lab.snapshot());

    // The service dies on host 1: every VIP moves to host 2, the clients are served there.
    s1.kill9();
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's service died", || {
        owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1)
    });
    assert_eq!(served_by(&lab).as_deref(), Some("h2"));
    let name = service_name(1);
    let log = log_of(&h1);
    assert!(log.contains(&format!("tracker process {name} failed: no process named {name}")), "{log}");
    let (code, out) = atropos_run(&lab.host(1).rundir, &["--state"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("tracker process {name} failed since")), "{out}");
    let (_, js) = atropos_run(&lab.host(1).rundir, &["--json"]);
    let j = parse_json(&js);
    let m0 = &j.get("members").arr()[0];
    assert_eq!(m0.get("trackers").arr()[0].get("state").str(), "failed", "{js}");
    assert_eq!(m0.get("state").str(), "BACKUP", "{js}");
    // Still BACKUP well past Master_Down_Interval while the service is down.
    std::thread::sleep(Duration::from_millis(600));
    assert!(holds_nothing(&lab, 1, &o1) && owns_all(&lab, 2), "{}", lab.snapshot());

    // The service is back: host 1 rejoins, follows host 2 during its preempt delay, then takes over.
    let _s1 = start_service(&lab, 1);
    lab.wait_until(HANG, "host 1 owns both LANs again", || owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2));
    assert_eq!(served_by(&lab).as_deref(), Some("h1"));
    let log = log_of(&h1);
    assert!(log.contains(&format!("tracker process {name} recovered: pid")), "{log}");
    assert!(log.contains("preempt delay over"), "{log}");
    assert_running(&h1);
    assert_running(&h2);
}

#[test]
fn a_failing_check_counts_fall_and_rise_and_a_hanging_one_is_killed() {
    if Lab::skip_unless_root() {
        return;
    }
    let lab = Lab::new("trkscript", 2, 1);
    let d = lab.dir.to_string_lossy().into_owned();
    let body = format!(
        "[ -e {d}/hang ] && {{ echo $$ > {d}/hang.pid; exec sleep 3600; }}\n\
         [ -e {d}/ok ] || {{ echo fail >> {d}/runs; exit 1; }}\necho ok >> {d}/runs"
    );
    let chk = check_script(&lab, "chk1", &body, 0o755);
    std::fs::write(lab.dir.join("ok"), "").unwrap();
    let o1 = mac(lab.h(1), "eth0");
    let args = format!(
        "-i eth0 -v 51 -p 110 {V3} --track-script {} --track-interval 0.2 --track-fall 2 --track-rise 2 \
         --track-timeout 0.5 {VIP_A}",
        chk.display()
    );
    let h1 = lab.vrrpd(1, &args);
    let h2 = lab.vrrpd(2, &format!("-i eth0 -v 51 -p 100 {V3} {VIP_A}"));
    let one = |n: usize| owns_with_vmac(lab.h(n), "eth0", VIP_A, 51);
    lab.wait_until(HANG, "host 1 MASTER", || one(1) && !has_ip(lab.h(2), "eth0", VIP_A));

    // Failures: the host steps down only after two in a row (fall 2).
    std::fs::remove_file(lab.dir.join("ok")).unwrap();
    lab.wait_until(HANG, "host 2 MASTER after the check failed", || one(2) && released(lab.h(1), "eth0", VIP_A, &o1));
    let runs = std::fs::read_to_string(lab.dir.join("runs")).unwrap();
    let fails = runs.lines().rev().take_while(|l| *l == "fail").count();
    assert!(fails >= 2, "stepped down after {fails} failure(s): {runs}");
    assert!(h1.log_text().contains("failed: exit status 1"), "{}", h1.log_text());

    // Successes: back after two in a row (rise 2).
    std::fs::write(lab.dir.join("ok"), "").unwrap();
    lab.wait_until(HANG, "host 1 MASTER again", || one(1) && !has_ip(lab.h(2), "eth0", VIP_A));
    let runs = std::fs::read_to_string(lab.dir.join("runs")).unwrap();
    assert!(runs.lines().rev().take_while(|l| *l == "ok").count() >= 2, "{runs}");
    assert!(h1.log_text().contains("recovered: exit status 0"), "{}", h1.log_text());

    // A check that hangs is killed at its timeout and counts as a failure.
    std::fs::write(lab.dir.join("hang"), "").unwrap();
    lab.wait_until(HANG, "host 2 MASTER after the check hung", || one(2) && released(lab.h(1), "eth0", VIP_A, &o1));
    assert!(h1.log_text().contains("timed out after 0.5"), "{}", h1.log_text());
    let pid = std::fs::read_to_string(lab.dir.join("hang.pid")).unwrap().trim().to_string();
    lab.wait_until(HANG, "the hung check's process to be gone", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(h1.is_running() && h2.is_running());
}

#[test]
fn a_tracked_interface_losing_its_carrier_fails_over_with_unicast_peers() {
    if Lab::skip_unless_root() {
        return;
    }
    let lab = Lab::new("trkif", 2, 2);
    let peer = |n: usize| host_ip(3 - n, 0);
    let h1 = lab.vrrpd(1, &format!("-i eth0 -v 51 -p 110 -n --peer {} --track-interface eth1 {VIP_A}", peer(1)));
    let h2 = lab.vrrpd(2, &format!("-i eth0 -v 51 -p 100 -n --peer {} {VIP_A}", peer(2)));
    let holds = |n: usize| has_ip(lab.h(n), "eth0", VIP_A);
    lab.wait_until(HANG, "host 1 MASTER", || h1.is_running() && h2.is_running() && holds(1) && !holds(2));
    exec(&lab.switch, "ip link set h1e1 down");
    lab.wait_until(HANG, "host 2 MASTER after host 1's eth1 lost its carrier", || holds(2) && !holds(1));
    assert!(h1.log_text().contains("tracker interface eth1 failed: no carrier"), "{}", h1.log_text());
    let (code, out) = atropos_run(&lab.host(1).rundir, &["--state"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("tracker interface eth1 failed since"), "{out}");
    exec(&lab.switch, "ip link set h1e1 up");
    lab.wait_until(HANG, "host 1 MASTER again", || holds(1) && !holds(2));
    assert!(h1.log_text().contains("tracker interface eth1 recovered: up, carrier"), "{}", h1.log_text());
}

#[test]
fn the_preempt_delay_keeps_a_restarted_box_backup_for_its_length() {
    if Lab::skip_unless_root() {
        return;
    }
    let lab = Lab::new("trkdelay", 2, 1);
    let h2 = lab.vrrpd(2, &format!("-i eth0 -v 51 -p 100 {V3} {VIP_A}"));
    lab.wait_until(HANG, "host 2 MASTER alone", || owns_with_vmac(lab.h(2), "eth0", VIP_A, 51));
    let delay = Duration::from_secs(3);
    let started = Instant::now();
    let h1 = lab.vrrpd(1, &format!("-i eth0 -v 51 -p 110 {V3} --preempt-delay 3 {VIP_A}"));
    lab.wait_until(HANG, "host 1 to follow host 2 during its delay", || {
        let (_, js) = atropos_run(&lab.host(1).rundir, &["--json"]);
        let j = parse_json(&js);
        let m = j.get("members").arr().first().cloned();
        m.is_some_and(|m| {
            let heard = m.get("master_heard");
            let left = m.get("preempt_delay_left_s");
            m.get("state").str() == "BACKUP"
                && !heard.is_null()
                && heard.str() == host_ip(2, 0)
                && !left.is_null()
                && left.num() > 0.0
        })
    });
    assert!(owns_with_vmac(lab.h(2), "eth0", VIP_A, 51), "{}", lab.snapshot());
    lab.wait_until(HANG, "host 1 MASTER after its delay", || owns_with_vmac(lab.h(1), "eth0", VIP_A, 51));
    assert!(started.elapsed() >= delay, "took over {:?} after start, before the delay", started.elapsed());
    assert!(h1.log_text().contains("preempt delay over"), "{}", h1.log_text());
    lab.wait_until(HANG, "host 2 BACKUP", || !has_ip(lab.h(2), "eth0", VIP_A));
    assert!(h2.is_running());
}

#[test]
fn bad_trackers_are_refused_at_start_and_a_missing_service_keeps_the_host_backup() {
    if Lab::skip_unless_root() {
        return;
    }
    let lab = Lab::new("trkbad", 1, 1);
    let bin = Lab::vrrpd_bin();
    let rundir = lab.host(1).rundir.to_string_lossy().into_owned();
    let open = check_script(&lab, "chk-open", "exit 0", 0o777);
    let open = open.to_string_lossy().into_owned();
    for (argv, want) in [
        (vec!["--track-script", open.as_str()], "writable by others"),
        (vec!["--track-script", "check-web"], "absolute path"),
        (vec!["--track-fall", "2"], "goes with --track-script"),
    ] {
        let mut a = vec![bin, "-F", "-f", &rundir, "-i", "eth0", "-v", "51"];
        a.extend(argv.iter());
        a.push(VIP_A);
        let out = lab.run_to_exit(lab.h(1), &a, "refused", HANG);
        assert!(!out.status.success(), "{argv:?} accepted");
        assert!(out.stderr.contains(want) && out.stderr.lines().count() == 1, "{argv:?}: {}", out.stderr);
        assert!(!has_ip(lab.h(1), "eth0", VIP_A));
    }
    // A tracked service that does not run: BACKUP, past any Master_Down_Interval, CRITICAL.
    let h1 = lab.vrrpd(1, &format!("-i eth0 -v 51 {V3} --track-process nosuchsvc {VIP_A}"));
    lab.wait_until(HANG, "the tracker to fail", || h1.log_text().contains("no process named nosuchsvc"));
    std::thread::sleep(Duration::from_millis(800));
    assert!(!has_ip(lab.h(1), "eth0", VIP_A), "{}", lab.snapshot());
    let (code, out) = atropos_run(&lab.host(1).rundir, &["--state"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("tracker process nosuchsvc failed since"), "{out}");
}
