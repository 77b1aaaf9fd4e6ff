//! SIGKILL and restart of a master and of a group member, and link flaps faster than the advert interval.
use super::*;

#[test]
fn sigkill_and_restart_of_the_master_never_strands_an_address() {
    if skip_unless_root() {
        return;
    }
    let cycles = fault_cycles();
    let mut rng = Rng::new(seed());
    let lab = Lab::new("killmaster", 2, 1);
    let (h1, h2) = (lab.h(1), lab.h(2));
    let orig1 = mac(h1, A);
    let orig2 = mac(h2, A);
    let p2 = lab.vrrpd(2, &single_lan_args(100));
    let mut p1 = lab.vrrpd(1, &single_lan_args(110));
    // The states are those of the running processes (`p1` is host 1's current one), never the record
    // of a SIGKILLed host 1: its MASTER line, VIP and vMAC stay until the restarted one has recovered.
    let h1_master = |p1: &Proc| {
        lab.live_state(1, A, VRID_A, p1).as_deref() == Some("MASTER")
            && lab.live_state(2, A, VRID_A, &p2).as_deref() == Some("BACKUP")
            && owns_with_vmac(h1, A, VIP_A, VRID_A)
            && released(h2, A, VIP_A, &orig2)
    };
    let h2_master = |p1: &Proc| {
        lab.live_state(2, A, VRID_A, &p2).as_deref() == Some("MASTER")
            && lab.live_state(1, A, VRID_A, p1).as_deref() == Some("BACKUP")
            && owns_with_vmac(h2, A, VIP_A, VRID_A)
            && released(h1, A, VIP_A, &orig1)
    };
    lab.wait_until(SETTLE, "host 1 (110) master, host 2 (100) backup", || h1_master(&p1));

    let t0 = Instant::now();
    let (mut killed_master, mut startup_kills, mut backups) = (0, 0, 0);
    let (mut planted, mut flushes): (Vec<std::path::PathBuf>, usize) = (Vec::new(), 0);
    for i in 0..cycles {
        // Kill at a random moment of the settled state (mid-advert interval, right after a GARP…).
        std::thread::sleep(Duration::from_millis(rng.range(0, 1000)));
        let was_master = owns_with_vmac(h1, A, VIP_A, VRID_A);
        killed_master += usize::from(was_master);
        p1.kill9();
        p1.wait_exit(HANG);
        if i % 4 == 3 && was_master {
            // Let the peer take over: the killed master's VIP and vMAC are still on host 1 meanwhile.
            lab.wait_until(SETTLE, "host 2 takes over from the SIGKILLed host 1", || {
                owns_with_vmac(h2, A, VIP_A, VRID_A)
            });
            assert!(owns_with_vmac(h1, A, VIP_A, VRID_A), "cycle {i}: a SIGKILLed master cannot clean up");
        }
        let prio = if i % 3 == 2 { 90 } else { 110 };
        if i % 5 == 1 {
            // A crash during startup (recovery itself interrupted).
            let early = lab.vrrpd(1, &single_lan_args(prio));
            std::thread::sleep(Duration::from_millis(rng.range(0, 300)));
            early.kill9();
            early.wait_exit(HANG);
            startup_kills += 1;
        }
        if i % 7 == 4 {
            // Issue 10 mixed in: a link planted at the pid file and a FIFO at the state lock while no vrrpd
            // runs. The restart must replace both, never write through the link, never block on the FIFO.
            let rd = &lab.host(1).rundir;
            let victim = lab.dir.join(format!("victim-{i}"));
            fs::write(&victim, "precious\n").unwrap();
            let pid = rd.join(format!("vrrpd_{A}_{VRID_A}.pid"));
            let _ = fs::remove_file(&pid);
            std::os::unix::fs::symlink(&victim, &pid).unwrap();
            let _ = fs::remove_file(rd.join("state.lock"));
            vrrpd::sys::proc::mkfifo(&rd.join("state.lock")).unwrap();
            planted.push(victim);
        }
        p1 = lab.vrrpd(1, &single_lan_args(prio));
        let p = p1.clone();
        if prio > 100 {
            lab.wait_until(SETTLE, &format!("cycle {i}: restarted host 1 (110) master, host 2 backup"), || {
                assert!(p.is_running() && p2.is_running(), "cycle {i}: a vrrpd exited");
                h1_master(&p)
            });
        } else {
            backups += 1;
            lab.wait_until(
                SETTLE,
                &format!("cycle {i}: restarted host 1 (90) BACKUP with its own MAC and no VIP, host 2 master"),
                || {
                    assert!(p.is_running() && p2.is_running(), "cycle {i}: a vrrpd exited");
                    h2_master(&p)
                },
            );
        }
        hold_for(Duration::from_millis(300), &format!("cycle {i}: settled state"), || {
            if prio > 100 { h1_master(&p) } else { h2_master(&p) }
        });
        assert_eq!(state_omac(&lab, 1, A).as_deref(), Some(orig1.as_str()), "cycle {i}: recorded original MAC");
        for v in &planted {
            assert_eq!(fs::read_to_string(v).unwrap(), "precious\n", "cycle {i}: written through a planted link");
        }
        if prio > 100 && i % 6 == 3 {
            // Issue 10 mixed in: the master loses its own address (a DHCP client, a network manager): it must
            // resign at once and come back when the address is back.
            exec(h1, "ip addr flush dev eth0");
            lab.wait_until(SETTLE, &format!("cycle {i}: host 1 without an address resigns, host 2 master"), || {
                lab.live_state(1, A, VRID_A, &p).as_deref() == Some("BACKUP")
                    && owns_with_vmac(h2, A, VIP_A, VRID_A)
                    && released(h1, A, VIP_A, &orig1)
            });
            exec(h1, &format!("ip addr add {}/24 dev eth0", host_ip(1, 0)));
            lab.wait_until(SETTLE, &format!("cycle {i}: address back, host 1 master again"), || h1_master(&p));
            flushes += 1;
        }
        assert_eq!(
            ipv4_addrs(h1, A).iter().filter(|a| a.starts_with(VIP_A)).count(),
            usize::from(prio > 100),
            "cycle {i}: VIP count on host 1"
        );
    }
    println!(
        "{cycles} SIGKILL/restart cycles in {:.1?}: {killed_master} killed as MASTER, {startup_kills} extra kills during \
         startup, {backups} restarts ending BACKUP, {} planted link+FIFO restarts, {flushes} address flushes",
        t0.elapsed(),
        planted.len()
    );

    // Stopping gives the original MACs back.
    p1.term();
    assert_eq!(p1.wait_exit(HANG).code(), Some(0), "host 1 exit status on SIGTERM");
    lab.wait_until(HANG, "host 2 takes over after host 1's SIGTERM", || owns_with_vmac(h2, A, VIP_A, VRID_A));
    assert!(released(h1, A, VIP_A, &orig1), "host 1 after stop:\n{}", lab.snapshot());
    p2.term();
    assert_eq!(p2.wait_exit(HANG).code(), Some(0), "host 2 exit status on SIGTERM");
    assert!(released(h2, A, VIP_A, &orig2), "host 2 after stop:\n{}", lab.snapshot());
    assert_no_panic(&p2);
}

