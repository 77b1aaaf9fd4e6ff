//! Why a received packet was dropped: the counted kinds, their stable names and their log text.

/// Why a received packet was dropped. Every kind is counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropKind {
    /// Shorter than the VRRP fixed part.
    Truncated,
    /// Not a packet carrying protocol 112.
    NotVrrp,
    /// IP TTL or IPv6 hop limit is not 255 (§7.1: the packet may have been forwarded).
    Ttl,
    /// VRRP version is neither 2 nor 3.
    Version,
    /// VRRP type is not 1 (ADVERTISEMENT).
    Type,
    /// Count IP Addrs says more addresses than the packet holds.
    CountMismatch,
    /// Bytes after the advert (the authentication data in v2, the addresses in v3).
    TrailingBytes,
    /// Checksum does not verify.
    Checksum,
    /// Another virtual router id (normal on a shared LAN; counted, not an error).
    OtherVrid,
    /// Auth type differs from ours.
    AuthType,
    /// Password differs from ours.
    AuthData,
    /// Advertisement interval is 0, or differs from ours with `--strict-interval`.
    Interval,
    /// Address list differs from ours and the sender is not the owner.
    AddrList,
    /// Sent from one of our own addresses.
    OwnAddress,
    /// We are the address owner (priority 255) and someone else claims the VRID.
    OwnerConflict,
    /// A VRRPv2 advert reached a VRRPv3 router.
    V2OnV3,
    /// A VRRPv3 advert reached a VRRPv2 router.
    V3OnV2,
    /// With `--peer`: an advert from a router that is not one of the peers.
    UnknownPeer,
}

impl DropKind {
    pub const ALL: [DropKind; 18] = [
        DropKind::Truncated,
        DropKind::NotVrrp,
        DropKind::Ttl,
        DropKind::Version,
        DropKind::Type,
        DropKind::CountMismatch,
        DropKind::TrailingBytes,
        DropKind::Checksum,
        DropKind::OtherVrid,
        DropKind::AuthType,
        DropKind::AuthData,
        DropKind::Interval,
        DropKind::AddrList,
        DropKind::OwnAddress,
        DropKind::OwnerConflict,
        DropKind::V2OnV3,
        DropKind::V3OnV2,
        DropKind::UnknownPeer,
    ];

    /// Short stable name, used in logs, the state file and `atropos --state`.
    pub fn name(self) -> &'static str {
        match self {
            DropKind::Truncated => "truncated",
            DropKind::NotVrrp => "not_vrrp",
            DropKind::Ttl => "ttl",
            DropKind::Version => "version",
            DropKind::Type => "type",
            DropKind::CountMismatch => "count_mismatch",
            DropKind::TrailingBytes => "trailing_bytes",
            DropKind::Checksum => "checksum",
            DropKind::OtherVrid => "other_vrid",
            DropKind::AuthType => "auth_type",
            DropKind::AuthData => "auth_data",
            DropKind::Interval => "interval",
            DropKind::AddrList => "addr_list",
            DropKind::OwnAddress => "own_address",
            DropKind::OwnerConflict => "owner_conflict",
            DropKind::V2OnV3 => "v2_on_v3",
            DropKind::V3OnV2 => "v3_on_v2",
            DropKind::UnknownPeer => "unknown_peer",
        }
    }

    /// The kind of a [`DropKind::name`].
    pub fn from_name(s: &str) -> Option<DropKind> {
        DropKind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Human explanation for the log line.
    pub fn describe(self) -> &'static str {
        match self {
            DropKind::Truncated => "truncated packet",
            DropKind::NotVrrp => "not a VRRP packet",
            DropKind::Ttl => "IP TTL (or hop limit) is not 255",
            DropKind::Version => "VRRP version is neither 2 nor 3",
            DropKind::Type => "VRRP type is not ADVERTISEMENT",
            DropKind::CountMismatch => "address count does not match the packet length",
            DropKind::TrailingBytes => "unexpected bytes after the advert",
            DropKind::Checksum => "bad VRRP checksum",
            DropKind::OtherVrid => "advert for another virtual router id",
            DropKind::AuthType => "authentication type differs from ours",
            DropKind::AuthData => "authentication password differs from ours",
            DropKind::Interval => "advertisement interval is 0, or differs from ours (--strict-interval)",
            DropKind::AddrList => "virtual address list differs from ours",
            DropKind::OwnAddress => "sent from one of our own addresses",
            DropKind::OwnerConflict => "we own the addresses (priority 255) and another router claims them",
            DropKind::V2OnV3 => "a VRRPv2 advert on a VRRPv3 router (--vrrp-version differs)",
            DropKind::V3OnV2 => "a VRRPv3 advert on a VRRPv2 router (--vrrp-version differs)",
            DropKind::UnknownPeer => "advert from a router that is not one of our --peer addresses",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_kind_names_are_unique_and_indexed() {
        let mut names: Vec<_> = DropKind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropKind::ALL.len());
        for (i, k) in DropKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(DropKind::from_name(k.name()), Some(*k));
        }
    }
}
