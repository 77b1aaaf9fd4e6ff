//! Control sockets (non-root peers, malformed requests) and hook scripts that others can write.
use super::*;

const PY_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(sys.argv[1])
except Exception as e:
    print("EXC " + type(e).__name__ + " " + str(e))
    sys.exit(0)
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except Exception as e:
    # The daemon may answer and close before the request is written: read what it said anyway.
    print("SEND " + type(e).__name__)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except Exception as e:
    print("RECV " + type(e).__name__)
print("REPLY " + repr(data))
"#;

/// Connects to `sock` as uid/gid 65534 (no groups) and sends `line`; returns what the client printed.
fn as_nobody(sock: &Path, line: &str) -> String {
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", PY_CLIENT])
        .arg(sock)
        .arg(line)
        .output()
        .expect("setpriv");
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// One raw request as root; returns what came back before the daemon closed or 2 s passed.
fn raw_request(sock: &Path, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("{}: {e}", sock.display()));
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn control_socket_refuses_non_root_peers_and_malformed_requests() {
    if skip_unless_root()
        || skip_unless_installed("setpriv", "--version")
        || skip_unless_installed("/usr/bin/python3", "--version")
        || skip_unless_installed("tcpdump", "--version")
    {
        return;
    }
    let lab = Lab::new("ctlsock", 1, 1);
    let h = lab.h(1);
    let rundir = lab.host(1).rundir.clone();
    let p = lab.vrrpd(1, &single_lan_args(110));
    let master = || p.is_running() && owns_with_vmac(h, A, VIP_A, VRID_A);
    lab.wait_until(SETTLE, "lone host MASTER", || {
        assert!(p.is_running(), "vrrpd exited");
        master()
            && lab.live_state(1, A, VRID_A, &p).as_deref() == Some("MASTER")
            && lab.vrrpd_sock(1, A, VRID_A).is_some()
    });
    let sock = lab.vrrpd_sock(1, A, VRID_A).expect("control socket");

    // 1. The socket file itself keeps other users out.
    let mode = fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "control socket mode {mode:o}: others may connect");
    let out = as_nobody(&sock, "DRAIN");
    assert!(out.contains("EXC PermissionError"), "uid 65534 connecting to a 0{mode:o} socket: {out}");

    // 2. Even when the file is opened up by mistake, the daemon checks the peer's uid.
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o666)).unwrap();
    for req in ["DRAIN", "GET", "REDUCE"] {
        let out = as_nobody(&sock, req);
        assert!(out.contains("REPLY") && out.contains("ERR"), "uid 65534 sent {req}: {out}");
        assert!(!out.contains("INFO") && !out.contains("OK"), "uid 65534 sent {req} and was answered: {out}");
    }
    assert!(
        p.log_text().contains("refused a control connection from uid 65534"),
        "no log line for the refused peer:\n{}",
        p.log_text()
    );
    hold_for(Duration::from_millis(500), "a refused DRAIN changes nothing", master);
    let (code, out) = atropos_run(&rundir, &["--state", "--json"]);
    assert_eq!(code, 0, "atropos --state after the refused requests:\n{out}");
    assert!(
        out.contains("\"drained\":false") && out.contains("\"priority\":110") && !rundir.join("drain").exists(),
        "a refused peer changed something:\n{out}"
    );

    // 3. atropos itself refuses to run for another user.
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(atropos_bin())
        .args(["-f", &rundir.display().to_string(), "--state"])
        .output()
        .expect("setpriv");
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    if text.contains("Permission denied") && o.status.code() != Some(3) {
        println!("skipped: uid 65534 cannot execute {} ({text})", atropos_bin().display());
    } else {
        assert_eq!(o.status.code(), Some(3), "atropos as uid 65534: {text}");
        assert!(text.contains("root"), "atropos as uid 65534 says why: {text}");
    }

    // 4. Malformed and abusive requests from root: an error answer or a disconnect, never a crash, and
    // never a stall of the protocol (the master's adverts are watched on the LAN throughout).
    let watch = AdvertWatch::start(&lab, &host_ip(1, 0));
    let abuse_start = wall();
    let long_line = vec![b'A'; 20_000];
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty line", b"\n".to_vec()),
        ("lower-case verb", b"get\n".to_vec()),
        ("field without =", b"GET\tnovalue\n".to_vec()),
        ("empty field name", b"GET\t=x\n".to_vec()),
        ("unknown verb", b"REBOOT\n".to_vec()),
        (
            "member message outside a group",
            b"HELLO\tif=eth9\tvrid=1\tpid=1\tstate=MASTER\twants=1\tlink=up\tprio=1\n".to_vec(),
        ),
        ("truncated STATUS", b"STATUS\tif=eth0\n".to_vec()),
        ("binary", vec![0, 1, 2, 0xff, 0xfe, b'\n']),
        ("invalid UTF-8 verb", b"G\xc3\x28T\n".to_vec()),
        ("CR LF", b"GET\r\n".to_vec()),
        ("no newline at all", b"GET".to_vec()),
        ("line longer than the limit", long_line),
        ("many requests in one write", b"GET\nGET\nREBOOT\nGET\n".to_vec()),
    ];
    for (what, bytes) in &malformed {
        let reply = raw_request(&sock, bytes);
        let first = reply.lines().next().unwrap_or("");
        assert!(
            reply.is_empty() || first.starts_with("ERR") || first.starts_with("INFO"),
            "{what}: unexpected answer {reply:?}"
        );
        if *what != "many requests in one write" && *what != "no newline at all" && !bytes.ends_with(b"GET\r\n") {
            assert!(!reply.contains("INFO"), "{what}: answered as a valid request: {reply:?}");
        }
        assert!(p.is_running(), "vrrpd died on a malformed request ({what}):\n{}", p.log_text());
        println!("{what:<32} -> {:?}", first.chars().take(70).collect::<String>());
    }

    // A client that sends requests and never reads its answers is cut off.
    {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.set_nonblocking(true).unwrap();
        let req = b"GET\n".repeat(1000);
        let t = Instant::now();
        let mut sent = 0usize;
        let mut cut = false;
        while t.elapsed() < Duration::from_secs(10) {
            match s.write(&req) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => {
                    cut = true;
                    break;
                }
            }
        }
        println!("non-reading client: {sent} bytes of requests written, disconnected: {cut}");
        assert!(cut, "a client that never reads was not disconnected after {sent} bytes");
    }
    // Right after cutting that client off, the daemon answers the others at once.
    let t = Instant::now();
    let after_cut = atropos_run(&rundir, &["--state"]);
    let after_cut_took = t.elapsed();
    let t = Instant::now();
    lab.wait_until(HANG, "the daemon answers atropos again", || atropos_run(&rundir, &["--state"]).0 == 0);
    println!(
        "atropos right after the cut-off: exit {} in {after_cut_took:.2?}; answering again after {:.2?} more",
        after_cut.0,
        t.elapsed()
    );
    // Idle connections and a half-written request do not block others.
    let idle: Vec<UnixStream> = (0..200).map(|_| UnixStream::connect(&sock).unwrap()).collect();
    let mut partial = UnixStream::connect(&sock).unwrap();
    partial.write_all(b"GE").unwrap();
    let t = Instant::now();
    let (code, out) = atropos_run(&rundir, &["--state"]);
    assert_eq!(code, 0, "atropos --state with 200 idle connections open:\n{out}");
    assert!(t.elapsed() < Duration::from_secs(2), "atropos --state took {:?}", t.elapsed());
    drop(idle);
    drop(partial);

    hold_for(Duration::from_secs(1), "still MASTER after the malformed requests", master);
    let abuse_end = wall();
    let (n, gap) = watch.stop(abuse_start, abuse_end);
    println!("master adverts during the control-socket abuse: {n}, largest gap {gap:.3} s");
    assert!(
        gap <= MAX_ADVERT_GAP,
        "the master stopped advertising for {gap:.3} s while serving its control socket (a peer would have taken over)"
    );
    assert_eq!(after_cut.0, 0, "no answer to atropos right after a flooding client was cut off:\n{}", after_cut.1);
    let (code, out) = atropos_run(&rundir, &["--state"]);
    assert_eq!(code, 0, "atropos --state at the end:\n{out}");
    assert_no_panic(&p);
}

