//! `cargo +nightly fuzz run decode` (or RUSTC_BOOTSTRAP=1 cargo fuzz run decode on a stable toolchain):
//! the decoder and the §7.1 checks on arbitrary bytes. Invariants as in the property test of
//! src/packet.rs: no panic; an accepted packet re-encodes to the same bytes (checksum field aside: 0xffff and 0x0000
//! both verify).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use vrrpd::packet::{Auth, Expect, parse_ipv4};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_ipv4(data) {
        let ihl = usize::from(data[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
        // Same bytes, except that a received checksum of 0xffff (ones' complement "negative zero")
        // verifies as well as the 0x0000 the encoder writes.
        let mut again = r.advert.encode();
        again[6..8].copy_from_slice(&data[ihl + 6..ihl + 8]);
        assert_eq!(again, &data[ihl..total]);
        let mut vips = r.advert.addrs.clone();
        vips.sort();
        let own = [Ipv4Addr::new(10, 0, 0, 1)];
        let pw = Auth::password(b"secret").unwrap_or(Auth::None);
        for auth in [&Auth::None, &pw] {
            let e = Expect { vrid: 51, auth, adver_int: 1, vips: &vips, own: &own, owner: false, strict_interval: true };
            let _ = e.check(&r);
        }
    }
});
