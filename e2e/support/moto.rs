//! moto's server (ECR and S3 emulation) on a free loopback port, killed when dropped.
//!
//! The binary is `$WHARF_TEST_MOTO_SERVER`, else `/tmp/wharf-moto/bin/moto_server` (what
//! `scripts/test` installs: `python3 -m venv /tmp/wharf-moto && /tmp/wharf-moto/bin/pip install
//! 'moto[server]'`), else `moto_server` on `PATH`.

use std::io::{Read, Write};
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
                .unwrap_or_else(|e| {
                    panic!("cannot start {bin}: {e} (run scripts/test, or pip install 'moto[server]')")
                });
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

    /// Creates an S3 bucket (moto does not check signatures).
    pub fn create_bucket(&self, name: &str) {
        let status = self.request("PUT", &format!("/{name}")).unwrap_or_default();
        assert!(status.contains("200"), "creating bucket {name}: {status:?}");
    }

    /// The environment an AWS client needs to reach this server (and nothing else).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// The AWS SDK configuration that talks to this server (what `env` gives a wharf process).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.url())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "e2e"))
            .load()
            .await
    }

    /// The status line of a bodiless request.
    fn request(&self, method: &str, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(stream, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n").ok()?;
        let mut out = String::new();
        stream.read_to_string(&mut out).ok()?;
        out.lines().next().map(str::to_string)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
