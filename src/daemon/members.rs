//! The control sockets: siblings of the host group (HELLO/STATUS/BYE), atropos requests, the cleanup
//! of a dead member's link.

use super::*;

impl Daemon {
    /// At start: connect to every member already running in the run dir.
    pub(super) fn connect_siblings(&mut self) {
        for (id, path) in rundir::sibling_sockets(&self.cfg.rundir, Some(&self.id)) {
            match self.ctl.connect(&path, self.poll.registry()) {
                Ok(Some(t)) => {
                    let hello = control::status_msg("HELLO", &self.status()).encode();
                    self.send_to(t, &hello);
                    debug!("connected to member {id}");
                }
                Ok(None) => {}
                Err(e) => debug!("member socket {} not answering ({e}): not running", path.display()),
            }
        }
    }

    pub(super) fn send_to(&mut self, t: usize, text: &str) {
        if !self.ctl.send(self.poll.registry(), t, text) {
            warn!("a control peer does not read its messages: disconnecting it");
            self.close_conn(t);
        }
    }

    pub(super) fn on_conn(&mut self, t: usize, readable: bool, writable: bool) {
        if writable {
            self.ctl.flush(self.poll.registry(), t);
        }
        if !readable {
            return;
        }
        let (lines, closed, more) = self.ctl.read(t);
        if more {
            self.pending_reads.insert(t);
        }
        for line in lines {
            // Stop at once when the connection was dropped or has had its answer.
            if self.ctl.is_done(t) {
                break;
            }
            self.on_line(t, &line);
        }
        if closed {
            self.close_conn(t);
        }
    }

    /// Connections whose read budget ran out at the last turn.
    pub(super) fn on_pending_reads(&mut self) {
        for t in std::mem::take(&mut self.pending_reads) {
            self.on_conn(t, true, false);
        }
    }

    pub(super) fn on_line(&mut self, t: usize, line: &str) {
        let msg = match Message::decode(line) {
            Ok(m) => m,
            Err(e) => {
                self.send_to(t, &Message::new("ERR").with("msg", &e).encode());
                if !matches!(self.ctl.role(t), Some(Role::Member { .. })) {
                    self.ctl.finish(self.poll.registry(), t);
                }
                return;
            }
        };
        let role_is_member = matches!(self.ctl.role(t), Some(Role::Member { .. }));
        match msg.verb.as_str() {
            "HELLO" | "STATUS" => {
                if !self.in_group() {
                    self.send_to(t, &Message::new("ERR").with("msg", "this vrrpd runs alone (no -M)").encode());
                    self.ctl.finish(self.poll.registry(), t);
                    return;
                }
                let status = match control::parse_status(&msg) {
                    Ok(s) => s,
                    Err(e) => {
                        warn!("malformed message from a member: {e}");
                        return;
                    }
                };
                if status.id() == self.id {
                    warn!("a second vrrpd claims {}: ignored", self.id);
                    return;
                }
                let before = self.ctl.sibling(&self.id, &status.ifname, status.vrid).map(|b| b.members);
                let new = before.is_none();
                let ours = self.cfg.members.unwrap_or(0);
                if status.members != 0 && status.members != ours && before != Some(status.members) {
                    error!(
                        "group: member {} runs with -M {}, this one with -M {ours}: the host stays BACKUP on every \
                         interface until they agree",
                        status.id(),
                        status.members
                    );
                }
                if new {
                    info!(
                        "group: member {} (vrid {}, pid {}) is present, {}",
                        status.ifname, status.vrid, status.pid, status.state
                    );
                }
                let answer_hello = msg.verb == "HELLO" && !role_is_member;
                self.ctl.set_status(t, status, &self.id);
                if answer_hello {
                    let hello = control::status_msg("HELLO", &self.status()).encode();
                    self.send_to(t, &hello);
                }
            }
            "BYE" => {
                if let Some(Role::Member { bye, .. }) = self.ctl.role_mut(t) {
                    *bye = true;
                }
            }
            verb => {
                if role_is_member {
                    warn!("unexpected {verb} from a member: ignored");
                    return;
                }
                if let Some(r) = self.ctl.role_mut(t) {
                    *r = Role::Client;
                }
                let answer = self.on_request(verb);
                self.send_to(t, &answer.encode());
                self.ctl.finish(self.poll.registry(), t);
            }
        }
    }

