//! werf compatibility: file discovery, the classic example, werf-only settings.

use super::*;
use crate::config::{FILE_NAMES, ImportKind, load, locate};

#[test]
fn flant_example_loads_from_werf_yaml() {
    let dir = project_dir();
    std::fs::write(dir.path().join("werf.yaml"), FLANT).unwrap();
    let project = load(dir.path(), None).unwrap();
    assert_eq!(project.name, "flant");
    assert_eq!(project.config_path, dir.path().join("werf.yaml"));
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    let names: Vec<_> = project.images.iter().map(|i| i.display_name()).collect();
    assert_eq!(names, ["backend", "frontend"]);
    let backend = project.image("backend").unwrap();
    assert_eq!(backend.target.as_deref(), Some("backend"));
    assert_eq!(backend.context, dir.path());
    assert_eq!(backend.dockerfile, dir.path().join("Dockerfile"));
    assert!(project.cleanup.default_keep_policies);
}

#[test]
fn wharf_yaml_wins_over_werf_yaml() {
    let dir = project_dir();
    std::fs::write(dir.path().join("werf.yaml"), FLANT).unwrap();
    std::fs::write(dir.path().join("wharf.yaml"), NAMELESS).unwrap();
    assert_eq!(locate(dir.path(), None).unwrap(), dir.path().join("wharf.yaml"));
    assert_eq!(load(dir.path(), None).unwrap().name, "solo");
    assert_eq!(FILE_NAMES[0], "wharf.yaml");
}

#[test]
fn missing_file_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = locate(dir.path(), None).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }));
    let text = err.to_string();
    assert!(
        text.contains("no wharf.yaml or werf.yaml in") && text.contains(&dir.path().display().to_string()),
        "{text}"
    );
    assert!(err.plain().contains("hint: create wharf.yaml"), "{}", err.plain());
}

#[test]
fn explicit_file_is_relative_to_the_project_dir() {
    let dir = project_dir();
    std::fs::write(dir.path().join("ci.yaml"), FLANT).unwrap();
    assert_eq!(load(dir.path(), Some(Path::new("ci.yaml"))).unwrap().name, "flant");
    let err = load(dir.path(), Some(Path::new("nope.yaml"))).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.yaml"));
}

#[test]
fn werf_project_settings_only_warn() {
    let text = "project: shop\nconfigVersion: 1\ndeploy:\n  helmRelease: x\ngitWorktree:\n  forceShallowClone: true\nbuild:\n  platform: [linux/amd64]\n  staged: true\n---\nimage: app\n";
    let project = parse_ok(text);
    assert_eq!(
        project.warnings,
        [
            "wharf.yaml:3:1: werf's `deploy` settings are ignored by wharf",
            "wharf.yaml:5:1: werf's `gitWorktree` settings are ignored by wharf",
            "wharf.yaml:9:3: werf's `build.staged` is ignored by wharf",
        ]
    );
    assert_eq!(project.build.platforms, ["linux/amd64"]);
}

#[test]
fn werf_image_settings_warn_or_fail() {
    let project = parse_ok(&format!("{META}image: app\nfinal: false\nstaged: true\ncacheVersion: \"2\"\n"));
    assert_eq!(project.warnings, ["wharf.yaml:6:1: werf's `staged` is ignored by wharf"]);
    let app = project.image("app").unwrap();
    assert!(!app.publish);
    assert_eq!(app.cache_version.as_deref(), Some("2"));
    let (line, col, kind, message) = only_error(&format!("{META}image: app\naddHost: [a:1.2.3.4]\n"));
    assert_eq!((line, col, kind), (5, 1, ErrorKind::Unsupported));
    assert_eq!(message, "werf's `addHost` is not supported by wharf");
}

#[test]
fn werf_dependency_spellings() {
    let text = format!(
        "{META}image: base\n---\nimage: app\ndependencies:\n- from: base\n  imports:\n  - type: ImageID\n    targetBuildArg: BASE_ID\n"
    );
    let project = parse_ok(&text);
    let dep = &project.image("app").unwrap().dependencies[0];
    assert_eq!(dep.image, "base");
    assert_eq!(dep.imports[0].kind, ImportKind::ImageId);
    assert_eq!(dep.imports[0].build_arg, "BASE_ID");
    let (line, col, kind, _) =
        only_error(&format!("{META}image: base\n---\nimage: app\ndependencies:\n- image: base\n  from: base\n"));
    assert_eq!((line, col, kind), (9, 3, ErrorKind::InvalidValue));
    let (line, col, kind, message) = only_error(&format!(
        "{META}image: base\n---\nimage: app\ndependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetEnv: X\n    targetBuildArg: Y\n"
    ));
    assert_eq!((line, col, kind), (11, 5, ErrorKind::Unsupported));
    assert!(message.contains("targetEnv"), "{message}");
}

#[test]
fn full_example_is_typed() {
    let project = parse_ok(FULL);
    let names: Vec<_> = project.images.iter().map(|i| i.display_name()).collect();
    assert_eq!(names, ["base", "api", "worker"]);
    let base = project.image("base").unwrap();
    assert_eq!(base.platforms, ["linux/amd64", "linux/arm64"]);
    assert!(base.context.ends_with("base") && base.dockerfile.ends_with("base/Dockerfile"));
    let api = project.image("api").unwrap();
    assert_eq!(api, &Image { name: Some("api".into()), ..project.image("worker").unwrap().clone() });
    assert!(api.dockerfile.ends_with("app/docker/Dockerfile"), "dockerfile is relative to context");
    let args: Vec<(&str, &str)> = api.args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(args, [("DEBUG", "false"), ("GREETING", "hello"), ("PORT", "8080"), ("VERSION", "1.10")]);
    assert_eq!(api.platforms, ["linux/amd64"]);
    let kinds: Vec<_> = api.dependencies[0].imports.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [ImportKind::ImageName, ImportKind::ImageDigest]);
    assert_eq!(project.cleanup.keep_images_built_within_last_n_hours, 4);
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
}

use crate::config::Image;

#[test]
fn nameless_image_alone() {
    let project = parse_ok(NAMELESS);
    assert_eq!(project.images.len(), 1);
    assert_eq!(project.images[0].name, None);
    assert_eq!(project.images[0].display_name(), "~");
    assert!(project.image("~").is_none());
}

#[test]
fn project_document_may_come_later_as_in_werf() {
    let project = parse_ok("image: app\n---\nproject: shop\nconfigVersion: 1\n");
    assert_eq!(project.name, "shop");
    assert_eq!(project.images.len(), 1);
}

#[test]
fn no_images_is_a_warning() {
    let project = parse_ok("project: shop\nconfigVersion: 1\n");
    assert_eq!(project.warnings, ["wharf.yaml:1:1: no images are defined: add a document with `image: NAME`"]);
}

#[test]
fn fixture_flant_loads() {
    let project = load(Path::new("tests/fixtures/config/flant"), None).unwrap();
    assert_eq!(project.name, "flant");
    assert!(project.dir.is_absolute());
    assert_eq!(project.images.len(), 2);
}

/// The whole plain-text report for a realistic broken file, as users see it.
#[test]
fn fixture_broken_report() {
    let dir = Path::new("tests/fixtures/config/broken");
    let err = load(dir, None).unwrap_err();
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap_or_default();
    assert!(
        err.plain() == expected,
        "tests/fixtures/config/broken/expected.txt differs; if the new text is right, replace the file with:\n{}",
        err.plain()
    );
}
