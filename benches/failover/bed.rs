//! The bed: one lab with its captures and monitors and one implementation's daemons; settling and waiting.

use crate::common::*;
use crate::daemons::{Imp, stop_all};
use crate::profile::Prof;
use crate::system::*;
use crate::{FAST_POLL, SETTLE_HOLD, now_us, sleep, stopped};
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Bed {
    pub lab: Lab,
    pub imp: Imp,
    pub prof: Prof,
    pub bin: String,
    /// Per host: ours [eth0 member, eth1 member]; keepalived [parent].
    pub daemons: [Vec<Proc>; 2],
    /// Every daemon ever started (their logs make the timelines).
    pub all_daemons: Vec<Proc>,
    /// Captures on LAN A and LAN B (client namespaces).
    pub caps: Vec<Proc>,
    /// ip -ts monitor in h1, h2, switch.
    pub mon_h: Vec<Proc>,
    pub mon_sw: Option<Proc>,
    pub ka_conf: Vec<PathBuf>,
    pub ka_runs: usize,
    /// Run dirs on tmpfs (removed on drop), or `None` when they stay in the lab dir.
    pub tmpfs_base: Option<PathBuf>,
    /// The tracking part: each host's stand-in service (index = host − 1).
    pub services: Vec<Proc>,
}

impl Bed {
    /// A bed around `lab` with nothing started: no capture, no monitor, no daemon.
    pub fn bare(lab: Lab, imp: Imp, bin: &str, prof: Prof) -> Bed {
        Bed {
            lab,
            imp,
            prof,
            bin: bin.to_string(),
            daemons: [Vec::new(), Vec::new()],
            all_daemons: Vec::new(),
            caps: Vec::new(),
            mon_h: Vec::new(),
            mon_sw: None,
            ka_conf: Vec::new(),
            ka_runs: 0,
            tmpfs_base: None,
            services: Vec::new(),
        }
    }

