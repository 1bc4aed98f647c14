//! `wharf serve`: a static root (written by `push --static-root`) as a read-only registry.

use clap::Args;

use super::super::args::existing_static_root;
use crate::error::Error;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The static root: a directory, or `s3://BUCKET/PREFIX` (read with the AWS environment).
    #[arg(value_name = "ROOT")]
    pub root: String,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:5000", env = "WHARF_SERVE_ADDR")]
    pub addr: std::net::SocketAddr,
}

/// Serves until Ctrl-C.
pub async fn run(args: &ServeArgs) -> Result<(), Error> {
    let root = existing_static_root(&args.root, "").await?;
    let shown = root.to_string();
    crate::serve::serve(root, args.addr, |addr| {
        use std::io::Write as _;
        println!("serving {shown} on http://{addr}");
        let _ = std::io::stdout().flush();
    })
    .await
    .map_err(|e| Error::Other(format!("serve {}: {e}", args.addr)))
}
