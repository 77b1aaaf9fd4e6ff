//! Lab pieces for the service-tracking tests: a stand-in service (an HTTP server under a name of its
//! own per host: the lab's namespaces share one pid space), a client fetching through a VIP, and
//! check scripts written into the lab directory.

use super::*;
use std::os::unix::fs::PermissionsExt;

pub const PORT: u16 = 8080;

/// The stand-in service's process name on host `n` (at most 15 bytes: the kernel's `comm`).
pub fn service_name(n: usize) -> String {
    format!("svc{n}-{}", std::process::id() % 1_000_000)
}

/// Starts host `n`'s stand-in: `/usr/bin/python3 -m http.server` run through a symlink named
/// [`service_name`] (the process takes the name it was executed under), serving a file `who` that
/// holds "h<n>".
pub fn start_service(lab: &Lab, n: usize) -> Proc {
    let root = lab.dir.join(format!("www-h{n}"));
    fs::create_dir_all(&root).expect("www dir");
    fs::write(root.join("who"), format!("h{n}")).expect("who file");
    let link = lab.dir.join(service_name(n));
    if !link.exists() {
        std::os::unix::fs::symlink("/usr/bin/python3", &link).expect("service symlink");
    }
    let link = link.to_string_lossy().into_owned();
    let root = root.to_string_lossy().into_owned();
    let port = PORT.to_string();
    let p = lab.spawn(lab.h(n), &[&link, "-m", "http.server", &port, "--directory", &root], &format!("svc-h{n}"));
    let url = format!("http://{}:{PORT}/who", host_ip(n, 0));
    lab.wait_until(Duration::from_secs(20), &format!("host {n}'s stand-in service to answer"), || {
        assert!(p.is_running(), "stand-in service exited: {}", p.log_text());
        fetch(lab, 0, &url).is_some()
    });
    p
}

/// What the client of `lan` gets from `url` (`None`: no answer within a second).
pub fn fetch(lab: &Lab, lan: usize, url: &str) -> Option<String> {
    let code = format!("import urllib.request as u; print(u.urlopen('{url}', timeout=1).read().decode())");
    let o = try_exec_args(lab.client(lan), &["/usr/bin/python3", "-c", &code]);
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Which host serves the client of LAN A through VIP_A ("h1", "h2"; `None`: nobody answers).
pub fn served_by(lab: &Lab) -> Option<String> {
    fetch(lab, 0, &format!("http://{VIP_A}:{PORT}/who"))
}

/// Writes an executable check script (`#!/bin/sh` + `body`) into the lab dir with `mode`.
pub fn check_script(lab: &Lab, name: &str, body: &str, mode: u32) -> PathBuf {
    let p = lab.dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("check script");
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
    p
}
