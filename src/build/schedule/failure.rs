//! What a failed schedule reports: the error type, and the Dockerfile line a failed step is
//! (the legacy builder's `Step N/M`, BuildKit's `[stage i/n]`, or the `# syntax=` line when
//! the frontend image could not be had).

use std::path::{Path, PathBuf};

use crate::build::StagePlan;
use crate::build::engine::EngineError;
use crate::oci::docker_archive::ArchiveError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("image {image}: build failed at {dockerfile}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Build { image: String, dockerfile: PathBuf, line: Option<usize>, step: Option<String>, message: String },
    #[error("image {image}: {source}")]
    Engine { image: String, source: EngineError },
    #[error("image {image}: {source}")]
    Store { image: String, source: StoreError },
    #[error("image {image}: {source}")]
    Archive { image: String, source: ArchiveError },
    #[error("image {image}: {message}")]
    Other { image: String, message: String },
}

impl ScheduleError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            ScheduleError::Build { .. } | ScheduleError::Engine { .. } | ScheduleError::Archive { .. } => {
                crate::error::Category::Build
            }
            ScheduleError::Store { source, .. } => source.category(),
            ScheduleError::Other { .. } => crate::error::Category::Local,
        }
    }
}

/// The Dockerfile line of a failed step: the legacy builder's `Step N/M : …` or BuildKit's
/// `[stage i/n] …`.
pub(super) fn step_line(plan: &StagePlan, target: Option<&str>, step: &str) -> Option<usize> {
    if step.starts_with('[') {
        let target = plan.dockerfile.target_index(target).ok()?;
        return crate::build::buildkit::status::line_of_step(&plan.dockerfile, target, step);
    }
    plan.dockerfile.line_of_step(step)
}

/// The frontend a Dockerfile names (`# syntax=IMAGE` among its leading comments), with its line.
fn syntax_directive(dockerfile: &Path) -> Option<(usize, String)> {
    let text = std::fs::read_to_string(dockerfile).ok()?;
    text.lines().enumerate().take_while(|(_, l)| l.trim_start().starts_with('#')).find_map(|(i, l)| {
        let l = l.trim_start().trim_start_matches('#').trim();
        l.split_once('=')
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("syntax"))
            .map(|(_, v)| (i + 1, v.trim().to_string()))
    })
}

/// A failure to get the frontend a Dockerfile names is its `# syntax=` line's, with a hint:
/// that frontend is an image, pulled from its registry, which this machine may not reach.
pub(super) fn syntax_failure(dockerfile: &Path, step: Option<&str>, message: &str) -> Option<(usize, String)> {
    let (line, frontend) = syntax_directive(dockerfile)?;
    let about_it = step.is_some_and(|s| s.contains(&frontend)) || message.contains(&frontend);
    about_it.then(|| {
        (
            line,
            format!(
                "{message}\n  hint: the Dockerfile's `# syntax={frontend}` line asks for that frontend image, which could not be had from its registry; \
                 make it reachable (a mirror, or `docker pull` it into the engine), or remove the line to use the builder's built-in Dockerfile frontend"
            ),
        )
    })
}
