//! Received adverts: the receive checks, the interval-mismatch and split-brain signals, counted drops.

use super::*;
use crate::accept::Transport;

/// The last advert accepted with another interval than ours (a WARNING for atropos while it lasts).
pub(super) struct Mismatch {
    pub(super) src: IpAddr,
    pub(super) int: Interval,
    pub(super) at: Instant,
    pub(super) logged_at: Instant,
    pub(super) suppressed: u64,
}

/// While MASTER: the last advert for our vrid that we dropped from another router (auth, interval,
/// address list). That router may be MASTER too: a possible split brain, shown by atropos.
#[derive(Clone, Copy)]
pub(super) struct Conflict {
    pub(super) src: IpAddr,
    pub(super) prio: u8,
    pub(super) kind: DropKind,
    pub(super) at: Instant,
}

/// Drops that mean another router advertises our vrid with a configuration we cannot accept (or, with
/// `--peer`, a router that is not one of our peers).
pub(super) fn is_conflict(kind: DropKind) -> bool {
    matches!(
        kind,
        DropKind::AuthType | DropKind::AuthData | DropKind::Interval | DropKind::AddrList | DropKind::UnknownPeer
    )
}

/// How long a mismatch or a conflict is shown after its last advert: three of that router's intervals
/// and a second.
pub(super) fn lasts(int: Interval) -> Duration {
    3 * int.as_duration() + Duration::from_secs(1)
}

pub(super) struct DropLog {
    pub(super) last: Option<Instant>,
    pub(super) suppressed: u64,
}

