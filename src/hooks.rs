//! The -U / -D runner: scripts are spawned directly (no shell), one at a time, never blocking the
//! protocol. Transitions that pile up while a script runs collapse to the latest, so the last script
//! run always matches the final state. A script that outlives the timeout is killed with its whole
//! process group. Its output goes to the log line by line.

use crate::sys::proc::{kill_group, pipe_nonblocking_read, wait_readable};
use log::{info, warn};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One script run to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub script: PathBuf,
    /// MASTER or BACKUP.
    pub state: String,
    pub ifname: String,
    pub vrid: u8,
    pub env: Vec<(String, String)>,
}

struct Running {
    child: Child,
    out: Option<File>,
    partial: Vec<u8>,
    deadline: Instant,
    killed: bool,
    started: Instant,
    what: String,
}

pub struct Hooks {
    timeout: Duration,
    running: Option<Running>,
    pending: Option<Job>,
}

impl Hooks {
    pub fn new(timeout: Duration) -> Hooks {
        Hooks { timeout, running: None, pending: None }
    }

    /// Queues a run: starts it now if nothing runs, else replaces whatever was waiting.
    /// Returns true when a new output descriptor needs registering.
    pub fn request(&mut self, job: Job, now: Instant) -> bool {
        if self.running.is_some() {
            if let Some(old) = self.pending.replace(job) {
                info!("hook for {} dropped: superseded by a later transition", old.state);
            }
            return false;
        }
        self.spawn(job, now)
    }

    fn spawn(&mut self, job: Job, now: Instant) -> bool {
        let what = format!("{} {}", job.script.display(), job.state);
        let (rd, wr) = match pipe_nonblocking_read() {
            Ok(p) => p,
            Err(e) => {
                warn!("hook {what}: cannot create a pipe: {e}");
                return false;
            }
        };
        let wr2 = match wr.try_clone() {
            Ok(w) => w,
            Err(e) => {
                warn!("hook {what}: {e}");
                return false;
            }
        };
        let mut cmd = Command::new(&job.script);
        cmd.arg(&job.state)
            .arg(&job.ifname)
            .arg(job.vrid.to_string())
            .envs(job.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(wr))
            .stderr(Stdio::from(wr2))
            .current_dir("/")
            .process_group(0);
        match cmd.spawn() {
            Ok(child) => {
                info!("hook {what}: started (pid {})", child.id());
                self.running = Some(Running {
                    child,
                    out: Some(rd),
                    partial: Vec::new(),
                    deadline: now + self.timeout,
                    killed: false,
                    started: now,
                    what,
                });
                true
            }
            Err(e) => {
                warn!("hook {what}: cannot start: {e}");
                false
            }
        }
    }

    /// The output descriptor of the running script, to register for readability.
    pub fn output_fd(&self) -> Option<RawFd> {
        self.running.as_ref().and_then(|r| r.out.as_ref()).map(|f| f.as_raw_fd())
    }

    /// Closes the output pipe after its end was reached (deregister it from epoll first).
    pub fn close_output(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.out = None;
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.running.as_ref().filter(|r| !r.killed).map(|r| r.deadline)
    }

    pub fn busy(&self) -> bool {
        self.running.is_some() || self.pending.is_some()
    }

