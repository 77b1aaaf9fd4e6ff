//! The four scenarios: one trial is the event, takeover and release read off the recordings, restore, handback.

use crate::bed::Bed;
use crate::common::*;
use crate::daemons::Imp;
use crate::parse::parse_monitor;
use crate::system::run_ok;
use crate::{FLUSH, HANG, now_us, sleep};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Scen {
    Link,
    Term,
    Kill1,
    KillAll,
    /// The tracked stand-in service of h1 is SIGKILLed (the tracking part only).
    Service,
}

impl Scen {
    pub const ALL: [Scen; 4] = [Scen::Link, Scen::Term, Scen::Kill1, Scen::KillAll];
    pub fn title(self) -> &'static str {
        match self {
            Scen::Link => "link loss (h1 LAN-B link cut)",
            Scen::Term => "SIGTERM of all h1 daemons",
            Scen::Kill1 => "SIGKILL of h1's eth1 member",
            Scen::KillAll => "SIGKILL of all h1 processes",
            Scen::Service => "SIGKILL of h1's tracked service",
        }
    }
}

#[derive(Default, Clone)]
pub struct Trial {
    /// Event → h2 owns both VIPs (µs).
    pub takeover: Option<i64>,
    /// Event → priority-0 advert on every remaining link (µs).
    pub release: Option<i64>,
    /// Restore → h1 owns both VIPs again (µs).
    pub handback: Option<i64>,
    /// Host death: the first Master_Down_Interval expiry (h1's last advert on a LAN + the interval)
    /// → h2 owns both VIPs (µs): the peer's own reaction once the protocol lets it take over.
    pub after_expiry: Option<i64>,
    pub raw: String,
    pub timeline: String,
}

