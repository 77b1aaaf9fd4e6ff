//! atropos: shows and steers the vrrpd processes of a host (full commands come with the atropos issue).

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    match arg.as_str() {
        "-V" | "--version" => println!("atropos {}", env!("CARGO_PKG_VERSION")),
        _ => {
            eprintln!("atropos: only --version is available in this version");
            std::process::exit(2);
        }
    }
}
