//! One file per command: its own flags and its handler, which reads the flags, runs the
//! library and prints the result (text, or `--output json` through [`super::output`]).

pub mod build;
pub mod build_and_publish;
pub mod ci_env;
pub mod cleanup;
pub mod completion;
pub mod config;
pub mod login;
pub mod pull;
pub mod push;
pub mod registry;
pub mod serve;
pub mod static_files;
pub mod tags;
