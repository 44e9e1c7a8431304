//! Free loopback ports.

use std::collections::HashSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A port free for both TCP and UDP on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `count` consecutive ports free for both TCP and UDP on
/// 127.0.0.1 at the time of asking, and none of them [`redirected`].
pub fn free_ports(count: u16) -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let first = tcp.local_addr().expect("a bound address").port();
        let Some(last) = first.checked_add(count - 1) else {
            continue;
        };
        let free = (first..=last).all(|port| {
            !redirected().contains(&port)
                && (port == first || TcpListener::bind(("127.0.0.1", port)).is_ok())
                && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        });
        if free {
            return first;
        }
    }
}

/// Waits until something accepts connections on `port` of 127.0.0.1, at
/// most `within`; `what` names it in the failure.
pub fn wait_for_port(port: u16, within: std::time::Duration, what: &str) {
    let deadline = std::time::Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Where [`published_ports`] draws from: below the kernel's ephemeral
/// range (32768–60999 here), which the other servers' ports come from.
/// Podman publishes a container's port through firewall rules, with no
/// socket bound, so such a port still looks free to [`free_port`]: a
/// daemon given it has its connections sent to the container (refused,
/// once a chaos run stops it) while it listens.
const PUBLISHED: std::ops::Range<u32> = 20_000..32_000;

/// How many ports each process's draws may span before they wrap: the
/// test binaries and benches running side by side start apart.
const PUBLISHED_PER_PROCESS: u32 = 600;

/// The next port this process draws from [`PUBLISHED`], as an offset.
static NEXT_PUBLISHED: AtomicU32 = AtomicU32::new(u32::MAX);

/// The first of `count` consecutive ports for podman to publish, free for
/// TCP and UDP at the time of asking and not [`redirected`], never one
/// [`free_port`] gives, and never the same twice in one process (until
/// the range wraps).
pub fn published_ports(count: u16) -> u16 {
    let width = PUBLISHED.end - PUBLISHED.start;
    let _ = NEXT_PUBLISHED.compare_exchange(
        u32::MAX,
        std::process::id() % (width / PUBLISHED_PER_PROCESS) * PUBLISHED_PER_PROCESS,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let offset = NEXT_PUBLISHED.fetch_add(u32::from(count), Ordering::SeqCst) % width;
        let first = PUBLISHED.start + offset;
        if first + u32::from(count) > PUBLISHED.end {
            continue;
        }
        let free = (first..first + u32::from(count)).all(|port| {
            let port = port as u16;
            !redirected().contains(&port)
                && TcpListener::bind(("127.0.0.1", port)).is_ok()
                && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        });
        if free {
            return first as u16;
        }
    }
}

/// Ports the firewall's NAT table redirects, read once per process: a
/// container's published port stays redirected after its podman was
/// killed without tearing its network down, bound by no socket, so it
/// looks free while every local connection to it goes to the gone
/// container. Such rules from earlier runs stay on the machine; ports
/// published during this run come from [`PUBLISHED`], which
/// [`free_ports`] never draws from. Empty when `iptables` cannot be read.
fn redirected() -> &'static HashSet<u16> {
    static REDIRECTED: OnceLock<HashSet<u16>> = OnceLock::new();
    REDIRECTED.get_or_init(|| {
        // `/usr/sbin` may be missing from a test's PATH.
        ["iptables", "/usr/sbin/iptables"]
            .iter()
            .find_map(|program| {
                std::process::Command::new(program)
                    .args(["-t", "nat", "-S"])
                    .stderr(std::process::Stdio::null())
                    .output()
                    .ok()
                    .filter(|output| output.status.success())
            })
            .map(|output| destination_ports(&String::from_utf8_lossy(&output.stdout)))
            .unwrap_or_default()
    })
}

/// The single destination ports (`--dport N`) that `iptables -S` rules
/// name.
fn destination_ports(rules: &str) -> HashSet<u16> {
    rules
        .lines()
        .filter_map(|rule| {
            let after = rule.split("--dport ").nth(1)?;
            after.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ports_a_nat_table_redirects_are_read_from_its_rules() {
        let rules = "-N CNI-HOSTPORT-DNAT\n\
            -A CNI-DN-001e7 -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m tcp --dport 44216 -j CNI-HOSTPORT-SETMARK\n\
            -A CNI-DN-001e7 -p tcp -m tcp --dport 44216 -j DNAT --to-destination 10.88.0.5:8080\n\
            -A CNI-DN-0a2b3 -p tcp -m tcp --dport 28412 -j DNAT --to-destination 10.88.0.6:8080\n\
            -A SOMETHING -p tcp -m tcp --dport 8000:8010 -j ACCEPT\n";
        assert_eq!(destination_ports(rules), HashSet::from([44216, 28412]));
    }
}
