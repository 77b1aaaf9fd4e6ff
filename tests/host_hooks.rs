//! --host-up / --host-down on a real kernel: a `-M 2` pair of firewalls on two LANs whose host hooks
//! append a line to a file per host. After startup, a failover by link loss, the handback, the death
//! of the member that runs the hooks and its restart, each file holds exactly one line per host
//! transition, written by the member the group chose (the smallest interface, or the survivor).
//! Run as root: `cargo test --test host_hooks -- --test-threads=1`.

mod common;

use common::pair::*;
use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Quiet window after a transition: a duplicate hook (one per member) would show within it.
const QUIET: Duration = Duration::from_millis(1500);

/// A host hook that appends "STATE runner-interface runner-vrid members prev-state hook-kind" to `out`.
fn hook_script(dir: &Path, n: usize, out: &Path) -> PathBuf {
    let p = dir.join(format!("ss-host-hook-h{n}.sh"));
    fs::write(
        &p,
        format!(
            "#!/bin/sh\necho \"$1 $2 $3 [$VRRPD_MEMBERS] was=$VRRP_PREV_STATE kind=$VRRPD_HOOK\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p).unwrap_or_default().lines().map(str::to_string).collect()
}

const BOTH: &str = "[eth0:51 eth1:52]";

fn up(runner: &str, vrid: u8, members: &str) -> String {
    format!("MASTER {runner} {vrid} {members} was=BACKUP kind=host")
}
fn down(runner: &str, vrid: u8, members: &str) -> String {
    format!("BACKUP {runner} {vrid} {members} was=MASTER kind=host")
}

/// Waits until each host's file reads exactly `want`, then checks it stays so for [`QUIET`].
fn expect(lab: &Lab, files: &[PathBuf; 2], want: [&[String]; 2], what: &str) {
    lab.wait_until(HANG, &format!("{what}: host files {want:?}"), || {
        (0..2).all(|i| lines(&files[i]) == want[i]) || (0..2).any(|i| lines(&files[i]).len() > want[i].len())
    });
    for i in 0..2 {
        assert_eq!(lines(&files[i]), want[i], "{what}: host {}'s hook file", i + 1);
    }
    hold_for(QUIET, &format!("{what}: no second hook"), || (0..2).all(|i| lines(&files[i]) == want[i]));
}

#[test]
fn one_host_hook_per_host_transition_and_the_survivor_takes_over() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("sshosthook", 2, 2);
    let files = [lab.dir.join("ss-hooks-h1.txt"), lab.dir.join("ss-hooks-h2.txt")];
    let scripts: Vec<PathBuf> = (1..=2).map(|n| hook_script(&lab.dir, n, &files[n - 1])).collect();
    let extra = |n: usize| format!("--host-up {s} --host-down {s}", s = scripts[n - 1].display());
    let o1 = macs(&lab, 1);
    let o2 = macs(&lab, 2);
    let mut h1: Vec<Proc> = (0..2).map(|lan| lab.vrrpd(1, &member_args(1, lan, &extra(1)))).collect();
    let h2: Vec<Proc> = (0..2).map(|lan| lab.vrrpd(2, &member_args(2, lan, &extra(2)))).collect();
    lab.wait_until(HANG, "host 1 MASTER on both LANs, host 2 BACKUP on both", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(&lab, 1)
            && holds_nothing(&lab, 2, &o2)
            && all_live_state(&lab, 1, &h1, "MASTER")
            && all_live_state(&lab, 2, &h2, "BACKUP")
    });
    // No hook at start on the BACKUP host; one --host-up on host 1, by eth0 (the smallest member).
    let mut w1 = vec![up("eth0", 51, BOTH)];
    let mut w2: Vec<String> = vec![];
    expect(&lab, &files, [&w1, &w2], "election");

    // Failover by link loss: host 1's LAN B leg pulled.
    exec(&lab.switch, "ip link set h1e1 down");
    lab.wait_until(HANG, "host 2 owns both LANs, host 1 none", || owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1));
    w1.push(down("eth0", 51, BOTH));
    w2.push(up("eth0", 51, BOTH));
    expect(&lab, &files, [&w1, &w2], "failover by link loss");

    // Handback: host 1 preempts on both LANs.
    exec(&lab.switch, "ip link set h1e1 up");
    lab.wait_until(HANG, "host 1 owns both LANs again, host 2 none", || {
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2)
    });
    w1.push(up("eth0", 51, BOTH));
    w2.push(down("eth0", 51, BOTH));
    expect(&lab, &files, [&w1, &w2], "handback");

    // The member that runs host 1's hooks dies: its survivor (eth1) releases the host and runs
    // --host-down itself, naming only the live members.
    h1[0].kill9();
    lab.wait_until(HANG, "host 2 owns both LANs after host 1's eth0 member died", || {
        owns_all(&lab, 2) && holds_nothing(&lab, 1, &o1)
    });
    w1.push(down("eth1", 52, "[eth1:52]"));
    w2.push(up("eth0", 51, BOTH));
    expect(&lab, &files, [&w1, &w2], "the runner killed");

    // Restarted, eth0 joins a BACKUP host (no hook), then host 1 preempts: eth0 runs again.
    h1[0] = lab.vrrpd(1, &member_args(1, 0, &extra(1)));
    lab.wait_until(HANG, "host 1 owns both LANs after the restart", || {
        assert_running(&h1);
        owns_all(&lab, 1) && holds_nothing(&lab, 2, &o2) && all_live_state(&lab, 1, &h1, "MASTER")
    });
    w1.push(up("eth0", 51, BOTH));
    w2.push(down("eth0", 51, BOTH));
    expect(&lab, &files, [&w1, &w2], "restart and preemption");

    // Which member ran it is in its own log, as for -U/-D.
    let log = h1[0].log_text();
    assert!(log.contains("this member runs the host hook"), "{log}");
    assert!(!h1[1].log_text().contains("ss-host-hook-h1.sh MASTER: started"), "eth1 never runs --host-up");
}

#[test]
fn a_stopped_host_runs_host_down_once_from_its_last_member() {
    if skip_unless_root() {
        return;
    }
    // Alone (no -M), the member is the host; stopping a MASTER runs --host-down once.
    let lab = Lab::new("sshoststop", 1, 1);
    let file = lab.dir.join("ss-hooks-alone.txt");
    let script = hook_script(&lab.dir, 1, &file);
    let p = lab.vrrpd(1, &format!("-i eth0 -v 51 -p 110 --host-up {s} --host-down {s} {VIP_A}", s = script.display()));
    lab.wait_until(HANG, "the lone member is MASTER and ran --host-up", || {
        assert!(p.is_running(), "{}", p.log_text());
        lines(&file) == [up("eth0", 51, "[eth0:51]")]
    });
    p.term();
    p.wait_exit(HANG);
    assert_eq!(lines(&file), [up("eth0", 51, "[eth0:51]"), down("eth0", 51, "[eth0:51]")]);
}
