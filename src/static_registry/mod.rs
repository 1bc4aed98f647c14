//! A static registry: images laid out as the files a read-only distribution API would serve
//! (`ROOT/v2/<repo>/manifests/<ref>`, `…/blobs/<digest>`, `…/tags/list`, `…/referrers/<digest>`),
//! in a directory or an S3 bucket, so that a plain web server — or `wharf serve` — serves them.
//!
//! - [`root`]: the layout and [`StaticRoot`], over [`objects`] (a directory, or S3);
//! - [`referrers`]: the referrers indexes kept as manifests with a `subject` are written;
//! - [`gc`]: garbage collection of what no tag reaches;
//! - [`store`]: a repository of a root as an [`ImageStore`](crate::store::ImageStore);
//! - [`driver`]: a root as the driver `tags` and `cleanup` work through;
//! - [`serve`]: `wharf serve`, a hardened read-only registry over a root, which also serves
//!   the files of [`files`];
//! - [`files`]: static file distribution (`wharf static`), per-platform files as plain URLs
//!   beside `v2/` (`ROOT/<name>/<version>/<os>/<arch>/<file>`).

pub(crate) mod driver;
pub(crate) mod files;
pub(crate) mod gc;
pub mod objects;
pub(crate) mod referrers;
pub mod root;
#[cfg(test)]
mod root_tests;
pub(crate) mod serve;
pub(crate) mod store;

pub use driver::StaticDriver;
pub use root::{StaticError, StaticRoot};
pub use store::StaticStore;
