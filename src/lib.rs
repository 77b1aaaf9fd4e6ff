//! vrrpd: VRRPv2 (RFC 3768) with a virtual MAC and a host-wide state shared by all interfaces.
//!
//! Layout, from the wire to the loop (pure modules first; every syscall and every `unsafe` in `sys`):
//! - [`profile`]: protocol version, the interval in centiseconds, Skew_Time and Master_Down_Interval per version.
//! - [`wire`]: the packet view and the checksum over a caller-supplied pseudo-header.
//! - [`packet`]: the v2 advert `Repr` (parse/emit), the IPv4 envelope, the §7.1 receive checks and drop kinds.
//! - [`arp`]: gratuitous ARP frames, MAC text.
//! - [`fsm`]: the §6.4 state machine of one virtual router, with explicit time.
//! - [`group`]: the host-wide verdict of a `-M` group.
//! - [`core`]: the router under the verdict: typed inputs to ordered effects.
//! - [`cli`]: the command line to a `Config`.
//! - [`control`]: the line codec of the control sockets and the sibling STATUS; [`info`]: the INFO record.
//! - [`rundir`]: run-dir names, trust, the state file and its records, the drain file.
//! - [`nlparse`]: the rtnetlink messages we read.
//! - [`hooks`]: the -U/-D runner; [`ctl`]: control-socket plumbing.
//! - [`daemon`]: the event loop wiring events to the core and effects to `sys` (submodules by concern).
//! - [`sys`]: sockets, rtnetlink, signals, MAC claim, processes, inotify, syslog.

#![deny(unsafe_code)]

pub mod arp;
pub mod cli;
pub mod control;
pub mod core;
pub mod ctl;
pub mod daemon;
pub mod fsm;
pub mod group;
pub mod hooks;
pub mod info;
pub mod nlparse;
pub mod packet;
pub mod profile;
pub mod rundir;
pub mod sys;
pub mod wire;
