//! Parsing what the lab records: tcpdump captures, `ip -ts monitor` events and vrrpd log times.

#[derive(Clone, Debug)]
pub enum PktKind {
    Advert { src_ip: String, vrid: u8, prio: u8 },
    Garp { ip: String },
    Other,
}

#[derive(Clone, Debug)]
pub struct Pkt {
    pub t: i64,
    pub src_mac: String,
    pub kind: PktKind,
}

/// `1763755178.118193` → µs.
pub fn parse_epoch_us(s: &str) -> Option<i64> {
    let (sec, frac) = s.split_once('.')?;
    let sec: i64 = sec.parse().ok()?;
    let mut f = frac.to_string();
    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while f.len() < 6 {
        f.push('0');
    }
    Some(sec * 1_000_000 + f[..6].parse::<i64>().ok()?)
}

/// One line of `tcpdump -tt -n -e` (no -v):
/// `TS SRC > DST, ethertype IPv4 (0x0800), length 54: 192.0.2.1 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 0, …`
/// `TS SRC > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: Request who-has X tell X, length 46`
pub fn parse_pkt(line: &str) -> Option<Pkt> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let t = parse_epoch_us(w.first()?)?;
    let src_mac = w.get(1)?.to_lowercase();
    let dst_mac = w.get(3)?.trim_end_matches(',').to_lowercase();
    let kind = if line.contains("VRRP") {
        let parts: Vec<&str> = line.split(": ").collect();
        let src_ip = parts.get(1).and_then(|p| p.split_whitespace().next()).unwrap_or("").to_string();
        let num_after = |key: &str| -> Option<u8> {
            let i = w.iter().position(|x| *x == key)?;
            w.get(i + 1)?.trim_end_matches(',').parse().ok()
        };
        match (num_after("vrid"), num_after("prio")) {
            (Some(vrid), Some(prio)) => PktKind::Advert { src_ip, vrid, prio },
            _ => PktKind::Other,
        }
    } else if line.contains("ethertype ARP") && dst_mac == "ff:ff:ff:ff:ff:ff" {
        let after = |key: &str| -> Option<String> {
            let i = w.iter().position(|x| *x == key)?;
            Some(w.get(i + 1)?.trim_end_matches(',').to_string())
        };
        match (after("who-has"), after("tell"), after("Reply")) {
            (Some(a), Some(b), _) if a == b => PktKind::Garp { ip: a },
            (_, _, Some(a)) => PktKind::Garp { ip: a },
            _ => PktKind::Other,
        }
    } else {
        PktKind::Other
    };
    Some(Pkt { t, src_mac, kind })
}

pub fn parse_capture(text: &str) -> Vec<Pkt> {
    text.lines().filter_map(parse_pkt).collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-21T19:59:38.118193` (UTC: the monitors run with TZ=UTC) → µs.
pub fn parse_iso_us(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (h, mi, se) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se;
    parse_epoch_us(&format!("{secs}.{frac}"))
}

#[derive(Clone, Debug)]
pub enum MonKind {
    Link { ifname: String, flags: Vec<String> },
    AddrAdd { ifname: String, ip: String },
    AddrDel { ifname: String, ip: String },
}

#[derive(Clone, Debug)]
pub struct MonEv {
    pub t: i64,
    pub kind: MonKind,
}

/// One first line of `ip -ts monitor link address`:
/// `[2026-11-21T19:59:38.118193] 2: eth1@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 …`
/// `[…] 2: eth1    inet 10.9.9.200/32 scope global eth1:v52` / `[…] Deleted 2: eth1    inet …`
/// (IPv6 alike: `[…] 2: eth0    inet6 2001:db8:a::200/64 scope global deprecated nodad`)
pub fn parse_mon(line: &str) -> Option<MonEv> {
    let rest = line.strip_prefix('[')?;
    let (ts, rest) = rest.split_once(']')?;
    let t = parse_iso_us(ts)?;
    let mut w: Vec<&str> = rest.split_whitespace().filter(|x| !x.starts_with('[')).collect();
    let deleted = w.first() == Some(&"Deleted");
    if deleted {
        w.remove(0);
    }
    // w[0] = "2:", w[1] = "eth1@if2:" or "eth1"
    let ifname = w.get(1)?.trim_end_matches(':').split('@').next()?.to_string();
    let kind = match w.get(2) {
        Some(&"inet" | &"inet6") => {
            let ip = w.get(3)?.split('/').next()?.to_string();
            if deleted { MonKind::AddrDel { ifname, ip } } else { MonKind::AddrAdd { ifname, ip } }
        }
        Some(f) if f.starts_with('<') => MonKind::Link {
            ifname,
            flags: f.trim_matches(|c| c == '<' || c == '>').split(',').map(str::to_string).collect(),
        },
        _ => return None,
    };
    Some(MonEv { t, kind })
}

pub fn parse_monitor(text: &str) -> Vec<MonEv> {
    text.lines().filter_map(parse_mon).collect()
}

/// A vrrpd log line `HH:MM:SS.mmm vrrpd[pid] info: …` → µs, on the UTC day of `day_of`.
pub fn parse_log_time(line: &str, day_of: i64) -> Option<i64> {
    let first = line.split_whitespace().next()?;
    let (hms, ms) = first.split_once('.')?;
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (h, m, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let ms: i64 = ms.parse().ok()?;
    let day = day_of - day_of.rem_euclid(86_400_000_000);
    Some(day + ((h * 3600 + m * 60 + s) * 1000 + ms) * 1000)
}
