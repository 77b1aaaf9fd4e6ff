//! The host group (`-M n`) on a real kernel: the host is MASTER on every interface or on none.
//! Election on two LANs, a link down on one LAN, a member killed, a member alone, a group of eight,
//! and the -U / -D hooks. Each test builds its own lab (network namespaces, see `common`).
//! Run as root: `cargo test --test group -- --test-threads=2`.

mod common;

use common::pair::*;
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Deadline only to catch hangs; no transition here needs more than ~4 s.
/// Which hosts hold the VIP of `lan`.
fn holders(lab: &Lab, lan: usize) -> Vec<usize> {
    (1..=2).filter(|&n| has_ip(lab.h(n), IFS[lan], VIPS[lan])).collect()
}

fn state_line(lab: &Lab, n: usize, ifname: &str) -> BTreeMap<String, String> {
    read_state_file(&lab.host(n).rundir.join("state"))
        .into_iter()
        .find(|m| m.get("if").map(String::as_str) == Some(ifname))
        .unwrap_or_else(|| panic!("no state line for {ifname} on host {n}\n{}", lab.snapshot()))
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// One VRRP advert decoded by tcpdump.
#[derive(Debug, Clone)]
struct Adv {
    /// Unix time (tcpdump -tt).
    t: f64,
    src: String,
    vrid: u8,
    prio: u8,
}

/// `tcpdump -tt` in the client of `lan` (the harness's capture prints wall-clock times only).
fn capture_tt(lab: &Lab, lan: usize) -> Proc {
    let p = lab.spawn_split(
        lab.client(lan),
        &["tcpdump", "-i", "eth0", "-tt", "-vv", "-n", "-e", "-l", "-U", "proto", "112"],
        "tcpdump-tt",
    );
    wait_until(Duration::from_secs(10), "tcpdump to listen", || {
        assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
        p.err_text().contains("listening on")
    });
    p
}

fn num_after(s: &str, key: &str) -> Option<u64> {
    let i = s.find(key)? + key.len();
    s[i..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().ok()
}

/// The adverts of a `-tt -vv -e` capture (two lines per packet).
fn parse_adverts(text: &str) -> Vec<Adv> {
    let mut out = Vec::new();
    let mut t = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            t = line.split_whitespace().next().and_then(|w| w.parse::<f64>().ok());
            continue;
        }
        let l = line.trim();
        if !l.contains("VRRPv2, Advertisement") {
            continue;
        }
        let (Some(t), Some(vrid), Some(prio)) = (t, num_after(l, "vrid "), num_after(l, "prio ")) else {
            continue;
        };
        let src = l.split_whitespace().next().unwrap_or("").to_string();
        out.push(Adv { t, src, vrid: vrid as u8, prio: prio as u8 });
    }
    out
}

/// Writes an executable root-owned script (mode 0755) and returns its path.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}")).expect("write script");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod script");
    p
}

/// Pids whose process group is `pgid` and that are not zombies.
fn live_in_group(pgid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else { continue };
        // "pid (comm) S ppid pgrp ..." — comm may hold spaces: split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 2 && f[0] != "Z" && f[0] != "X" && f[2].parse::<i32>().ok() == Some(pgid) {
            v.push(pid);
        }
    }
    v
}

fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let st = stat.rsplit_once(')').map(|(_, r)| r.trim_start().chars().next()).unwrap_or(None);
            !matches!(st, Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Election

#[test]
fn election_host1_owns_both_lans() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("gelect", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);
    for lan in 0..2 {
        assert_ne!(o1[lan], vmac(VRIDS[lan]));
        let vip = ipv4_addrs_full(lab.h(1), IFS[lan]).into_iter().find(|a| a.ip == VIPS[lan]).expect("VIP on host 1");
        assert_eq!(vip.cidr, format!("{}/32", VIPS[lan]));
        assert_eq!(vip.label, format!("{}:v{}", IFS[lan], VRIDS[lan]));
    }
    // The clients learnt both virtual MACs from the gratuitous ARPs.
    for lan in 0..2 {
        lab.wait_until(
            HANG,
            &format!("client of LAN {lan}: neighbour entry of the VIP = {}", vmac(VRIDS[lan])),
            || neigh_mac(lab.client(lan), VIPS[lan]).as_deref() == Some(vmac(VRIDS[lan]).as_str()),
        );
    }
    assert_eq!(vmac(51), "00:00:5e:00:01:33");
    assert_eq!(vmac(52), "00:00:5e:00:01:34");
    hold_for(Duration::from_secs(2), "host 1 owns both LANs, host 2 none", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
    // The state files: members, group size, priorities, MACs.
    for lan in 0..2 {
        let s1 = state_line(&lab, 1, IFS[lan]);
        assert_eq!(s1.get("members").map(String::as_str), Some("2"), "{s1:?}");
        assert_eq!(s1.get("vrid").map(String::as_str), Some(VRIDS[lan].to_string().as_str()), "{s1:?}");
        assert_eq!(s1.get("pid").map(String::as_str), Some(h1[lan].pid.to_string().as_str()), "{s1:?}");
        assert_eq!(s1.get("mac").map(|m| m.to_lowercase()), Some(vmac(VRIDS[lan])), "{s1:?}");
        assert_eq!(s1.get("omac").map(|m| m.to_lowercase()), Some(o1[lan].clone()), "{s1:?}");
        assert_eq!(s1.get("link").map(String::as_str), Some("up"), "{s1:?}");
        let s2 = state_line(&lab, 2, IFS[lan]);
        assert_eq!(s2.get("state").map(String::as_str), Some("BACKUP"), "{s2:?}");
        assert_eq!(s2.get("mac").map(|m| m.to_lowercase()), Some(o2[lan].clone()), "{s2:?}");
        assert_eq!(s2.get("pid").map(String::as_str), Some(h2[lan].pid.to_string().as_str()), "{s2:?}");
    }
    for p in h1.iter().chain(&h2) {
        assert!(p.log_text().contains("group of 2 (-M)"), "{} logs its group size:\n{}", p.name, p.log_text());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Link down on one LAN

#[test]
fn link_down_on_one_lan_moves_both_lans_then_both_come_back_together() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("glink", 2, 2);
    let (h1, h2, o1, o2) = start_pair(&lab);

    // Pull the switch-side leg of host 1's eth1: host 1 loses carrier on LAN B.
    let t0 = Instant::now();
    exec(&lab.switch, "ip link set h1e1 down");
    lab.wait_until(HANG, "host 2 owns both VIPs with both vMACs after host 1's LAN-B link went down", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 2)
    });
    let took = t0.elapsed();
    println!("host 2 owns both LANs {took:?} after host 1's LAN-B link went down");
    // Master_Down_Interval of host 2 is 3.61 s: LAN A can only move this fast if host 1 released it
    // with a priority-0 advert (collective release), LAN B only if host 2 followed its sibling.
    assert!(
        took < Duration::from_millis(2500),
        "takeover of both LANs took {took:?}: not the collective path (Master_Down_Interval is {:?})",
        master_down_interval(100)
    );
    lab.wait_until(HANG, "host 1 holds no VIP and no virtual MAC on any link", || holds_nothing(&lab, 1, &o1));
    lab.wait_until(HANG, "state files: host 1 BACKUP on both, host 2 MASTER on both", || {
        all_state(&lab, 1, "BACKUP") && all_state(&lab, 2, "MASTER")
    });
    assert_eq!(state_line(&lab, 1, "eth1").get("link").map(String::as_str), Some("down"));
    // LAN B moved because host 2's eth1 followed a sibling whose master resigned with priority 0 (the
    // resignation crossed from eth0 to eth1 in the group's status), not after a silence.
    let reason_b = state_line(&lab, 2, "eth1").get("reason").cloned().unwrap_or_default();
    assert!(
        reason_b.contains("took over from a master that resigned"),
        "host 2 eth1 did not follow through the resignation: {reason_b:?}"
    );
    // Host 1 eth0 still has the higher priority on LAN A, but the group holds it back.
    hold_for(
        master_down_interval(110) + Duration::from_secs(1),
        "host 2 keeps both LANs while host 1's eth1 is down",
        || owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1),
    );
    let log0 = h1[0].log_text();
    assert!(log0.contains("eth1 link down"), "host 1 eth0 says why it is held BACKUP:\n{log0}");

    // Link back: host 1 takes both LANs back, together.
    let t1 = Instant::now();
    exec(&lab.switch, "ip link set h1e1 up");
    let mut split_since: Option<Instant> = None;
    let mut longest_split = Duration::ZERO;
    lab.wait_until(HANG, "host 1 owns both LANs again and host 2 none", || {
        let a = holders(&lab, 0);
        let b = holders(&lab, 1);
        let split = (a == [1] && b == [2]) || (a == [2] && b == [1]);
        match (split, split_since) {
            (true, None) => split_since = Some(Instant::now()),
            (false, Some(s)) => {
                longest_split = longest_split.max(s.elapsed());
                split_since = None;
            }
            _ => {}
        }
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
    // A split seen on the last sample lasted at most until the handback was observed complete.
    if let Some(s) = split_since {
        longest_split = longest_split.max(s.elapsed());
    }
    println!("handback {:?} after the link came back; longest split seen {longest_split:?}", t1.elapsed());
    assert!(
        longest_split < Duration::from_secs(1),
        "owners were split (host 1 on one LAN, host 2 on the other) for {longest_split:?} during the handback"
    );
    // After the handback: never split, host 1 keeps both.
    hold_for(Duration::from_secs(4), "after the handback, both LANs have the same single owner (host 1)", || {
        let a = holders(&lab, 0);
        let b = holders(&lab, 1);
        assert_eq!(a, b, "owners split after the handback: LAN A {a:?}, LAN B {b:?}\n{}", lab.snapshot());
        a == [1] && owns_all(&lab, 1)
    });
    assert!(all_state(&lab, 1, "MASTER") && all_state(&lab, 2, "BACKUP"), "{}", lab.snapshot());
}

// ---------------------------------------------------------------------------------------------
// 3. A member killed

#[test]
fn sigkill_of_one_member_releases_the_host_and_the_survivor_cleans_its_link() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("gkill", 2, 2);
    let (h1, h2, o1, _o2) = start_pair(&lab);

    let t0 = Instant::now();
    h1[1].kill9();
    h1[1].wait_exit(HANG);
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's eth1 member was SIGKILLed", || {
        assert_running(&h2);
        assert!(h1[0].is_running(), "host 1 eth0 member exited:\n{}", h1[0].log_text());
        owns_all(&lab, 2)
    });
    let took = t0.elapsed();
    println!("host 2 owns both LANs {took:?} after the SIGKILL");
    assert!(
        took < Duration::from_millis(2500),
        "took {took:?}: the survivor did not release the host / send priority 0 for the dead member"
    );
    // The dead member's interface was given back by the survivor.
    lab.wait_until(HANG, "host 1 eth1: original MAC back, no VIP (cleaned by the survivor)", || {
        released(lab.h(1), "eth1", VIP_B, &o1[1])
    });
    lab.wait_until(HANG, "host 1 eth0 released too", || released(lab.h(1), "eth0", VIP_A, &o1[0]));
    lab.wait_until(HANG, "state file: eth1 DEAD, eth0 BACKUP", || {
        state_of(&lab, 1, "eth1").as_deref() == Some("DEAD") && state_of(&lab, 1, "eth0").as_deref() == Some("BACKUP")
    });
    let dead = state_line(&lab, 1, "eth1");
    assert_eq!(dead.get("pid").map(String::as_str), Some(h1[1].pid.to_string().as_str()), "{dead:?}");
    assert_eq!(dead.get("mac").map(|m| m.to_lowercase()), Some(o1[1].clone()), "{dead:?}");
    let log = h1[0].log_text();
    assert!(log.contains("member eth1") && log.contains("died"), "the survivor logs the death:\n{log}");
    hold_for(Duration::from_secs(2), "host 2 keeps both LANs, host 1 holds nothing", || {
        owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1)
    });
}

