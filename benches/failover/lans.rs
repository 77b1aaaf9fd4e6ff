//! The many-LAN scenario: N LANs per host, link loss on one LAN of the master, time until the peer owns the first and all N VIPs.
//!
//! The lab is the usual two-host lab with LANs 2.. added (`common::lans`): LAN `l` on `eth<l>`, VRID
//! 51 + l, VIP `lan_vip(l)`. Ours: `vrrpd -M N`, one process per interface; keepalived: one
//! `vrrp_sync_group` of N instances per host. The event is the cut of h1's leg on LAN B (`h1e1`
//! down in the switch), stamped by the kernel notifications as in the two-LAN part. Measured in the
//! peer: h2's address-add events (`ip -ts monitor address` in h2): the first VIP and the last of the
//! N. The breakdown comes from the same recordings: h1's priority-0 adverts as they reach h2
//! (`tcpdump -i any` in h2, priority-0 adverts only) and h1's VIP deletions (monitor in h1), with the
//! daemons' CPU time, run-queue wait and wake-ups over the trial (/proc/PID/schedstat and status).
//! `BENCH_TIMELINE=1` prints the worst trial's kernel-side timeline.

use crate::bed::tmpfs_rundir_base;
use crate::common::lans::*;
use crate::common::*;
use crate::daemons::{Imp, pids_of, stop_all};
use crate::parse::*;
use crate::profile::Prof;
use crate::system::*;
use crate::{FLUSH, HANG, PRIO_H1, PRIO_H2, SETTLE_HOLD, VRID_A, now_us, sleep, stopped};
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The LAN whose link is cut (LAN B, as in the two-LAN part).
pub const CUT_LAN: usize = 1;

/// `BENCH_LANS` (default 32, at least 2).
pub fn lans_count() -> usize {
    std::env::var("BENCH_LANS").ok().and_then(|v| v.parse().ok()).unwrap_or(32).clamp(2, MAX_LANS)
}

/// Which profiles the many-LAN part runs: VRRPv2 at 1 s and VRRPv3 at 10 ms, when `BENCH_PART`
/// is unset, `all` or `lans`; one of them with `lans-v2` or `lans-v3`.
pub fn lan_parts() -> Vec<Prof> {
    match std::env::var("BENCH_PART").unwrap_or_default().as_str() {
        "" | "all" | "lans" => vec![Prof::V2, Prof::V3[0]],
        "lans-v2" => vec![Prof::V2],
        "lans-v3" => vec![Prof::V3[0]],
        _ => Vec::new(),
    }
}

pub fn vrid(l: usize) -> u8 {
    VRID_A + l as u8
}

/// A priority-0 advert that reached h2 (`tcpdump -i any`: `TS IFNAME In IP SRC > 224.0.0.18: VRRPv2, …, vrid N, prio 0, …`).
pub struct Prio0 {
    pub t: i64,
    pub ifname: String,
}

pub fn parse_prio0(text: &str) -> Vec<Prio0> {
    text.lines()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            let t = parse_epoch_us(w.first()?)?;
            let prio = w.iter().position(|x| *x == "prio").and_then(|i| w.get(i + 1))?;
            let ifname = w.get(1)?.to_string();
            (matches!(w.get(2), Some(&"In" | &"M")) && prio.trim_end_matches(',') == "0" && line.contains("VRRP"))
                .then_some(Prio0 { t, ifname })
        })
        .collect()
}

pub struct LanBed {
    pub lab: Lab,
    pub imp: Imp,
    pub prof: Prof,
    pub bin: String,
    pub lans: usize,
    /// Per host: ours one member per LAN; keepalived [parent].
    pub daemons: [Vec<Proc>; 2],
    /// `ip -ts monitor link address` in h1 and h2.
    pub mon_h: Vec<Proc>,
    pub mon_sw: Option<Proc>,
    /// Priority-0 adverts arriving at h2, on every interface.
    pub cap: Option<Proc>,
    pub ka_runs: usize,
    pub tmpfs_base: Option<PathBuf>,
}

#[derive(Default, Clone)]
pub struct LanTrial {
    /// Link notification → h2's first VIP address-add / its N-th (µs).
    pub first: Option<i64>,
    pub all: Option<i64>,
    /// Link notification → first / last priority-0 advert of h1 at h2 (µs), and on how many LANs.
    pub prio0_first: Option<i64>,
    pub prio0_last: Option<i64>,
    pub prio0_lans: usize,
    /// Link notification → h1's last VIP deletion (µs).
    pub h1_last_del: Option<i64>,
    /// Per host (h1, h2), from the cut to the poll that saw h2 own every VIP: the daemons' CPU time
    /// and run-queue wait (µs, /proc/PID/schedstat) and voluntary context switches (wake-ups).
    pub cpu_us: [i64; 2],
    pub wait_us: [i64; 2],
    pub wakeups: [i64; 2],
    /// Link restore → h1 owns every VIP again (µs).
    pub handback: Option<i64>,
    pub raw: String,
    pub timeline: String,
}

