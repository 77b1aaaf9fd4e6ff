//! vrrpd: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) with a virtual MAC and a host-wide state shared by all interfaces.
//!
//! Layout, from the wire to the loop (pure modules first; every syscall and every `unsafe` in `sys`):
//! - [`profile`]: protocol version and address family; the interval in centiseconds, Skew_Time and
//!   Master_Down_Interval per version; the group and address size per family.
//! - [`wire`]: the packet view and the checksum over a caller-supplied pseudo-header (none, IPv4, IPv6).
//! - [`packet`]: the advert `Repr` of v2 and v3 (parse/emit); [`drops`]: the counted drop kinds.
//! - [`accept`]: the §7.1 receive checks on the envelope the socket layer reports and on the advert.
//! - [`arp`]: gratuitous ARP frames, MAC text; [`nd`]: unsolicited Neighbor Advertisement frames.
//! - [`fsm`]: the §6.4 state machine of one virtual router, with explicit time.
//! - [`group`]: the host-wide verdict of a `-M` group.
//! - [`core`]: the router under the verdict: typed inputs to ordered effects.
//! - [`track`]: service trackers (processes, check scripts, other interfaces), fall/rise, the host fault.
//! - [`hostwide`]: the whole host's transitions and the one member that runs `--host-up`/`--host-down`.
//! - [`cli`]: the command line to a `Config`.
//! - [`control`]: the line codec of the control sockets and the sibling STATUS; [`info`]: the INFO record
//!   ([`info6`]: its IPv6 router's part).
//! - [`rundir`]: run-dir names, trust, the state file and its records, the drain file.
//! - [`nlparse`]: the rtnetlink messages we read; [`nlreq`]: the requests we send.
//! - [`hooks`]: the -U/-D runner; [`ctl`]: control-socket plumbing.
//! - [`daemon`]: the event loop wiring events to the core and effects to `sys` (submodules by concern).
//! - [`sys`]: sockets, rtnetlink, signals, MAC claim, processes, inotify, the loop's timerfd, syslog.

#![deny(unsafe_code)]

pub mod accept;
pub mod arp;
pub mod cli;
pub mod control;
pub mod core;
pub mod ctl;
pub mod daemon;
pub mod drops;
pub mod fsm;
pub mod group;
pub mod hooks;
pub mod hostwide;
pub mod info;
pub mod info6;
pub mod nd;
pub mod nlparse;
pub mod nlreq;
pub mod packet;
pub mod profile;
pub mod rundir;
pub mod sys;
pub mod track;
pub mod wire;