impl Daemon {
    pub(super) fn on_vrrp_readable(&mut self) {
        loop {
            let n = match self.vsock.recv(&mut self.recv_buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("VRRP socket read failed: {e}");
                    return;
                }
            };
            let now = Instant::now();
            let len = n.min(self.recv_buf.len());
            let version = self.core.fsm.params().version;
            let transport = if self.cfg.peers.is_empty() { Transport::Multicast } else { Transport::Unicast };
            let parsed = accept::parse_ipv4_from(&self.recv_buf[..len], version, transport).and_then(|r| {
                if n > self.recv_buf.len() {
                    return Err(DropKind::TrailingBytes);
                }
                Ok(r)
            });
            let vips: Vec<IpAddr> = self.vip_addrs.iter().map(|&a| a.into()).collect();
            let own: Vec<IpAddr> = self.own.iter().map(|&a| a.into()).collect();
            let peers: Vec<IpAddr> = self.cfg.peers.iter().map(|&a| a.into()).collect();
            let result = parsed.and_then(|r| {
                let expect = Expect {
                    vrid: self.cfg.vrid,
                    version,
                    auth: &self.cfg.auth,
                    adver_int: self.cfg.adver_int,
                    vips: &vips,
                    own: &own,
                    owner: self.cfg.priority == 255,
                    peers: &peers,
                    strict_interval: self.cfg.strict_interval,
                };
                match expect.check(&r) {
                    Ok(()) => Ok(r),
                    Err(kind) => {
                        self.note_conflict(now, kind, &r);
                        Err(kind)
                    }
                }
            });
            match result {
                Ok(r) => {
                    self.counters.received += 1;
                    self.heard4 = Some(fsm::Heard { src: r.src, priority: r.advert.priority, at: now });
                    if let Some(i) = peers.iter().position(|p| *p == r.src) {
                        self.peer_heard[i] = Some(now);
                    }
                    let int = r.advert.interval;
                    if int != self.cfg.adver_int {
                        self.note_mismatch(now, r.src, int);
                    }
                    // A better master here releases every member at once (siblings told first).
                    let siblings = if self.core.in_group() { self.ctl.siblings(&self.id) } else { &[] };
                    let effects = self.core.advert(now, r.src, r.advert.priority, int, siblings);
                    self.apply(now, effects);
                }
                Err(kind) => {
                    let src = accept::split_ipv4(&self.recv_buf[..len]).ok().map(|(m, _)| m.src);
                    self.count_drop(now, kind, src);
                }
            }
        }
    }

    /// An advert accepted with another interval than ours: counted, logged at most once a second.
    pub(super) fn note_mismatch(&mut self, now: Instant, src: IpAddr, int: Interval) {
        self.counters.interval_mismatch += 1;
        let ours = self.cfg.adver_int;
        let say = |more: u64| {
            let more = if more > 0 { format!(" ({more} more since the last report)") } else { String::new() };
            warn!("advert from {src} every {int}, ours every {ours}: accepted (interval_mismatch){more}");
        };
        match self.mismatch.as_mut() {
            Some(m) if m.src == src && m.int == int && now.duration_since(m.logged_at) < DROP_LOG_EVERY => {
                m.at = now;
                m.suppressed += 1;
            }
            Some(m) => {
                say(m.suppressed);
                *m = Mismatch { src, int, at: now, logged_at: now, suppressed: 0 };
            }
            None => {
                say(0);
                self.mismatch = Some(Mismatch { src, int, at: now, logged_at: now, suppressed: 0 });
            }
        }
    }

    /// While MASTER, another router advertising our vrid with a configuration we drop may be MASTER too.
    pub(super) fn note_conflict(&mut self, now: Instant, kind: DropKind, r: &accept::Received) {
        if !is_conflict(kind) || r.advert.vrid != self.cfg.vrid || self.core.fsm.state() != State::Master {
            return;
        }
        let fresh =
            self.conflict.is_none_or(|c| c.src != r.src || now.duration_since(c.at) > lasts(self.cfg.adver_int));
        if fresh {
            warn!(
                "possible split brain: {} (priority {}) also advertises vrid {} while we are MASTER, and we drop \
                 its adverts: {}",
                r.src,
                r.advert.priority,
                self.cfg.vrid,
                kind.describe()
            );
        }
        self.conflict = Some(Conflict { src: r.src, prio: r.advert.priority, kind, at: now });
    }

    /// The interval mismatch heard lately, if any.
    pub(super) fn live_mismatch(&self) -> Option<&Mismatch> {
        self.mismatch.as_ref().filter(|m| m.at.elapsed() < lasts(m.int))
    }

    /// The split-brain signal in force, if any (only while MASTER).
    pub(super) fn live_conflict(&self) -> Option<Conflict> {
        self.conflict.filter(|c| self.core.fsm.state() == State::Master && c.at.elapsed() < lasts(self.cfg.adver_int))
    }

    /// A dropped packet: counted by kind, logged at most once a second per kind (`src` when its
    /// header could be read).
    pub(super) fn count_drop(&mut self, now: Instant, kind: DropKind, src: Option<IpAddr>) {
        let src = src.map_or_else(|| "?".to_string(), |a| a.to_string());
        note_drop(&mut self.counters, &mut self.drop_log, now, kind, &format!("a packet from {src}"));
    }
}

/// Counts a drop of `kind` and logs it (`what`: "a packet from 192.0.2.9") at most once a second
/// per kind, with the number left unsaid since; the IPv4 and IPv6 sides each have their own counts.
pub(super) fn note_drop(counters: &mut Counters, logs: &mut [DropLog], now: Instant, kind: DropKind, what: &str) {
    counters.drops[kind.index()] += 1;
    let Some(log) = logs.get_mut(kind.index()) else { return };
    if log.last.is_some_and(|t| now.duration_since(t) < DROP_LOG_EVERY) {
        log.suppressed += 1;
        return;
    }
    let more = if log.suppressed > 0 {
        format!(" ({} more of this kind since the last report)", log.suppressed)
    } else {
        String::new()
    };
    log.last = Some(now);
    log.suppressed = 0;
    if kind == DropKind::OtherVrid {
        debug!("dropped {what}: {}{more}", kind.describe());
    } else {
        warn!("dropped {what}: {}{more}", kind.describe());
    }
}
