//! Servers and fixtures the e2e scenarios share. Each starts on a random loopback port and
//! stops when dropped.

pub mod engine;
pub mod moto;
pub mod proxy;
pub mod registry;
pub mod wharf;
