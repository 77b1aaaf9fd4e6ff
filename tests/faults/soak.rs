//! A drain/resume soak: descriptors, memory and child processes stay flat.
use super::*;

#[test]
fn drain_resume_soak_keeps_descriptors_memory_and_children_flat() {
    if skip_unless_root() {
        return;
    }
    let cycles = env_count("VRRPD_SOAK_CYCLES", 20);
    let lab = Lab::new("soak", 2, 1);
    let (h1, h2) = (lab.h(1), lab.h(2));
    let orig2 = mac(h2, A);
    // Hooks on host 1, so that the soak also runs the hook runner (pipes, child processes).
    let hook_out = lab.dir.join("hooks.out");
    let hook = lab.dir.join("hook.sh");
    fs::write(&hook, format!("#!/bin/sh\necho \"$VRRP_STATE $VRRP_IFACE\" >> {}\n", hook_out.display())).unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let hk = hook.display().to_string();
    let p1 = lab.vrrpd(1, &format!("{} -U {hk} -D {hk}", single_lan_args(110)));
    let p2 = lab.vrrpd(2, &single_lan_args(100));
    let rundir = lab.host(1).rundir.clone();
    let settled = || {
        owns_with_vmac(h1, A, VIP_A, VRID_A)
            && released(h2, A, VIP_A, &orig2)
            && lab.vrrpd_state(1, A).as_deref() == Some("MASTER")
            && lab.vrrpd_state(2, A).as_deref() == Some("BACKUP")
            && children_of(p1.pid).is_empty()
    };
    let wait_settled = |what: &str| {
        lab.wait_until(SETTLE, what, || {
            assert!(p1.is_running() && p2.is_running(), "a vrrpd exited during the soak");
            settled()
        })
    };
    wait_settled("host 1 master, host 2 backup");
    let cycle = |i: usize| {
        let (code, out) = atropos_run(&rundir, &["--backup"]);
        assert_eq!(code, 0, "cycle {i}: atropos --backup:\n{out}");
        let (code, out) = atropos_run(&rundir, &["--resume"]);
        assert_eq!(code, 0, "cycle {i}: atropos --resume:\n{out}");
    };
    // Warm-up: first transitions allocate what a daemon keeps for its life.
    for i in 0..3 {
        cycle(i);
        wait_settled("warm-up: host 1 master again");
    }
    let start = [usage(p1.pid), usage(p2.pid)];
    let fds_start = [fd_list(p1.pid), fd_list(p2.pid)];
    println!("soak start: host 1 {:?}, host 2 {:?}", start[0], start[1]);

    let t0 = Instant::now();
    let mut full = 0;
    for i in 0..cycles {
        cycle(i);
        // Every 5th cycle wait until host 1 is MASTER again: full MASTER -> BACKUP -> MASTER transitions.
        if i % 5 == 4 || i + 1 == cycles {
            wait_settled(&format!("cycle {i}: host 1 master again after --resume"));
            full += 1;
        }
        if i % 50 == 49 {
            println!(
                "  cycle {}: host 1 {:?}, host 2 {:?} ({:.0?})",
                i + 1,
                usage(p1.pid),
                usage(p2.pid),
                t0.elapsed()
            );
        }
    }
    wait_settled("end: host 1 master, host 2 backup");
    // Descriptors may be transiently open (an ARP timer, a finishing hook): poll briefly for the
    // settled figure, then compare.
    let mut end = [usage(p1.pid), usage(p2.pid)];
    let deadline = Instant::now() + Duration::from_secs(5);
    while (end[0].fds != start[0].fds || end[1].fds != start[1].fds) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        end = [usage(p1.pid), usage(p2.pid)];
    }
    let hooks_run = fs::read_to_string(&hook_out).map(|s| s.lines().count()).unwrap_or(0);
    println!(
        "soak end after {cycles} drain/resume cycles ({full} full round trips, {hooks_run} hook runs) in {:.1?}: \
         host 1 {:?}, host 2 {:?}",
        t0.elapsed(),
        end[0],
        end[1]
    );
    for n in 0..2 {
        let who = format!("host {}", n + 1);
        assert_eq!(
            end[n].fds,
            start[n].fds,
            "{who}: open descriptors grew\nstart: {:#?}\nend: {:#?}",
            fds_start[n],
            fd_list(if n == 0 { p1.pid } else { p2.pid })
        );
        assert!(
            end[n].rss_kib <= start[n].rss_kib + 256,
            "{who}: RSS grew from {} KiB to {} KiB",
            start[n].rss_kib,
            end[n].rss_kib
        );
        assert_eq!(end[n].children, start[n].children, "{who}: child processes (zombies included)");
    }
    assert!(hooks_run >= 2 * full, "only {hooks_run} hook runs for {full} round trips");
    assert_no_panic(&p1);
    assert_no_panic(&p2);
}
