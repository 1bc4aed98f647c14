//! Servers and fixtures the e2e scenarios share. Each starts on a random loopback port and
//! stops when dropped.

pub mod buildkit_proxy;
pub mod engine;
pub mod moto;
pub mod oci;
pub mod proxy;
pub mod registry;
pub mod static_fixture;
pub mod tools;
pub mod wharf;

/// A non-loopback address of this machine, if it has one (to test what wharf allows only on
/// loopback).
pub fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?; // TEST-NET-1: nothing is sent
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}
