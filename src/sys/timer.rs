//! One monotonic timerfd for the event loop: wakes it at a deadline with nanosecond precision (epoll's
//! own timeout rounds up to whole milliseconds, too coarse for 10 ms adverts).

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

pub struct Timer {
    fd: TimerFd,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        let fd = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        Ok(Timer { fd })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }

    /// Fires once at `deadline` (at once if it has passed), or never (`None`). Arming again clears
    /// an expiry not yet read.
    pub fn arm(&self, deadline: Option<Instant>, now: Instant) -> io::Result<()> {
        match deadline {
            None => self.fd.unset()?,
            Some(t) => {
                // A zero value would disarm the timer: the earliest expiry is one nanosecond away.
                let d = t.saturating_duration_since(now).max(Duration::from_nanos(1));
                self.fd.set(Expiration::OneShot(TimeSpec::from_duration(d)), TimerSetTimeFlags::empty())?;
            }
        }
        Ok(())
    }

    /// Consumes an expiry (the loop then looks at every deadline itself).
    pub fn clear(&self) {
        let mut buf = [0u8; 8];
        // An empty timer (EAGAIN) is fine: there is nothing to consume.
        let _ = nix::unistd::read(&self.fd, &mut buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_the_deadline_not_before() {
        let t = Timer::new().expect("timerfd");
        let start = Instant::now();
        t.arm(Some(start + Duration::from_millis(3)), start).expect("arm");
        let mut buf = [0u8; 8];
        // Non-blocking: wait for the expiry with a deadline (a hang fails the test, not a timing bound).
        while nix::unistd::read(&t.fd, &mut buf).is_err() {
            assert!(start.elapsed() < Duration::from_secs(5), "the timer never fired");
            std::thread::yield_now();
        }
        assert!(start.elapsed() >= Duration::from_millis(3));
        assert_eq!(u64::from_ne_bytes(buf), 1);
        t.arm(None, Instant::now()).expect("disarm");
        t.clear();
    }
}
