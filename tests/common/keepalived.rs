//! What the keepalived interop tests share: keepalived's own log checks, and the advert intervals as
//! both sides write them.
#![allow(dead_code)]

use super::Proc;
use std::time::Duration;

/// keepalived.conf of a dual-stack host `n`: the interop global_defs (VRRPv3, one GARP, no refresh,
/// scripts as root) and one sync group `G<vrid>` of the instances `VI_4` and `VI_6`, given whole.
pub fn dual_stack_conf(lab_name: &str, n: usize, vrid: u8, v4: &str, v6: &str) -> String {
    format!(
        "global_defs {{\n    router_id {lab_name}_h{n}\n    vrrp_version 3\n    vrrp_garp_master_delay 0\n    \
         vrrp_garp_master_repeat 1\n    vrrp_garp_master_refresh 0\n    script_user root\n    \
         enable_script_security\n}}\n\
         vrrp_sync_group G{vrid} {{\n    group {{\n        VI_4\n        VI_6\n    }}\n}}\n{v4}{v6}"
    )
}

/// An advert interval as both sides write it, and in centiseconds.
#[derive(Clone, Copy)]
pub struct Int {
    pub text: &'static str,
    pub centis: u64,
}

pub const I_1S: Int = Int { text: "1", centis: 100 };
pub const I_100MS: Int = Int { text: "0.1", centis: 10 };
pub const I_10MS: Int = Int { text: "0.01", centis: 1 };

impl Int {
    pub fn dur(self) -> Duration {
        Duration::from_millis(self.centis * 10)
    }
    /// Master_Down_Interval of RFC 5798 for a backup of priority `prio`: 3 × interval + Skew_Time.
    pub fn master_down(self, prio: u8) -> Duration {
        3 * self.dur() + self.dur() * (256 - u32::from(prio)) / 256
    }
    /// How long "stays" is watched: well past Master_Down_Interval, and long enough to see many adverts.
    pub fn hold(self, prio: u8) -> Duration {
        self.master_down(prio) + Duration::from_millis(1500)
    }
}

/// Things keepalived says when it rejects an advert: none of them may appear in its log.
pub fn assert_keepalived_accepted_everything(k: &Proc) {
    let log = k.log_text().to_lowercase();
    for bad in ["invalid", "bogus", "wrong", "not present", "checksum", "ttl", "mismatch", "received lower prio"] {
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(bad)).collect();
        assert!(hits.is_empty(), "keepalived complained ({bad:?}):\n{}", hits.join("\n"));
    }
}
