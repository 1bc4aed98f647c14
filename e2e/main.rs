//! End-to-end tests against real servers started by the tests themselves
//! (distribution registry, Docker engine) and faithful fakes where the real thing cannot run.

mod build_publish;
mod ci_recipes;
mod buildkit;
mod cleanup;
mod cleanup_killed;
mod completion;
mod concurrency;
mod progress;
mod push;
mod publish_records;
mod artifacts;
mod push_static;
mod static_cleanup;
mod static_files;
mod examples;
mod faults;
mod login;
mod support;
mod registry_client;
mod registry_fakes;
mod registries;
mod secrets;
mod self_image;
mod serve_clients;
mod serve_conformance;
mod serve_limits;
mod tls;
mod werf_cli;
mod werf_projects;
mod drivers;
