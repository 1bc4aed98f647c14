//! werf's command line on wharf's commands: a werf CI job's command line runs with `wharf`
//! in place of `werf`.
//!
//! - [`names`]: werf's names and `WERF_*` variables of the flags wharf honours, applied to
//!   the whole command tree before parsing;
//! - [`ignored`]: werf flags wharf accepts and ignores, with a one-line notice each;
//! - [`ci_env`]: the script `wharf ci-env github|gitlab` prints;
//! - [`report`]: werf's build report (`--save-build-report`), written after a build.

pub mod ci_env;
pub mod ignored;
pub mod names;
pub mod report;

/// werf's implementation names that differ from wharf's driver names: `gcr` is Google's
/// registry (now Artifact Registry); `auto` and `default` mean "detect from the host" and the
/// generic driver.
pub fn driver_name(werf: &str) -> Option<&str> {
    match werf {
        "" | "auto" => None,
        "gcr" => Some("artifact-registry"),
        "selectel" => Some("default"),
        other => Some(other),
    }
}
