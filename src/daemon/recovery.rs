//! Crash recovery at start: what a previous vrrpd of ours left on the interface (virtual addresses, the
//! virtual MAC) is taken back, from the records of the state file.

use super::*;

/// What the start found: the interface's own MAC, and its addresses once the stale ones are gone.
pub(super) struct Recovered {
    pub(super) omac: [u8; 6],
    pub(super) addrs: Vec<Addr>,
}

/// Recovers from a previous run of ours on this interface (crash, SIGKILL, power cut): removes the
/// virtual addresses it left, gives the recorded original MAC back over a virtual one, and refuses a
/// virtual MAC that no record explains.
pub(super) fn recover(
    cfg: &Config,
    id: &MemberId,
    ifindex: u32,
    rtnl: &mut Rtnl,
    cur_link: Option<[u8; 6]>,
    label: &Option<String>,
    force_fallback: bool,
) -> Result<Recovered, String> {
    let records = match rundir::read_state(&cfg.rundir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            warn!("{e}: ignored, it is replaced by a fresh state file");
            Vec::new()
        }
        Err(e) => return Err(format!("{}: reading the state file: {e}", cfg.rundir.display())),
    };
    let previous = records.iter().find(|m| m.id() == *id).cloned();
    // The record of the interface's original MAC: ours, or that of a dead member that set the MAC
    // of this interface under another vrid (we hold the interface's MAC claim, so no live one does).
    let mac_record = records
        .iter()
        .filter(|m| m.ifname == cfg.ifname && !m.no_vmac && m.omac.is_some())
        .find(|m| m.id() == *id || !proc::alive(m.pid))
        .filter(|_| !cfg.no_vmac)
        .cloned();
    let addrs = rtnl.addrs(ifindex).map_err(io_ctx(format!("{}: reading addresses", cfg.ifname)))?;
    let mut stale: Vec<Vip> = Vec::new();
    for a in &addrs {
        let ours_by_label = a.label.is_some()
            && (a.label == *label || a.label == previous.as_ref().and_then(|p| vip_label(&p.ifname, p.vrid)));
        let ours_by_record = previous.as_ref().is_some_and(|p| p.vips.iter().any(|v| v.addr == a.addr))
            && a.label.as_deref() != Some(cfg.ifname.as_str());
        if ours_by_label || ours_by_record {
            stale.push(Vip { addr: a.addr, prefix: a.prefix });
        }
    }
    for v in &stale {
        rtnl.del_addr(ifindex, v.addr, v.prefix).map_err(io_ctx(format!("removing stale address {v}")))?;
        warn!("removed stale virtual address {v} left by a previous vrrpd");
    }
    let cur_mac = cur_link.ok_or_else(|| format!("{}: the interface has no Ethernet address", cfg.ifname))?;
    // The recorded MAC is given back only over a virtual MAC (ours, left behind); a MAC that is not
    // virtual and differs is the interface's own now (re-created, or set by the administrator).
    let omac = match mac_record.as_ref().and_then(|p| p.omac) {
        Some(recorded) if recorded != cur_mac && is_virtual_mac(&cur_mac) => {
            let how = set_mac_any(rtnl, ifindex, recorded, force_fallback)
                .map_err(io_ctx(format!("restoring the original MAC {}", fmt_mac(&recorded))))?;
            warn!(
                "restored the original MAC {} {how} (a previous vrrpd left {} on the interface)",
                fmt_mac(&recorded),
                fmt_mac(&cur_mac)
            );
            recorded
        }
        Some(recorded) if recorded != cur_mac => {
            warn!(
                "the state file records MAC {} for {}, which now has {} (not a virtual MAC): the interface was \
                 re-created or its MAC changed; {} is its own MAC from now on",
                fmt_mac(&recorded),
                cfg.ifname,
                fmt_mac(&cur_mac),
                fmt_mac(&cur_mac)
            );
            cur_mac
        }
        Some(recorded) => recorded,
        None if is_virtual_mac(&cur_mac) && !cfg.no_vmac => {
            // Never take a virtual MAC for the interface's own: a BACKUP would then duplicate the master's.
            return Err(format!(
                "{} carries the virtual MAC {} and no original MAC is recorded in {}: vrrpd cannot know the \
                 interface's own MAC. Set it back (ip link set {} address <its MAC>) and start again, or run with -n",
                cfg.ifname,
                fmt_mac(&cur_mac),
                cfg.rundir.display(),
                cfg.ifname
            ));
        }
        None => cur_mac,
    };
    // Records of dead members that set this interface's MAC under another vrid are now used up.
    if let Some(rec) = mac_record.as_ref().filter(|r| r.id() != *id) {
        let gone = rec.id();
        if let Err(e) = rundir::update_state(&cfg.rundir, |all| all.retain(|m| m.id() != gone)) {
            warn!("cannot drop the old record of {gone}: {e}");
        }
    }

    let addrs = if stale.is_empty() { addrs } else { rtnl.addrs(ifindex).map_err(io_ctx("reading addresses"))? };
    Ok(Recovered { omac, addrs })
}
