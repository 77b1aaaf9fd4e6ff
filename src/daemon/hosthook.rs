//! --host-up / --host-down: the hook of the whole host, run by the one member the core chose (see
//! `hostwide`), through its own runner (the -U/-D rules: no shell, one at a time, timeout, output
//! to the log), so that a host hook and this member's own -U/-D hook never replace each other.

use super::*;
use crate::hostwide::HostTransition;

impl Daemon {
    /// Asks the core whether the whole host has just changed state and this member runs its hook.
    pub(super) fn settle_host(&mut self, now: Instant) {
        let siblings = if self.core.in_group() { self.ctl.siblings(&self.id) } else { &[] };
        if let Some(e) = self.core.host_transition(siblings) {
            self.apply(now, vec![e]);
        }
    }

    pub(super) fn queue_host_hook(&mut self, now: Instant, t: &HostTransition) {
        let script = match t.to {
            State::Master => self.cfg.host_up_script.clone(),
            _ => self.cfg.host_down_script.clone(),
        };
        let Some(script) = script else { return };
        let env = vec![
            ("VRRP_STATE".to_string(), t.to.name().to_string()),
            ("VRRP_PREV_STATE".into(), t.from.name().to_string()),
            ("VRRP_IFACE".into(), self.cfg.ifname.clone()),
            ("VRRP_VRID".into(), self.cfg.vrid.to_string()),
            ("VRRP_REASON".into(), self.core.fsm.reason().to_string()),
            ("VRRPD_HOOK".into(), "host".into()),
            ("VRRPD_MEMBERS".into(), t.members_text()),
            ("VRRPD_GROUP_SIZE".into(), self.cfg.members.unwrap_or(1).to_string()),
        ];
        info!("host {} -> {} (members {}): running {}", t.from.name(), t.to.name(), t.members_text(), script.display());
        let job =
            Job { script, state: t.to.name().to_string(), ifname: self.cfg.ifname.clone(), vrid: self.cfg.vrid, env };
        if self.host_hooks.request(job, now) {
            self.register_host_hook_fd();
        }
    }

    /// At exit (stopped, interface gone): the last member to leave MASTER runs the host's hook itself.
    pub(super) fn host_hook_at_exit(&mut self, now: Instant) {
        self.settle_host(now);
        if self.host_hooks.busy() {
            self.deregister_host_hook_fd();
            self.host_hooks.finish_blocking();
        }
    }

    pub(super) fn on_host_hook_output(&mut self) {
        if !self.host_hooks.on_output() {
            self.deregister_host_hook_fd();
            self.host_hooks.close_output();
        }
    }

    fn register_host_hook_fd(&mut self) {
        if let Some(fd) = self.host_hooks.output_fd() {
            match self.poll.registry().register(&mut SourceFd(&fd), T_HOST_HOOK, Interest::READABLE) {
                Ok(()) => self.host_hook_fd_registered = Some(fd),
                Err(e) => warn!("cannot watch the host hook's output: {e}"),
            }
        }
    }

    fn deregister_host_hook_fd(&mut self) {
        if let Some(fd) = self.host_hook_fd_registered.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }

    /// After SIGCHLD: reaping closes the output descriptor, so stop watching it first.
    pub(super) fn reap_host_hook(&mut self) {
        self.deregister_host_hook_fd();
        let (finished, new) = self.host_hooks.reap(Instant::now());
        if new || !finished {
            self.register_host_hook_fd();
        }
    }
}