impl Bed {
    /// One trial of a scenario, from a settled state, ending with h1 master again.
    pub fn trial(&mut self, sc: Scen) -> Result<Trial, String> {
        self.settle()?;
        let mut tr = Trial::default();
        let mut raw = String::new();
        let h1_pids = self.host_pids(1);
        let before = now_us();

        // ---- the event
        let (t_event, after) = match sc {
            Scen::Link => {
                run_ok(&["ip", "-n", &self.lab.switch, "link", "set", "h1e1", "down"])?;
                (before, now_us())
            }
            Scen::Term => {
                let t = now_us();
                for p in &self.daemons[0] {
                    signal(p.pid, libc::SIGTERM);
                }
                (t, t)
            }
            Scen::Kill1 => {
                let t = now_us();
                signal(self.daemons[0][1].pid, libc::SIGKILL);
                (t, t)
            }
            Scen::KillAll => {
                let t = now_us();
                for p in &h1_pids {
                    signal(*p, libc::SIGKILL);
                }
                (t, t)
            }
            Scen::Service => {
                let svc = self.services.first().cloned().ok_or("no stand-in service")?;
                let t = now_us();
                signal(svc.pid, libc::SIGKILL);
                // Reaped at once, as its parent (init, systemd) would: a zombie still matches
                // keepalived's `pgrep` (ours ignores zombies).
                svc.wait_exit(Duration::from_secs(5));
                (t, t)
            }
        };
        let t_poll = self.wait_for("h2 owns both VIPs", HANG, || self.h2_owns_both());
        sleep(FLUSH);
        let caps = self.caps();
        let mon1 = self.mon(1);
        let mon2 = self.mon(2);
        // Refine the event time of the link cut: the switch's own notification, within [before, after].
        let mut t0 = t_event;
        if sc == Scen::Link {
            // The kernel's notifications of the cut: h1e1 admin down in the switch, eth1 NO-CARRIER
            // in h1 (µs apart in the kernel). Each monitor stamps it when it reads it, a little late:
            // the earliest of the two, never before the `ip link set` began, is the event.
            let sw = parse_monitor(&self.mon_sw.as_ref().map(Proc::log_text).unwrap_or_default());
            let t_sw = Self::link_ev(&sw, "h1e1", before, |f| !f.iter().any(|x| x == "UP"));
            let t_h1 = Self::link_ev(&mon1, "eth1", before, |f| f.iter().any(|x| x == "NO-CARRIER"));
            t0 = [t_sw, t_h1].into_iter().flatten().min().unwrap_or(after).max(before);
            let ms = |t: Option<i64>| t.map(|t| format!("{:.2}", (t - before) as f64 / 1000.0)).unwrap_or("?".into());
            let _ = write!(
                raw,
                "`ip link set down` ran {:.2} ms; seen by the switch monitor at {} ms, by h1's (eth1 NO-CARRIER) at {} ms; ",
                (after - before) as f64 / 1000.0,
                ms(t_sw),
                ms(t_h1)
            );
        }
        let t_poll = match t_poll {
            Ok(t) => t,
            Err(e) => {
                tr.timeline = self.timeline(t0, now_us());
                return Err(format!("{e}\n{}", tr.timeline));
            }
        };
        let garp = [Self::h2_garp(&caps[0], 0, t0), Self::h2_garp(&caps[1], 1, t0)];
        let adds = [Self::addr_add(&mon2, VIP_A, t0), Self::addr_add(&mon2, VIP_B, t0)];
        let rel = |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1e3)).unwrap_or("?".into());
        tr.takeover = match (garp[0], garp[1]) {
            (Some(a), Some(b)) => Some(a.max(b) - t0),
            _ => match (adds[0], adds[1]) {
                (Some(a), Some(b)) => {
                    raw.push_str("(no GARP seen: from h2's address events) ");
                    Some(a.max(b) - t0)
                }
                _ => {
                    raw.push_str("(no GARP, no address event: from the poll) ");
                    Some(t_poll - t0)
                }
            },
        };
        let _ = write!(
            raw,
            "h2 GARP A {} ms, B {} ms; h2 addr-add A {} ms, B {} ms; poll {} ms",
            rel(garp[0]),
            rel(garp[1]),
            rel(adds[0]),
            rel(adds[1]),
            rel(Some(t_poll))
        );

        // ---- local release
        match sc {
            Scen::Link => {
                let p0 = Self::h1_prio0(&caps[0], 0, before);
                tr.release = p0.map(|t| t - t0);
                let _ = write!(
                    raw,
                    "; prio-0 on A {} ms after the link notification",
                    p0.map(|t| format!("{:.2}", (t - t0) as f64 / 1000.0)).unwrap_or("none".into())
                );
            }
            Scen::Term | Scen::Service => {
                let a = Self::h1_prio0(&caps[0], 0, t0);
                let b = Self::h1_prio0(&caps[1], 1, t0);
                if let (Some(a), Some(b)) = (a, b) {
                    tr.release = Some(a.max(b) - t0);
                }
                let ms =
                    |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1000.0)).unwrap_or("none".into());
                let _ = write!(raw, "; prio-0 A {} ms, B {} ms after kill()", ms(a), ms(b));
            }
            Scen::Kill1 => {
                // The remaining link is A; ours also resigns on B for the dead member (shown, not timed).
                let a = Self::h1_prio0(&caps[0], 0, t0);
                let b = Self::h1_prio0(&caps[1], 1, t0);
                tr.release = a.map(|t| t - t0);
                let ms =
                    |t: Option<i64>| t.map(|t| format!("{:.2}", (t - t0) as f64 / 1000.0)).unwrap_or("none".into());
                let _ = write!(raw, "; prio-0 A {} ms (B, for the dead member: {} ms) after kill()", ms(a), ms(b));
            }
            Scen::KillAll => {
                // The protocol's bound of this trial: the LAN whose master fell silent first may
                // take the host over one Master_Down_Interval after h1's last advert there.
                // (Looked for over the 5 s before the kill: h1 sends nothing once killed.)
                let since = before - 5_000_000;
                let last = [Self::h1_last_advert(&caps[0], 0, since), Self::h1_last_advert(&caps[1], 1, since)];
                if let (Some(a), Some(b), Some(take)) = (last[0], last[1], tr.takeover) {
                    let expiry = a.min(b) + self.prof.master_down_us();
                    tr.after_expiry = Some(t0 + take - expiry);
                    let _ = write!(
                        raw,
                        "; h1's last adverts A {} ms, B {} ms; first Master_Down expiry {} ms; h2 owns both {:.2} ms after it",
                        rel(Some(a)),
                        rel(Some(b)),
                        rel(Some(expiry)),
                        (t0 + take - expiry) as f64 / 1e3
                    );
                }
            }
        }
        tr.timeline = self.timeline(t0, t0.max(garp[0].unwrap_or(0)).max(garp[1].unwrap_or(0)).max(t_poll));

        // ---- restore and hand back
        let t_restore;
        match sc {
            Scen::Link => {
                t_restore = now_us();
                run_ok(&["ip", "-n", &self.lab.switch, "link", "set", "h1e1", "up"])?;
            }
            Scen::Term | Scen::KillAll => {
                self.wait_procs_exit(&h1_pids, Duration::from_secs(10))?;
                if sc == Scen::KillAll && self.imp == Imp::Keepalived {
                    // The host "reboots": keepalived left its VIPs behind.
                    let h1 = self.lab.h(1).to_string();
                    let _ = run_ok(&["ip", "-n", &h1, "addr", "del", &format!("{VIP_A}/32"), "dev", "eth0"]);
                    let _ = run_ok(&["ip", "-n", &h1, "addr", "del", &format!("{VIP_B}/32"), "dev", "eth1"]);
                }
                t_restore = now_us();
                self.start_host(1);
            }
            Scen::Service => {
                let old = self.services[0].pid;
                self.wait_procs_exit(&[old], Duration::from_secs(10))?;
                t_restore = now_us();
                self.start_service(1);
            }
            Scen::Kill1 => {
                self.wait_procs_exit(&[self.daemons[0][1].pid], Duration::from_secs(10))?;
                t_restore = now_us();
                let p = self.ours_member(1, 1);
                self.daemons[0][1] = p;
            }
        }
        let t_back =
            self.wait_for("h1 owns both VIPs again (handback)", Duration::from_secs(30), || self.h1_owns_both_alone())?;
        sleep(FLUSH);
        let mon1 = self.mon(1);
        let back = [Self::addr_add(&mon1, VIP_A, t_restore), Self::addr_add(&mon1, VIP_B, t_restore)];
        tr.handback = Some(match back {
            [Some(a), Some(b)] => a.max(b) - t_restore,
            _ => t_back - t_restore,
        });
        let _ = write!(raw, "; handback {:.2} ms", tr.handback.unwrap_or(0) as f64 / 1e3);
        tr.raw = raw;
        Ok(tr)
    }
}