    pub fn new(imp: Imp, bin: &str, prof: Prof) -> Result<Bed, String> {
        let tag = match imp {
            Imp::Ours => "benchours",
            Imp::Keepalived => "benchka",
        };
        let mut bed = Bed::bare(Lab::new(tag, 2, 2), imp, bin, prof);
        // Captures first, so nothing is missed.
        for lan in 0..2 {
            let c = bed.lab.client(lan).to_string();
            let p = bed.lab.spawn_split(
                &c,
                &[
                    "tcpdump",
                    "-i",
                    "eth0",
                    "-tt",
                    "-n",
                    "-e",
                    "-l",
                    "-U",
                    "--immediate-mode",
                    "ip",
                    "proto",
                    "112",
                    "or",
                    "arp",
                ],
                &format!("tcpdump-lan{}", ['a', 'b'][lan]),
            );
            bed.caps.push(p);
        }
        for n in 1..=2 {
            let ns = bed.lab.h(n).to_string();
            let p = bed.lab.spawn(
                &ns,
                &rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "link", "address"]),
                &format!("monitor-h{n}"),
            );
            bed.mon_h.push(p);
        }
        let sw = bed.lab.switch.clone();
        bed.mon_sw =
            Some(bed.lab.spawn(&sw, &rt(&["env", "TZ=UTC", "ip", "-ts", "monitor", "link"]), "monitor-switch"));
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
        if imp == Imp::Keepalived {
            for n in 1..=2 {
                bed.ka_conf.push(bed.write_ka_conf(n));
            }
        } else if let Some(base) = tmpfs_rundir_base(&bed.lab.name) {
            // Where vrrpd keeps its run dir in production (/run/vrrpd, tmpfs): the state file is
            // written with fdatasync, which costs nothing on tmpfs and milliseconds on a busy disk.
            for h in bed.lab.hosts.iter_mut() {
                h.rundir = base.join(format!("run-h{}", h.n));
                fs::create_dir_all(&h.rundir).map_err(|e| format!("{}: {e}", h.rundir.display()))?;
            }
            bed.tmpfs_base = Some(base);
        }
        if prof.track {
            for n in 1..=2 {
                bed.start_service(n);
            }
        }
        for n in 1..=2 {
            bed.start_host(n);
        }
        Ok(bed)
    }

    pub fn daemons_running(&self) -> bool {
        self.daemons.iter().flatten().all(Proc::is_running)
    }

    pub fn settled_now(&self) -> bool {
        let (a1, b1) = vips_held(self.lab.h(1));
        let (a2, b2) = vips_held(self.lab.h(2));
        let mut ok = a1 && b1 && !a2 && !b2;
        if ok && self.imp == Imp::Ours {
            for (n, want) in [(1, "MASTER"), (2, "BACKUP")] {
                for ifname in ["eth0", "eth1"] {
                    ok &= self.lab.vrrpd_state(n, ifname).as_deref() == Some(want);
                }
            }
        }
        ok
    }

    /// Waits for h1 owning both VIPs, h2 neither, all daemons up, holding for SETTLE_HOLD.
    pub fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut since: Option<Instant> = None;
        loop {
            if stopped() {
                return Err("interrupted".into());
            }
            if !self.daemons_running() {
                return Err(format!("a daemon exited while settling:\n{}", self.lab.snapshot()));
            }
            if self.settled_now() {
                let s = *since.get_or_insert_with(Instant::now);
                if s.elapsed() >= SETTLE_HOLD {
                    return Ok(());
                }
            } else {
                since = None;
            }
            if Instant::now() > deadline {
                return Err(format!("no settled state (h1 owns both) after 45 s:\n{}", self.lab.snapshot()));
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Polls until `cond` holds; returns the time it was seen (µs).
    pub fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<i64, String> {
        let start = Instant::now();
        loop {
            if cond() {
                return Ok(now_us());
            }
            if stopped() {
                return Err("interrupted".into());
            }
            if start.elapsed() > timeout {
                return Err(format!("timed out after {timeout:?}: {what}\n{}", self.lab.snapshot()));
            }
            sleep(FAST_POLL);
        }
    }

    pub fn h2_owns_both(&self) -> bool {
        let (a, b) = vips_held(self.lab.h(2));
        a && b
    }

    pub fn h1_owns_both_alone(&self) -> bool {
        let (a1, b1) = vips_held(self.lab.h(1));
        let (a2, b2) = vips_held(self.lab.h(2));
        a1 && b1 && !a2 && !b2
    }

    pub fn wait_procs_exit(&self, pids: &[i32], timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            for p in self.daemons.iter().flatten() {
                let _ = p.try_status(); // reaps
            }
            if pids.iter().all(|p| !alive(*p)) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!("processes {pids:?} still alive after {timeout:?}"));
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        stop_all(&self.daemons, Duration::from_secs(3), self.tmpfs_base.as_deref());
    }
}

/// `BENCH_RUNDIR=disk` keeps the run dirs in the lab dir (under the temp dir, as the tests do);
/// by default they go to tmpfs (/dev/shm), like /run/vrrpd on a production host.
pub fn tmpfs_rundir_base(lab_name: &str) -> Option<PathBuf> {
    if std::env::var("BENCH_RUNDIR").is_ok_and(|v| v == "disk") {
        return None;
    }
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let is_tmpfs = mounts.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&"/dev/shm") && w.get(2) == Some(&"tmpfs")
    });
    is_tmpfs.then(|| PathBuf::from(format!("/dev/shm/vrrpd-bench-{lab_name}")))
}

pub fn rundir_kind() -> &'static str {
    if tmpfs_rundir_base("x").is_some() {
        "run dirs on tmpfs (/dev/shm), like /run/vrrpd"
    } else {
        "run dirs in the lab dir under the temp dir (BENCH_RUNDIR=disk or no tmpfs)"
    }
}
