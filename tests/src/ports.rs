//! Free loopback ports.

use std::net::{TcpListener, UdpSocket};

/// A port free for both TCP and UDP on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `count` consecutive ports free for both TCP and UDP on
/// 127.0.0.1 at the time of asking: for an app whose replica `n` listens
/// on the first port plus `n`.
pub fn free_ports(count: u16) -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let first = tcp.local_addr().expect("a bound address").port();
        let Some(last) = first.checked_add(count - 1) else {
            continue;
        };
        let free = (first..=last).all(|port| {
            (port == first || TcpListener::bind(("127.0.0.1", port)).is_ok())
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
