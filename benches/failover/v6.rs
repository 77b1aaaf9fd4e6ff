//! The dual-stack part's lab and trial: VRRPv3 routers of both families on two LANs, host death at 10 ms adverts.
//!
//! The usual two-host lab with IPv6 on every leg (`common::ipv6::add_ipv6`: DAD off, a /64 on each
//! leg and client, link-locals usable). LAN A: VRID 51, VIP_A and VIP6_A/64 on eth0; LAN B: VRID 52,
//! VIP_B and VIP6_B/64 on eth1; priorities 110/100, VRRPv3, adverts 10 ms. Ours: one dual-stack
//! `vrrpd -M 2` per interface (`… -v 51 VIP_A VIP6_A/64`); keepalived: one `vrrp_sync_group` of four
//! instances per host, an IPv4 and an IPv6 one of each VRID. The event is a SIGKILL of every daemon
//! process of h1 (keepalived: parent and children), stamped just before `kill(2)`. Measured in the
//! peer, as the many-LAN part does: h2's address-add events (`ip -ts monitor address` in h2), the
//! later of the two IPv6 VIPs, and separately of the two IPv4 VIPs; falling back to the poll of h2's
//! addresses when an event is missing. Cross-check on the wire (tcpdump in the clients): h2's first
//! unsolicited Neighbor Advertisement of each IPv6 VIP and its first gratuitous ARP of each IPv4
//! VIP, from h2's MAC (keepalived) or the virtual MAC (ours).

use crate::bed::{Bed, tmpfs_rundir_base};
use crate::common::ipv6::{VIP6_A, VIP6_B, add_ipv6};
use crate::common::*;
use crate::daemons::{Imp, pids_of, stop_all};
use crate::measure::h2_mac;
use crate::parse::*;
use crate::profile::Prof;
use crate::system::*;
use crate::{FAST_POLL, FLUSH, HANG, PRIO_H1, PRIO_H2, SETTLE_HOLD, VRID_A, VRID_B, now_us, sleep, stopped};
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The profile of the part: VRRPv3, adverts 10 ms.
pub const PROF: Prof = Prof::V3[0];

/// Every VIP: (interface, address, IPv6, LAN).
pub const VIPS: [(&str, &str, bool, usize); 4] =
    [("eth0", VIP_A, false, 0), ("eth1", VIP_B, false, 1), ("eth0", VIP6_A, true, 0), ("eth1", VIP6_B, true, 1)];

/// Whether the part runs: `BENCH_PART` unset, `all` or `v6`.
pub fn v6_enabled() -> bool {
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    part.is_empty() || part == "all" || part == "v6"
}

/// Which of VIPS host `ns` holds, from one `ip -o addr show` (both families).
pub fn held(ns: &str) -> [bool; 4] {
    let mut h = [false; 4];
    let Ok(out) = run_ok(&["ip", "-n", ns, "-o", "addr", "show"]) else { return h };
    for line in out.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(ifname), Some(cidr)) = (w.get(1), w.get(3)) else { continue };
        let ip = cidr.split('/').next().unwrap_or("");
        for (i, (ifn, vip, ..)) in VIPS.iter().enumerate() {
            h[i] |= ifname == ifn && ip == *vip;
        }
    }
    h
}

/// First unsolicited Neighbor Advertisement for `target` after `t0` from one of `macs` (`tcpdump -tt -n -e`:
/// `TS SRC > 33:33:00:00:00:01, ethertype IPv6 …: fe80::… > ff02::1: ICMP6, neighbor advertisement, tgt is X, length 32`).
pub fn first_na(text: &str, target: &str, macs: &[String], t0: i64) -> Option<i64> {
    text.lines().find_map(|line| {
        let w: Vec<&str> = line.split_whitespace().collect();
        let t = parse_epoch_us(w.first()?)?;
        let src = w.get(1)?.to_lowercase();
        let tgt = line.split_once("neighbor advertisement, tgt is ")?.1.split(',').next()?;
        (t >= t0 && tgt == target && macs.contains(&src)).then_some(t)
    })
}

#[derive(Default, Clone)]
pub struct V6Trial {
    /// kill() → h2's address-add of the later IPv6 VIP / IPv4 VIP (µs).
    pub v6: Option<i64>,
    pub v4: Option<i64>,
    /// kill() → h2's later first NA (IPv6 VIPs) / GARP (IPv4 VIPs) on the wire (µs).
    pub na: Option<i64>,
    pub garp: Option<i64>,
    /// Restart of h1 → h1 owns every VIP again (µs).
    pub handback: Option<i64>,
    pub raw: String,
    pub timeline: String,
}

