//! moto's server (ECR emulation) on a free loopback port, killed when dropped.
//!
//! The binary is `$WHARF_TEST_MOTO_SERVER`, else `/tmp/wharf-moto/bin/moto_server` (what
//! `scripts/test` installs: `python3 -m venv /tmp/wharf-moto && /tmp/wharf-moto/bin/pip install
//! 'moto[server]'`), else `moto_server` on `PATH`.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    port: u16,
}

fn binary() -> String {
    if let Ok(b) = std::env::var("WHARF_TEST_MOTO_SERVER") {
        return b;
    }
    let venv = "/tmp/wharf-moto/bin/moto_server";
    if std::path::Path::new(venv).exists() { venv.to_string() } else { "moto_server".to_string() }
}

impl Moto {
    pub fn start() -> Moto {
        let bin = binary();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (run scripts/test, or pip install 'moto[server]')"));
            let mut moto = Moto { child, port };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if matches!(moto.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return moto;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto_server ({bin}) did not start");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
