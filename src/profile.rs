//! What the protocol version decides (pure): the advertisement interval kept in centiseconds (as FRR does),
//! and Skew_Time and Master_Down_Interval per version (RFC 3768 §6.1, RFC 5798 §6.1).

use std::fmt;
use std::time::Duration;

/// The VRRP version spoken on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// RFC 3768: interval in whole seconds, optional password, checksum over the VRRP message.
    V2,
    /// RFC 5798: interval in centiseconds, no authentication, checksum over a pseudo-header.
    V3,
}

/// An advertisement interval, in centiseconds (1 to 4095 fits both versions' fields: v2 carries whole
/// seconds up to 255, v3 a 12-bit count of centiseconds). The default is VRRP's 1 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(u16);

impl Default for Interval {
    fn default() -> Interval {
        Interval::from_secs(1)
    }
}

impl Interval {
    pub const fn from_centis(cs: u16) -> Interval {
        Interval(cs)
    }
    pub const fn from_secs(s: u8) -> Interval {
        Interval(s as u16 * 100)
    }
    pub const fn centis(self) -> u16 {
        self.0
    }
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
    /// The VRRPv2 field (whole seconds); `None` when the interval is not a whole number of seconds
    /// from 1 to 255.
    pub fn whole_secs(self) -> Option<u8> {
        self.0.is_multiple_of(100).then(|| u8::try_from(self.0 / 100).ok()).flatten().filter(|s| *s > 0)
    }
}

impl fmt::Display for Interval {
    /// `1 s`, `2 s`, `0.10 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(100) {
            write!(f, "{} s", self.0 / 100)
        } else {
            write!(f, "{}.{:02} s", self.0 / 100, self.0 % 100)
        }
    }
}

impl Version {
    /// Skew_Time: v2 (256 − Priority) / 256 s; v3 ((256 − Priority) × Master_Adver_Interval) / 256.
    pub fn skew_time(self, priority: u8, master_int: Interval) -> Duration {
        let left = 256 - u64::from(priority);
        match self {
            Version::V2 => Duration::from_nanos(left * 1_000_000_000 / 256),
            Version::V3 => Duration::from_nanos(left * u64::from(master_int.centis()) * 10_000_000 / 256),
        }
    }
    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(self, priority: u8, master_int: Interval) -> Duration {
        3 * master_int.as_duration() + self.skew_time(priority, master_int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_in_centiseconds() {
        let one = Interval::from_secs(1);
        assert_eq!(one.centis(), 100);
        assert_eq!(one.as_duration(), Duration::from_secs(1));
        assert_eq!(one.whole_secs(), Some(1));
        assert_eq!(Interval::from_secs(255).whole_secs(), Some(255));
        assert_eq!(Interval::from_centis(10).whole_secs(), None);
        assert_eq!(Interval::from_centis(0).whole_secs(), None);
        assert_eq!(Interval::from_centis(25_600).whole_secs(), None);
        assert_eq!(Interval::from_centis(10).as_duration(), Duration::from_millis(100));
        assert_eq!(Interval::from_secs(2).to_string(), "2 s");
        assert_eq!(Interval::from_centis(1).to_string(), "0.01 s");
        assert_eq!(Interval::from_centis(4095).to_string(), "40.95 s");
    }

    #[test]
    fn rfc_timers_per_version() {
        let one = Interval::from_secs(1);
        // RFC 3768: priority 100, 1 s → skew 0.609375 s, Master_Down_Interval 3.609375 s.
        assert_eq!(Version::V2.skew_time(100, one), Duration::from_micros(609_375));
        assert_eq!(Version::V2.master_down_interval(100, one), Duration::from_micros(3_609_375));
        // v2's skew does not scale with the interval.
        assert_eq!(Version::V2.skew_time(100, Interval::from_secs(2)), Duration::from_micros(609_375));
        // RFC 5798: 10 ms adverts, priority 100 → skew 6.09375 ms, Master_Down_Interval 36.09375 ms.
        let cs = Interval::from_centis(1);
        assert_eq!(Version::V3.skew_time(100, cs), Duration::from_nanos(6_093_750));
        assert_eq!(Version::V3.master_down_interval(100, cs), Duration::from_nanos(36_093_750));
        assert_eq!(Version::V3.skew_time(255, cs), Duration::from_nanos(39_062));
    }
}