// ---------------------------------------------------------------------------------------------
// (b) SIGKILL of one member of a -M 2 group

#[test]
fn sigkill_of_a_group_member_then_restart_recovers_the_group() {
    if skip_unless_root() {
        return;
    }
    let cycles = fault_cycles();
    let mut rng = Rng::new(seed());
    let lab = Lab::new("killmember", 1, 2);
    let h = lab.h(1);
    let ifs = [(A, VRID_A, VIP_A), (B, VRID_B, VIP_B)];
    let orig = [mac(h, A), mac(h, B)];
    let start = |k: usize| {
        let (ifname, vrid, vip) = ifs[k];
        lab.vrrpd(1, &group_args(ifname, vrid, 110, vip))
    };
    let mut procs = [start(0), start(1)];
    // Each member's state is that of its running process (`ps[k]`), never the MASTER record of a
    // SIGKILLed member: its VIP and vMAC stay until the restarted one (or the survivor) cleans them.
    let both_master = |ps: &[Proc]| {
        ifs.iter().zip(ps).all(|((ifname, vrid, vip), p)| {
            lab.live_state(1, ifname, *vrid, p).as_deref() == Some("MASTER") && owns_with_vmac(h, ifname, vip, *vrid)
        })
    };
    let both_released = || ifs.iter().zip(&orig).all(|((ifname, _, vip), o)| released(h, ifname, vip, o));
    lab.wait_until(SETTLE, "both members of the lone host MASTER", || both_master(&procs));

    let t0 = Instant::now();
    let mut immediate = 0;
    for i in 0..cycles {
        let victim = i % 2;
        let survivor = 1 - victim;
        std::thread::sleep(Duration::from_millis(rng.range(0, 1000)));
        procs[victim].kill9();
        procs[victim].wait_exit(HANG);
        let restart_at_once = i % 3 == 2;
        if restart_at_once {
            immediate += 1;
        } else {
            // The survivor holds the host BACKUP and cleans the dead member's link.
            let s = procs[survivor].clone();
            lab.wait_until(
                HANG,
                &format!("cycle {i}: {} died: both links released (own MACs, no VIP)", ifs[victim].0),
                || {
                    assert!(s.is_running(), "cycle {i}: the surviving member exited");
                    both_released()
                        && lab.live_state(1, ifs[survivor].0, ifs[survivor].1, &s).as_deref() == Some("BACKUP")
                },
            );
            let st = read_state_file(&lab.host(1).rundir.join("state"));
            let dead = st.iter().find(|m| m.get("if").map(String::as_str) == Some(ifs[victim].0));
            assert_eq!(
                dead.and_then(|m| m.get("state")).map(String::as_str),
                Some("DEAD"),
                "cycle {i}: the dead member's record: {st:?}"
            );
        }
        procs[victim] = start(victim);
        let ps = procs.clone();
        lab.wait_until(SETTLE, &format!("cycle {i}: group recovered, both members MASTER"), || {
            assert!(ps.iter().all(Proc::is_running), "cycle {i}: a member exited");
            both_master(&ps)
        });
        hold_for(Duration::from_millis(300), &format!("cycle {i}: both members stay MASTER"), || both_master(&ps));
    }
    println!("{cycles} member kill/restart cycles in {:.1?} ({immediate} restarted at once)", t0.elapsed());
    for p in &procs {
        p.term();
    }
    for p in &procs {
        assert_eq!(p.wait_exit(HANG).code(), Some(0), "{} exit status on SIGTERM", p.name);
        assert_no_panic(p);
    }
    assert!(both_released(), "after stopping the group:\n{}", lab.snapshot());
}

