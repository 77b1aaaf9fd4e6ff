//! What the protocol version and the address family decide (pure): the advertisement interval kept in
//! centiseconds (as FRR does), Skew_Time and Master_Down_Interval per version (RFC 3768 §6.1, RFC 5798
//! §6.1), the multicast group and address size per family.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The address family of a virtual router (RFC 5798: one router per family, same VRID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(a: IpAddr) -> Family {
        if a.is_ipv4() { Family::V4 } else { Family::V6 }
    }
    /// Bytes of one address in the advert's list.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
    /// The VRRP multicast group: 224.0.0.18 (RFC 3768 §5.2.2) or ff02::12 (RFC 5798 §5.1.2.2).
    pub const fn group(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        }
    }
    pub const fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// The VRRP version spoken on the wire (2 unless `--vrrp-version 3`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Version {
    #[default]
    /// RFC 3768: interval in whole seconds, optional password, checksum over the VRRP message.
    V2,
    /// RFC 5798: interval in centiseconds, no authentication, checksum over a pseudo-header.
    V3,
}

/// An advertisement interval, in centiseconds. v3 carries it as a 12-bit count of centiseconds
/// (1 to 4095); v2 as whole seconds (1 to 255, i.e. 100 to 25,500 here). The default is VRRP's 1 s.
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
    /// Seconds with at most two decimals, as `-d` takes them ("1", "0.1", "0.01", "40.95"); `None` for
    /// anything else (a sign, a third decimal, an empty string, more than 655.35 s).
    pub fn parse_secs(s: &str) -> Option<Interval> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) || frac.len() > 2 {
            return None;
        }
        let whole: u32 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let frac: u32 = match frac.len() {
            0 => 0,
            1 => frac.parse::<u32>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        u16::try_from(whole.checked_mul(100)?.checked_add(frac)?).ok().map(Interval)
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
    /// The Version field of the header.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
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
    fn families() {
        assert_eq!(Family::of("10.0.0.1".parse().unwrap()), Family::V4);
        assert_eq!(Family::of("2001:db8::1".parse().unwrap()), Family::V6);
        assert_eq!(Family::V4.group().to_string(), "224.0.0.18");
        assert_eq!(Family::V6.group().to_string(), "ff02::12");
        assert_eq!((Family::V4.addr_len(), Family::V6.addr_len()), (4, 16));
        assert_eq!((Version::V2.number(), Version::V3.number()), (2, 3));
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

    #[test]
    fn interval_parse_secs() {
        let cs = |s: &str| Interval::parse_secs(s).map(Interval::centis);
        assert_eq!(cs("1"), Some(100));
        assert_eq!(cs("0.1"), Some(10));
        assert_eq!(cs("0.01"), Some(1));
        assert_eq!(cs(".5"), Some(50));
        assert_eq!(cs("40.95"), Some(4095));
        assert_eq!(cs("255"), Some(25500));
        assert_eq!(cs("0"), Some(0));
        for bad in ["", ".", "0.015", "-1", "+1", "1e2", "1,5", " 1", "656", "99999999999"] {
            assert_eq!(cs(bad), None, "{bad:?}");
        }
    }
}
