//! The OCI distribution HTTP client: token flow, blobs, manifests, tags, referrers.
//!
//! - References, manifests and digests are plain types in [`crate::spec`].
//! - Credentials come from [`crate::auth`]; [`challenge`] and [`token`]: the
//!   `WWW-Authenticate` / Bearer token flow that presents them.
//! - [`Client`]: one shared HTTP client with lazy auth, retries and scheme selection
//!   (`transport`), blob reads (`blob`), uploads (`upload`), manifests (`client`) and tags (`tags`).
//! - [`error`]: [`RegistryError`] with hints and a retry classifier.

mod blob;
pub mod challenge;
mod client;
pub(crate) mod error;
pub(crate) mod referrers;
mod tags;
pub(crate) mod token;
mod transport;
mod upload;

pub use crate::auth::{Credential, CredentialSource, CredentialStore, ResolvedCredential};
pub use crate::spec::manifest::{Descriptor, ManifestContent, parse_manifest};
pub use crate::spec::reference::{Reference, ReferenceError, Repository, validate_path_component, validate_tag};
pub use blob::BlobStream;
pub use client::{Client, ClientOptions, DEFAULT_MAX_TAGS, DOCKER_CONTENT_DIGEST, ListProgress};
pub use error::{RegistryError, Result};
pub use tags::next_link;
pub use transport::{backoff, is_loopback_host, parse_retry_after};
pub use upload::PushStatus;
