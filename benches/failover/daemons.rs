//! The implementations under test and how each host's daemons are configured, started and found.

use crate::bed::Bed;
use crate::common::*;
use crate::sleep;
use crate::system::{alive, descendants_of};
use crate::{PRIO_H1, PRIO_H2, VRID_A, VRID_B};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Imp {
    Ours,
    Keepalived,
}

impl Imp {
    pub fn name(self) -> &'static str {
        match self {
            Imp::Ours => "ours",
            Imp::Keepalived => "keepalived",
        }
    }
}

impl Bed {
    pub fn write_ka_conf(&self, n: usize) -> PathBuf {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let inst = |vrid: u8, ifname: &str, vip: &str| {
            format!(
                "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface {ifname}\n    virtual_router_id {vrid}\n    \
                 priority {prio}\n    advert_int {int}\n    virtual_ipaddress {{\n        {vip}\n    }}\n{track}}}\n",
                int = self.prof.interval_arg(),
                track = if self.prof.track { "    track_script {\n        chk_svc\n    }\n" } else { "" },
            )
        };
        // As the HAProxy + keepalived guides do it (`killall -0 haproxy`, interval 2).
        let script = if self.prof.track {
            format!(
                "vrrp_script chk_svc {{\n    script \"/usr/bin/pgrep -x {}\"\n    interval 2\n}}\n",
                service_name(&self.lab, n)
            )
        } else {
            String::new()
        };
        let text = format!(
            "global_defs {{\n    router_id {name}_h{n}\n    vrrp_version {ver}\n    vrrp_garp_master_delay 0\n    \
             vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
             enable_script_security\n}}\n\
             {script}vrrp_sync_group G1 {{\n    group {{\n        VI_{VRID_A}\n        VI_{VRID_B}\n    }}\n}}\n{}{}",
            inst(VRID_A, "eth0", VIP_A),
            inst(VRID_B, "eth1", VIP_B),
            name = self.lab.name,
            ver = self.prof.version,
        );
        let path = self.lab.dir.join(format!("keepalived-sync-h{n}.conf"));
        fs::write(&path, text).expect("keepalived conf");
        path
    }

    pub fn ours_member(&mut self, n: usize, lan: usize) -> Proc {
        let prio = if n == 1 { PRIO_H1 } else { PRIO_H2 };
        let (vrid, vip) = if lan == 0 { (VRID_A, VIP_A) } else { (VRID_B, VIP_B) };
        let rundir = self.lab.host(n).rundir.to_string_lossy().into_owned();
        let (p, v, ifname) = (prio.to_string(), vrid.to_string(), format!("eth{lan}"));
        let int = self.prof.interval_arg();
        let mut argv = vec![self.bin.as_str(), "-F", "-f", &rundir, "-M", "2", "-i", &ifname, "-v", &v, "-p", &p];
        if self.prof.version == 3 {
            argv.extend(["--vrrp-version", "3", "-d", &int]);
        }
        let svc = service_name(&self.lab, n);
        if self.prof.track {
            argv.extend(["--track-process", &svc]);
        }
        argv.push(vip);
        let ns = self.lab.h(n).to_string();
        let proc = self.lab.spawn(&ns, &argv, &format!("vrrpd-h{n}-eth{lan}"));
        self.all_daemons.push(proc.clone());
        proc
    }

    pub fn start_host(&mut self, n: usize) {
        match self.imp {
            Imp::Ours => {
                let a = self.ours_member(n, 0);
                let b = self.ours_member(n, 1);
                self.daemons[n - 1] = vec![a, b];
            }
            Imp::Keepalived => {
                self.ka_runs += 1;
                let base = self.lab.dir.join(format!("ka-h{n}-{}", self.ka_runs));
                let p = self.lab.spawn_keepalived(n, &self.ka_conf[n - 1], &base);
                self.all_daemons.push(p.clone());
                self.daemons[n - 1] = vec![p];
            }
        }
    }

    /// Starts (again) host n's stand-in service: `sleep infinity` under a name of its own (a
    /// symlink), tracked by the daemons of the tracking part.
    pub fn start_service(&mut self, n: usize) {
        let link = self.lab.dir.join(service_name(&self.lab, n));
        if !link.exists() {
            let _ = std::os::unix::fs::symlink("/usr/bin/sleep", &link);
        }
        let link = link.to_string_lossy().into_owned();
        let ns = self.lab.h(n).to_string();
        let p = self.lab.spawn(&ns, &[&link, "infinity"], &format!("service-h{n}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while fs::read_to_string(format!("/proc/{}/comm", p.pid))
            .map_or(true, |c| c.trim() != service_name(&self.lab, n))
            && Instant::now() < deadline
        {
            sleep(Duration::from_millis(10));
        }
        if self.services.len() >= n {
            self.services[n - 1] = p;
        } else {
            self.services.push(p);
        }
    }

    /// Every pid of host n's daemons (keepalived: parent and descendants).
    pub fn host_pids(&self, n: usize) -> Vec<i32> {
        pids_of(&self.daemons[n - 1])
    }
}

/// The stand-in service's process name on host n (15 bytes at most: the kernel's `comm`).
pub fn service_name(lab: &Lab, n: usize) -> String {
    let digits: String = lab.name.chars().filter(char::is_ascii_digit).collect();
    let s = format!("bs{n}-{digits}");
    s.chars().take(15).collect()
}

/// Every pid of these daemons (keepalived: parent and descendants).
pub fn pids_of(procs: &[Proc]) -> Vec<i32> {
    let mut v = Vec::new();
    for p in procs {
        if p.is_running() {
            v.push(p.pid);
        }
        v.extend(descendants_of(p.pid));
    }
    v
}

/// Stops both hosts' daemons: SIGTERM, up to `grace` for them and their children to go, SIGKILL of
/// what is left (keepalived children included; the lab's drop kills whatever remains in its
/// namespaces), then removes the tmpfs run dirs.
pub fn stop_all(daemons: &[Vec<Proc>; 2], grace: Duration, tmpfs_base: Option<&Path>) {
    let pids: Vec<i32> = daemons.iter().flat_map(|d| pids_of(d)).collect();
    for p in daemons.iter().flatten() {
        p.term();
    }
    let start = Instant::now();
    while pids.iter().any(|p| alive(*p)) && start.elapsed() < grace {
        for p in daemons.iter().flatten() {
            let _ = p.try_status();
        }
        sleep(Duration::from_millis(25));
    }
    for p in pids {
        if alive(p) {
            signal(p, libc::SIGKILL);
        }
    }
    if let Some(base) = tmpfs_base {
        let _ = fs::remove_dir_all(base);
    }
}
