//! What each signal does (see `sys::signals` for which are caught): stop, dump, drain, priority.

use super::*;

impl Daemon {
    /// Every signal that would end the process by default arrives here (see `sys::signals`).
    pub(super) fn on_signals(&mut self) -> Option<Exit> {
        for s in self.signals.pending() {
            let name = signals::name(s);
            match signals::meaning(s) {
                Meaning::Stop => {
                    self.shutdown(&format!("stopped by {name}"));
                    return Some(Exit::Signal);
                }
                Meaning::Reduce => {
                    let _ = self.change_priority(false);
                }
                Meaning::Increase => {
                    let _ = self.change_priority(true);
                }
                Meaning::Child => self.on_sigchld(),
                // Advanced Vrrpd 1.15's dump: the member's state line.
                Meaning::Dump => info!("SIGUSR1: {}", self.member().to_line()),
                Meaning::Drain => self.drain_by_signal(),
                Meaning::Ignore if s == libc::SIGHUP => {
                    info!("SIGHUP ignored (restart vrrpd to change its configuration)")
                }
                // Once per signal: a process sending a timer signal in a loop must not flood the log.
                Meaning::Ignore if !self.ignored_signals.contains(&s) => {
                    info!("{name} ignored (further {name} are ignored silently)");
                    self.ignored_signals.push(s);
                }
                Meaning::Ignore => {}
            }
        }
        None
    }

    /// SIGUSR2 (1.15's "go backup"): the host is drained as by `atropos --backup`, until `--resume`.
    pub(super) fn drain_by_signal(&mut self) {
        if self.core.drained {
            info!("SIGUSR2: the host is already drained (atropos --resume ends it)");
            return;
        }
        let who = format!("SIGUSR2 to vrrpd pid {} ({})", std::process::id(), self.id);
        match rundir::set_drain(&self.cfg.rundir, &who, unix_ms()) {
            Ok(()) => info!("SIGUSR2: drain file written: every member of the host goes BACKUP and stays"),
            Err(e) => {
                error!("SIGUSR2: cannot write {} ({e}): not drained", rundir::drain_path(&self.cfg.rundir).display());
            }
        }
        if self.follow_drain_file("SIGUSR2") {
            self.settle(Instant::now());
        }
    }

    /// Priority −10 / +10, or the -z / -x value; kept within 1–254. Returns the new priority.
    pub(super) fn change_priority(&mut self, increase: bool) -> Result<u8, String> {
        let cur = self.core.fsm.priority();
        if cur == 255 {
            let msg = "priority change refused: this router owns the addresses (priority 255)".to_string();
            warn!("{msg}");
            return Err(msg);
        }
        let new = if increase {
            self.cfg.increase_to.unwrap_or_else(|| cur.saturating_add(10).min(254))
        } else {
            self.cfg.reduce_to.unwrap_or_else(|| cur.saturating_sub(10).max(1))
        };
        if new != cur {
            info!("priority {cur} -> {new} ({})", if increase { "increase" } else { "reduce" });
            self.core.fsm.set_priority(new);
            self.save_state_logged();
        }
        Ok(new)
    }
}
