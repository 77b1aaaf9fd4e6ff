//! What the keepalived interop tests check in keepalived's own log.

use super::Proc;

/// Things keepalived says when it rejects an advert: none of them may appear in its log.
pub fn assert_keepalived_accepted_everything(k: &Proc) {
    let log = k.log_text().to_lowercase();
    for bad in ["invalid", "bogus", "wrong", "not present", "checksum", "ttl", "mismatch", "received lower prio"] {
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(bad)).collect();
        assert!(hits.is_empty(), "keepalived complained ({bad:?}):\n{}", hits.join("\n"));
    }
}
