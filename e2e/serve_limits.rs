//! `wharf serve` under hostile or careless clients: idle and slow connections are closed, a
//! full server still answers a normal client, a client that stops reading is dropped, and
//! SIGTERM lets downloads in flight finish. And `wharf push` refuses a FIFO in a source
//! instead of waiting on it forever.

use crate::push_static::Served;
use crate::serve_clients::request;
use crate::support::oci::{Spec, push, s, write_image};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A root whose repository `big` holds one image with a layer of `mib` MiB of noise; returns
/// the root and the layer's digest.
fn root_with_big_blob(tmp: &Path, mib: usize) -> (PathBuf, String) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..mib << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let layout = tmp.join("big-layout");
    write_image(
        &layout,
        &Spec { architecture: "amd64", variant: None, layers: vec![noise], labels: serde_json::json!({}) },
        "x",
    );
    let root = tmp.join("site");
    push(tmp, &[&s(&layout), "big:1", "--static-root", &s(&root)]).ok();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("v2/big/manifests/1")).unwrap()).unwrap();
    (root, index["layers"][0]["digest"].as_str().unwrap().to_string())
}

/// Whether the server closed `conn` within `within` (a read sees EOF or a reset).
fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    conn.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_connections_are_closed_and_a_full_server_still_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = root_with_big_blob(tmp.path(), 1);
    let served = Served::start_with(&s(&root), &[], &["--header-read-timeout", "1s", "--max-connections", "4"]);
    let host = served.addr.clone();
    // Four connections that never send a request, one that sends half a header: the server
    // is full.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&host).unwrap()).collect();
    let mut slow = TcpStream::connect(&host).unwrap();
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // A normal client waits at most the header timeout, then is served.
    let started = Instant::now();
    let (status, _, _) = request(&host, "GET", "/v2/big/tags/list", &[]);
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(4), "served after {:?}", started.elapsed());
    for conn in idle.iter_mut().chain(std::iter::once(&mut slow)) {
        assert!(closed_within(conn, Duration::from_secs(4)), "an idle connection is closed");
    }
    // A kept-alive connection is closed once idle for the same time.
    let mut kept = TcpStream::connect(&host).unwrap();
    kept.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 512];
    assert!(kept.read(&mut first).unwrap() > 0);
    assert!(closed_within(&mut kept, Duration::from_secs(4)), "a kept-alive connection is closed when idle");
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_idle_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, layer) = root_with_big_blob(tmp.path(), 48);
    let served = Served::start_with(&s(&root), &[], &["--idle-timeout", "1s"]);
    let mut conn = TcpStream::connect(&served.addr).unwrap();
    write!(conn, "GET /v2/big/blobs/{layer} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut received = Vec::new();
    let _ = conn.read_to_end(&mut received);
    assert!(
        received.len() < 48 << 20,
        "the server gave up on a client that read nothing for 4 s ({} bytes came)",
        received.len()
    );
    // Everyone else is still served.
    assert_eq!(request(&served.addr, "GET", "/v2/", &[]).0, 200);
}

#[test]
fn sigterm_lets_a_download_in_flight_finish_then_exits() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, layer) = root_with_big_blob(tmp.path(), 24);
    let size = std::fs::metadata(root.join(format!("v2/big/blobs/{layer}"))).unwrap().len() as usize;
    let mut served = Served::start(&s(&root), &[]);
    let addr = served.addr.clone();
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(conn, "GET /v2/big/blobs/{layer} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = vec![0u8; 1 << 20];
    conn.read_exact(&mut first).unwrap();
    let pid = served.child().id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(TcpStream::connect(&addr).is_err(), "no new connection is accepted after SIGTERM");
    let mut rest = Vec::new();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    conn.read_to_end(&mut rest).unwrap();
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(first.len() - head_end + rest.len(), size, "the download in flight finished");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = served.child().try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "wharf serve did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn a_fifo_in_a_push_source_is_refused_not_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    write_image(
        &layout,
        &Spec { architecture: "amd64", variant: None, layers: vec![b"layer".to_vec()], labels: serde_json::json!({}) },
        "x",
    );
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = crate::support::oci::blob_json(&layout, index["manifests"][0]["digest"].as_str().unwrap());
    let layer = layout.join("blobs/sha256").join(&manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    std::fs::remove_file(&layer).unwrap();
    assert!(Command::new("mkfifo").arg(&layer).status().unwrap().success());
    let fifo_source = tmp.path().join("image.tar");
    assert!(Command::new("mkfifo").arg(&fifo_source).status().unwrap().success());
    for source in [&layout, &fifo_source] {
        let mut child =
            crate::support::wharf::wharf(&["push", &s(source), "app:1", "--static-root", &s(&tmp.path().join("site"))])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("wharf push waited on the FIFO of {}", source.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(6), "{stderr}");
        assert!(stderr.contains("regular file"), "{stderr}");
    }
}
