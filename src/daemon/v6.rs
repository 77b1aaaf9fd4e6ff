//! The IPv6 side of a VRRPv3 router (RFC 5798): the same election and schedule as the IPv4 side, one
//! more advert stream (ff02::12 from our link-local address, or unicast to the IPv6 `--peer`s), the IPv6
//! VIPs (no DAD, never preferred) and their unsolicited Neighbor Advertisements; adverts heard here feed
//! the same state machine.

use super::*;
use crate::accept::Transport;
use crate::cli::Vip6;
use crate::cli::v6::is_link_local;
use crate::nd;
use crate::nlparse::{Addr6, IFA_F_DEPRECATED, IFA_F_NODAD};
use crate::sys::netlink6::Events6;
use crate::sys::raw6::{VRRP_GROUP6, Vrrp6Socket};
use std::net::Ipv6Addr;

pub(super) const T_VRRP6: Token = Token(13);
pub(super) const T_NETLINK6: Token = Token(14);

/// The IPv6 router of this member.
pub(crate) struct V6 {
    sock: Vrrp6Socket,
    events: Events6,
    /// The configured IPv6 VIPs, link-local first (the advert's order).
    pub vips: Vec<Vip6>,
    /// The same, sorted (the receive check's set).
    sorted: Vec<IpAddr>,
    /// VIPs the administrator configured himself: never added or removed.
    pub foreign: Vec<Ipv6Addr>,
    /// Our own usable link-local address: the source of our NAs, and of our adverts without `--src`.
    pub lladdr: Option<Ipv6Addr>,
    /// `--src` of the IPv6 router (checked to be ours at start).
    src: Option<Ipv6Addr>,
    /// The IPv6 `--peer`s (empty: multicast) and when each was last heard, and the same as the
    /// receive check takes them.
    pub peers: Vec<Ipv6Addr>,
    pub peer_heard: Vec<Option<Instant>>,
    peer_ips: Vec<IpAddr>,
    /// The interface's own IPv6 addresses (not VIPs; our link-local among them), and the same for the
    /// receive check (kept beside, not rebuilt for every advert).
    pub own: Vec<Ipv6Addr>,
    own_ips: Vec<IpAddr>,
    pub counters: Counters,
    /// The last advert accepted over IPv6 (for atropos).
    pub heard: Option<fsm::Heard>,
    drop_log: Vec<DropLog>,
    /// A send without a source address was already reported (until one is back).
    no_source_said: bool,
    buf: Vec<u8>,
}

/// Ours, left by a vrrpd that died: added without DAD and with preferred lifetime 0, as only we add them.
fn looks_ours(a: &Addr6) -> bool {
    a.flags & IFA_F_NODAD != 0 && (a.preferred == Some(0) || a.flags & IFA_F_DEPRECATED != 0)
}

/// The source of our adverts: the first usable link-local address that is not a VIP.
fn lladdr_of(addrs: &[Addr6], vips: &[Vip6]) -> Option<Ipv6Addr> {
    addrs
        .iter()
        .filter(|a| a.usable() && is_link_local(&a.addr))
        .map(|a| a.addr)
        .find(|a| !vips.iter().any(|v| v.addr == *a))
}

