//! `--save-build-report` / `--build-report-path`: where werf's build report goes and in which
//! form (werf's rules), and writing it after a build.

use std::path::{Path, PathBuf};

use crate::build_report::{BuildReport, DEFAULT_PATH, Inputs, Runtime};
use crate::error::Error;
use crate::registry::{Client, Repository};
use crate::report::{ImageReport, Report};
use crate::store::{Image, Location, RegistryStore};

/// The report's form, from the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Json,
    EnvFile,
}

/// Where the report goes, by werf's rules: `.werf-build-report.json` by default; a path
/// ending in `.json` or `.env` picks the form; a path without an extension gets `.json`;
/// any other extension is refused (before anything is built).
pub fn destination(path: Option<&Path>) -> Result<(PathBuf, Form), Error> {
    let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) else {
        return Ok((PathBuf::from(DEFAULT_PATH), Form::Json));
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Ok((path.to_path_buf(), Form::Json)),
        Some("env") => Ok((path.to_path_buf(), Form::EnvFile)),
        None => {
            let mut with = path.as_os_str().to_owned();
            with.push(".json");
            Ok((PathBuf::from(with), Form::Json))
        }
        Some(other) => Err(Error::Usage(format!(
            "--build-report-path {}: the extension .{other} is neither .json nor .env\n  hint: end it with .json (JSON) or .env (an env file), or leave the extension out for JSON",
            path.display()
        ))),
    }
}

/// Reads the images the run did not (published already, unchanged) for their ID and size:
/// one manifest read each, only when a report is wanted.
pub async fn fill_identities(report: &mut Report, client: &Client) -> Result<(), Error> {
    for image in report.images.iter_mut().filter(|i| i.image_id.is_none()) {
        let Some((repo, tag)) =
            image.references.first().and_then(|r| r.rsplit_once(':')).filter(|(_, t)| !t.contains('/'))
        else {
            continue;
        };
        let Ok(repo) = repo.parse::<Repository>() else { continue };
        let loc = Location::new(RegistryStore::shared(client.clone(), repo), tag);
        let read = Image::read(&loc)
            .await
            .map_err(|source| Error::Store { what: format!("build report: reading {loc}"), source })?;
        if let Some(found) = read {
            let (id, size) = ImageReport::identity(&found);
            image.image_id = Some(id);
            image.size = Some(size);
        }
    }
    Ok(())
}

/// Writes the report of `run` to `path` in `form`.
pub fn write(run: &Report, inputs: Inputs<'_>, path: &Path, form: Form) -> Result<(), Error> {
    let report = BuildReport::new(run, inputs);
    let text = match form {
        Form::Json => report.to_json(),
        Form::EnvFile => report.to_env_file(),
    };
    std::fs::write(path, text)
        .map_err(|source| Error::Io { what: format!("--build-report-path {}", path.display()), source })
}

/// Where the build runs: through the Docker engine, in a container or not (its marker files).
pub fn runtime() -> Runtime {
    let in_container = Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists();
    Runtime { backend: "docker".into(), in_container }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werfs_path_rules() {
        assert_eq!(destination(None).unwrap(), (PathBuf::from(".werf-build-report.json"), Form::Json));
        assert_eq!(destination(Some(Path::new("out/r.env"))).unwrap(), (PathBuf::from("out/r.env"), Form::EnvFile));
        assert_eq!(destination(Some(Path::new("report"))).unwrap(), (PathBuf::from("report.json"), Form::Json));
        let err = destination(Some(Path::new("r.yaml"))).unwrap_err().to_string();
        assert!(err.contains(".yaml") && err.contains("hint"), "{err}");
    }
}
