//! `wharf serve`: a static root (written by `push --static-root`) as a read-only registry,
//! and the files `wharf static push` published in it.

use clap::Args;

use super::super::args::static_root;
use crate::error::Error;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The static root: a directory, or `s3://BUCKET/PREFIX` (read with the AWS environment).
    #[arg(value_name = "ROOT")]
    pub root: String,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(
        long,
        default_value = "127.0.0.1:5000",
        env = "WHARF_SERVE_ADDR",
        help_heading = "Serve",
        help_heading = "Serve"
    )]
    pub addr: std::net::SocketAddr,
    /// Time a connection has to send a whole request header, from when it opens or its
    /// previous response ends (so also how long an idle keep-alive connection stays open);
    /// 0: no limit.
    #[arg(long, default_value = "10s", value_name = "DURATION", help_heading = "Serve")]
    pub header_read_timeout: String,
    /// A response whose client reads nothing for this long is dropped; 0: no limit.
    #[arg(long, default_value = "60s", value_name = "DURATION", help_heading = "Serve")]
    pub idle_timeout: String,
    /// Connections served at once; more wait to be accepted (kept below `ulimit -n`).
    #[arg(long, default_value_t = 4096, value_name = "N", help_heading = "Serve")]
    pub max_connections: usize,
    /// Bytes of a blob read and sent at a time: a download holds about this plus hyper's
    /// 16 KiB, so memory is about connections × (this + 16 KiB). At least 4 KiB.
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES", help_heading = "Serve")]
    pub buffer: usize,
    /// Hash each blob once before it is first served and refuse one whose bytes do not
    /// match its name; only verified blobs are sent with `Cache-Control: immutable`.
    #[arg(long, help_heading = "Serve")]
    pub verify_blobs: bool,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    #[arg(long, default_value = "30s", value_name = "DURATION", help_heading = "Serve")]
    pub shutdown_grace: String,
}

impl ServeArgs {
    fn options(&self) -> Result<crate::static_registry::serve::ServeOptions, Error> {
        let duration = |flag: &str, text: &str| {
            crate::config::parse_go_duration(text)
                .map_err(|e| Error::Usage(format!("--{flag} {text:?}: {e} (e.g. 10s, 1m)")))
        };
        if self.max_connections == 0 {
            return Err(Error::Usage("--max-connections must be at least 1".into()));
        }
        if self.buffer < 4096 {
            return Err(Error::Usage(format!("--buffer {}: at least 4096 bytes", self.buffer)));
        }
        Ok(crate::static_registry::serve::ServeOptions {
            header_read_timeout: duration("header-read-timeout", &self.header_read_timeout)?,
            idle_timeout: duration("idle-timeout", &self.idle_timeout)?,
            max_connections: self.max_connections,
            buffer: self.buffer,
            verify_blobs: self.verify_blobs,
            shutdown_grace: duration("shutdown-grace", &self.shutdown_grace)?,
        })
    }
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(args: &ServeArgs) -> Result<(), Error> {
    let options = args.options()?;
    // A root may hold a registry (`v2/`), published files (`wharf static push`), or both.
    let root = static_root(&args.root).await?;
    if let Some(dir) = root.local_dir()
        && !dir.is_dir()
    {
        let hint = "hint: write one with `wharf push SRC REPO:TAG --static-root DIR` or `wharf static push -t NAME:VERSION FILES DIR`";
        return Err(Error::Usage(format!("{}: not a directory\n  {hint}", dir.display())));
    }
    let shown = root.to_string();
    crate::static_registry::serve::serve(root, args.addr, options, |addr, max_connections| {
        use std::io::Write as _;
        println!("serving {shown} on http://{addr}");
        tracing::info!(max_connections, "listening");
        let _ = std::io::stdout().flush();
    })
    .await
    .map_err(|source| Error::Io { what: format!("serve {}", args.addr), source })
}
