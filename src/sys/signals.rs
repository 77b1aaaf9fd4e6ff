//! Signals through a self-pipe: every signal whose default action would end the process is caught, so
//! that nothing but SIGKILL ends vrrpd without its release (priority 0, addresses and MAC given back).
//!
//! The handler only writes the signal number to a non-blocking pipe (async-signal-safe); the event loop
//! reads it. A real fault (SIGSEGV, SIGBUS, … raised by the kernel, not sent with kill(2)) restores the
//! default action and returns, so that the faulting instruction ends the process as it would have.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

static PIPE_WR: AtomicI32 = AtomicI32::new(-1);

/// What the daemon does with a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// Give everything back and exit 0 (SIGTERM, SIGINT, SIGQUIT, SIGABRT, SIGXCPU, faults sent by kill).
    Stop,
    /// Log the member's state line (1.15's dump).
    Dump,
    /// Drain the host, as `atropos --backup` does.
    Drain,
    /// Priority −10 (or -z).
    Reduce,
    /// Priority +10 (or -x).
    Increase,
    /// A hook finished.
    Child,
    /// Logged and otherwise ignored (SIGHUP, timers, SIGPWR, real-time signals, …).
    Ignore,
}

/// Signals that are faults when the kernel raises them (a crash stays a crash).
const FAULTS: [libc::c_int; 6] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGTRAP, libc::SIGSYS];

/// Every catchable signal whose default action ends the process, plus those the daemon uses.
pub fn handled() -> Vec<libc::c_int> {
    let mut v = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGABRT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGIO,
        libc::SIGPWR,
        libc::SIGSTKFLT,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGCHLD,
    ];
    v.extend(FAULTS);
    v.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    v
}

pub fn meaning(sig: libc::c_int) -> Meaning {
    match sig {
        libc::SIGTERM | libc::SIGINT | libc::SIGQUIT | libc::SIGABRT | libc::SIGXCPU => Meaning::Stop,
        s if FAULTS.contains(&s) => Meaning::Stop,
        libc::SIGUSR1 => Meaning::Dump,
        libc::SIGUSR2 => Meaning::Drain,
        libc::SIGTTIN => Meaning::Reduce,
        libc::SIGTTOU => Meaning::Increase,
        libc::SIGCHLD => Meaning::Child,
        _ => Meaning::Ignore,
    }
}

/// The signal's name for the log: "SIGTERM", "SIGRTMIN+3".
pub fn name(sig: libc::c_int) -> String {
    let n = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        s if s == libc::SIGRTMIN() => "SIGRTMIN",
        s if s > libc::SIGRTMIN() && s <= libc::SIGRTMAX() => return format!("SIGRTMIN+{}", s - libc::SIGRTMIN()),
        s => return format!("signal {s}"),
    };
    n.to_string()
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO; only async-signal-safe calls below.
    unsafe {
        if FAULTS.contains(&sig) && !info.is_null() && (*info).si_code > 0 {
            // Raised by the kernel for a real fault: let it end the process as it would have.
            libc::signal(sig, libc::SIG_DFL);
            return;
        }
        let errno = *libc::__errno_location();
        let fd = PIPE_WR.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = sig as u8;
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// The read end of the self-pipe; register [`SignalPipe::fd`] for reading.
pub struct SignalPipe {
    rd: OwnedFd,
    _wr: OwnedFd,
}

impl SignalPipe {
    /// Installs the handler for every signal of [`handled`]; SIGPIPE is ignored (a closed socket is an
    /// error return, not a death). Once per process.
    pub fn install() -> io::Result<SignalPipe> {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid array of two ints.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptors owned here only.
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        PIPE_WR.store(wr.as_raw_fd(), Ordering::Relaxed);
        for sig in handled() {
            // SAFETY: a zeroed sigaction is valid; the handler is async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        // SAFETY: setting a disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        Ok(SignalPipe { rd, _wr: wr })
    }

    pub fn fd(&self) -> RawFd {
        self.rd.as_raw_fd()
    }

    /// The signals received since the last call, in order.
    pub fn pending(&self) -> Vec<libc::c_int> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::read(self.rd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend(buf[..n as usize].iter().map(|b| libc::c_int::from(*b)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_that_would_end_the_process_is_handled() {
        // Default action "terminate" or "core" (signal(7)), except SIGKILL (uncatchable) and SIGPIPE (ignored).
        let ending = [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGABRT,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGUSR1,
            libc::SIGSEGV,
            libc::SIGUSR2,
            libc::SIGALRM,
            libc::SIGTERM,
            libc::SIGSTKFLT,
            libc::SIGXCPU,
            libc::SIGXFSZ,
            libc::SIGVTALRM,
            libc::SIGPROF,
            libc::SIGIO,
            libc::SIGPWR,
            libc::SIGSYS,
        ];
        let h = handled();
        for s in ending.into_iter().chain(libc::SIGRTMIN()..=libc::SIGRTMAX()) {
            assert!(h.contains(&s), "{} not handled", name(s));
        }
        assert!(h.iter().all(|s| *s < 256), "a signal number must fit the pipe's byte");
    }

    #[test]
    fn meanings_and_names() {
        assert_eq!(meaning(libc::SIGTERM), Meaning::Stop);
        assert_eq!(meaning(libc::SIGSEGV), Meaning::Stop);
        assert_eq!(meaning(libc::SIGUSR1), Meaning::Dump);
        assert_eq!(meaning(libc::SIGUSR2), Meaning::Drain);
        assert_eq!(meaning(libc::SIGHUP), Meaning::Ignore);
        assert_eq!(meaning(libc::SIGRTMIN() + 2), Meaning::Ignore);
        assert_eq!(name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(name(libc::SIGXCPU), "SIGXCPU");
    }
}