// ---------------------------------------------------------------------------------------------
// 4. A member alone

#[test]
fn lone_member_of_a_group_of_two_never_becomes_master() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("glone", 2, 2);
    let o1 = macs(&lab, 1);
    let p = lab.vrrpd(1, &member_args(1, 0, ""));
    lab.wait_until(HANG, "the lone member reaches BACKUP", || {
        assert_running(std::slice::from_ref(&p));
        state_of(&lab, 1, "eth0").as_deref() == Some("BACKUP")
    });
    hold_for(master_down_interval(110) * 2 + Duration::from_millis(500), "the lone -M 2 member stays BACKUP", || {
        assert_running(std::slice::from_ref(&p));
        state_of(&lab, 1, "eth0").as_deref() == Some("BACKUP") && released(lab.h(1), "eth0", VIP_A, &o1[0])
    });
    let log = p.log_text();
    assert!(!log.contains("-> MASTER"), "the lone member never went MASTER:\n{log}");
    assert!(log.contains("only 1 of 2"), "the log says why the lone member is held BACKUP:\n{log}");
}

// ---------------------------------------------------------------------------------------------
// 5. A group of eight

#[test]
fn group_of_eight_becomes_master_together_and_releases_together() {
    if skip_unless_root() {
        return;
    }
    const N: usize = 8;
    // The harness builds at most 2 LANs: build eth1..eth7 of host 1 here, each on its own bridge.
    let lab = Lab::new("g8", 1, 1);
    let h = lab.h(1).to_string();
    let sw = lab.switch.clone();
    for i in 1..N {
        exec(&sw, &format!("ip link add br{i} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"));
        exec(&sw, &format!("ip link set br{i} up"));
        exec(&h, &format!("ip link add eth{i} address 02:00:00:08:{i:02x}:01 type veth peer name h1e{i} netns {sw}"));
        exec(&sw, &format!("ip link set h1e{i} master br{i} up"));
        exec(&h, &format!("ip addr add 10.8.{i}.1/24 dev eth{i}"));
        exec(&h, &format!("ip link set eth{i} up"));
    }
    let ifs: Vec<String> = (0..N).map(|i| format!("eth{i}")).collect();
    let vips: Vec<String> = (0..N).map(|i| if i == 0 { VIP_A.to_string() } else { format!("10.8.{i}.200") }).collect();
    let vrids: Vec<u8> = (0..N).map(|i| 60 + i as u8).collect();
    let orig: Vec<String> = ifs.iter().map(|i| mac(&h, i)).collect();
    let procs: Vec<Proc> =
        (0..N).map(|i| lab.vrrpd(1, &format!("-M {N} -i {} -v {} -p 110 {}", ifs[i], vrids[i], vips[i]))).collect();
    let all_master = || {
        (0..N).all(|i| {
            lab.vrrpd_state(1, &ifs[i]).as_deref() == Some("MASTER") && owns_with_vmac(&h, &ifs[i], &vips[i], vrids[i])
        })
    };
    lab.wait_until(HANG, "all 8 members MASTER with their VIP and vMAC", || {
        assert_running(&procs);
        all_master()
    });
    // Together: the transitions (state file `since`, unix ms) lie within a short span.
    let since: Vec<u64> = ifs
        .iter()
        .map(|i| {
            let l = read_state_file(&lab.host(1).rundir.join("state"))
                .into_iter()
                .find(|m| m.get("if") == Some(i))
                .expect("state line");
            l.get("since").and_then(|s| s.parse().ok()).expect("since")
        })
        .collect();
    let spread = since.iter().max().unwrap() - since.iter().min().unwrap();
    println!("the 8 members became MASTER within {spread} ms");
    assert!(spread < 500, "the 8 members did not become MASTER together: since = {since:?}");
    hold_for(Duration::from_secs(2), "all 8 stay MASTER", all_master);

    // Kill one: every member releases.
    let victim = 3;
    let t0 = Instant::now();
    procs[victim].kill9();
    procs[victim].wait_exit(HANG);
    let none_holds = || (0..N).all(|i| released(&h, &ifs[i], &vips[i], &orig[i]));
    lab.wait_until(HANG, "after the SIGKILL of one member, no interface holds a VIP or a vMAC", none_holds);
    println!("all 8 interfaces released {:?} after the SIGKILL", t0.elapsed());
    lab.wait_until(HANG, "state file: 7 members BACKUP, the killed one DEAD", || {
        (0..N).all(|i| {
            let want = if i == victim { "DEAD" } else { "BACKUP" };
            lab.vrrpd_state(1, &ifs[i]).as_deref() == Some(want)
        })
    });
    for (i, p) in procs.iter().enumerate() {
        if i != victim {
            assert!(p.is_running(), "member {} exited:\n{}", ifs[i], p.log_text());
        }
    }
    hold_for(master_down_interval(110) + Duration::from_secs(1), "the 7 survivors stay BACKUP", || {
        none_holds()
            && (0..N).filter(|&i| i != victim).all(|i| lab.vrrpd_state(1, &ifs[i]).as_deref() == Some("BACKUP"))
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Hooks

/// A hook line: `tag|$1|$2|$3|VRRP_STATE|VRRP_PREV_STATE|VRRP_IFACE|VRRP_VRID|VRRP_PRIORITY|VRRP_VIPS|VRRP_VMAC|VRRP_REASON`.
fn hook_body(tag: &str, out_dir: &Path) -> String {
    format!(
        "echo \"{tag}|$1|$2|$3|$VRRP_STATE|$VRRP_PREV_STATE|$VRRP_IFACE|$VRRP_VRID|$VRRP_PRIORITY|$VRRP_VIPS|$VRRP_VMAC|$VRRP_REASON\" >> {}/events-$2.log\n\
         echo \"hook {tag} ran for $2\"\n",
        out_dir.display()
    )
}

fn hook_events(dir: &Path, ifname: &str) -> Vec<Vec<String>> {
    fs::read_to_string(dir.join(format!("events-{ifname}.log")))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn hooks_run_in_order_with_their_arguments_and_environment() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("ghooks", 2, 2);
    let dir = lab.dir.clone();
    let up = script(&dir, "up.sh", &hook_body("U", &dir));
    let down = script(&dir, "down.sh", &hook_body("D", &dir));

    // A script others can write is refused at start.
    let bad = script(&dir, "bad.sh", "exit 0\n");
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o777)).unwrap();
    let rundir = lab.host(1).rundir.to_string_lossy().into_owned();
    for opt in ["-U", "-D"] {
        let line = format!("-M 2 -i eth0 -v 51 -p 110 {opt} {} {VIP_A}", bad.display());
        let mut argv = vec![Lab::vrrpd_bin(), "-F", "-f", &rundir];
        argv.extend(line.split_whitespace());
        let o = lab.run_to_exit(lab.h(1), &argv, "vrrpd-badhook", HANG);
        assert_eq!(o.status.code(), Some(1), "a world-writable {opt} script must be refused with exit 1: {o:?}");
        assert!(o.stderr.contains("bad.sh") && o.stderr.contains("writable"), "{opt}: the message says why: {o:?}");
    }
    assert!(!lab.host(1).rundir.join("vrrpd_eth0_51.sock").exists(), "the refused vrrpd left a socket");
    assert!(state_of(&lab, 1, "eth0").is_none(), "the refused vrrpd left a state line");

    let o1 = macs(&lab, 1);
    let hooks = format!("-U {} -D {}", up.display(), down.display());
    let h1 = start_host(&lab, 1, &hooks);
    let h2 = start_host(&lab, 2, "");
    lab.wait_until(HANG, "host 1 owns both LANs and each member ran D then U", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1) && IFS.iter().all(|i| hook_events(&dir, i).len() >= 2)
    });
    for (lan, ifname) in IFS.iter().enumerate() {
        let ev = hook_events(&dir, ifname);
        let vrid = VRIDS[lan].to_string();
        let vip = format!("{}/32", VIPS[lan]);
        let vm = vmac(VRIDS[lan]);
        assert!(ev.iter().all(|e| e.len() == 12), "{ifname}: malformed hook lines {ev:?}");
        // 1. the first BACKUP after start.
        let e = &ev[0];
        assert_eq!(&e[..9], ["D", "BACKUP", ifname, &vrid, "BACKUP", "INIT", ifname, &vrid, "110"], "{ifname}: {ev:?}");
        assert_eq!((e[9].as_str(), e[10].as_str()), (vip.as_str(), vm.as_str()), "{ifname}: {ev:?}");
        // 2. MASTER on election.
        let e = &ev[1];
        assert_eq!(
            &e[..9],
            ["U", "MASTER", ifname, &vrid, "MASTER", "BACKUP", ifname, &vrid, "110"],
            "{ifname}: {ev:?}"
        );
        assert_eq!((e[9].as_str(), e[10].as_str()), (vip.as_str(), vm.as_str()), "{ifname}: {ev:?}");
        assert!(!e[11].is_empty() && !e[11].starts_with("startup"), "{ifname}: reason of the MASTER entry: {ev:?}");
        assert_eq!(ev.len(), 2, "{ifname}: exactly two hooks so far: {ev:?}");
    }
    // The output of the scripts is logged line by line.
    for p in &h1 {
        let log = p.log_text();
        assert!(log.contains("hook D ran for") && log.contains("hook U ran for"), "script output in the log:\n{log}");
    }

    // SIGTERM of the eth0 member: its D hook (PREV=MASTER) runs before it exits; eth1 is released by
    // the group and runs its own D hook.
    h1[0].term();
    assert_eq!(h1[0].wait_exit(HANG).code(), Some(0), "{}", h1[0].log_text());
    let ev = hook_events(&dir, "eth0");
    assert_eq!(ev.len(), 3, "eth0: D, U, then D at stop: {ev:?}");
    assert_eq!(&ev[2][..9], ["D", "BACKUP", "eth0", "51", "BACKUP", "MASTER", "eth0", "51", "110"], "{ev:?}");
    assert!(ev[2][11].contains("SIGTERM"), "eth0: reason of the stop: {ev:?}");
    lab.wait_until(HANG, "eth1 ran its BACKUP hook after the group released it", || {
        hook_events(&dir, "eth1").len() >= 3
    });
    let ev = hook_events(&dir, "eth1");
    assert_eq!(&ev[2][..9], ["D", "BACKUP", "eth1", "52", "BACKUP", "MASTER", "eth1", "52", "110"], "{ev:?}");
    assert!(ev[2][11].contains("only 1 of 2"), "eth1: reason of the release: {ev:?}");
    // eth1 was BACKUP when stopped: no hook at stop.
    h1[1].term();
    assert_eq!(h1[1].wait_exit(HANG).code(), Some(0));
    assert_eq!(
        hook_events(&dir, "eth1").len(),
        3,
        "eth1: no hook when stopped as BACKUP: {:?}",
        hook_events(&dir, "eth1")
    );
    lab.wait_until(HANG, "host 2 owns both LANs", || owns_all(&lab, 2));
    assert!(holds_nothing(&lab, 1, &o1));
}

