//! wharf: a registry-agnostic build-and-publish orchestrator.
//!
//! Data flows one way: config → plan → act → report.
//! - [`config`] reads `wharf.yaml` (or `werf.yaml`) into a validated [`config::Project`],
//!   rendering it first as a Go template ([`template`]), as werf does.
//! - [`build`] computes content-addressed stage digests and builds only missing stages.
//! - [`naming`] maps images to repositories (monorepo / multirepo) and tags.
//! - [`auth`] finds credentials (docker config, helpers, flags, env) and stores logins.
//! - [`registry`] is the OCI distribution client (token flow, blobs, manifests, tags).
//! - [`drivers`] adds what each registry does differently (native listing, single-tag deletes).
//! - [`oci`] holds the OCI image layout and the conversion of engine exports.
//! - [`publish`] copies built stages to their published references.
//! - [`pipeline`] ties them together for `build-and-publish`; [`cli`] reads flags and env
//!   and runs each command (`cli/commands/<command>.rs`).
//! - [`push`] publishes ready-made archives and layouts (`wharf push`), merging platforms;
//!   [`serve`] serves a static root written by it as a read-only registry.

pub(crate) mod artifact;
pub mod auth;
pub mod build;
pub(crate) mod build_report;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod drivers;
pub mod error;
pub(crate) mod gitinfo;
pub mod lock;
pub mod naming;
pub mod oci;
pub(crate) mod pipeline;
pub(crate) mod progress;
pub mod publish;
pub(crate) mod pull;
pub(crate) mod push;
pub mod registry;
pub(crate) mod report;
pub(crate) mod secret;
pub mod spec;
pub mod static_registry;
pub(crate) mod store;
pub(crate) mod template;