#[test]
fn hook_scripts_that_others_can_write_are_refused_at_start() {
    if skip_unless_root() {
        return;
    }
    let lab = Lab::new("hookperm", 1, 1);
    let h = lab.h(1);
    let orig = mac(h, A);
    let rundir = rundir_str(&lab, 1);
    let write_script = |name: &str, mode: u32, owner: Option<u32>| -> String {
        let p = lab.dir.join(name);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
        }
        p.display().to_string()
    };
    let cases = [
        ("world-writable", write_script("ww.sh", 0o777, None), "writable"),
        ("other-writable", write_script("ow.sh", 0o757, None), "writable"),
        ("group-writable", write_script("gw.sh", 0o775, None), "writable"),
        ("owned by another user", write_script("nobody.sh", 0o755, Some(65534)), "owned by uid 65534"),
        ("not executable", write_script("noexec.sh", 0o644, None), "not executable"),
    ];
    let bin = Lab::vrrpd_bin();
    for (what, script, want) in &cases {
        for opt in ["-U", "-D"] {
            let argv = [bin, "-F", "-f", &rundir, "-i", A, "-v", "51", "-p", "110", opt, script.as_str(), VIP_A];
            let o = lab.run_to_exit(h, &argv, "vrrpd-hook", HANG);
            assert_eq!(o.status.code(), Some(1), "{opt} script {what}: must exit 1: {o:?}");
            let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("# ")).collect();
            assert_eq!(lines.len(), 1, "{opt} script {what}: one line on stderr: {:?}", o.stderr);
            assert!(
                lines[0].contains(opt) && lines[0].contains(script.as_str()) && lines[0].contains(want),
                "{opt} script {what}: {:?} should name the option, the file and say {want:?}",
                lines[0]
            );
            assert!(released(h, A, VIP_A, &orig), "{opt} script {what}: the interface was touched");
        }
    }
    // The same script, safe, is accepted: the refusals above were about permissions.
    let good = write_script("good.sh", 0o755, None);
    let p = lab.vrrpd(1, &format!("{} -U {good} -D {good}", single_lan_args(110)));
    lab.wait_until(SETTLE, "vrrpd with a root-owned 0755 hook becomes MASTER", || {
        assert!(p.is_running(), "vrrpd refused a safe hook:\n{}", p.log_text());
        owns_with_vmac(h, A, VIP_A, VRID_A)
    });
    p.term();
    assert_eq!(p.wait_exit(HANG).code(), Some(0));
    assert!(released(h, A, VIP_A, &orig));
}
