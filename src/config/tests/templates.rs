//! Templated project files: rendered as werf renders them, with errors at the template's
//! own file, line and column.

use super::*;
use crate::config::{CommitInfo, RenderInputs, load_with, parse_with, render};
use std::collections::BTreeMap;

fn inputs(env: &[(&str, &str)]) -> RenderInputs {
    RenderInputs {
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        werf_env: "production".into(),
        commit: Some(CommitInfo {
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            time: chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00+02:00").unwrap(),
        }),
        templates_dir: None,
        work_tree: None,
        loose_giterminism: false,
    }
}

fn write(dir: &TempDir, path: &str, text: &str) {
    let path = dir.path().join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn parse_in(dir: &TempDir, text: &str, env: &[(&str, &str)]) -> Result<Project, ConfigError> {
    parse_with(Path::new("werf.yaml"), dir.path(), text, &inputs(env))
}

const TEMPLATED: &str = r#"{{- $_ := set . "Base" (env "BASE_IMAGE" "alpine:3.20") -}}
project: {{ required "PROJECT is required" (env "PROJECT" "") }}
configVersion: 1
---
{{- range $app := list "api" "worker" }}
image: {{ $app }}
dockerfile: Dockerfile
args:
  BASE: {{ $.Base | quote }}
  VERSION: {{ env "APP_VERSION" | quote }}
  ENVIRONMENT: {{ $.Env | default "dev" }}
  COMMIT: {{ $.Commit.Hash | trunc 8 }}
{{ include "labels" (dict "app" $app) | indent 2 }}
---
{{- end }}
{{ tpl (.Files.Get "extra.yaml.tpl") . }}
"#;

#[test]
fn a_templated_werf_project_renders_like_werf() {
    let dir = project_dir();
    write(&dir, ".werf/_helpers.tmpl", "{{- define \"labels\" -}}\nAPP_LABEL: {{ .app | upper }}\n{{- end }}\n");
    write(&dir, "extra.yaml.tpl", "image: extra\ndockerfile: Dockerfile\nargs: { ENV: {{ .Env }} }\n");
    let project = match parse_in(&dir, TEMPLATED, &[("PROJECT", "shop"), ("APP_VERSION", "1.4.2")]) {
        Ok(p) => p,
        Err(e) => panic!("{}", e.plain()),
    };
    assert_eq!(project.name, "shop");
    let names: Vec<_> = project.images.iter().map(|i| i.display_name()).collect();
    assert_eq!(names, ["api", "worker", "extra"]);
    let args = &project.image("worker").unwrap().args;
    let get = |k: &str| args.get(k).map(String::as_str);
    assert_eq!(get("BASE"), Some("alpine:3.20"));
    assert_eq!(get("VERSION"), Some("1.4.2"));
    assert_eq!(get("ENVIRONMENT"), Some("production"), "`.Env` is werf's --env, not the environment");
    assert_eq!(get("COMMIT"), Some("01234567"));
    assert_eq!(get("APP_LABEL"), Some("WORKER"));
    assert_eq!(project.image("extra").unwrap().args.get("ENV").map(String::as_str), Some("production"));
}

#[test]
fn template_errors_point_at_the_template() {
    let dir = project_dir();
    write(&dir, ".werf/_helpers.tmpl", "{{- define \"labels\" -}}\nAPP_LABEL: {{ .app | upper }}\n{{- end }}\n");
    write(&dir, "extra.yaml.tpl", "image: extra\n");
    let err = parse_in(&dir, TEMPLATED, &[("APP_VERSION", "1")]).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!((e.file(), e.line(), e.column(), e.kind()), ("werf.yaml", 2, 13, ErrorKind::Template));
    assert_eq!(e.message(), "error calling required: PROJECT is required");
    let err = parse_in(&dir, TEMPLATED, &[("PROJECT", "shop")]).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column()), (10, 15));
    assert_eq!(
        e.message(),
        "error calling env: the environment variable \"APP_VERSION\" must be set or default must be provided"
    );
    // An error inside a partial is shown in the partial, with the call that led there.
    write(
        &dir,
        ".werf/_helpers.tmpl",
        "{{- define \"labels\" -}}\nAPP_LABEL: {{ .app.nope.deeper | upper }}\n{{- end }}\n",
    );
    let err = parse_in(&dir, TEMPLATED, &[("PROJECT", "shop"), ("APP_VERSION", "1")]).unwrap_err();
    let e = &err.errors()[0];
    assert!(e.file().ends_with(".werf/_helpers.tmpl"), "{}", e.file());
    assert_eq!((e.line(), e.column()), (2, 15));
    assert!(e.hint().unwrap().contains("called by include \"labels\" at werf.yaml:13:4"), "{:?}", e.hint());
    // A parse error in a partial.
    write(&dir, ".werf/broken.tmpl", "ok\n{{ if }}\n");
    let e = &parse_in(&dir, "project: x\n", &[]).unwrap_err().errors()[0].clone();
    assert!(e.file().ends_with("broken.tmpl") && (e.line(), e.column()) == (2, 7), "{e:?}");
    assert_eq!(e.message(), "missing value for if");
}

