//! Free loopback ports.

use std::net::{TcpListener, UdpSocket};

/// A port free for both TCP and UDP on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = tcp.local_addr().expect("a bound address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
