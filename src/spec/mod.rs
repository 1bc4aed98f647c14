//! The OCI vocabulary as plain types, with no I/O: content digests, references
//! (`host/path:tag@digest`), media types, and manifest / index / descriptor types with a small
//! parser. Everything that reads or writes images (the registry client, OCI layouts, static
//! roots) speaks these types.

pub mod digest;
pub mod manifest;
pub(crate) mod reference;

pub use digest::Digest;
