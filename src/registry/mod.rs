//! OCI distribution client: references, auth, blobs, manifests, tags.
//!
//! - References, manifests and digests are plain types in [`crate::spec`].
//! - [`auth`] and [`docker_config`]: where credentials come from ([`docker_login`] stores them
//!   as `docker login` does); [`challenge`] and [`token`]:
//!   the `WWW-Authenticate` / Bearer token flow.
//! - [`Client`]: one shared HTTP client with lazy auth, retries and scheme selection
//!   (`transport`), blob reads (`blob`), uploads (`upload`), manifests (`client`) and tags (`tags`).
//! - [`error`]: [`RegistryError`] with hints and a retry classifier.

pub mod auth;
mod blob;
pub mod challenge;
mod client;
pub mod docker_config;
pub mod docker_login;
pub mod error;
pub mod referrers;
mod tags;
pub mod token;
mod transport;
mod upload;

pub use auth::{Credential, CredentialSource, CredentialStore, ResolvedCredential};
pub use blob::BlobStream;
pub use client::{Client, ClientOptions, DEFAULT_MAX_TAGS, DOCKER_CONTENT_DIGEST, ListProgress};
pub use error::{RegistryError, Result};
pub use crate::spec::manifest::{Descriptor, ManifestContent, parse_manifest};
pub use crate::spec::reference::{Reference, ReferenceError, Repository, validate_path_component, validate_tag};
pub use tags::next_link;
pub use transport::{backoff, is_loopback_host, parse_retry_after};
pub use upload::PushStatus;
