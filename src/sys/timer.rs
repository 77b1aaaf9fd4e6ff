//! One monotonic timerfd for the event loop: wakes it at a deadline with nanosecond precision (epoll's
//! own timeout rounds up to whole milliseconds, too coarse for 10 ms adverts).

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

pub struct Timer {
    fd: TimerFd,
    /// The deadline the kernel holds and has not yet reported (`None`: disarmed or fired).
    armed: Option<Instant>,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        let fd = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        Ok(Timer { fd, armed: None })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }

    /// Fires once at `deadline` (at once if it has passed), or never (`None`). Arming again clears
    /// an expiry not yet read, so a fired timer needs no read. The deadline the kernel already holds
    /// costs no syscall: a sibling's status, or a MASTER hearing a lower priority, leaves it unchanged.
    pub fn arm(&mut self, deadline: Option<Instant>, now: Instant) -> io::Result<()> {
        if deadline == self.armed {
            return Ok(());
        }
        // Forgotten first: if the syscall fails, the next call tries again.
        self.armed = None;
        match deadline {
            None => self.fd.unset()?,
            Some(t) => {
                // A zero value would disarm the timer: the earliest expiry is one nanosecond away.
                let d = t.saturating_duration_since(now).max(Duration::from_nanos(1));
                self.fd.set(Expiration::OneShot(TimeSpec::from_duration(d)), TimerSetTimeFlags::empty())?;
            }
        }
        self.armed = deadline;
        Ok(())
    }

    /// Notes that the loop saw the timer fire: the next `arm` sets it again, even for the same
    /// deadline. The expiry is not read: the loop registers the fd edge-triggered, each expiry is
    /// reported on its own, and the next `arm` resets the count.
    pub fn fired(&mut self) {
        self.armed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut t = Timer::new().expect("timerfd");
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
    }

    /// Reads the expiry count without blocking (0: nothing pending).
    fn pending(t: &Timer) -> u64 {
        let mut buf = [0u8; 8];
        match nix::unistd::read(&t.fd, &mut buf) {
            Ok(_) => u64::from_ne_bytes(buf),
            Err(_) => 0,
        }
    }

    /// How many fds poll(2) finds readable within `ms` (the timer's own: 0 or 1), without reading.
    fn readable_within(t: &Timer, ms: u16) -> i32 {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(t.fd.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(ms)).expect("poll")
    }

    /// Waits (with a deadline, to catch a hang) until the timer is readable.
    fn wait_readable(t: &Timer) {
        assert_eq!(readable_within(t, 5000), 1, "the timer never fired");
    }

    #[test]
    fn the_same_deadline_is_kept_and_a_fired_one_is_set_again() {
        let mut t = Timer::new().expect("timerfd");
        let now = Instant::now();
        let at = now + Duration::from_millis(2);
        t.arm(Some(at), now).expect("arm");
        // The same deadline again: no syscall, and the kernel still fires at it.
        t.arm(Some(at), Instant::now()).expect("arm again");
        wait_readable(&t);
        assert!(Instant::now() >= at);
        assert_eq!(pending(&t), 1);
        // Fired: the same (now past) deadline is set again and fires again (a loop that skipped
        // it would wait forever on an edge-triggered fd).
        t.fired();
        t.arm(Some(at), Instant::now()).expect("re-arm a past deadline");
        wait_readable(&t);
        assert_eq!(pending(&t), 1);
        // Without `fired`, the same deadline is not set again. Given a `now` one minute earlier, a
        // re-set would put the expiry a minute later; the kernel keeps the first one.
        let far = Instant::now() + Duration::from_secs(60);
        t.arm(Some(far), Instant::now()).expect("arm far");
        t.arm(Some(far), Instant::now() - Duration::from_secs(60)).expect("unchanged");
        let left = match t.fd.get().expect("timerfd_gettime") {
            Some(Expiration::OneShot(ts)) => Duration::from(ts),
            other => panic!("the timer is not armed once: {other:?}"),
        };
        assert!(left <= Duration::from_secs(60), "the unchanged deadline was set again ({left:?} left)");
        // An unread expiry is reset by the next arm: a loop that does not read it sees no stale count.
        t.fired();
        t.arm(Some(at), Instant::now()).expect("arm");
        wait_readable(&t);
        t.fired();
        t.arm(Some(Instant::now() + Duration::from_secs(60)), Instant::now()).expect("arm later");
        assert_eq!(pending(&t), 0, "the unread expiry survived a new arm");
        // Disarming an armed timer: nothing fires.
        let later = Instant::now() + Duration::from_millis(1);
        t.arm(Some(later), Instant::now()).expect("arm");
        t.arm(None, Instant::now()).expect("disarm");
        assert_eq!(readable_within(&t, 5), 0, "a disarmed timer fired");
    }
}