impl V6 {
    /// Opens the IPv6 side when the address list has IPv6 addresses: removes the VIPs a crashed
    /// predecessor left (recognised by our flags), opens the socket, registers both fds.
    pub(super) fn open(cfg: &Config, ifindex: u32, rtnl: &mut Rtnl, reg: &mio::Registry) -> Result<Option<V6>, String> {
        if cfg.vips6.is_empty() {
            return Ok(None);
        }
        let read =
            |rtnl: &mut Rtnl| rtnl.addrs6(ifindex).map_err(io_ctx(format!("{}: reading IPv6 addresses", cfg.ifname)));
        let mut addrs = read(rtnl)?;
        let mut foreign = Vec::new();
        let mut removed = false;
        for v in &cfg.vips6 {
            match addrs.iter().find(|a| a.addr == v.addr) {
                Some(a) if looks_ours(a) => {
                    rtnl.del_addr6(ifindex, a.addr, a.prefix).map_err(io_ctx(format!("removing stale address {v}")))?;
                    warn!("removed stale virtual address {v} left by a previous vrrpd");
                    removed = true;
                }
                Some(_) => {
                    warn!(
                        "virtual address {v} is configured on the interface by someone else: vrrpd will neither add nor remove it"
                    );
                    foreign.push(v.addr);
                }
                None => {}
            }
        }
        if removed {
            addrs = read(rtnl)?;
        }
        if let Some(src) = cfg.src6
            && !addrs.iter().any(|a| a.addr == src)
        {
            return Err(format!("--src {src}: not an address of {} (give one of its own addresses)", cfg.ifname));
        }
        let events = Events6::open(ifindex).map_err(io_ctx("rtnetlink IPv6 events"))?;
        let sock = Vrrp6Socket::open(&cfg.ifname, ifindex, cfg.peers6.is_empty())
            .map_err(io_ctx(format!("{}: opening the IPv6 VRRP socket", cfg.ifname)))?;
        reg.register(&mut SourceFd(&sock.fd()), T_VRRP6, Interest::READABLE).map_err(io_ctx("epoll"))?;
        reg.register(&mut SourceFd(&events.fd()), T_NETLINK6, Interest::READABLE).map_err(io_ctx("epoll"))?;
        let mut sorted: Vec<IpAddr> = cfg.vips6.iter().map(|v| IpAddr::V6(v.addr)).collect();
        sorted.sort_unstable();
        let vips = cfg.vips6.clone();
        let lladdr = lladdr_of(&addrs, &vips);
        if lladdr.is_none() {
            warn!(
                "{} has no usable IPv6 link-local address yet: no IPv6 advert can leave until it has one",
                cfg.ifname
            );
        }
        let own: Vec<Ipv6Addr> = addrs.iter().map(|a| a.addr).filter(|a| !vips.iter().any(|v| v.addr == *a)).collect();
        Ok(Some(V6 {
            sock,
            events,
            vips,
            sorted,
            foreign,
            lladdr,
            src: cfg.src6,
            peers: cfg.peers6.clone(),
            peer_heard: vec![None; cfg.peers6.len()],
            peer_ips: cfg.peers6.iter().map(|&a| a.into()).collect(),
            own_ips: own.iter().map(|&a| a.into()).collect(),
            own,
            counters: Counters::default(),
            heard: None,
            drop_log: DropKind::ALL.iter().map(|_| DropLog { last: None, suppressed: 0 }).collect(),
            no_source_said: false,
            buf: vec![0; 4096],
        }))
    }

    /// The source of our IPv6 adverts: `--src`, or our link-local address.
    pub(super) fn source(&self) -> Option<Ipv6Addr> {
        self.src.or(self.lladdr)
    }

    /// For the startup line: ", IPv6 fe80::51/128 2001:db8::1/64 from fe80::1[, unicast to fe80::2]".
    pub(super) fn summary(&self) -> String {
        let vips: Vec<String> = self.vips.iter().map(|v| v.to_string()).collect();
        let from = self.source().map_or_else(|| "no link-local source yet".to_string(), |a| format!("from {a}"));
        let peers: Vec<String> = self.peers.iter().map(|p| p.to_string()).collect();
        let to = if peers.is_empty() { String::new() } else { format!(", unicast to {}", peers.join(" ")) };
        format!(", IPv6 {} {from}{to}", vips.join(" "))
    }