    /// Reads what the script wrote; logs complete lines. Returns false at end of output.
    pub fn on_output(&mut self) -> bool {
        let Some(r) = self.running.as_mut() else { return false };
        let Some(out) = r.out.as_mut() else { return false };
        let mut buf = [0u8; 1024];
        loop {
            match out.read(&mut buf) {
                Ok(0) => {
                    log_lines(&r.what, &mut r.partial, true);
                    return false;
                }
                Ok(n) => {
                    r.partial.extend_from_slice(&buf[..n]);
                    log_lines(&r.what, &mut r.partial, false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// Checks whether the script ended (after SIGCHLD or a timer). Returns (finished, new output fd).
    /// The caller must deregister the old output fd before calling when `finished` may be true: the
    /// old descriptor is closed here.
    pub fn reap(&mut self, now: Instant) -> (bool, bool) {
        let Some(r) = self.running.as_mut() else { return (false, false) };
        match r.child.try_wait() {
            Ok(Some(status)) => {
                // Read what is left of its output.
                if r.out.is_some() {
                    self.on_output();
                }
                let Some(r) = self.running.take() else { return (true, false) };
                let took = now.saturating_duration_since(r.started);
                if r.killed {
                    warn!("hook {}: killed after the {} s timeout", r.what, self.timeout.as_secs());
                } else if let Some(c) = status.code() {
                    if c == 0 {
                        info!("hook {}: done in {:.2} s", r.what, took.as_secs_f64());
                    } else {
                        warn!("hook {}: exited with status {c} after {:.2} s", r.what, took.as_secs_f64());
                    }
                } else if let Some(sig) = status.signal() {
                    warn!("hook {}: killed by signal {sig}", r.what);
                }
                let new = match self.pending.take() {
                    Some(job) => self.spawn(job, now),
                    None => false,
                };
                (true, new)
            }
            Ok(None) => (false, false),
            Err(e) => {
                warn!("hook {}: wait failed: {e}", r.what);
                (false, false)
            }
        }
    }

    /// Kills the script's process group when its time is up.
    pub fn on_timer(&mut self, now: Instant) {
        if let Some(r) = self.running.as_mut()
            && !r.killed
            && now >= r.deadline
        {
            r.killed = true;
            warn!("hook {}: still running after {} s: killing its process group", r.what, self.timeout.as_secs());
            if let Err(e) = kill_group(r.child.id(), libc::SIGKILL) {
                warn!("hook {}: kill failed: {e}", r.what);
            }
        }
    }

    /// At exit: lets the running script and then the pending one finish, each within the timeout.
    pub fn finish_blocking(&mut self) {
        while let Some(deadline) = self.running.as_ref().map(|r| r.deadline) {
            loop {
                let now = Instant::now();
                let exited = self.running.as_mut().is_none_or(|r| matches!(r.child.try_wait(), Ok(Some(_))));
                if exited {
                    break;
                }
                if now >= deadline {
                    self.on_timer(now);
                    if let Some(r) = self.running.as_mut() {
                        let _ = r.child.wait();
                    }
                    break;
                }
                let fd = self.output_fd().unwrap_or(-1);
                wait_readable(fd, (deadline - now).min(Duration::from_millis(50)));
                if fd >= 0 && !self.on_output() {
                    self.close_output();
                }
            }
            self.reap(Instant::now());
        }
    }
}

fn log_lines(what: &str, partial: &mut Vec<u8>, flush: bool) {
    while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=pos).collect();
        info!("hook {what}: {}", String::from_utf8_lossy(&line[..line.len() - 1]).trim_end());
    }
    if flush && !partial.is_empty() || partial.len() > 4096 {
        info!("hook {what}: {}", String::from_utf8_lossy(partial).trim_end());
        partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vrrpd-ut-hooks-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn script(d: &Path, body: &str) -> PathBuf {
        let p = d.join("hook.sh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn job(script: &Path, state: &str, tag: &str) -> Job {
        Job {
            script: script.to_path_buf(),
            state: state.into(),
            ifname: "eth0".into(),
            vrid: 51,
            env: vec![("TAG".into(), tag.into())],
        }
    }

    use std::path::Path;

    #[test]
    fn transitions_that_pile_up_collapse_to_the_latest() {
        let d = dir("collapse");
        let out = d.join("out");
        // The first run waits for a file the test creates: the others pile up meanwhile.
        let s = script(
            &d,
            &format!(
                "echo \"$1 $2 $3 $TAG\" >> {o}; [ \"$TAG\" = first ] && while [ ! -e {g} ]; do sleep 0.01; done; exit 0",
                o = out.display(),
                g = d.join("go").display()
            ),
        );
        let mut h = Hooks::new(Duration::from_secs(10));
        let now = Instant::now();
        assert!(h.request(job(&s, "MASTER", "first"), now), "the first run starts at once");
        assert!(!h.request(job(&s, "BACKUP", "dropped"), now));
        assert!(!h.request(job(&s, "BACKUP", "last"), now));
        assert!(h.busy());
        std::fs::write(d.join("go"), "").unwrap();
        h.finish_blocking();
        assert!(!h.busy());
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, "MASTER eth0 51 first\nBACKUP eth0 51 last\n");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_script_past_its_timeout_is_killed_with_its_group() {
        let d = dir("timeout");
        let pidfile = d.join("pid");
        let s = script(&d, &format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        let mut h = Hooks::new(Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(h.request(job(&s, "MASTER", "x"), t0));
        assert_eq!(h.deadline(), Some(t0 + Duration::from_millis(100)));
        let deadline = t0 + Duration::from_secs(5);
        while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
            assert!(Instant::now() < deadline, "the script never started its child");
            std::thread::sleep(Duration::from_millis(10));
        }
        let child: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        h.on_timer(t0 + Duration::from_millis(50));
        assert!(h.deadline().is_some(), "not killed before its time");
        h.on_timer(t0 + Duration::from_millis(150));
        assert_eq!(h.deadline(), None, "killed: no deadline left");
        loop {
            let (finished, _) = h.reap(Instant::now());
            if finished {
                break;
            }
            assert!(Instant::now() < deadline, "the killed script was never reaped");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!h.busy());
        // Its background child went with it (gone, or a zombie waiting for init).
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
            if stat.is_empty() || state == "Z" {
                break;
            }
            assert!(Instant::now() < deadline, "the script's child {child} survived the kill");
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_script_that_cannot_start_leaves_nothing_running() {
        let mut h = Hooks::new(Duration::from_secs(1));
        let missing = job(Path::new("/nonexistent/vrrpd-hook"), "MASTER", "x");
        assert!(!h.request(missing, Instant::now()));
        assert!(!h.busy());
        assert_eq!(h.output_fd(), None);
    }
}