pub struct V6Bed {
    pub lab: Lab,
    pub imp: Imp,
    pub bin: String,
    /// Per host: ours [eth0 member, eth1 member]; keepalived [parent].
    pub daemons: [Vec<Proc>; 2],
    /// `ip -ts monitor address` in h1 and h2.
    pub mon_h: Vec<Proc>,
    /// ARP and Neighbor Advertisements in the clients of LAN A and LAN B.
    pub caps: Vec<Proc>,
    pub ka_runs: usize,
    pub tmpfs_base: Option<PathBuf>,
}

impl V6Bed {
    pub fn new(imp: Imp, bin: &str) -> Result<V6Bed, String> {
        let lab = Lab::new(if imp == Imp::Ours { "b6v6ours" } else { "b6v6ka" }, 2, 2);
        add_ipv6(&lab);
        let mut bed = V6Bed {
            lab,
            imp,
            bin: bin.to_string(),
            daemons: [Vec::new(), Vec::new()],
            mon_h: Vec::new(),
            caps: Vec::new(),
            ka_runs: 0,
            tmpfs_base: None,
        };
        for lan in 0..2 {
            let c = bed.lab.client(lan).to_string();
            let argv = ["tcpdump", "-i", "eth0", "-tt", "-n", "-e", "-l", "-U", "--immediate-mode"];
            let filter = ["arp", "or", "(", "icmp6", "and", "ip6[40]", "==", "136", ")"];
            let argv: Vec<&str> = argv.into_iter().chain(filter).collect();
            bed.caps.push(bed.lab.spawn_split(&c, &argv, &format!("v6-tcpdump-lan{}", ['a', 'b'][lan])));
        }
        for n in 1..=2 {
            let ns = bed.lab.h(n).to_string();
            let argv = rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "address"]);
            bed.mon_h.push(bed.lab.spawn(&ns, &argv, &format!("v6-monitor-h{n}")));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &bed.caps {
            while !c.err_text().contains("listening on") {
                if !c.is_running() {
                    return Err(format!("tcpdump exited: {}", c.err_text()));
                }
                if Instant::now() > deadline {
                    return Err("tcpdump does not listen".into());
                }
                sleep(Duration::from_millis(20));
            }
        }
        sleep(Duration::from_millis(200)); // ip monitor subscribes
        if imp == Imp::Ours
            && let Some(base) = tmpfs_rundir_base(&bed.lab.name)
        {
            for h in bed.lab.hosts.iter_mut() {
                h.rundir = base.join(format!("run-h{}", h.n));
                fs::create_dir_all(&h.rundir).map_err(|e| format!("{}: {e}", h.rundir.display()))?;
            }
            bed.tmpfs_base = Some(base);
        }
        for n in 1..=2 {
            bed.start_host(n)?;
        }
        Ok(bed)
    }

    /// keepalived: VI_51 / VI_51_6 on eth0, VI_52 / VI_52_6 on eth1, all four in one sync group.
    fn ka_conf(&self, n: usize) -> Result<PathBuf, String> {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let inst = |name: String, ifname: &str, vrid: u8, vip: String| {
            format!(
                "vrrp_instance {name} {{\n    state BACKUP\n    interface {ifname}\n    virtual_router_id {vrid}\n    \
                 priority {prio}\n    advert_int {int}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n",
                int = PROF.interval_arg()
            )
        };
        let mut text = format!(
            "global_defs {{\n    router_id {name}_h{n}\n    vrrp_version 3\n    vrrp_garp_master_delay 0\n    \
             vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
             enable_script_security\n}}\nvrrp_sync_group G1 {{\n    group {{\n        VI_{VRID_A}\n        \
             VI_{VRID_A}_6\n        VI_{VRID_B}\n        VI_{VRID_B}_6\n    }}\n}}\n",
            name = self.lab.name
        );
        for (ifname, vrid, v4, v6) in [("eth0", VRID_A, VIP_A, VIP6_A), ("eth1", VRID_B, VIP_B, VIP6_B)] {
            text.push_str(&inst(format!("VI_{vrid}"), ifname, vrid, v4.to_string()));
            text.push_str(&inst(format!("VI_{vrid}_6"), ifname, vrid, format!("{v6}/64")));
        }
        let path = self.lab.dir.join(format!("keepalived-v6-h{n}.conf"));
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    pub fn start_host(&mut self, n: usize) -> Result<(), String> {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let ns = self.lab.h(n).to_string();
        let mut procs = Vec::new();
        match self.imp {
            Imp::Ours => {
                let rundir = self.lab.host(n).rundir.to_string_lossy().into_owned();
                let (p, int) = (prio.to_string(), PROF.interval_arg());
                for (l, (vrid, v4, v6)) in [(VRID_A, VIP_A, VIP6_A), (VRID_B, VIP_B, VIP6_B)].into_iter().enumerate() {
                    let (ifname, v, vip6) = (format!("eth{l}"), vrid.to_string(), format!("{v6}/64"));
                    let argv = [self.bin.as_str(), "-F", "-f", &rundir, "-M", "2", "-i", &ifname, "-v", &v, "-p", &p];
                    let mut argv = argv.to_vec();
                    argv.extend(["--vrrp-version", "3", "-d", &int, v4, &vip6]);
                    procs.push(self.lab.spawn(&ns, &argv, &format!("v6-vrrpd-h{n}-eth{l}")));
                }
            }
            Imp::Keepalived => {
                self.ka_runs += 1;
                let conf = self.ka_conf(n)?;
                let base = self.lab.dir.join(format!("ka-h{n}-{}", self.ka_runs));
                procs.push(self.lab.spawn_keepalived(n, &conf, &base));
            }
        }
        self.daemons[n - 1] = procs;
        Ok(())
    }

    pub fn host_pids(&self, n: usize) -> Vec<i32> {
        pids_of(&self.daemons[n - 1])
    }

    fn h1_owns_all_alone(&self) -> bool {
        held(self.lab.h(1)).iter().all(|x| *x) && !held(self.lab.h(2)).iter().any(|x| *x)
    }

    fn settled_now(&self) -> bool {
        self.h1_owns_all_alone()
            && (self.imp == Imp::Keepalived
                || [(1, "MASTER"), (2, "BACKUP")].into_iter().all(|(n, want)| {
                    ["eth0", "eth1"].iter().all(|i| self.lab.vrrpd_state(n, i).as_deref() == Some(want))
                }))
    }

    /// h1 owns every VIP of both families, h2 none, all daemons running, for SETTLE_HOLD.
    pub fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut since: Option<Instant> = None;
        loop {
            if stopped() {
                return Err("interrupted".into());
            }
            if !self.daemons.iter().flatten().all(Proc::is_running) {
                return Err(format!("a daemon exited while settling:\n{}", self.lab.snapshot()));
            }
            if self.settled_now() {
                if since.get_or_insert_with(Instant::now).elapsed() >= SETTLE_HOLD {
                    return Ok(());
                }
            } else {
                since = None;
            }
            if Instant::now() > deadline {
                return Err(format!("no settled state (h1 owns all 4 VIPs) after 45 s:\n{}", self.lab.snapshot()));
            }
            sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<i64, String> {
        let start = Instant::now();
        loop {
            if cond() {
                return Ok(now_us());
            }
            if stopped() {
                return Err("interrupted".into());
            }
            if start.elapsed() > timeout {
                return Err(format!("timed out after {timeout:?}: {what}"));
            }
            sleep(FAST_POLL);
        }
    }

    pub fn wait_procs_exit(&self, pids: &[i32], timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        while pids.iter().any(|p| alive(*p)) {
            for p in self.daemons.iter().flatten() {
                let _ = p.try_status(); // reaps
            }
            if start.elapsed() > timeout {
                return Err(format!("processes {pids:?} still alive after {timeout:?}"));
            }
            sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// First address-add of each VIP on its interface after `t0`, in VIPS order.
    fn adds(&self, n: usize, t0: i64) -> Vec<Option<i64>> {
        let evs = parse_monitor(&self.mon_h[n - 1].log_text());
        VIPS.iter()
            .map(|(ifn, vip, ..)| {
                evs.iter()
                    .filter(|e| e.t >= t0)
                    .find(|e| matches!(&e.kind, MonKind::AddrAdd { ifname, ip } if ifname == ifn && ip == vip))
                    .map(|e| e.t)
            })
            .collect()
    }

    /// One trial: SIGKILL every daemon process of h1, wait for h2 to own all four VIPs, read the
    /// recordings, restart h1 (keepalived: its leftover VIPs removed first), hand back.
    pub fn trial(&mut self) -> Result<V6Trial, String> {
        self.settle()?;
        let mut tr = V6Trial::default();
        let pids = self.host_pids(1);
        let t0 = now_us();
        for p in &pids {
            signal(*p, libc::SIGKILL);
        }
        let t_poll =
            self.wait_for("h2 owns every VIP of both families", HANG, || held(self.lab.h(2)).iter().all(|x| *x));
        sleep(FLUSH);
        let t_poll = t_poll.map_err(|e| format!("{e}\n{}", self.timeline(t0, now_us())))?;
        let adds = self.adds(2, t0);
        let later = |i: usize, j: usize| Some(adds[i]?.max(adds[j]?) - t0);
        let polled = |v: Option<i64>, fam: &str, raw: &mut String| {
            v.or_else(|| {
                let _ = write!(raw, "(no {fam} address event: from the poll) ");
                Some(t_poll - t0)
            })
        };
        tr.v4 = polled(later(0, 1), "IPv4", &mut tr.raw);
        tr.v6 = polled(later(2, 3), "IPv6", &mut tr.raw);
        let caps: Vec<String> = self.caps.iter().map(Proc::log_text).collect();
        let wire: Vec<Option<i64>> = VIPS
            .iter()
            .map(|(_, vip, v6, lan)| {
                let macs = [vmac([VRID_A, VRID_B][*lan]), h2_mac(*lan)];
                if *v6 {
                    first_na(&caps[*lan], vip, &macs, t0)
                } else {
                    Bed::h2_garp(&parse_capture(&caps[*lan]), *lan, t0)
                }
            })
            .collect();
        tr.garp = wire[0].zip(wire[1]).map(|(a, b)| a.max(b) - t0);
        tr.na = wire[2].zip(wire[3]).map(|(a, b)| a.max(b) - t0);
        let rel = |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1e3)).unwrap_or("?".into());
        let _ = write!(
            tr.raw,
            "h2 addr-add A {} B {} A6 {} B6 {} ms; h2 GARP A {} B {}, NA A6 {} B6 {} ms; poll {} ms",
            rel(adds[0]),
            rel(adds[1]),
            rel(adds[2]),
            rel(adds[3]),
            rel(wire[0]),
            rel(wire[1]),
            rel(wire[2]),
            rel(wire[3]),
            rel(Some(t_poll))
        );
        tr.timeline = self.timeline(t0, t_poll);

        self.wait_procs_exit(&pids, Duration::from_secs(10))?;
        if self.imp == Imp::Keepalived {
            // The host "reboots": keepalived left its VIPs behind.
            let h1 = self.lab.h(1).to_string();
            for (ifname, vip, v6, _) in VIPS {
                let cidr = format!("{vip}/{}", if v6 { 64 } else { 32 });
                let _ = run_ok(&["ip", "-n", &h1, "addr", "del", &cidr, "dev", ifname]);
            }
        }
        let t_restore = now_us();
        self.start_host(1)?;
        let t_back =
            self.wait_for("h1 owns every VIP again (handback)", Duration::from_secs(30), || self.h1_owns_all_alone())?;
        sleep(FLUSH);
        let back: Vec<i64> = self.adds(1, t_restore).into_iter().flatten().collect();
        tr.handback =
            Some(if back.len() == VIPS.len() { back.into_iter().max().unwrap_or(t_back) } else { t_back } - t_restore);
        Ok(tr)
    }

    /// The monitors' address events and the wire's GARPs / NAs around a trial, relative to t0.
    pub fn timeline(&self, t0: i64, t_end: i64) -> String {
        let (lo, hi) = (t0 - 50_000, t_end + 50_000);
        let mut ev: Vec<(i64, String)> = Vec::new();
        for (lan, cap) in self.caps.iter().enumerate() {
            for line in cap.log_text().lines() {
                let w: Vec<&str> = line.split_whitespace().collect();
                let Some(t) = w.first().and_then(|x| parse_epoch_us(x)).filter(|t| (lo..=hi).contains(t)) else {
                    continue;
                };
                let what = line.split_once(": ").map(|(_, m)| m).unwrap_or(line);
                ev.push((t, format!("LAN {} wire: {} {what}", ['A', 'B'][lan], w.get(1).unwrap_or(&"?"))));
            }
        }
        for (i, p) in self.mon_h.iter().enumerate() {
            for e in parse_monitor(&p.log_text()).into_iter().filter(|e| (lo..=hi).contains(&e.t)) {
                let what = match &e.kind {
                    MonKind::AddrAdd { ifname, ip } => format!("+addr {ip} on {ifname}"),
                    MonKind::AddrDel { ifname, ip } => format!("-addr {ip} on {ifname}"),
                    MonKind::Link { .. } => continue,
                };
                ev.push((e.t, format!("h{} kernel: {what}", i + 1)));
            }
        }
        ev.sort_by_key(|e| e.0);
        let mut s = String::new();
        for (t, what) in ev {
            let _ = writeln!(s, "    {:>+9.2} ms  {what}", (t - t0) as f64 / 1000.0);
        }
        s
    }
}

impl Drop for V6Bed {
    fn drop(&mut self) {
        stop_all(&self.daemons, Duration::from_secs(3), self.tmpfs_base.as_deref());
    }
}