#[test]
fn hanging_hook_is_killed_without_stopping_the_adverts() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("ghang", 2, 2);
    let dir = lab.dir.clone();
    let hang = script(
        &dir,
        "hang.sh",
        &format!(
            "echo \"$2 $$\" >> {d}/hang-pgid.log\n\
             sleep 60 &\n\
             echo \"$2 $!\" >> {d}/hang-child.log\n\
             echo \"hanging now on $2\"\n\
             wait\n",
            d = dir.display()
        ),
    );
    let cap = capture_tt(&lab, 0);
    let h1 = start_host(&lab, 1, &format!("-U {} --hook-timeout 2", hang.display()));
    let h2 = start_host(&lab, 2, "");
    lab.wait_until(HANG, "host 1 owns both LANs", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1)
    });
    let t_master = unix_now();
    let read_pids = |f: &str| -> Vec<(String, i32)> {
        fs::read_to_string(dir.join(f))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' ').and_then(|(i, p)| Some((i.to_string(), p.trim().parse().ok()?))))
            .collect()
    };
    lab.wait_until(HANG, "both -U scripts started their `sleep 60`", || read_pids("hang-child.log").len() == 2);
    let pgids = read_pids("hang-pgid.log");
    let children = read_pids("hang-child.log");
    assert_eq!(pgids.len(), 2, "{pgids:?}");
    for (_, c) in &children {
        assert!(alive(*c), "the script's sleep runs while the hook hangs");
    }
    lab.wait_until(HANG, "both members log that the hook was killed after its timeout", || {
        h1.iter().all(|p| p.log_text().contains("killed after the 2 s timeout"))
    });
    let t_killed = unix_now();
    for p in &h1 {
        let log = p.log_text();
        assert!(log.contains("killing its process group"), "{log}");
        assert!(log.contains("hanging now on"), "the script's output is logged:\n{log}");
    }
    lab.wait_until(Duration::from_secs(5), "no process of the killed scripts remains (sleep 60 included)", || {
        children.iter().all(|(_, c)| !alive(*c)) && pgids.iter().all(|(_, g)| live_in_group(*g).is_empty())
    });
    // Adverts kept flowing the whole time (capture until 2 s after the kill).
    lab.wait_until(HANG, "capture covers 2 s after the kill", || {
        parse_adverts(&cap.log_text()).iter().any(|a| a.t > t_killed + 2.0)
    });
    let adv: Vec<Adv> = parse_adverts(&cap.log_text())
        .into_iter()
        .filter(|a| a.src == host_ip(1, 0) && a.vrid == 51 && a.prio == 110)
        .collect();
    assert!(adv.len() >= 3, "adverts of host 1 captured: {adv:?}\n{}", cap.log_text());
    assert!(adv[0].t <= t_master, "host 1's first advert precedes the observed master state");
    let covered: Vec<&Adv> = adv.iter().filter(|a| a.t <= t_killed + 2.0).collect();
    assert!(covered.last().unwrap().t >= t_killed, "adverts seen after the kill: {adv:?}");
    let mut max_gap = 0.0f64;
    for w in covered.windows(2) {
        max_gap = max_gap.max(w[1].t - w[0].t);
    }
    println!("{} adverts of host 1 while the hook hung; largest gap {max_gap:.3} s", covered.len());
    assert!(max_gap <= 1.5, "a gap of {max_gap:.3} s between adverts while the hook hung: {covered:?}");
    assert!(owns_all(&lab, 1), "host 1 is still master after the hook was killed\n{}", lab.snapshot());
    assert_running(&h1);
}