    pub(super) fn on_request(&mut self, verb: &str) -> Message {
        let now = Instant::now();
        match Request::from_verb(verb) {
            None => Message::new("ERR").with("msg", format!("unknown request {verb}")),
            Some(Request::Get) => self.info(),
            // The drain file is the drain: a DRAIN or RESUME request makes us read it again now, so that
            // concurrent --backup and --resume always leave the daemon agreeing with the file.
            Some(r @ (Request::Drain | Request::Resume)) => {
                self.follow_drain_file(if r == Request::Drain { "atropos --backup" } else { "atropos --resume" });
                self.settle(now);
                Message::new("OK")
                    .with("state", self.core.fsm.state().name())
                    .with("drained", u8::from(self.core.drained))
            }
            Some(r @ (Request::Reduce | Request::Increase)) => match self.change_priority(r == Request::Increase) {
                Ok(p) => Message::new("OK").with("prio", p),
                Err(e) => Message::new("ERR").with("msg", e),
            },
        }
    }

    /// Everything atropos shows about this member.
    pub(super) fn info(&self) -> Message {
        let siblings = self.siblings();
        Info {
            ifname: self.cfg.ifname.clone(),
            vrid: self.cfg.vrid,
            pid: std::process::id(),
            state: self.core.fsm.state(),
            wants: self.core.fsm.wants_master(),
            priority: self.core.fsm.priority(),
            cfg_priority: self.cfg.priority,
            preempt: self.cfg.preempt,
            version: self.cfg.version,
            interval: self.cfg.adver_int,
            mac: self.mac,
            omac: self.omac,
            vmac: !self.cfg.no_vmac,
            vips: self.cfg.vips.clone(),
            link_up: self.core.link_up,
            heard: self.heard4.map(|h| info::Heard {
                src: h.src,
                priority: h.priority,
                ago_ms: h.at.elapsed().as_millis() as u64,
            }),
            since_ms: self.since_ms,
            reason: self.reason(),
            sent: self.counters.sent,
            received: self.counters.received,
            drops: self.counters.nonzero(),
            members: self.cfg.members.unwrap_or(0),
            present: 1 + siblings.len() as u32,
            siblings: siblings.iter().map(|s| s.id()).collect(),
            drained: self.core.drained,
            held: self.core.verdict(siblings).why_not,
            strict_interval: self.cfg.strict_interval,
            fault: self.core.fault.as_ref().map(|f| f.why.clone()),
            interval_mismatches: self.counters.interval_mismatch,
            peers: self
                .cfg
                .peers
                .iter()
                .zip(&self.peer_heard)
                .map(|(a, t)| info::Peer { addr: (*a).into(), ago_ms: t.map(|t| t.elapsed().as_millis() as u64) })
                .chain(self.v6.iter().flat_map(|v| v.peer_views()))
                .collect(),
            trackers: self.tracking.trackers.list.iter().map(|t| t.view()).collect(),
            v6: self.v6.as_ref().map(|v| v.view()),
            preempt_left_ms: self.core.fsm.preempt_delay_left(Instant::now()).map(|d| d.as_millis() as u64),
            mismatch: self.live_mismatch().map(|m| info::Mismatch { peer: m.src, interval: m.int }),
            conflict: self.live_conflict().map(|c| info::Conflict {
                peer: c.src,
                priority: c.prio,
                kind: c.kind,
                ago_ms: c.at.elapsed().as_millis() as u64,
            }),
        }
        .to_message()
    }

    pub(super) fn close_conn(&mut self, t: usize) {
        let Some(role) = self.ctl.remove(self.poll.registry(), t) else { return };
        if let Role::Member { status: Some(s), bye } = role {
            // Still present through another connection?
            if self.siblings().iter().any(|x| x.id() == s.id()) {
                return;
            }
            if bye {
                info!("group: member {} (pid {}) stopped", s.id(), s.pid);
            } else {
                warn!("group: member {} (pid {}) died", s.id(), s.pid);
                // The survivor with the smallest (interface, vrid) cleans the dead member's link.
                let me_first = self.siblings().iter().all(|x| x.id() > self.id);
                if me_first {
                    self.clean_dead_member(&s.id());
                }
            }
            let now = Instant::now();
            self.settle(now);
        }
    }

