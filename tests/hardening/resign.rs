//! Cases 2 and 3: a MASTER that loses its address resigns; the original MAC survives a trip to another namespace.
use super::*;

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
