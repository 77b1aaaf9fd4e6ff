//! vrrpd: VRRPv2 (RFC 3768) with a virtual MAC and a host-wide state shared by all interfaces.
//!
//! Pure modules (no I/O): [`packet`], [`fsm`], [`cli`], [`arp`]. Every syscall and every `unsafe`
//! lives under [`sys`]; [`daemon`] is the event loop that joins them.

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
