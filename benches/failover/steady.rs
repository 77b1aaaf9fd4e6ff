//! The steady-state window of the v3 part: the master's largest advert gap per LAN and each daemon's CPU.

use crate::bed::Bed;
use crate::common::*;
use crate::parse::PktKind;
use crate::system::{comm_of, cpu_ticks};
use crate::{FLUSH, VRID_A, VRID_B, now_us, sleep, stopped};
use std::time::{Duration, Instant};

pub struct Steady {
    pub window_s: f64,
    /// Per LAN: (h1's adverts seen, largest gap µs, mean gap µs, h2's adverts seen: a false takeover).
    pub lans: Vec<(usize, i64, f64, usize)>,
    pub cpu: Vec<CpuShare>,
}

impl Steady {
    pub fn largest_gap(&self) -> Option<i64> {
        self.lans.iter().map(|l| l.1).max().filter(|g| *g > 0)
    }
    /// The largest CPU share of a process of host n (h1 is the master, h2 the backup).
    pub fn cpu_max(&self, n: usize) -> Option<f64> {
        self.cpu.iter().filter(|c| c.0 == n).map(|c| c.3).reduce(f64::max)
    }
}

/// One process's share of a core over a window: (host, pid, name, % of one core).
pub type CpuShare = (usize, i32, String, f64);

/// A window of `secs` with no event: its start and end (µs), its length (s) and each process's share
/// (utime + stime in /proc/PID/stat).
pub fn cpu_window(pids: &[(usize, i32)], secs: f64) -> Result<(i64, i64, f64, Vec<CpuShare>), String> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let before: Vec<Option<u64>> = pids.iter().map(|(_, p)| cpu_ticks(*p)).collect();
    let (t0, start) = (now_us(), Instant::now());
    let window = Duration::from_secs_f64(secs);
    while start.elapsed() < window {
        if stopped() {
            return Err("interrupted".into());
        }
        sleep((window - start.elapsed()).min(Duration::from_millis(200)));
    }
    let after: Vec<Option<u64>> = pids.iter().map(|(_, p)| cpu_ticks(*p)).collect();
    let (t1, elapsed) = (now_us(), start.elapsed().as_secs_f64());
    let mut cpu = Vec::new();
    for (i, (n, pid)) in pids.iter().enumerate() {
        if let (Some(a), Some(b)) = (before[i], after[i]) {
            let name = comm_of(*pid).unwrap_or_else(|| "?".into());
            cpu.push((*n, *pid, name, (b.saturating_sub(a)) as f64 / hz / elapsed * 100.0));
        }
    }
    Ok((t0, t1, elapsed, cpu))
}

impl Bed {
    /// From a settled state: waits `secs` without any event, then reads h1's adverts on both LANs
    /// off the captures and every daemon's utime + stime (/proc/PID/stat) at both ends.
    pub fn steady(&self, secs: f64) -> Result<Steady, String> {
        let pids: Vec<(usize, i32)> =
            (1..=2).flat_map(|n| self.host_pids(n).into_iter().map(move |p| (n, p))).collect();
        let (t0, t1, elapsed, cpu) = cpu_window(&pids, secs)?;
        sleep(FLUSH);
        let caps = self.caps();
        let mut lans = Vec::new();
        for (lan, vrid) in [(0, VRID_A), (1, VRID_B)] {
            let from = |n: usize| {
                let src = host_ip(n, lan);
                caps[lan]
                    .iter()
                    .filter(|p| p.t >= t0 && p.t <= t1)
                    .filter(|p| {
                        matches!(&p.kind, PktKind::Advert { src_ip, vrid: v, prio } if *src_ip == src && *v == vrid && *prio != 0)
                    })
                    .map(|p| p.t)
                    .collect::<Vec<i64>>()
            };
            let ts = from(1);
            let gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = if gaps.is_empty() { 0.0 } else { gaps.iter().sum::<i64>() as f64 / gaps.len() as f64 };
            lans.push((ts.len(), gaps.iter().copied().max().unwrap_or(0), mean, from(2).len()));
        }
        Ok(Steady { window_s: elapsed, lans, cpu })
    }
}
