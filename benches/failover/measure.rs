//! Reading times and memory out of the recordings: GARPs, priority-0 adverts, kernel events, timelines, RSS/PSS.

use crate::bed::Bed;
use crate::common::*;
use crate::parse::*;
use crate::system::mem_of;
use crate::{VRID_A, VRID_B};
use std::fmt::Write as _;

pub struct Mem {
    /// (host, pid, name, rss kB, pss kB)
    pub procs: Vec<(usize, i32, String, u64, u64)>,
}

pub fn h2_mac(lan: usize) -> String {
    format!("02:00:00:00:0{lan}:02")
}

impl Bed {
    pub fn caps(&self) -> [Vec<Pkt>; 2] {
        [parse_capture(&self.caps[0].log_text()), parse_capture(&self.caps[1].log_text())]
    }

    pub fn mon(&self, n: usize) -> Vec<MonEv> {
        parse_monitor(&self.mon_h[n - 1].log_text())
    }

    /// First GARP for the LAN's VIP after `t0` that comes from h2 (h2's MAC or the vMAC).
    pub fn h2_garp(pkts: &[Pkt], lan: usize, t0: i64) -> Option<i64> {
        let (vip, vm) = if lan == 0 { (VIP_A, vmac(VRID_A)) } else { (VIP_B, vmac(VRID_B)) };
        pkts.iter()
            .filter(|p| p.t >= t0)
            .find(|p| {
                matches!(&p.kind, PktKind::Garp { ip } if ip == vip) && (p.src_mac == vm || p.src_mac == h2_mac(lan))
            })
            .map(|p| p.t)
    }

    /// First priority-0 advert of h1 on a LAN after `t0`.
    pub fn h1_prio0(pkts: &[Pkt], lan: usize, t0: i64) -> Option<i64> {
        let src = host_ip(1, lan);
        pkts.iter()
            .filter(|p| p.t >= t0)
            .find(|p| matches!(&p.kind, PktKind::Advert { src_ip, prio: 0, .. } if *src_ip == src))
            .map(|p| p.t)
    }

    /// Last advert of h1 on a LAN after `t0` with a priority other than 0 (in the host-death trials:
    /// the last one the peer heard before h1 died).
    pub fn h1_last_advert(pkts: &[Pkt], lan: usize, t0: i64) -> Option<i64> {
        let src = host_ip(1, lan);
        pkts.iter()
            .filter(|p| p.t >= t0)
            .filter(|p| matches!(&p.kind, PktKind::Advert { src_ip, prio, .. } if *src_ip == src && *prio != 0))
            .map(|p| p.t)
            .next_back()
    }

    /// First address-add of `ip` on host n after t0 (monitor).
    pub fn addr_add(evs: &[MonEv], ip_want: &str, t0: i64) -> Option<i64> {
        evs.iter()
            .filter(|e| e.t >= t0)
            .find(|e| matches!(&e.kind, MonKind::AddrAdd { ip, .. } if ip == ip_want))
            .map(|e| e.t)
    }

    pub fn link_ev(evs: &[MonEv], ifname_want: &str, t0: i64, pred: impl Fn(&[String]) -> bool) -> Option<i64> {
        evs.iter()
            .filter(|e| e.t >= t0)
            .find(|e| matches!(&e.kind, MonKind::Link { ifname, flags } if ifname == ifname_want && pred(flags)))
            .map(|e| e.t)
    }

    /// Captures, monitors and daemon logs between t0 - 200 ms and t_end + 200 ms, relative to t0.
    pub fn timeline(&self, t0: i64, t_end: i64) -> String {
        let (lo, hi) = (t0 - 200_000, t_end + 200_000);
        let mut ev: Vec<(i64, String)> = Vec::new();
        for (lan, cap) in self.caps.iter().enumerate() {
            for p in parse_capture(&cap.log_text()) {
                if p.t < lo || p.t > hi || matches!(p.kind, PktKind::Other) {
                    continue;
                }
                let what = match &p.kind {
                    PktKind::Advert { src_ip, vrid, prio } => format!("advert from {src_ip} vrid {vrid} prio {prio}"),
                    PktKind::Garp { ip } => format!("GARP {ip} from {}", p.src_mac),
                    PktKind::Other => String::new(),
                };
                ev.push((p.t, format!("LAN {} wire : {what}", ['A', 'B'][lan])));
            }
        }
        let mons = self.mon_h.iter().enumerate().map(|(i, p)| (format!("h{} kernel", i + 1), p));
        for (who, p) in mons.chain(self.mon_sw.iter().map(|p| ("switch   ".to_string(), p))) {
            for e in parse_monitor(&p.log_text()) {
                if e.t < lo || e.t > hi {
                    continue;
                }
                let what = match &e.kind {
                    MonKind::Link { ifname, flags } => format!("link {ifname} <{}>", flags.join(",")),
                    MonKind::AddrAdd { ifname, ip } => format!("+addr {ip} on {ifname}"),
                    MonKind::AddrDel { ifname, ip } => format!("-addr {ip} on {ifname}"),
                };
                ev.push((e.t, format!("{who}: {what}")));
            }
        }
        for p in &self.all_daemons {
            let short = p.name.split(" in ").next().unwrap_or("");
            for line in p.log_text().lines() {
                let Some(t) = parse_log_time(line, t0) else { continue };
                if t < lo || t > hi {
                    continue;
                }
                let msg = line.split_once(": ").map(|(_, m)| m).unwrap_or(line);
                ev.push((t, format!("{short} log: {msg}")));
            }
        }
        ev.sort_by_key(|e| e.0);
        let mut s = String::new();
        for (t, what) in ev {
            let _ = writeln!(s, "    {:>+9.1} ms  {what}", (t - t0) as f64 / 1000.0);
        }
        s
    }

    pub fn memory(&self) -> Mem {
        let mut procs = Vec::new();
        for n in 1..=2 {
            for pid in self.host_pids(n) {
                if let Some((rss, pss, name)) = mem_of(pid) {
                    procs.push((n, pid, name, rss, pss));
                }
            }
        }
        Mem { procs }
    }
}
