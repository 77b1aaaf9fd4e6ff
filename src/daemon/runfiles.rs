//! Our files in the run dir: the state line, the pid file and the socket, put back when removed, and
//! the drain file followed.

use super::*;

impl Daemon {
    /// Our line in the state file.
    pub(super) fn member(&self) -> Member {
        Member {
            ifname: self.cfg.ifname.clone(),
            vrid: self.cfg.vrid,
            pid: std::process::id(),
            state: self.core.fsm.state().into(),
            prio: self.core.fsm.priority(),
            cfg_prio: self.cfg.priority,
            omac: Some(self.omac),
            mac: Some(self.mac),
            vips: self.cfg.vips.clone(),
            vips6: self.cfg.vips6.clone(),
            members: self.cfg.members.unwrap_or(0),
            link_up: self.core.link_up,
            version: self.cfg.version,
            peers: self.cfg.peers.clone(),
            src: self.cfg.src,
            peers6: self.cfg.peers6.clone(),
            src6: self.cfg.src6,
            adver_int: self.cfg.adver_int,
            auth_type: self.cfg.auth.type_code(),
            since_ms: self.since_ms,
            reason: self.reason(),
            no_vmac: self.cfg.no_vmac,
        }
    }

    pub(super) fn save_state(&self) -> io::Result<()> {
        rundir::put_member(&self.cfg.rundir, &self.member())
    }

    /// Writes a deferred save now, if one is pending (before a hook, which reads the state file).
    pub(super) fn save_if_pending(&mut self) {
        if self.save_due.due_at().is_some() {
            self.save_state_logged();
        }
    }

    /// Writes our line in the state file; if the run dir vanished (removed by hand or by a cleanup
    /// job), recreates it with our control socket first.
    pub(super) fn save_state_logged(&mut self) {
        self.save_due.take(); // this write carries any deferred one
        let Err(e) = self.save_state() else { return };
        if e.kind() == io::ErrorKind::NotFound && !self.cfg.rundir.is_dir() {
            warn!("run directory {} disappeared: recreating it", self.cfg.rundir.display());
            if let Err(e) = self.repair_rundir() {
                error!("cannot recreate the run directory {}: {e}", self.cfg.rundir.display());
                return;
            }
            if let Err(e) = self.save_state() {
                error!("cannot write the state file in {}: {e}", self.cfg.rundir.display());
            }
            return;
        }
        error!("cannot write the state file in {}: {e}", self.cfg.rundir.display());
    }

    pub(super) fn repair_rundir(&mut self) -> Result<(), String> {
        rundir::prepare(&self.cfg.rundir)?;
        self.rebind_socket()?;
        self.recreate_pidfile();
        if let Some(w) = self.watch.as_mut()
            && let Err(e) = w.rewatch(&self.cfg.rundir)
        {
            warn!("cannot watch the run directory again: {e}");
        }
        Ok(())
    }

    pub(super) fn recreate_pidfile(&mut self) {
        let path = rundir::pid_path(&self.cfg.rundir, &self.id);
        match PidFile::acquire(&path) {
            Ok(mut p) => {
                if let Err(e) = p.write_pid() {
                    warn!("cannot write {}: {e}", path.display());
                }
                self.pidfile_again = Some(p);
            }
            Err(proc::PidError::Running(pid)) => {
                error!("another vrrpd ({pid:?}) took {} while it was missing", path.display())
            }
            Err(proc::PidError::Io(e)) => warn!("cannot recreate {}: {e}", path.display()),
        }
    }

    pub(super) fn rebind_socket(&mut self) -> Result<(), String> {
        let sock_path = rundir::sock_path(&self.cfg.rundir, &self.id);
        self.ctl.rebind(&sock_path, self.poll.registry()).map_err(|e| format!("{}: {e}", sock_path.display()))
    }

    /// The run dir changed under us: put back what is ours, follow the drain file.
    pub(super) fn on_rundir_changes(&mut self) {
        let Some(ch) = self.watch.as_mut().map(|w| w.drain()) else { return };
        let sock_name = format!("vrrpd_{}.sock", self.id.stem());
        let pid_name = format!("vrrpd_{}.pid", self.id.stem());
        if ch.dir_gone || !self.cfg.rundir.is_dir() {
            warn!(
                "run directory {} was removed: recreating it with our socket, pid file and state",
                self.cfg.rundir.display()
            );
            if let Err(e) = self.repair_rundir() {
                error!("cannot recreate the run directory {}: {e}", self.cfg.rundir.display());
                return;
            }
            self.save_state_logged();
            return;
        }
        if ch.removed.contains(&sock_name) && !rundir::sock_path(&self.cfg.rundir, &self.id).exists() {
            warn!("our control socket was removed: binding it again");
            if let Err(e) = self.rebind_socket() {
                error!("cannot bind the control socket again: {e}");
            }
        }
        if ch.removed.contains(&pid_name) && !rundir::pid_path(&self.cfg.rundir, &self.id).exists() {
            warn!("our pid file was removed: writing it again");
            self.recreate_pidfile();
        }
        let state = rundir::STATE_FILE.to_string();
        if ch.removed.contains(&state) || ch.written.contains(&state) {
            let ours = self.member().to_line();
            let intact = rundir::read_state(&self.cfg.rundir)
                .map(|all| all.iter().any(|m| m.to_line() == ours))
                .unwrap_or(false);
            if !intact {
                warn!("the state file was removed or edited by hand: our line written again");
                self.save_state_logged();
            }
        }
        let drain = rundir::DRAIN_FILE.to_string();
        if (ch.created.contains(&drain) || ch.removed.contains(&drain) || ch.written.contains(&drain))
            && self.follow_drain_file("the run dir")
        {
            self.settle(Instant::now());
        }
    }

    /// Takes the drain state from the drain file; true when it changed.
    pub(super) fn follow_drain_file(&mut self, seen_by: &str) -> bool {
        let now_drained = rundir::drained(&self.cfg.rundir);
        if now_drained == self.core.drained {
            return false;
        }
        info!(
            "{} {} ({seen_by})",
            rundir::drain_path(&self.cfg.rundir).display(),
            if now_drained {
                "is there: host drained, held BACKUP until atropos --resume"
            } else {
                "is gone: the election decides again"
            }
        );
        self.core.drained = now_drained;
        true
    }
}
