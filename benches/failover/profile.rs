//! The protocol profile of a run (VRRP version and advert interval), its Skew_Time and the targets it is held to.

use crate::PRIO_H2;
use crate::report::Metric;
use crate::scenarios::Scen;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Prof {
    /// 2 (RFC 3768) or 3 (RFC 5798).
    pub version: u8,
    /// Advertisement interval in centiseconds (v2: whole seconds only).
    pub cs: u32,
    /// The service-tracking part: a stand-in service per host, tracked (`--track-process`,
    /// keepalived `vrrp_script`); its one scenario is that service's death.
    pub track: bool,
}

impl Prof {
    /// The v2 part: adverts 1 s.
    pub const V2: Prof = Prof { version: 2, cs: 100, track: false };
    /// The v3 part: adverts 10 ms and 100 ms.
    pub const V3: [Prof; 2] = [Prof { version: 3, cs: 1, track: false }, Prof { version: 3, cs: 10, track: false }];
    /// The tracking part: adverts 1 s (v2) and 10 ms (v3).
    pub const TRACK: [Prof; 2] = [Prof { version: 2, cs: 100, track: true }, Prof { version: 3, cs: 1, track: true }];

    pub fn interval_us(self) -> i64 {
        i64::from(self.cs) * 10_000
    }

    /// The interval as vrrpd's `-d` and keepalived's `advert_int` read it (`1`, `0.01`, `0.10`).
    pub fn interval_arg(self) -> String {
        if self.version == 2 { (self.cs / 100).to_string() } else { format!("{}.{:02}", self.cs / 100, self.cs % 100) }
    }

    /// Skew_Time of a backup of priority `prio` (µs): v2 (256 − prio)/256 s, v3 (256 − prio) × interval / 256.
    pub fn skew_us(self, prio: u8) -> i64 {
        let left = 256 - i64::from(prio);
        if self.version == 2 { left * 1_000_000 / 256 } else { left * self.interval_us() / 256 }
    }

    /// Master_Down_Interval of h2 (µs): 3 × interval + Skew_Time.
    pub fn master_down_us(self) -> i64 {
        3 * self.interval_us() + self.skew_us(PRIO_H2)
    }

    /// "VRRPv3, adverts 10 ms".
    pub fn label(self) -> String {
        let i = self.interval_us();
        let int = if i >= 1_000_000 { format!("{} s", i / 1_000_000) } else { format!("{} ms", i / 1000) };
        format!("VRRPv{}, adverts {int}{}", self.version, if self.track { ", service tracked" } else { "" })
    }

    /// A short tag for progress lines and lab names ("v3-10ms").
    pub fn tag(self) -> String {
        format!("v{}-{}ms{}", self.version, self.interval_us() / 1000, if self.track { "-track" } else { "" })
    }

    /// The target of a figure (text, µs), printed beside it and never asserted. The v2 targets are
    /// README.md's; the v3 ones are those of issue 12 (3 × interval + Skew_Time for a dead host,
    /// Skew_Time + 5 ms for a link loss).
    pub fn target(self, sc: Scen, m: Metric) -> Option<(String, f64)> {
        let ms = |us: i64| format!("{:.2} ms", us as f64 / 1000.0);
        match (self.version, sc, m) {
            (_, Scen::Link, Metric::Release) => Some(("≤ 5 ms".into(), 5e3)),
            (2, Scen::Link, Metric::Takeover) => Some(("≤ 1.2 s every trial".into(), 1.2e6)),
            (2, Scen::Term, Metric::Takeover) => Some(("≤ 0.66 s".into(), 0.66e6)),
            (2, Scen::KillAll, Metric::Takeover) => Some(("≤ 3.66 s".into(), 3.66e6)),
            (3, Scen::Link, Metric::Takeover) => {
                let t = self.skew_us(PRIO_H2) + 5_000;
                Some((format!("≤ skew+5 = {}", ms(t)), t as f64))
            }
            (2, Scen::Service, Metric::Takeover) => {
                let t = self.skew_us(PRIO_H2) + 10_000;
                Some((format!("≤ skew+10 = {}", ms(t)), t as f64))
            }
            (3, Scen::Service, Metric::Takeover) => Some(("≤ 20 ms".into(), 20e3)),
            (3, Scen::KillAll, Metric::Takeover) => {
                let t = self.master_down_us();
                Some((format!("≤ 3i+skew = {}", ms(t)), t as f64))
            }
            _ => None,
        }
    }

    /// Largest advert gap target (µs): 15 ms at 10 ms (issue 12); none set for other intervals.
    pub fn gap_target(self) -> Option<(String, f64)> {
        (self.version == 3 && self.cs == 1).then(|| ("≤ 15 ms".to_string(), 15e3))
    }

    /// CPU target (% of one core per process): 1 % at 10 ms (issue 12); none set for other intervals.
    pub fn cpu_target(self) -> Option<(String, f64)> {
        (self.version == 3 && self.cs == 1).then(|| ("≤ 1 % of a core".to_string(), 1.0))
    }
}

/// Which parts run: `BENCH_PART=v2|v3|track` (or `scripts/bench.sh --v2|--v3|--track`), all by default
/// (`lans` and `v6` are parts of their own: `lans::lan_parts`, `v6::v6_enabled`).
pub fn parts() -> Vec<Prof> {
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    let mut v = Vec::new();
    if part.is_empty() || part == "all" || part == "v2" {
        v.push(Prof::V2);
    }
    if part.is_empty() || part == "all" || part == "v3" {
        v.extend(Prof::V3);
    }
    if part.is_empty() || part == "all" || part == "track" {
        v.extend(Prof::TRACK);
    }
    v
}

/// The steady-state window of the v3 part (largest advert gap, CPU): `BENCH_WINDOW` seconds, 60 by default.
pub fn window_secs() -> f64 {
    std::env::var("BENCH_WINDOW").ok().and_then(|v| v.parse::<f64>().ok()).filter(|s| *s > 0.0).unwrap_or(60.0)
}