impl LanBed {
    pub fn new(imp: Imp, bin: &str, prof: Prof, lans: usize) -> Result<LanBed, String> {
        let tag = match imp {
            Imp::Ours => "mlours",
            Imp::Keepalived => "mlka",
        };
        let lab = Lab::new(tag, 2, 2);
        add_lans(&lab, lans);
        let mut bed = LanBed {
            lab,
            imp,
            prof,
            bin: bin.to_string(),
            lans,
            daemons: [Vec::new(), Vec::new()],
            mon_h: Vec::new(),
            mon_sw: None,
            cap: None,
            ka_runs: 0,
            tmpfs_base: None,
        };
        let h2 = bed.lab.h(2).to_string();
        let filter = ["ip", "proto", "112", "and", "ip[22]", "==", "0"];
        let mut argv = vec!["tcpdump", "-i", "any", "-tt", "-n", "-l", "-U", "--immediate-mode"];
        argv.extend(filter);
        let cap = bed.lab.spawn_split(&h2, &argv, "ml-tcpdump-h2-prio0");
        for n in 1..=2 {
            let ns = bed.lab.h(n).to_string();
            let argv = rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "link", "address"]);
            bed.mon_h.push(bed.lab.spawn(&ns, &argv, &format!("ml-monitor-h{n}")));
        }
        let sw = bed.lab.switch.clone();
        bed.mon_sw =
            Some(bed.lab.spawn(&sw, &rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "link"]), "ml-monitor-switch"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cap.err_text().contains("listening on") {
            if !cap.is_running() {
                return Err(format!("tcpdump exited: {}", cap.err_text()));
            }
            if Instant::now() > deadline {
                return Err("tcpdump does not listen".into());
            }
            sleep(Duration::from_millis(20));
        }
        bed.cap = Some(cap);
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

    fn ka_conf(&self, n: usize) -> Result<PathBuf, String> {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let mut text = format!(
            "global_defs {{\n    router_id {name}_h{n}\n    vrrp_version {ver}\n    vrrp_garp_master_delay 0\n    \
             vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
             enable_script_security\n}}\nvrrp_sync_group G1 {{\n    group {{\n",
            name = self.lab.name,
            ver = self.prof.version
        );
        for l in 0..self.lans {
            let _ = writeln!(text, "        VI_{}", vrid(l));
        }
        text.push_str("    }\n}\n");
        for l in 0..self.lans {
            let _ = write!(
                text,
                "vrrp_instance VI_{v} {{\n    state BACKUP\n    interface eth{l}\n    virtual_router_id {v}\n    \
                 priority {prio}\n    advert_int {int}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n",
                v = vrid(l),
                int = self.prof.interval_arg(),
                vip = lan_vip(l)
            );
        }
        let path = self.lab.dir.join(format!("keepalived-sync{}-h{n}.conf", self.lans));
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
                let (m, p, int) = (self.lans.to_string(), prio.to_string(), self.prof.interval_arg());
                for l in 0..self.lans {
                    let (ifname, v, vip) = (format!("eth{l}"), vrid(l).to_string(), lan_vip(l));
                    let mut argv =
                        vec![self.bin.as_str(), "-F", "-f", &rundir, "-M", &m, "-i", &ifname, "-v", &v, "-p", &p];
                    if self.prof.version == 3 {
                        argv.extend(["--vrrp-version", "3", "-d", &int]);
                    }
                    argv.push(&vip);
                    procs.push(self.lab.spawn(&ns, &argv, &format!("ml-vrrpd-h{n}-eth{l}")));
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

    /// Every pid of host n's daemons (keepalived: parent and descendants).
    pub fn host_pids(&self, n: usize) -> Vec<i32> {
        pids_of(&self.daemons[n - 1])
    }

    fn held(&self, n: usize) -> Vec<bool> {
        vips_held_many(self.lab.h(n), self.lans)
    }

    fn h1_owns_all_alone(&self) -> bool {
        self.held(1).iter().all(|x| *x) && !self.held(2).iter().any(|x| *x)
    }

    fn settled_now(&self) -> bool {
        if !self.h1_owns_all_alone() {
            return false;
        }
        if self.imp == Imp::Keepalived {
            return true;
        }
        [(1, "MASTER"), (2, "BACKUP")].into_iter().all(|(n, want)| {
            let recs = read_state_file(&self.lab.host(n).rundir.join("state"));
            recs.iter().filter(|r| r.get("state").map(String::as_str) == Some(want)).count() == self.lans
        })
    }

    /// h1 owns every VIP, h2 none, all daemons running, for SETTLE_HOLD.
    pub fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut since: Option<Instant> = None;
        loop {
            if stopped() {
                return Err("interrupted".into());
            }
            if !self.daemons.iter().flatten().all(Proc::is_running) {
                return Err("a daemon exited while settling".into());
            }
            if self.settled_now() {
                if since.get_or_insert_with(Instant::now).elapsed() >= SETTLE_HOLD {
                    return Ok(());
                }
            } else {
                since = None;
            }
            if Instant::now() > deadline {
                return Err(format!("no settled state (h1 owns all {} VIPs) after 60 s", self.lans));
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
            sleep(Duration::from_millis(20));
        }
    }

    fn mon(&self, n: usize) -> Vec<MonEv> {
        parse_monitor(&self.mon_h[n - 1].log_text())
    }

    /// First address event (add or delete) of each LAN's VIP on its interface after `t0`.
    fn vip_events(&self, evs: &[MonEv], t0: i64, add: bool) -> Vec<Option<i64>> {
        (0..self.lans)
            .map(|l| {
                let (ifn, vip) = (format!("eth{l}"), lan_vip(l));
                evs.iter()
                    .filter(|e| e.t >= t0)
                    .find(|e| match &e.kind {
                        MonKind::AddrAdd { ifname, ip } if add => *ifname == ifn && *ip == vip,
                        MonKind::AddrDel { ifname, ip } if !add => *ifname == ifn && *ip == vip,
                        _ => false,
                    })
                    .map(|e| e.t)
            })
            .collect()
    }

    /// One trial: cut h1's leg on LAN B, wait for h2 to own every VIP, read the recordings, restore, hand back.
    pub fn trial(&mut self) -> Result<LanTrial, String> {
        self.settle()?;
        let mut tr = LanTrial::default();
        let sw = self.lab.switch.clone();
        let leg = format!("h1e{CUT_LAN}");
        let pids = [self.host_pids(1), self.host_pids(2)];
        let s0 = pids.each_ref().map(|p| sched_of(p));
        let before = now_us();
        run_ok(&["ip", "-n", &sw, "link", "set", &leg, "down"])?;
        let after = now_us();
        let t_poll = self.wait_for("h2 owns every VIP", HANG, || self.held(2).iter().all(|x| *x));
        let s1 = pids.each_ref().map(|p| sched_of(p));
        for h in 0..2 {
            tr.cpu_us[h] = (s1[h].0 - s0[h].0) / 1000;
            tr.wait_us[h] = (s1[h].1 - s0[h].1) / 1000;
            tr.wakeups[h] = s1[h].2 - s0[h].2;
        }
        sleep(FLUSH);
        let (mon1, mon2) = (self.mon(1), self.mon(2));
        let sw_evs = parse_monitor(&self.mon_sw.as_ref().map(Proc::log_text).unwrap_or_default());
        let link_ev = |evs: &[MonEv], ifn: &str, pred: &dyn Fn(&[String]) -> bool| {
            evs.iter()
                .filter(|e| e.t >= before)
                .find(|e| matches!(&e.kind, MonKind::Link { ifname, flags } if ifname == ifn && pred(flags)))
                .map(|e| e.t)
        };
        let t_sw = link_ev(&sw_evs, &leg, &|f| !f.iter().any(|x| x == "UP"));
        let t_h1 = link_ev(&mon1, &format!("eth{CUT_LAN}"), &|f| f.iter().any(|x| x == "NO-CARRIER"));
        let t0 = [t_sw, t_h1].into_iter().flatten().min().unwrap_or(after).max(before);
        let t_poll = t_poll.map_err(|e| format!("{e}\n{}", self.timeline(t0, now_us())))?;
        let rel = |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1e3)).unwrap_or("?".into());
        let adds = self.vip_events(&mon2, t0, true);
        let seen: Vec<i64> = adds.iter().flatten().copied().collect();
        tr.first = seen.iter().min().map(|t| t - t0);
        tr.all = if seen.len() == self.lans { seen.iter().max().map(|t| t - t0) } else { None };
        let dels: Vec<i64> = self.vip_events(&mon1, t0, false).into_iter().flatten().collect();
        tr.h1_last_del = dels.iter().max().map(|t| t - t0);
        let p0: Vec<Prio0> = parse_prio0(&self.cap.as_ref().map(Proc::log_text).unwrap_or_default())
            .into_iter()
            .filter(|p| p.t >= before)
            .collect();
        tr.prio0_first = p0.iter().map(|p| p.t).min().map(|t| t - t0);
        tr.prio0_last = p0.iter().map(|p| p.t).max().map(|t| t - t0);
        let mut ifs: Vec<&str> = p0.iter().map(|p| p.ifname.as_str()).collect();
        ifs.sort_unstable();
        ifs.dedup();
        tr.prio0_lans = ifs.len();
        let _ = write!(
            tr.raw,
            "`ip link set down` {:.2} ms, seen by the switch at {} ms, by h1 at {} ms; prio 0 at h2 on {} LANs, \
             first {} last {} ms; h1 VIPs deleted {}/{}, last {} ms; h2 VIPs added {}/{}, first {} last {} ms; poll {} ms; \
             CPU h1 {:.1} ms h2 {:.1} ms, run-queue wait h1 {:.1} ms h2 {:.1} ms, wake-ups h1 {} h2 {}",
            (after - before) as f64 / 1e3,
            t_sw.map(|t| format!("{:.2}", (t - before) as f64 / 1e3)).unwrap_or("?".into()),
            t_h1.map(|t| format!("{:.2}", (t - before) as f64 / 1e3)).unwrap_or("?".into()),
            tr.prio0_lans,
            rel(p0.iter().map(|p| p.t).min()),
            rel(p0.iter().map(|p| p.t).max()),
            dels.len(),
            self.lans,
            rel(dels.iter().max().copied()),
            seen.len(),
            self.lans,
            rel(seen.iter().min().copied()),
            rel(seen.iter().max().copied()),
            rel(Some(t_poll)),
            tr.cpu_us[0] as f64 / 1e3,
            tr.cpu_us[1] as f64 / 1e3,
            tr.wait_us[0] as f64 / 1e3,
            tr.wait_us[1] as f64 / 1e3,
            tr.wakeups[0],
            tr.wakeups[1],
        );
        tr.timeline = self.timeline(t0, t_poll);

        let t_restore = now_us();
        run_ok(&["ip", "-n", &sw, "link", "set", &leg, "up"])?;
        let t_back =
            self.wait_for("h1 owns every VIP again (handback)", Duration::from_secs(30), || self.h1_owns_all_alone())?;
        sleep(FLUSH);
        let back: Vec<i64> = self.vip_events(&self.mon(1), t_restore, true).into_iter().flatten().collect();
        tr.handback = Some(
            if back.len() == self.lans { back.iter().max().copied().unwrap_or(t_back) } else { t_back } - t_restore,
        );
        Ok(tr)
    }

    /// The kernel-side recordings (monitors, h2's priority-0 capture) around a trial, relative to t0.
    pub fn timeline(&self, t0: i64, t_end: i64) -> String {
        let (lo, hi) = (t0 - 50_000, t_end + 50_000);
        let mut ev: Vec<(i64, String)> = Vec::new();
        for p in parse_prio0(&self.cap.as_ref().map(Proc::log_text).unwrap_or_default()) {
            if (lo..=hi).contains(&p.t) {
                ev.push((p.t, format!("h2 wire  : prio 0 in on {}", p.ifname)));
            }
        }
        let mons = self.mon_h.iter().enumerate().map(|(i, p)| (format!("h{} kernel", i + 1), p));
        for (who, p) in mons.chain(self.mon_sw.iter().map(|p| ("switch   ".to_string(), p))) {
            for e in parse_monitor(&p.log_text()).into_iter().filter(|e| (lo..=hi).contains(&e.t)) {
                let what = match &e.kind {
                    MonKind::Link { ifname, flags } => format!("link {ifname} <{}>", flags.join(",")),
                    MonKind::AddrAdd { ifname, ip } => format!("+addr {ip} on {ifname}"),
                    MonKind::AddrDel { ifname, ip } => format!("-addr {ip} on {ifname}"),
                };
                ev.push((e.t, format!("{who}: {what}")));
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

/// Summed over `pids`: (CPU ns, run-queue wait ns) from /proc/PID/schedstat, voluntary context switches.
pub fn sched_of(pids: &[i32]) -> (i64, i64, i64) {
    let mut t = (0, 0, 0);
    for p in pids {
        let st = fs::read_to_string(format!("/proc/{p}/schedstat")).unwrap_or_default();
        let mut w = st.split_whitespace().map(|x| x.parse::<i64>().unwrap_or(0));
        t.0 += w.next().unwrap_or(0);
        t.1 += w.next().unwrap_or(0);
        let status = fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        t.2 += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0);
    }
    t
}

impl Drop for LanBed {
    fn drop(&mut self) {
        stop_all(&self.daemons, Duration::from_secs(5), self.tmpfs_base.as_deref());
    }
}