    /// Gives a dead member's interface back: original MAC, no virtual address, priority 0 for its vrid.
    pub(super) fn clean_dead_member(&mut self, id: &MemberId) {
        let ifname = id.ifname.as_str();
        let record = match rundir::read_state(&self.cfg.rundir) {
            Ok(all) => all.into_iter().find(|m| &m.id() == id),
            Err(e) => {
                error!("cannot read the state file to clean {id}: {e}");
                return;
            }
        };
        let Some(rec) = record else {
            warn!("no record of {id} in the state file: nothing to clean");
            return;
        };
        let Some(idx) = raw::ifindex(ifname) else {
            warn!("{ifname} no longer exists: nothing to clean");
            return;
        };
        let was_master = rec.state == RecordState::Master;
        // Priority 0 first, so that the peer takes that LAN over in Skew_Time (over IPv6 too: a peer may
        // run separate IPv4 and IPv6 routers, as keepalived does).
        if was_master {
            self.dead_priority0_v6(idx, ifname, &rec);
        }
        if was_master && !rec.vips.is_empty() {
            let auth = if rec.auth_type == 0 || rec.version == Version::V3 {
                Some(Auth::None)
            } else if self.cfg.auth.type_code() == rec.auth_type {
                Some(self.cfg.auth.clone())
            } else {
                None
            };
            let src = rec.src.or_else(|| {
                self.rtnl
                    .addrs(idx)
                    .ok()
                    .and_then(|a| primary_of(&a, &rec.vips.iter().map(|v| v.addr).collect::<Vec<_>>()))
            });
            match (auth, src) {
                (Some(auth), Some(src)) => {
                    let vips: Vec<Ipv4Addr> = rec.vips.iter().map(|v| v.addr).collect();
                    let out = Outgoing {
                        version: rec.version,
                        vrid: rec.vrid,
                        int: rec.adver_int,
                        auth: &auth,
                        vips: &vips,
                        src,
                        peers: &rec.peers,
                    };
                    let sent =
                        VrrpSocket::open(ifname, idx, src, rec.peers.is_empty()).and_then(|s| out.send(&s, idx, 0));
                    match sent {
                        Ok(()) => info!("sent priority 0 for vrid {} on {ifname} for the dead member", rec.vrid),
                        Err(e) => warn!("cannot send priority 0 on {ifname}: {e}"),
                    }
                }
                _ => warn!("cannot send priority 0 on {ifname} (unknown password or no address)"),
            }
        }
        if let Ok(addrs) = self.rtnl.addrs(idx) {
            let label = vip_label(ifname, rec.vrid);
            for a in addrs {
                if (label.is_some() && a.label == label)
                    || rec.vips.iter().any(|v| v.addr == a.addr && a.label.as_deref() != Some(ifname))
                {
                    match self.rtnl.del_addr(idx, a.addr, a.prefix) {
                        Ok(()) => info!("removed virtual address {}/{} from {ifname} (dead member)", a.addr, a.prefix),
                        Err(e) => warn!("cannot remove {} from {ifname}: {e}", a.addr),
                    }
                }
            }
        }
        self.clean_dead_vips6(idx, ifname, &rec.vips6);
        // Only a member that set the MAC gives one back (with -n it never changed it).
        if let (Some(omac), Ok(link), false) = (rec.omac, self.rtnl.link(idx), rec.no_vmac)
            && link.mac != Some(omac)
        {
            match set_mac_any(&mut self.rtnl, idx, omac, false) {
                Ok(how) => info!("restored {ifname}'s original MAC {} {how} (dead member)", fmt_mac(&omac)),
                Err(e) => error!("cannot restore {ifname}'s original MAC: {e}"),
            }
        }
        let mut dead = rec;
        dead.state = RecordState::Dead;
        dead.mac = dead.omac;
        dead.since_ms = unix_ms();
        dead.reason = format!("process died; link cleaned by {}", self.id);
        if let Err(e) = rundir::put_member(&self.cfg.rundir, &dead) {
            warn!("cannot update the state file: {e}");
        }
    }

    /// Sends our STATUS to every sibling.
    pub(super) fn send_status(&mut self, st: &Status) {
        let line = control::status_msg("STATUS", st).encode();
        for t in self.ctl.member_tokens() {
            self.send_to(t, &line);
        }
    }

    pub(super) fn say_bye(&mut self, why: &str) {
        let line = Message::new("BYE").with("if", &self.cfg.ifname).with("reason", why).encode();
        for t in self.ctl.member_tokens() {
            self.send_to(t, &line);
        }
    }
}
