//! The two-firewall, two-LAN group lab shared by tests/group.rs and tests/atropos.rs: host 1 at
//! priority 110 and host 2 at 100, `-M 2`, vrid 51 on eth0 (VIP_A) and 52 on eth1 (VIP_B).

use super::*;

pub const HANG: Duration = Duration::from_secs(20);
pub const IFS: [&str; 2] = ["eth0", "eth1"];
pub const VRIDS: [u8; 2] = [51, 52];
pub const VIPS: [&str; 2] = [VIP_A, VIP_B];
pub const PRIO: [u8; 2] = [110, 100];

/// Arguments of host `n`'s member on LAN `lan`.
pub fn member_args(n: usize, lan: usize, extra: &str) -> String {
    format!("-M 2 -i {} -v {} -p {} {extra} {}", IFS[lan], VRIDS[lan], PRIO[n - 1], VIPS[lan])
}

/// Starts host `n`'s member on LAN `lan`.
pub fn start_member(lab: &Lab, n: usize, lan: usize) -> Proc {
    lab.vrrpd(n, &member_args(n, lan, ""))
}

/// Starts both members of host `n`.
pub fn start_host(lab: &Lab, n: usize, extra: &str) -> Vec<Proc> {
    (0..2).map(|lan| lab.vrrpd(n, &member_args(n, lan, extra))).collect()
}

/// The original MACs of host `n`, per LAN.
pub fn macs(lab: &Lab, n: usize) -> Vec<String> {
    (0..2).map(|lan| mac(lab.h(n), IFS[lan])).collect()
}

/// Host `n` holds both VIPs with both virtual MACs.
pub fn owns_all(lab: &Lab, n: usize) -> bool {
    (0..2).all(|lan| owns_with_vmac(lab.h(n), IFS[lan], VIPS[lan], VRIDS[lan]))
}

/// Host `n` holds no VIP and its own MAC on both LANs.
pub fn holds_nothing(lab: &Lab, n: usize, orig: &[String]) -> bool {
    (0..2).all(|lan| released(lab.h(n), IFS[lan], VIPS[lan], &orig[lan]))
}

pub fn state_of(lab: &Lab, n: usize, ifname: &str) -> Option<String> {
    lab.vrrpd_state(n, ifname)
}

/// Both members of host `n` are in state `want` (state file).
pub fn all_state(lab: &Lab, n: usize, want: &str) -> bool {
    IFS.iter().all(|i| state_of(lab, n, i).as_deref() == Some(want))
}

/// Both members of host `n` are in state `want`, each in its own record: `procs[lan]` is the running
/// member of LAN `lan` and the line carries its pid (not a line left by a killed predecessor).
pub fn all_live_state(lab: &Lab, n: usize, procs: &[Proc], want: &str) -> bool {
    (0..2).all(|lan| lab.live_state(n, IFS[lan], VRIDS[lan], &procs[lan]).as_deref() == Some(want))
}

pub fn assert_running(procs: &[Proc]) {
    for p in procs {
        assert!(p.is_running(), "{} (pid {}) exited early:\n{}", p.name, p.pid, p.log_text());
    }
}

/// Starts host 1 (110) then host 2 (100); returns once host 1 owns both LANs and host 2 holds
/// nothing: (host 1's processes, host 2's, host 1's original MACs, host 2's).
pub fn start_pair(lab: &Lab) -> (Vec<Proc>, Vec<Proc>, Vec<String>, Vec<String>) {
    let o1 = macs(lab, 1);
    let o2 = macs(lab, 2);
    let h1 = start_host(lab, 1, "");
    let h2 = start_host(lab, 2, "");
    lab.wait_until(HANG, "host 1 MASTER on both LANs with VIPs + vMACs, host 2 BACKUP on both", || {
        assert_running(&h1);
        assert_running(&h2);
        owns_all(lab, 1)
            && holds_nothing(lab, 2, &o2)
            && all_live_state(lab, 1, &h1, "MASTER")
            && all_live_state(lab, 2, &h2, "BACKUP")
    });
    (h1, h2, o1, o2)
}
