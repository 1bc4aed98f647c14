//! `wharf cleanup`: keep what git history and policies say is alive, delete the rest.
//!
//! Decide, then do:
//! 1. [`inventory`] lists every tag of the project's repositories through the driver and
//!    reads the publish records that `build-and-publish` wrote;
//! 2. [`policy::decide`] (pure) turns tags, records, git history and options into a
//!    [`plan::Plan`]: every tag with its decision and reason; [`review::review`] keeps what
//!    the registry would refuse to delete, with its reason;
//! 3. [`execute::execute`] carries out the deletions, journaling each one first.

pub mod execute;
pub(crate) mod history;
pub(crate) mod inventory;
pub mod journal;
pub mod plan;
pub(crate) mod policy;
pub(crate) mod review;
pub mod run;

#[cfg(test)]
mod execute_tests;
#[cfg(test)]
mod policy_tests;

use std::time::Duration;

use crate::config::{CleanupConfig, KeepPolicy, RefKind};

/// A keep policy as one line of text, for plans and `--dry-run`.
pub fn describe(p: &KeepPolicy) -> String {
    let kind = if p.references.kind == RefKind::Branch { "branch" } else { "tag" };
    let limit = |l: &crate::config::Limit| {
        let mut parts = Vec::new();
        if let Some(n) = l.last {
            parts.push(format!("last {n}"));
        }
        if let Some(d) = l.within {
            parts.push(format!("within {}", human_duration(d)));
        }
        parts.join(if l.operator == crate::config::Operator::And { " and " } else { " or " })
    };
    let refs = p.references.limit.as_ref().map(|l| format!(" ({})", limit(l))).unwrap_or_default();
    let images = p.images_per_reference.as_ref().map(limit).unwrap_or_else(|| "all".into());
    format!("{kind} {}{refs}: keep {images} image(s) per reference", p.references.pattern.as_str())
}

/// The policies a run uses, with a note when they are werf's defaults.
pub fn policy_lines(cfg: &CleanupConfig) -> Vec<String> {
    let mut out: Vec<String> = cfg.keep_policies.iter().map(describe).collect();
    if cfg.default_keep_policies {
        out.insert(0, "(no keepPolicies in the project file: werf's default policies)".into());
    }
    out
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