    /// The IPv6 peers for atropos.
    pub(super) fn peer_views(&self) -> impl Iterator<Item = info::Peer> + '_ {
        self.peers
            .iter()
            .zip(&self.peer_heard)
            .map(|(a, t)| info::Peer { addr: IpAddr::V6(*a), ago_ms: t.map(|t| t.elapsed().as_millis() as u64) })
    }

    /// What atropos shows of the IPv6 router.
    pub(super) fn view(&self) -> crate::info6::Router6 {
        crate::info6::Router6 {
            vips: self.vips.clone(),
            source: self.source(),
            heard: self.heard.map(|h| info::Heard {
                src: h.src,
                priority: h.priority,
                ago_ms: h.at.elapsed().as_millis() as u64,
            }),
            sent: self.counters.sent,
            received: self.counters.received,
            drops: self.counters.nonzero(),
        }
    }

    /// The IPv6 VIPs we manage (not the administrator's).
    fn managed(&self) -> Vec<Vip6> {
        self.vips.iter().filter(|v| !self.foreign.contains(&v.addr)).copied().collect()
    }
}

impl Daemon {
    /// Our IPv6 advert with `priority`, when the router has IPv6 addresses; the reason of a failed send
    /// (no link-local source yet is not one: it is said once, and the IPv4 adverts go on).
    pub(super) fn send_advert6(&mut self, priority: u8) -> Result<(), String> {
        let Some(v6) = self.v6.as_mut() else { return Ok(()) };
        let Some(src) = v6.source() else {
            if !v6.no_source_said {
                warn!("cannot send an IPv6 advert: {} has no usable link-local address", self.cfg.ifname);
                v6.no_source_said = true;
            }
            // IPv6 only, no advert at all can leave: a send failure.
            if self.cfg.vips.is_empty() {
                return Err(format!("{} has no usable IPv6 link-local address", self.cfg.ifname));
            }
            return Ok(());
        };
        let addrs = v6.vips.iter().map(|v| IpAddr::V6(v.addr)).collect();
        let adv = Advert::v3(self.cfg.vrid, priority, self.cfg.adver_int, Family::V6, addrs);
        // Multicast, or one copy per peer (the checksum covers the destination).
        let group = [VRRP_GROUP6];
        let dsts = if v6.peers.is_empty() { &group[..] } else { &v6.peers[..] };
        let mut failed = None;
        for &dst in dsts {
            match v6.sock.send(src, dst, &adv.encode_with(Pseudo::V6 { src, dst })) {
                Ok(()) => v6.counters.sent += 1,
                Err(e) => {
                    warn!("cannot send an IPv6 advert to {dst} (priority {priority}): {e}");
                    failed = Some(format!("cannot send IPv6 adverts: {e}"));
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// BACKUP → MASTER: the IPv6 VIPs, without DAD and never preferred as a source.
    pub(super) fn add_vips6(&mut self) {
        let Some(v6) = self.v6.as_ref() else { return };
        for v in v6.managed() {
            if let Err(e) = self.rtnl.add_addr6(self.ifindex, v.addr, v.prefix) {
                error!("cannot add virtual address {v}: {e}");
            }
        }
    }

    /// MASTER → BACKUP: the IPv6 VIPs removed.
    pub(super) fn del_vips6(&mut self) {
        let Some(v6) = self.v6.as_ref() else { return };
        for v in v6.managed() {
            if let Err(e) = self.rtnl.del_addr6(self.ifindex, v.addr, v.prefix) {
                error!("cannot remove virtual address {v}: {e}");
            }
        }
    }

    /// Priority 0 over IPv6 for a dead member that was MASTER of an IPv6 router, from its `--src` or
    /// the interface's link-local address (where its peers expect its adverts from), to ff02::12 or
    /// its peers.
    pub(super) fn dead_priority0_v6(&mut self, idx: u32, ifname: &str, rec: &Member) {
        if rec.vips6.is_empty() {
            return;
        }
        let Some(src) = rec.src6.or_else(|| self.rtnl.addrs6(idx).ok().and_then(|a| lladdr_of(&a, &rec.vips6))) else {
            warn!("cannot send IPv6 priority 0 on {ifname}: no usable link-local address");
            return;
        };
        let sock = match Vrrp6Socket::open(ifname, idx, rec.peers6.is_empty()) {
            Ok(s) => s,
            Err(e) => {
                warn!("cannot send IPv6 priority 0 on {ifname}: {e}");
                return;
            }
        };
        let addrs = rec.vips6.iter().map(|v| IpAddr::V6(v.addr)).collect();
        let adv = Advert::v3(rec.vrid, 0, rec.adver_int, Family::V6, addrs);
        let group = [VRRP_GROUP6];
        let dsts = if rec.peers6.is_empty() { &group[..] } else { &rec.peers6[..] };
        for &dst in dsts {
            match sock.send(src, dst, &adv.encode_with(Pseudo::V6 { src, dst })) {
                Ok(()) => info!("sent IPv6 priority 0 for vrid {} on {ifname} to {dst} for the dead member", rec.vrid),
                Err(e) => warn!("cannot send IPv6 priority 0 on {ifname} to {dst}: {e}"),
            }
        }
    }

    /// A dead member's IPv6 VIPs on `ifname` (those with our marks: the administrator's stay).
    pub(super) fn clean_dead_vips6(&mut self, idx: u32, ifname: &str, vips6: &[Vip6]) {
        if vips6.is_empty() {
            return;
        }
        let addrs = match self.rtnl.addrs6(idx) {
            Ok(a) => a,
            Err(e) => {
                warn!("cannot read {ifname}'s IPv6 addresses to clean the dead member's: {e}");
                return;
            }
        };
        for a in addrs.iter().filter(|a| looks_ours(a) && vips6.iter().any(|v| v.addr == a.addr)) {
            match self.rtnl.del_addr6(idx, a.addr, a.prefix) {
                Ok(()) => info!("removed virtual address {}/{} from {ifname} (dead member)", a.addr, a.prefix),
                Err(e) => warn!("cannot remove {} from {ifname}: {e}", a.addr),
            }
        }
    }

    /// Unsolicited NAs from `mac`: for the IPv6 VIPs when `vips`, and for our own IPv6 addresses when
    /// the interface's MAC is not its own (neighbours would keep the old MAC for them).
    pub(super) fn send_nas(&mut self, mac: [u8; 6], vips: bool) {
        let Some(v6) = self.v6.as_ref() else { return };
        let Some(src) = v6.lladdr else { return };
        let mut targets: Vec<Ipv6Addr> = if vips { v6.vips.iter().map(|v| v.addr).collect() } else { Vec::new() };
        if mac != self.omac || !vips {
            targets.extend(v6.own.iter().copied());
        }
        for t in targets {
            if let Err(e) = self.frames.send(self.ifindex, &nd::unsolicited_na(mac, src, t)) {
                debug!("neighbor advertisement for {t} not sent: {e}");
            }
        }
    }

    /// IPv6 addresses changed: our link-local source, our own addresses, a VIP removed by someone else.
    pub(super) fn on_netlink6(&mut self) {
        let Some(v6) = self.v6.as_mut() else { return };
        match v6.events.drain(self.ifindex) {
            Ok(false) => return,
            Ok(true) => {}
            Err(e) => {
                warn!("rtnetlink IPv6 events: {e}");
                return;
            }
        }
        let addrs = match self.rtnl.addrs6(self.ifindex) {
            Ok(a) => a,
            Err(e) => {
                warn!("cannot read the IPv6 addresses: {e}");
                return;
            }
        };
        let ll = lladdr_of(&addrs, &v6.vips);
        if ll != v6.lladdr {
            match ll {
                Some(a) => info!("IPv6 advert source is now {a}"),
                None => {
                    warn!("{} has no usable IPv6 link-local address left: no IPv6 advert can leave", self.cfg.ifname)
                }
            }
            v6.lladdr = ll;
            v6.no_source_said = false;
            self.core.fsm.set_primary6(v6.source().map(IpAddr::V6));
        }
        v6.own = addrs.iter().map(|a| a.addr).filter(|a| !v6.vips.iter().any(|v| v.addr == *a)).collect();
        v6.own_ips = v6.own.iter().map(|&a| a.into()).collect();
        if self.core.fsm.state() == State::Master && self.core.fault.is_none() {
            for v in v6.managed() {
                if !addrs.iter().any(|a| a.addr == v.addr) {
                    warn!("virtual address {v} was removed by someone else while MASTER: adding it back");
                    if let Err(e) = self.rtnl.add_addr6(self.ifindex, v.addr, v.prefix) {
                        error!("cannot add virtual address {v}: {e}");
                    }
                }
            }
        }
    }

    /// Adverts received over IPv6: the §7.1 checks (hop limit 255, checksum over the IPv6
    /// pseudo-header, the IPv6 address list), then the one state machine.
    pub(super) fn on_vrrp6_readable(&mut self) {
        loop {
            let Some(v6) = self.v6.as_mut() else { return };
            let env = match v6.sock.recv(&mut v6.buf) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("IPv6 VRRP socket read failed: {e}");
                    return;
                }
            };
            let now = Instant::now();
            let len = env.len.min(v6.buf.len());
            let meta =
                accept::Meta { src: IpAddr::V6(env.src), dst: IpAddr::V6(env.dst), ttl: env.hop_limit.unwrap_or(0) };
            let transport = if v6.peers.is_empty() { Transport::Multicast } else { Transport::Unicast };
            let parsed = if env.len > v6.buf.len() {
                Err(DropKind::TrailingBytes)
            } else {
                accept::receive(meta, &v6.buf[..len], Version::V3, Family::V6, transport)
            };
            let expect = Expect {
                vrid: self.cfg.vrid,
                version: Version::V3,
                auth: &self.cfg.auth,
                adver_int: self.cfg.adver_int,
                vips: &v6.sorted,
                own: &v6.own_ips,
                owner: self.cfg.priority == 255,
                peers: &v6.peer_ips,
                strict_interval: self.cfg.strict_interval,
            };
            let verdict = match parsed {
                Err(k) => Err((k, None)),
                Ok(r) => match expect.check(&r) {
                    Ok(()) => Ok(r),
                    Err(k) => Err((k, Some(r))),
                },
            };
            match verdict {
                Ok(r) => self.accept6(now, r),
                Err((kind, r)) => {
                    if let Some(r) = r {
                        self.note_conflict(now, kind, &r);
                    }
                    self.count_drop6(now, kind, env.src);
                }
            }
        }
    }

    fn accept6(&mut self, now: Instant, r: accept::Received) {
        let IpAddr::V6(src) = r.src else { return };
        if let Some(v6) = self.v6.as_mut() {
            v6.counters.received += 1;
            if let Some(i) = v6.peers.iter().position(|p| *p == src) {
                v6.peer_heard[i] = Some(now);
            }
            v6.heard = Some(fsm::Heard { src: IpAddr::V6(src), priority: r.advert.priority, at: now });
        }
        let int = r.advert.interval;
        if int != self.cfg.adver_int {
            self.note_mismatch(now, r.src, int);
        }
        let siblings = if self.core.in_group() { self.ctl.siblings(&self.id) } else { &[] };
        let effects = self.core.advert(now, r.src, r.advert.priority, int, siblings);
        self.apply(now, effects);
    }

    /// A dropped IPv6 packet: counted by kind on the IPv6 side, logged at most once a second per kind.
    fn count_drop6(&mut self, now: Instant, kind: DropKind, src: Ipv6Addr) {
        let Some(v6) = self.v6.as_mut() else { return };
        receive::note_drop(&mut v6.counters, &mut v6.drop_log, now, kind, &format!("an IPv6 packet from {src}"));
    }
}
