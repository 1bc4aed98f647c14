//! wharf: a registry-agnostic build-and-publish orchestrator.
//!
//! Data flows one way: config → plan → act → report.
//! - [`config`] reads `wharf.yaml` (or `werf.yaml`) into a validated [`config::Project`].
//! - [`build`] computes content-addressed stage digests and builds only missing stages.
//! - [`naming`] maps images to repositories (monorepo / multirepo) and tags.
//! - [`registry`] is the OCI distribution client (auth, blobs, manifests, tags).
//! - [`publish`] copies built stages to their published references.

pub mod config;
pub mod digest;
pub mod registry;
pub mod secret;
