//! End-to-end tests against real servers started by the tests themselves
//! (distribution registry, Docker engine) and faithful fakes where the real thing cannot run.

mod artifacts;
mod build_publish;
mod buildkit;
mod ci_recipes;
mod cleanup;
mod cleanup_killed;
mod completion;
mod concurrency;
mod drivers;
mod examples;
mod faults;
mod login;
mod progress;
mod publish_records;
mod push;
mod push_static;
mod registries;
mod registry_client;
mod registry_fakes;
mod secrets;
mod self_image;
mod serve_clients;
mod serve_conformance;
mod serve_limits;
mod static_cleanup;
mod static_files;
mod support;
mod tls;
mod werf_cli;
mod werf_projects;
