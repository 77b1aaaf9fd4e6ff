//! `cargo +nightly fuzz run decode` (or RUSTC_BOOTSTRAP=1 cargo fuzz run decode on a stable toolchain):
//! the decoder and the §7.1 checks on arbitrary bytes, as a v2 and as a v3 router. Invariants as in the
//! property test of src/accept.rs: no panic; an accepted packet re-encodes to the same bytes (checksum
//! field aside: 0xffff and 0x0000 both verify).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use vrrpd::accept::{Expect, parse_ipv4};
use vrrpd::packet::Auth;
use vrrpd::profile::{Interval, Version};
use vrrpd::wire::Pseudo;

fuzz_target!(|data: &[u8]| {
    for version in [Version::V2, Version::V3] {
        let Ok(r) = parse_ipv4(data, version) else { continue };
        let ihl = usize::from(data[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
        let pseudo = match version {
            Version::V2 => Pseudo::None,
            Version::V3 => Pseudo::v3(r.src, r.dst).unwrap_or(Pseudo::None),
        };
        let mut again = r.advert.encode_with(pseudo);
        again[6..8].copy_from_slice(&data[ihl + 6..ihl + 8]);
        assert_eq!(again, &data[ihl..total]);
        let mut vips = r.advert.addrs.clone();
        vips.sort();
        let own = [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))];
        let pw = Auth::password(b"secret").unwrap_or(Auth::None);
        for auth in [&Auth::None, &pw] {
            let e = Expect {
                vrid: 51,
                version,
                auth,
                adver_int: Interval::from_secs(1),
                vips: &vips,
                own: &own,
                owner: false,
                peers: &[],
                strict_interval: true,
            };
            let _ = e.check(&r);
        }
    }
});
