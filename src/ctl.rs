//! A member's control sockets: the listener in the run dir and the connections to siblings and
//! atropos. Plumbing only (accept with a peer-credential check, buffered non-blocking lines); what the
//! messages mean is the daemon's business.

use crate::control;
use crate::group::Status;
use crate::rundir::MemberId;
use crate::sys::proc;
use log::warn;
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Tokens from here on are connections (below: the daemon's own sockets, hooks and tracked processes).
pub const FIRST_CONN: usize = 64;
/// A peer that does not read its messages is cut off past this much unsent data.
const MAX_PENDING_OUT: usize = 64 * 1024;
/// Most connections at once (siblings + atropos); more are refused.
const MAX_CONNS: usize = 2048;
/// Most bytes read from one connection per turn of the event loop: a peer that writes without end
/// cannot keep the loop (and the adverts) waiting; the rest is read at the next turn.
const READ_BUDGET: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Role {
    /// Has not said anything yet.
    Unknown,
    /// A sibling; `bye` once it announced a clean stop.
    Member { status: Option<Status>, bye: bool },
    /// atropos (or another client).
    Client,
}

struct Conn {
    stream: UnixStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    role: Role,
    writable_registered: bool,
    /// Answered its one request: closed once the answer is written.
    done: bool,
}

pub struct Ctl {
    listener: UnixListener,
    listen_token: Token,
    conns: BTreeMap<usize, Conn>,
    next: usize,
    /// The siblings as last built (the event loop asks on every turn, a sibling changes rarely);
    /// emptied by every change of a connection or of its role.
    siblings: OnceCell<Vec<Status>>,
}

fn bind(path: &Path) -> io::Result<UnixListener> {
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

impl Ctl {
    /// Binds `path` (mode 0600). The caller holds the interface's pid lock, so a file already there
    /// is a dead predecessor's and is replaced.
    pub fn bind(path: &Path, reg: &Registry, token: Token) -> io::Result<Ctl> {
        let _ = std::fs::remove_file(path);
        let mut listener = bind(path)?;
        reg.register(&mut listener, token, Interest::READABLE)?;
        Ok(Ctl { listener, listen_token: token, conns: BTreeMap::new(), next: FIRST_CONN, siblings: OnceCell::new() })
    }

    /// Binds again after the socket file (or the run dir) was removed.
    pub fn rebind(&mut self, path: &Path, reg: &Registry) -> io::Result<()> {
        let _ = std::fs::remove_file(path);
        let mut listener = bind(path)?;
        let _ = reg.deregister(&mut self.listener);
        reg.register(&mut listener, self.listen_token, Interest::READABLE)?;
        self.listener = listener;
        Ok(())
    }

    fn add(&mut self, reg: &Registry, mut stream: UnixStream, role: Role) -> Option<usize> {
        if self.conns.len() >= MAX_CONNS {
            warn!("too many control connections: refusing one");
            return None;
        }
        let t = self.next;
        self.next += 1;
        if let Err(e) = reg.register(&mut stream, Token(t), Interest::READABLE) {
            warn!("cannot watch a control connection: {e}");
            return None;
        }
        let c = Conn { stream, rbuf: Vec::new(), wbuf: Vec::new(), role, writable_registered: false, done: false };
        self.conns.insert(t, c);
        self.siblings.take();
        Some(t)
    }

    /// Connects to a sibling's socket.
    pub fn connect(&mut self, path: &Path, reg: &Registry) -> io::Result<Option<usize>> {
        let s = std::os::unix::net::UnixStream::connect(path)?;
        s.set_nonblocking(true)?;
        Ok(self.add(reg, UnixStream::from_std(s), Role::Member { status: None, bye: false }))
    }

    /// Accepts every pending connection from root (or, for a vrrpd run by another user in a test,
    /// from that same user); refuses the others with one line.
    pub fn accept_all(&mut self, reg: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let uid = proc::peer_uid(stream.as_raw_fd());
                    if matches!(uid, Ok(u) if u == 0 || u == proc::euid()) {
                        self.add(reg, stream, Role::Unknown);
                    } else {
                        let _ = stream.write_all(b"ERR\tmsg=atropos must be run as root\n");
                        let who = uid.map(|u| u.to_string()).unwrap_or_else(|_| "?".into());
                        warn!("refused a control connection from uid {who}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Queues `text` and writes what the socket takes. Returns false when the peer does not read
    /// (its backlog passed the limit): the caller closes the connection.
    pub fn send(&mut self, reg: &Registry, t: usize, text: &str) -> bool {
        let Some(c) = self.conns.get_mut(&t) else { return true };
        c.wbuf.extend_from_slice(text.as_bytes());
        if c.wbuf.len() > MAX_PENDING_OUT {
            return false;
        }
        self.flush(reg, t);
        true
    }

    /// A client gets one answer per connection (atropos asks one question): once it is written, the
    /// connection is closed and whatever else the client sent is ignored.
    pub fn finish(&mut self, reg: &Registry, t: usize) {
        if let Some(c) = self.conns.get_mut(&t) {
            c.done = true;
            c.rbuf.clear();
        }
        self.flush(reg, t);
    }

    pub fn is_done(&self, t: usize) -> bool {
        self.conns.get(&t).is_none_or(|c| c.done)
    }

    /// Writes what is pending; asks for writability only while something is left.
    pub fn flush(&mut self, reg: &Registry, t: usize) {
        let Some(c) = self.conns.get_mut(&t) else { return };
        while !c.wbuf.is_empty() {
            match c.stream.write(&c.wbuf) {
                Ok(0) => break,
                Ok(n) => {
                    c.wbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.wbuf.clear();
                    break;
                }
            }
        }
        let want_w = !c.wbuf.is_empty();
        if c.done && !want_w {
            self.remove(reg, t);
            return;
        }
        if want_w != c.writable_registered {
            let interest = if want_w { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            let _ = reg.reregister(&mut c.stream, Token(t), interest);
            c.writable_registered = want_w;
        }
    }

    /// Reads up to a budget; returns the complete lines, whether the connection must be closed (end
    /// of stream, error, or a line over the limit), and whether more may be waiting (budget used up:
    /// call again at the next turn, epoll will not say it again).
    pub fn read(&mut self, t: usize) -> (Vec<String>, bool, bool) {
        let Some(c) = self.conns.get_mut(&t) else { return (Vec::new(), false, false) };
        let mut closed = false;
        let mut more = false;
        let mut taken = 0;
        let mut buf = [0u8; 2048];
        loop {
            if taken >= READ_BUDGET {
                more = true;
                break;
            }
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    taken += n;
                    if !c.done {
                        c.rbuf.extend_from_slice(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        match control::take_lines(&mut c.rbuf) {
            Ok(lines) => (lines, closed, more && !closed),
            Err(e) => {
                warn!("control connection: {e}: disconnecting it");
                (Vec::new(), true, false)
            }
        }
    }

    /// Closes a connection; returns what it was.
    pub fn remove(&mut self, reg: &Registry, t: usize) -> Option<Role> {
        let mut c = self.conns.remove(&t)?;
        self.siblings.take();
        let _ = reg.deregister(&mut c.stream);
        Some(c.role)
    }

    pub fn role(&self, t: usize) -> Option<&Role> {
        self.conns.get(&t).map(|c| &c.role)
    }

    pub fn role_mut(&mut self, t: usize) -> Option<&mut Role> {
        self.siblings.take();
        self.conns.get_mut(&t).map(|c| &mut c.role)
    }

    /// Connections to siblings.
    pub fn member_tokens(&self) -> Vec<usize> {
        self.conns.iter().filter(|(_, c)| matches!(c.role, Role::Member { .. })).map(|(t, _)| *t).collect()
    }

    /// The siblings heard from, one per (interface, vrid) (two connections to one sibling count once:
    /// the last one's status), in (interface, vrid) order. `me` is always this member's own id.
    pub fn siblings(&self, me: &MemberId) -> &[Status] {
        self.siblings.get_or_init(|| {
            let mut heard: Vec<&Status> = self
                .conns
                .values()
                .filter_map(|c| match &c.role {
                    Role::Member { status: Some(s), .. } if key(s) != (me.ifname.as_str(), me.vrid) => Some(s),
                    _ => None,
                })
                .collect();
            heard.sort_by(|a, b| key(a).cmp(&key(b)));
            let mut kept: Vec<Status> = Vec::with_capacity(heard.len());
            for s in heard {
                match kept.last_mut() {
                    Some(last) if key(last) == key(s) => last.clone_from(s),
                    _ => kept.push(s.clone()),
                }
            }
            kept
        })
    }

    /// The sibling `(ifname, vrid)` as last heard, if present.
    pub fn sibling(&self, me: &MemberId, ifname: &str, vrid: u8) -> Option<&Status> {
        let all = self.siblings(me);
        all.binary_search_by(|s| key(s).cmp(&(ifname, vrid))).ok().and_then(|i| all.get(i))
    }

    /// Records the status a sibling sent on connection `t`. The kept list follows in place: a flip of
    /// a 32-LAN host brings 31 statuses to every member, and rebuilding the list for each one cost
    /// more than the rest of the flip.
    pub fn set_status(&mut self, t: usize, status: Status, me: &MemberId) {
        let Some(c) = self.conns.get_mut(&t) else { return };
        // A connection that spoke for another sibling until now may have been that one's only source.
        let other_sibling = matches!(&c.role, Role::Member { status: Some(old), .. } if key(old) != key(&status));
        if other_sibling || key(&status) == (me.ifname.as_str(), me.vrid) {
            self.siblings.take();
        } else if let Some(kept) = self.siblings.get_mut() {
            match kept.binary_search_by(|s| key(s).cmp(&key(&status))) {
                Ok(i) => {
                    if let Some(s) = kept.get_mut(i) {
                        s.clone_from(&status);
                    }
                }
                Err(i) => kept.insert(i, status.clone()),
            }
        }
        c.role = Role::Member { status: Some(status), bye: false };
    }
}

fn key(s: &Status) -> (&str, u8) {
    (s.ifname.as_str(), s.vrid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vrrpd-ut-ctl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Polls until `f` returns something, or fails after 5 s (a hang, not a timing check).
    fn until<T>(poll: &mut Poll, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut events = Events::with_capacity(16);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            poll.poll(&mut events, Some(Duration::from_millis(20))).unwrap();
        }
    }

    /// A listener `a` bound in a fresh dir (its socket path returned), with its poll and registry.
    fn listener(name: &str) -> (PathBuf, PathBuf, Poll, Registry, Ctl) {
        let d = dir(name);
        let poll = Poll::new().unwrap();
        let reg = poll.registry().try_clone().unwrap();
        let path = d.join("eth0.sock");
        let a = Ctl::bind(&path, &reg, Token(1)).unwrap();
        (d, path, poll, reg, a)
    }

    /// The token of the first connection `a` accepts.
    fn accepted(poll: &mut Poll, reg: &Registry, a: &mut Ctl) -> usize {
        until(poll, "the accept", || {
            a.accept_all(reg);
            a.conns.keys().next().copied()
        })
    }

    #[test]
    fn a_member_connects_and_lines_go_both_ways() {
        let (d, path, mut poll, reg, mut a) = listener("lines");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the socket is for root only");
        let mut b = Ctl::bind(&d.join("eth1.sock"), &reg, Token(2)).unwrap();
        let tb = b.connect(&path, &reg).unwrap().unwrap();
        assert_eq!(b.member_tokens(), vec![tb]);
        let ta = accepted(&mut poll, &reg, &mut a);
        assert_eq!(a.role(ta), Some(&Role::Unknown));
        assert!(b.send(&reg, tb, "HELLO\tif=eth1\n"));
        let got = until(&mut poll, "the line", || {
            let (lines, closed, _) = a.read(ta);
            assert!(!closed);
            (!lines.is_empty()).then_some(lines)
        });
        assert_eq!(got, vec!["HELLO\tif=eth1".to_string()]);
        // An answer then the end: the connection is closed once written, the peer sees the end.
        assert!(a.send(&reg, ta, "OK\n"));
        a.finish(&reg, ta);
        assert!(a.is_done(ta) && a.role(ta).is_none());
        let (lines, closed) = until(&mut poll, "the answer and the end", || {
            let (lines, closed, _) = b.read(tb);
            closed.then_some((lines, closed))
        });
        assert_eq!((lines, closed), (vec!["OK".to_string()], true));
        let _ = std::fs::remove_dir_all(&d);
    }

    fn status(ifname: &str, prio: u8) -> Status {
        Status {
            ifname: ifname.into(),
            vrid: 51,
            pid: 1,
            state: crate::fsm::State::Backup,
            wants: false,
            link_up: true,
            prio,
            resigned: false,
            fault: false,
            members: 2,
            tracker: None,
        }
    }

    #[test]
    fn the_kept_siblings_follow_every_status_and_every_close() {
        let (d, path, mut poll, reg, mut a) = listener("siblings");
        let me = MemberId::new("eth0", 51);
        let _peer = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let ta = accepted(&mut poll, &reg, &mut a);
        assert!(a.siblings(&me).is_empty(), "a connection that said nothing is no sibling");
        *a.role_mut(ta).unwrap() = Role::Member { status: Some(status("eth1", 100)), bye: false };
        assert_eq!(a.siblings(&me), &[status("eth1", 100)]);
        // Asked again without a change: the same list; after a change: the new status.
        assert_eq!(a.siblings(&me), &[status("eth1", 100)]);
        if let Some(Role::Member { status: s, .. }) = a.role_mut(ta) {
            *s = Some(status("eth1", 90));
        }
        assert_eq!(a.siblings(&me), &[status("eth1", 90)]);
        // A connection that claims to be us is not a sibling.
        *a.role_mut(ta).unwrap() = Role::Member { status: Some(status("eth0", 100)), bye: false };
        assert!(a.siblings(&me).is_empty());
        *a.role_mut(ta).unwrap() = Role::Member { status: Some(status("eth1", 90)), bye: false };
        assert_eq!(a.siblings(&me).len(), 1);
        a.remove(&reg, ta);
        assert!(a.siblings(&me).is_empty(), "a closed connection leaves the list");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The list as built from scratch out of the connections.
    fn rebuilt(a: &mut Ctl, me: &MemberId) -> Vec<Status> {
        a.siblings.take();
        a.siblings(me).to_vec()
    }

    #[test]
    fn statuses_set_in_place_give_the_list_built_from_scratch() {
        let (d, path, mut poll, reg, mut a) = listener("inplace");
        let me = MemberId::new("eth0", 51);
        let peers: Vec<_> = (0..4).map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap()).collect();
        let t: Vec<usize> = until(&mut poll, "the accepts", || {
            a.accept_all(&reg);
            (a.conns.len() == peers.len()).then(|| a.conns.keys().copied().collect())
        });
        // (connection, status, whether the kept list follows in place rather than being emptied)
        let steps = [
            (t[0], status("eth3", 100), true),
            (t[1], status("eth1", 100), true),
            (t[2], status("eth2", 100), true),
            (t[1], status("eth1", 90), true),
            // A second connection from eth3: one sibling, the last status heard.
            (t[3], status("eth3", 80), true),
            (t[0], status("eth3", 80), true),
            // A connection that starts to speak for another interface, then for us.
            (t[2], status("eth4", 100), false),
            (t[2], status("eth0", 100), false),
            (t[2], status("eth2", 70), false),
        ];
        for (i, (conn, s, in_place)) in steps.into_iter().enumerate() {
            let _ = a.siblings(&me);
            a.set_status(conn, s, &me);
            assert_eq!(a.siblings.get().is_some(), in_place, "kept in place at step {i}");
            let kept = a.siblings(&me).to_vec();
            assert_eq!(kept, rebuilt(&mut a, &me), "after step {i}");
        }
        let names: Vec<_> = a.siblings(&me).iter().map(|s| (s.ifname.as_str(), s.prio)).collect();
        assert_eq!(names, [("eth1", 90), ("eth2", 70), ("eth3", 80)]);
        assert_eq!(a.sibling(&me, "eth2", 51).map(|s| s.prio), Some(70));
        assert_eq!(a.sibling(&me, "eth2", 52), None);
        assert_eq!(a.sibling(&me, "eth0", 51), None, "we are not our own sibling");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_overlong_line_and_a_peer_that_does_not_read_are_cut_off() {
        let (d, path, mut poll, reg, mut a) = listener("limits");
        let mut peer = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let ta = accepted(&mut poll, &reg, &mut a);
        // The peer never reads: past the backlog limit, send says to close it.
        let chunk = "x".repeat(4096) + "\n";
        let mut cut = false;
        for _ in 0..(MAX_PENDING_OUT * 8 / chunk.len()) {
            if !a.send(&reg, ta, &chunk) {
                cut = true;
                break;
            }
        }
        assert!(cut, "a peer that never reads was never cut off");
        // A line longer than the limit closes the connection (no newline ever comes).
        peer.write_all(&vec![b'y'; control::MAX_LINE + 10]).unwrap();
        let closed = until(&mut poll, "the close", || {
            let (lines, closed, _) = a.read(ta);
            assert!(lines.is_empty());
            closed.then_some(closed)
        });
        assert!(closed);
        let _ = std::fs::remove_dir_all(&d);
    }
}
