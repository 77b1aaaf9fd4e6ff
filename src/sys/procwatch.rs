//! Finding processes by name in /proc and watching one of them die through a pidfd (no polling).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The name (`comm`) and state letter of a process, from `/proc/PID/stat` ("42 (name) S ...": the
/// name may hold spaces and parentheses, so it ends at the last ')').
pub fn parse_stat(stat: &str) -> Option<(&str, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((name, state))
}

/// A process that has exited (zombie 'Z', dead 'X') is not running any more.
fn running(state: char) -> bool {
    !matches!(state, 'Z' | 'X' | 'x')
}

/// The name of a running process; `None` when it is gone or exited.
pub fn running_comm(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).filter(|(_, st)| running(*st)).map(|(n, _)| n.to_string())
}

/// The running processes whose name is `comm` (a scan of /proc: one small read per process).
pub fn find_by_comm(comm: &str) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc")? {
        let Ok(e) = e else { continue };
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        if parse_stat(&stat).is_some_and(|(n, st)| n == comm && running(st)) {
            out.push(pid);
        }
    }
    Ok(out)
}

/// A pidfd: readable once the process has exited (whoever its parent is, reaped or not).
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pub pid: u32,
}

impl PidFd {
    /// Opens a pidfd on `pid` and checks that it is still the running process named `comm` (the pid
    /// may have been reused between the scan and the open).
    pub fn open(pid: u32, comm: &str) -> io::Result<PidFd> {
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor returned by the kernel, owned only here.
        let fd = unsafe { OwnedFd::from_raw_fd(rc as RawFd) };
        if running_comm(pid).as_deref() != Some(comm) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(PidFd { fd, pid })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_spaces_and_parentheses() {
        assert_eq!(parse_stat("42 (haproxy) S 1 42 42 0"), Some(("haproxy", 'S')));
        assert_eq!(parse_stat("7 (my (odd) name) Z 1"), Some(("my (odd) name", 'Z')));
        assert_eq!(parse_stat("garbage"), None);
        assert!(!running('Z') && running('S') && running('R'));
    }

    #[test]
    fn finds_itself_and_watches_a_child_die() {
        let me = running_comm(std::process::id()).unwrap();
        assert!(find_by_comm(&me).unwrap().contains(&std::process::id()));
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let w = PidFd::open(pid, "sleep").unwrap();
        assert_eq!(w.pid, pid);
        assert!(PidFd::open(pid, "not-sleep").is_err());
        child.kill().unwrap();
        // Readable once it has exited, before it is reaped; a zombie is not found by name.
        let mut p = libc::pollfd { fd: w.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 10_000) }, 1);
        assert!(!find_by_comm("sleep").unwrap().contains(&pid));
        child.wait().unwrap();
    }
}
