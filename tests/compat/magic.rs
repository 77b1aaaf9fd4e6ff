//! Item 4: 1.15's magic packet (-I VIP -O GATEWAY) captured at the gateway.
use super::*;

/// One datagram to port 1100 seen by `tcpdump -tt -n -e -A` on the client.
#[derive(Debug)]
struct Magic {
    t: f64,
    src_mac: String,
    src: String,
}

/// `tcpdump -tt -n -e -l -U -A udp port 1100` in the client of LAN A (the gateway's stand-in).
fn capture_magic(lab: &Lab) -> Proc {
    let p = lab.spawn_split(
        lab.client(0),
        &["tcpdump", "-i", "eth0", "-tt", "-n", "-e", "-l", "-U", "-A", "udp", "port", "1100"],
        "tcpdump-magic",
    );
    wait_until(Duration::from_secs(10), "tcpdump to listen", || {
        assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
        p.err_text().contains("listening on")
    });
    p
}

/// The datagrams to CLIENT_A port 1100 in a capture.
fn magic_packets(text: &str) -> Vec<Magic> {
    let to = format!(" > {CLIENT_A}.1100: UDP");
    text.lines()
        .filter_map(|l| {
            let t = l.split_whitespace().next()?.parse::<f64>().ok()?;
            let i = l.find(&to)?;
            let src = l[..i].rsplit(' ').next()?;
            let src = src.rsplit_once('.').map(|(a, _)| a)?.to_string();
            let src_mac = l.split_whitespace().nth(1)?.to_lowercase();
            Some(Magic { t, src_mac, src })
        })
        .collect()
}

fn check_magic(what: &str, pkts: &[Magic], text: &str, src_mac: &str) {
    assert!(pkts.len() >= 2, "{what}: at least two magic packets:\n{text}");
    for p in pkts {
        assert_eq!(p.src, VIP_A, "{what}: the magic packet comes from the VIP:\n{text}");
        assert_eq!(p.src_mac, src_mac, "{what}: source MAC of the magic packet:\n{text}");
    }
    let gap = pkts[1].t - pkts[0].t;
    assert!(gap > 0.3 && gap <= 3.0, "{what}: the repeat came {gap:.3} s after the first:\n{text}");
    let payload = format!("vrrpd vrid {VRID} master {VIP_A}");
    assert!(text.matches(&payload).count() >= 2, "{what}: payload {payload:?} in each datagram:\n{text}");
}

#[test]
fn magic_packet_reaches_the_gateway_on_becoming_master_with_and_without_n() {
    // Fails before the change: -I and -O were unknown options (usage error, exit 2), nothing was sent.
    if skip_unless_root() || skip_unless_installed("tcpdump", "--version") {
        return;
    }
    let lab = Lab::new("cmagic", 2, 1);
    let o1 = mac(lab.h(1), A);
    let cap = capture_magic(&lab);

    // With -n: the host's own MAC carries the VIP.
    let p1 = lab.vrrpd(1, &format!("-n -i {A} -v {VRID} -p 110 -I {VIP_A} -O {CLIENT_A} {VIP_A}"));
    lab.wait_until(HANG, "host 1 (-n) alone MASTER with the VIP and its own MAC", || {
        running(&[&p1]);
        live(&lab, 1, VRID, &p1).as_deref() == Some("MASTER") && has_ip(lab.h(1), A, VIP_A) && mac(lab.h(1), A) == o1
    });
    lab.wait_until(HANG, "the gateway sees the magic packet and a repeat", || {
        magic_packets(&cap.log_text()).len() >= 2
    });
    let text = cap.log_text();
    let pkts = magic_packets(&text);
    check_magic("-n", &pkts, &text, &o1);
    println!("-n: {} magic packets: {pkts:?}", pkts.len());
    lab.wait_until(HANG, "the third magic packet (0, 1, 2 s after the transition)", || {
        magic_packets(&cap.log_text()).len() >= 3
    });
    p1.term();
    assert_eq!(p1.wait_exit(HANG).code(), Some(0));
    let seen = magic_packets(&cap.log_text()).len();

    // Without -n, behind a higher master: nothing while BACKUP, the burst on becoming MASTER.
    let p2 = lab.vrrpd(2, &format!("-i {A} -v {VRID} -p 120 {VIP_A}"));
    lab.wait_until(HANG, "host 2 (120) MASTER", || {
        running(&[&p2]);
        master_with_vmac(&lab, 2, VRID, &p2, VIP_A)
    });
    let p1 = lab.vrrpd(1, &format!("-i {A} -v {VRID} -p 110 -I {VIP_A} -O {CLIENT_A} {VIP_A}"));
    lab.wait_until(HANG, "host 1 (110) BACKUP", || {
        running(&[&p1, &p2]);
        backup_released(&lab, 1, VRID, &p1, VIP_A, &o1)
    });
    hold_for(Duration::from_secs(2), "no magic packet from host 1 while it is BACKUP", || {
        live(&lab, 1, VRID, &p1).as_deref() == Some("BACKUP") && magic_packets(&cap.log_text()).len() == seen
    });
    p2.term();
    lab.wait_until(HANG, "host 1 MASTER with VIP + vMAC after host 2 stops", || {
        running(&[&p1]);
        master_with_vmac(&lab, 1, VRID, &p1, VIP_A)
    });
    lab.wait_until(HANG, "the gateway sees host 1's magic packet and a repeat", || {
        magic_packets(&cap.log_text()).len() >= seen + 2
    });
    let text = cap.log_text();
    let pkts = magic_packets(&text);
    check_magic("without -n", &pkts[seen..], &text, &vmac(VRID));
    println!("without -n: {} magic packets: {:?}", pkts.len() - seen, &pkts[seen..]);
}

#[test]
fn magic_packet_options_are_checked_before_starting() {
    // Fails before the change: -I / -O were unknown options: exit 2 too, but with getopts' generic
    // "Unrecognized option" instead of a line about what is missing or wrong.
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("cmagicerr", 1, 1);
    let base = format!("-i {A} -v {VRID} -p 110");
    let cases = [
        (format!("{base} -I {VIP_A} {VIP_A}"), vec!["-I", "-O"]),
        (format!("{base} -O {CLIENT_A} {VIP_A}"), vec!["-O", "-I"]),
        (format!("{base} -I {VIP_A2} -O {CLIENT_A} {VIP_A}"), vec!["-I", VIP_A2, "virtual address"]),
        (format!("{base} -I {VIP_A} -O 224.0.0.9 {VIP_A}"), vec!["-O", "224.0.0.9"]),
    ];
    for (args, words) in cases {
        let o = vrrpd_to_exit(&lab, 1, &args);
        assert_eq!(o.status.code(), Some(2), "vrrpd {args}: usage error expected, got {:?}\n{}", o.status, o.stderr);
        let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "vrrpd {args}: one line on stderr:\n{}", o.stderr);
        for w in words {
            assert!(lines[0].contains(w), "vrrpd {args}: the error line must name {w:?}: {}", lines[0]);
        }
        println!("vrrpd {args}: {}", lines[0]);
        assert!(!has_ip(lab.h(1), A, VIP_A), "vrrpd {args} touched the interface");
        let leftovers: Vec<String> = fs::read_dir(rundir(&lab, 1))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("vrrpd_"))
            .collect();
        assert!(leftovers.is_empty(), "vrrpd {args} left {leftovers:?} in the run dir");
    }
}