// ---------------------------------------------------------------------------------------------
// (c) link flaps faster than the advert interval

#[test]
fn link_flaps_faster_than_the_advert_interval_then_one_owner_per_vip() {
    if skip_unless_root() {
        return;
    }
    let flaps = fault_cycles() * 4;
    let mut rng = Rng::new(seed());
    let lab = Lab::new("flaps", 2, 2);
    let ifs = [(A, VRID_A, VIP_A), (B, VRID_B, VIP_B)];
    let orig: Vec<[String; 2]> = (1..=2).map(|n| [mac(lab.h(n), A), mac(lab.h(n), B)]).collect();
    let mut procs = Vec::new();
    for (n, prio) in [(1, 110), (2, 100)] {
        for (ifname, vrid, vip) in ifs {
            procs.push(lab.vrrpd(n, &group_args(ifname, vrid, prio, vip)));
        }
    }
    // Exactly one owner per VIP, the same host on both LANs, MASTER on both; the other BACKUP on both.
    let converged = || -> Option<usize> {
        let owners: Vec<Vec<usize>> =
            ifs.iter().map(|(ifname, _, vip)| (1..=2).filter(|&n| has_ip(lab.h(n), ifname, vip)).collect()).collect();
        if owners[0].len() != 1 || owners[0] != owners[1] {
            return None;
        }
        let m = owners[0][0];
        let b = 3 - m;
        let ok = ifs.iter().enumerate().all(|(l, (ifname, vrid, vip))| {
            owns_with_vmac(lab.h(m), ifname, vip, *vrid)
                && released(lab.h(b), ifname, vip, &orig[b - 1][l])
                && lab.vrrpd_state(m, ifname).as_deref() == Some("MASTER")
                && lab.vrrpd_state(b, ifname).as_deref() == Some("BACKUP")
        });
        ok.then_some(m)
    };
    lab.wait_until(SETTLE, "host 1 master on both LANs, host 2 backup on both", || converged() == Some(1));

    let legs = ["h1e0", "h1e1", "h2e0", "h2e1"];
    let t0 = Instant::now();
    let mut downs: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..flaps {
        // Mostly the master's legs; sometimes two legs at once.
        let leg = legs[if rng.range(0, 2) == 0 { rng.range(2, 3) } else { rng.range(0, 1) } as usize];
        let also = (i % 7 == 6).then(|| legs[rng.range(0, 3) as usize]).filter(|l| *l != leg);
        for l in std::iter::once(leg).chain(also) {
            exec(&lab.switch, &format!("ip link set {l} down"));
            *downs.entry(l).or_insert(0) += 1;
        }
        std::thread::sleep(Duration::from_millis(rng.range(100, 300)));
        for l in std::iter::once(leg).chain(also) {
            exec(&lab.switch, &format!("ip link set {l} up"));
        }
        std::thread::sleep(Duration::from_millis(rng.range(100, 300)));
        if i % 10 == 9 {
            for p in &procs {
                assert!(p.is_running(), "flap {i}: {} exited:\n{}", p.name, p.log_text());
            }
        }
    }
    println!("{flaps} flaps in {:.1?}: {downs:?}", t0.elapsed());
    for l in legs {
        exec(&lab.switch, &format!("ip link set {l} up"));
    }
    let t1 = Instant::now();
    let mut owner = None;
    lab.wait_until(SETTLE, "after the flaps: one owner per VIP, the same host MASTER on both LANs", || {
        owner = converged();
        owner.is_some()
    });
    println!("converged {:.1?} after the last flap: host {} owns both VIPs", t1.elapsed(), owner.unwrap());
    // Preemption then brings the higher priority back if it was not already there.
    lab.wait_until(SETTLE, "host 1 (110) master on both LANs, host 2 backup on both", || converged() == Some(1));
    println!("host 1 master on both LANs {:.1?} after the last flap", t1.elapsed());
    hold_for(Duration::from_secs(3), "the converged state holds", || converged() == Some(1));
    for p in &procs {
        assert!(p.is_running(), "{} exited:\n{}", p.name, p.log_text());
        assert_no_panic(p);
    }
}
