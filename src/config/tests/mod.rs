//! Tests of the whole configuration reader: werf compatibility, every
//! validation rule with its location, cleanup policies, templates, werf's keys,
//! rendering, robustness.

mod cleanup;
mod fixtures;
mod images;
mod paths;
mod robustness;
mod rules;
mod templates;
mod werf;
mod werf_keys;

use super::{ConfigError, ErrorKind, Project, parse_str};
use std::path::Path;
use tempfile::TempDir;

/// werf's classic example.
pub(super) const FLANT: &str = "\
project: flant
configVersion: 1
---
image: backend
dockerfile: Dockerfile
target: backend
---
image: frontend
dockerfile: Dockerfile
target: frontend
";

/// Every feature at once.
pub(super) const FULL: &str = "\
project: shop
configVersion: 1
cleanup:
  keepImagesBuiltWithinLastNHours: 4
  keepPolicies:
  - references:
      tag: /^v.*$/
      limit:
        last: 5
  - references:
      branch: /.*/
      limit:
        last: 10
        in: 168h
        operator: Or
    imagesPerReference:
      last: 2
      in: 1h30m
  - references:
      branch: main
    imagesPerReference:
      last: -1
---
image: base
context: base
target: runtime
platform: [linux/amd64, linux/arm64]
---
image: [api, worker]
context: app
dockerfile: docker/Dockerfile
args:
  GREETING: hello
  VERSION: 1.10
  DEBUG: false
  PORT: 8080
dependencies:
- image: base
  imports:
  - type: ImageName
    targetBuildArg: BASE_IMAGE
  - type: ImageDigest
    targetBuildArg: BASE_DIGEST
platform: linux/amd64
";

/// Files that must load without errors (checked against the schema types too).
pub(super) const VALID_FILES: &[&str] = &[FLANT, FULL, NAMELESS];

pub(super) const NAMELESS: &str = "project: solo\nconfigVersion: 1\n---\nimage: ~\n";

/// A project directory with the files `FULL` and `FLANT` need.
pub(super) fn project_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["Dockerfile", "base/Dockerfile", "app/docker/Dockerfile", "app/main.rs"] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(path, "FROM scratch\n").expect("write");
    }
    dir
}

pub(super) fn parse(dir: &TempDir, text: &str) -> Result<Project, ConfigError> {
    parse_str(Path::new("wharf.yaml"), dir.path(), text)
}

pub(super) fn parse_ok(text: &str) -> Project {
    let dir = project_dir();
    match parse(&dir, text) {
        Ok(p) => p,
        Err(e) => panic!("{}", e.plain()),
    }
}

/// The errors of `text` (in a project with Dockerfiles) as `(line, col, kind, message)`.
pub(super) fn errors(text: &str) -> Vec<(usize, usize, ErrorKind, String)> {
    let dir = project_dir();
    errors_in(&dir, text)
}

pub(super) fn errors_in(dir: &TempDir, text: &str) -> Vec<(usize, usize, ErrorKind, String)> {
    match parse(dir, text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().iter().map(|e| (e.line(), e.column(), e.kind(), e.message().to_string())).collect(),
    }
}

/// The single error of `text`.
pub(super) fn only_error(text: &str) -> (usize, usize, ErrorKind, String) {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.remove(0)
}

/// The full error of `text` as rendered in plain text.
pub(super) fn plain(text: &str) -> String {
    let dir = project_dir();
    match parse(&dir, text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.plain(),
    }
}

pub(super) const META: &str = "project: shop\nconfigVersion: 1\n---\n";

/// An expected error.
pub(super) fn at(line: usize, col: usize, kind: ErrorKind, message: &str) -> (usize, usize, ErrorKind, String) {
    (line, col, kind, message.to_string())
}