#[test]
fn yaml_problems_in_rendered_text_point_at_the_template_line() {
    let text = "project: shop\nconfigVersion: 1\n{{- range list \"API\" \"ok\" }}\n---\nimage: {{ . }}\n{{- end }}\n";
    let dir = project_dir();
    let err = parse_in(&dir, text, &[]).unwrap_err();
    assert_eq!(err.errors().len(), 1, "{}", err.plain());
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column(), e.kind()), (5, 8, ErrorKind::InvalidImageName));
    assert_eq!(e.message(), "invalid image name `API`: it has uppercase letters");
    assert!(e.is_rendered() && err.plain().contains("wharf config render"), "{}", err.plain());
    // Text copied from the template keeps its exact place.
    let err =
        parse_in(&dir, "project: shop\nconfigVersion: 1\n---\n{{ \"image: app\" }}\ntargett: x\n", &[]).unwrap_err();
    assert_eq!((err.errors()[0].line(), err.errors()[0].column(), err.errors()[0].is_rendered()), (5, 1, false));
}

#[test]
fn braces_in_yaml_comments_are_rendered_like_werf() {
    let dir = project_dir();
    let project =
        parse_in(&dir, "# built from {{ .Env }}\nproject: shop\nconfigVersion: 1\n---\nimage: app\n", &[]).unwrap();
    assert_eq!(project.name, "shop");
    // werf parses the whole file as a template: an invalid action in a comment fails there too.
    let err = parse_in(&dir, "project: shop # see {{ the docs }}\nconfigVersion: 1\n", &[]).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column(), e.kind()), (1, 24, ErrorKind::Template));
    assert_eq!(e.message(), "function \"the\" not defined");
}

#[test]
fn giterminism_limits_env_and_includes_are_refused() {
    let dir = project_dir();
    write(
        &dir,
        "werf-giterminism.yaml",
        "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [APP_VERSION]\n",
    );
    let text = "project: shop\nconfigVersion: 1\n---\nimage: app\nargs:\n  A: {{ env \"APP_VERSION\" }}\n  B: {{ env \"HOME\" \"x\" }}\n";
    let err = parse_in(&dir, text, &[("APP_VERSION", "1"), ("HOME", "/root")]).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column()), (7, 9));
    assert!(
        e.message().starts_with("error calling env: env name \"HOME\" not allowed by giterminism"),
        "{}",
        e.message()
    );
    // werf's --loose-giterminism lifts the allow-list.
    let loose = RenderInputs { loose_giterminism: true, ..inputs(&[("APP_VERSION", "1"), ("HOME", "/root")]) };
    let project = parse_with(Path::new("werf.yaml"), dir.path(), text, &loose).expect("loose giterminism");
    assert_eq!(project.images[0].args["B"], "/root");
    std::fs::remove_file(dir.path().join("werf-giterminism.yaml")).unwrap();
    assert!(parse_in(&dir, text, &[("APP_VERSION", "1")]).is_ok(), "without the file, any variable may be read");
    write(
        &dir,
        "werf-includes.yaml",
        "includes:\n  - git: https://github.com/acme/shared\n    branch: main\n    add: /\n    to: /\n",
    );
    let err = parse_in(&dir, text, &[("APP_VERSION", "1")]).unwrap_err();
    assert!(err.errors()[0].file().ends_with("werf-includes.yaml"));
    assert!(err.plain().contains("wharf does not fetch configuration from other git repositories"), "{}", err.plain());
}

#[test]
fn render_prints_the_rendered_file_and_load_with_reads_it() {
    let dir = project_dir();
    write(&dir, "werf.yaml", "project: {{ env \"P\" }}\nconfigVersion: 1\n---\nimage: app\n");
    let (path, text) = render(dir.path(), None, &inputs(&[("P", "shop")])).unwrap();
    assert!(path.ends_with("werf.yaml"));
    assert_eq!(text, "project: shop\nconfigVersion: 1\n---\nimage: app\n");
    assert_eq!(load_with(dir.path(), None, &inputs(&[("P", "shop")])).unwrap().name, "shop");
    let err = crate::config::load(dir.path(), None).unwrap_err();
    assert!(err.errors()[0].message().contains("\"P\" must be set"), "no environment unless given");
}

#[test]
fn commit_is_needed_only_when_used() {
    let dir = project_dir();
    let none = RenderInputs::default();
    let ok = parse_with(Path::new("werf.yaml"), dir.path(), "project: shop\nconfigVersion: 1\n", &none);
    assert!(ok.is_ok());
    let err =
        parse_with(Path::new("werf.yaml"), dir.path(), "project: shop-{{ .Commit.Hash }}\nconfigVersion: 1\n", &none)
            .unwrap_err();
    assert!(err.errors()[0].message().contains("needs the project's git HEAD commit"), "{}", err.plain());
    let dated =
        parse_in(&dir, "project: shop\nconfigVersion: 1\n# {{ .Commit.Date.Human }} {{ .Commit.Date.Unix }}\n", &[]);
    assert!(dated.is_ok());
    let (_, text) = {
        write(&dir, "werf.yaml", "{{ .Commit.Date.Human }}|{{ .Commit.Date.Unix }}");
        render(dir.path(), None, &inputs(&[])).unwrap()
    };
    assert_eq!(text, "2024-05-01 12:00:00 +0200 +0200|1714557600");
}
