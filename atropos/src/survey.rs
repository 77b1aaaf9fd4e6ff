//! Asking the members of a host: one request per Unix socket in the run dir, all in parallel.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;
use vrrpd::control::{Message, Request};
use vrrpd::rundir::{self, Member, MemberId};
use vrrpd::sys::proc;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// One request to one member, with a timeout on connect, write and read.
fn ask(path: &Path, req: Request) -> Result<Message, String> {
    let mut s = proc::connect_unix(path, ANSWER_TIMEOUT).map_err(|e| format!("not answering ({e})"))?;
    s.write_all(format!("{}\n", req.verb()).as_bytes()).map_err(|e| format!("not answering ({e})"))?;
    let mut line = String::new();
    match BufReader::new(s).read_line(&mut line) {
        Ok(0) => return Err("closed without an answer".into()),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err("no answer within 1 s".into());
        }
        Err(e) => return Err(e.to_string()),
    }
    let m = Message::decode(line.trim_end()).map_err(|e| format!("bad answer: {e}"))?;
    if m.verb == "ERR" {
        return Err(m.get("msg").unwrap_or("error").to_string());
    }
    Ok(m)
}

/// A member as atropos sees it: its record in the state file and/or its answer.
#[derive(Clone)]
pub struct Seen {
    /// How the member is named in messages: the interface, or "eth0 vrid 51" when several vrids share it.
    pub ifname: String,
    pub record: Option<Member>,
    pub answer: Result<Message, String>,
}

/// Asks every member in parallel (a hung member costs one timeout, not one per member).
pub fn survey(dir: &Path, req: Request) -> Vec<Seen> {
    let records = rundir::read_state(dir).unwrap_or_default();
    let mut ids: Vec<MemberId> = records.iter().map(|m| m.id()).collect();
    for (id, _) in rundir::sibling_sockets(dir, None) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.sort();
    ids.dedup();
    let label = |id: &MemberId| {
        if ids.iter().filter(|x| x.ifname == id.ifname).count() > 1 { id.to_string() } else { id.ifname.clone() }
    };
    std::thread::scope(|sc| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let path = rundir::sock_path(dir, id);
                sc.spawn(move || ask(&path, req))
            })
            .collect();
        ids.iter()
            .zip(handles)
            .map(|(id, h)| Seen {
                ifname: label(id),
                record: records.iter().find(|r| &r.id() == id).cloned(),
                answer: h.join().unwrap_or_else(|_| Err("internal error".into())),
            })
            .collect()
    })
}
