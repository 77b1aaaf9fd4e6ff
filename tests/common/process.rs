//! Processes a lab started: signals, exit, logs; a command run to completion; a tcpdump capture.
use super::*;

pub(crate) struct ProcInner {
    pub(crate) child: Child,
    pub(crate) status: Option<ExitStatus>,
}

/// A process started by the lab. Cheap to clone; the lab keeps a clone to kill it on drop.
#[derive(Clone)]
pub struct Proc {
    pub pid: i32,
    pub name: String,
    /// stdout + stderr (or only stdout when `err_log` is set).
    pub log: PathBuf,
    pub err_log: Option<PathBuf>,
    pub(crate) inner: Rc<RefCell<ProcInner>>,
}

impl Proc {
    pub fn signal(&self, sig: i32) {
        if self.is_running() {
            signal(self.pid, sig);
        }
    }
    pub fn term(&self) {
        self.signal(libc::SIGTERM)
    }
    pub fn kill9(&self) {
        self.signal(libc::SIGKILL)
    }
    /// Reaps the process if it exited; never blocks.
    pub fn try_status(&self) -> Option<ExitStatus> {
        let mut inner = self.inner.borrow_mut();
        if inner.status.is_none()
            && let Ok(Some(st)) = inner.child.try_wait()
        {
            inner.status = Some(st);
        }
        inner.status
    }
    pub fn is_running(&self) -> bool {
        self.try_status().is_none()
    }
    /// Waits (polling) for the exit; panics after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let mut st = None;
        wait_until(timeout, &format!("{} (pid {}) to exit", self.name, self.pid), || {
            st = self.try_status();
            st.is_some()
        });
        st.unwrap()
    }
    /// The whole log (stdout + stderr unless separated).
    pub fn log_text(&self) -> String {
        fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
    pub fn err_text(&self) -> String {
        match &self.err_log {
            Some(p) => fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default(),
            None => self.log_text(),
        }
    }
    /// Stops the process: SIGTERM, SIGKILL after `grace`; always reaps it.
    pub fn stop(&self, grace: Duration) {
        if !self.is_running() {
            return;
        }
        signal(self.pid, libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < grace {
            if !self.is_running() {
                return;
            }
            std::thread::sleep(POLL);
        }
        signal(self.pid, libc::SIGKILL);
        let mut inner = self.inner.borrow_mut();
        if inner.status.is_none()
            && let Ok(st) = inner.child.wait()
        {
            inner.status = Some(st);
        }
    }
}

/// The result of a command run to completion with a deadline.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A running tcpdump; [`Capture::stop`] returns what it printed.
pub struct Capture {
    pub proc: Proc,
}

impl Capture {
    /// The text printed so far (tcpdump runs with `-l -U`).
    pub fn text(&self) -> String {
        self.proc.log_text()
    }
    /// Stops tcpdump with SIGINT (so it flushes) and returns its decode.
    pub fn stop(self) -> String {
        self.proc.signal(libc::SIGINT);
        let start = Instant::now();
        while self.proc.is_running() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(POLL);
        }
        self.proc.stop(Duration::from_secs(1));
        self.proc.log_text()
    }
}
