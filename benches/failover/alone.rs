//! The daemons' own CPU at 10 ms: one host's MASTER alone on two veth legs whose far ends drop every
//! frame at their ingress hook, so that no bridge, peer or capture work is charged to the sender.
//!
//! In the lab, a veth send runs the switch's bridge and the peer's receive path in the sender's own
//! system call (softirq on return from `__dev_queue_xmit`), and this kernel has no IRQ time accounting
//! to set that apart: the steady window's CPU figure holds that work too. Here the far end takes the
//! frame off the bridge and drops it at once (an nftables `netdev` ingress chain), close to what a
//! real NIC's transmit queue costs the sender. (This kernel has no dummy interface driver.)

use crate::bed::Bed;
use crate::common::*;
use crate::daemons::Imp;
use crate::profile::Prof;
use crate::steady::{CpuShare, cpu_window};
use crate::system::vips_held;
use crate::{sleep, stopped};
use std::time::{Duration, Instant};

/// Every daemon process of the lone host (host 1) and its share of a core over `secs`, once it is MASTER.
pub fn own_cpu(imp: Imp, bin: &str, prof: Prof, secs: f64) -> Result<Vec<CpuShare>, String> {
    let lab = Lab::new(if imp == Imp::Ours { "aloneours" } else { "aloneka" }, 1, 2);
    // The switch-side legs leave their bridges and drop what they receive, before any protocol.
    let sw = lab.switch.clone();
    exec(&sw, "nft add table netdev sink");
    for lan in 0..2 {
        exec(&sw, &format!("ip link set h1e{lan} nomaster"));
        exec_args(
            &sw,
            &[
                "nft",
                "add",
                "chain",
                "netdev",
                "sink",
                &format!("in{lan}"),
                &format!("{{ type filter hook ingress device h1e{lan} priority -500; policy drop; }}"),
            ],
        );
    }
    let mut bed = Bed::bare(lab, imp, bin, prof);
    if imp == Imp::Keepalived {
        bed.ka_conf.push(bed.write_ka_conf(1));
    }
    bed.start_host(1);
    // Alone, the host is MASTER after one Master_Down_Interval; then the window starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while vips_held(bed.lab.h(1)) != (true, true) {
        if stopped() {
            return Err("interrupted".into());
        }
        if !bed.daemons_running() || Instant::now() > deadline {
            return Err(format!("the lone host did not become MASTER:\n{}", bed.lab.snapshot()));
        }
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_secs(1));
    let pids: Vec<(usize, i32)> = bed.host_pids(1).into_iter().map(|p| (1, p)).collect();
    let (_, _, _, cpu) = cpu_window(&pids, secs)?;
    if !bed.daemons_running() {
        return Err("a daemon exited during the window".into());
    }
    Ok(cpu)
}
