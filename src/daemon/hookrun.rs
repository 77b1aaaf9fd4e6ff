//! The -U/-D hooks of a transition: queued, their output watched, their exit reaped.

use super::*;

impl Daemon {
    pub(super) fn queue_hook(&mut self, now: Instant, from: State, to: State) {
        let script = match to {
            State::Master => self.cfg.up_script.clone(),
            _ => self.cfg.down_script.clone(),
        };
        let Some(script) = script else { return };
        let vips: Vec<String> = self.cfg.vips.iter().map(|v| v.to_string()).collect();
        let env = vec![
            ("VRRP_STATE".to_string(), to.name().to_string()),
            ("VRRP_PREV_STATE".into(), from.name().to_string()),
            ("VRRP_IFACE".into(), self.cfg.ifname.clone()),
            ("VRRP_VRID".into(), self.cfg.vrid.to_string()),
            ("VRRP_PRIORITY".into(), self.core.fsm.priority().to_string()),
            ("VRRP_VIPS".into(), vips.join(" ")),
            // Apart, so that scripts reading a.b.c.d/len keep working.
            ("VRRP_VIPS6".into(), self.cfg.vips6.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")),
            ("VRRP_VMAC".into(), fmt_mac(&self.cfg.vmac())),
            ("VRRP_REASON".into(), self.core.fsm.reason().to_string()),
        ];
        let job =
            Job { script, state: to.name().to_string(), ifname: self.cfg.ifname.clone(), vrid: self.cfg.vrid, env };
        if self.hooks.request(job, now) {
            self.register_hook_fd();
        }
    }

    pub(super) fn register_hook_fd(&mut self) {
        if let Some(fd) = self.hooks.output_fd() {
            match self.poll.registry().register(&mut SourceFd(&fd), T_HOOK, Interest::READABLE) {
                Ok(()) => self.hook_fd_registered = Some(fd),
                Err(e) => warn!("cannot watch the hook's output: {e}"),
            }
        }
    }

    pub(super) fn deregister_hook_fd(&mut self) {
        if let Some(fd) = self.hook_fd_registered.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }

    pub(super) fn on_sigchld(&mut self) {
        // Reaping closes the output descriptor: stop watching it first, watch again if still running.
        self.deregister_hook_fd();
        let (finished, new) = self.hooks.reap(Instant::now());
        if new || !finished {
            self.register_hook_fd();
        }
        self.reap_host_hook();
        self.reap_checks(Instant::now());
    }
}
