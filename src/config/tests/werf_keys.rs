//! werf's keys beyond the basics: build options, `imageSpec`, `build:`, `final`,
//! dependency stages, null build arguments and stapel images beside Dockerfile ones.

use super::*;
use crate::config::ErrorKind::*;
use crate::config::{SecretSource, SelectError};

#[test]
fn secrets_follow_werf() {
    let project = parse_ok(&format!(
        "{META}image: app\nsecrets:\n- env: AWS_KEY\n- id: aws\n  env: AWS_SECRET\n- src: ~/.aws/credentials\n- id: plain\n  value: s3cr3t\n"
    ));
    let secrets = &project.image("app").unwrap().secrets;
    let ids: Vec<&str> = secrets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["AWS_KEY", "aws", "credentials", "plain"]);
    assert_eq!(secrets[2].source, SecretSource::File("~/.aws/credentials".into()));
    assert_eq!(format!("{:?}", secrets[3].source), "Value(***)", "a secret value never prints");
    let errs =
        errors(&format!("{META}image: app\nsecrets:\n- value: x\n- env: A\n  src: b\n- env: A\n- env: B\n  id: A\n"));
    assert_eq!(
        errs,
        [
            at(6, 10, MissingKey, "a `value` secret needs an `id`"),
            at(8, 8, InvalidValue, "secret type could be ONLY `env`, `src` or `value`"),
            at(10, 3, InvalidValue, "duplicated secret \"A\""),
        ]
    );
}

#[test]
fn giterminism_allows_secrets_and_context_files() {
    let dir = project_dir();
    std::fs::write(dir.path().join("werf-giterminism.yaml"), "giterminismConfigVersion: 1\nconfig:\n  secrets:\n    allowEnvVariables: [TOKEN]\n  dockerfile:\n    allowContextAddFiles: [app/main.rs]\n").unwrap();
    let ok = format!(
        "{META}image: app\ncontext: app\ndockerfile: docker/Dockerfile\nsecrets: [{{env: TOKEN}}]\ncontextAddFiles: [main.rs]\n"
    );
    let project = parse(&dir, &ok).unwrap();
    assert_eq!(project.image("app").unwrap().context_add_files, ["main.rs"]);
    let errs = errors_in(
        &dir,
        &format!(
            "{META}image: app\ncontext: app\ndockerfile: docker/Dockerfile\nsecrets: [{{env: OTHER}}]\ncontextAddFiles: docker\n"
        ),
    );
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].3.starts_with("secret \"OTHER\" is not allowed by giterminism"), "{errs:?}");
    assert!(errs[1].3.starts_with("contextAddFiles \"app/docker\" is not allowed by giterminism"), "{errs:?}");
}

#[test]
fn build_options_are_checked() {
    let project = parse_ok(&format!("{META}image: app\nssh: default\nnetwork: none\n"));
    let app = project.image("app").unwrap();
    assert_eq!((app.ssh.as_deref(), app.network.as_deref()), (Some("default"), Some("none")));
    assert_eq!(only_error(&format!("{META}image: app\nssh: '=x'\n")).3, "invalid `ssh` value `=x`");
    assert_eq!(only_error(&format!("{META}image: app\nnetwork: 'a b'\n")).3, "invalid `network` `a b`");
    assert_eq!(
        only_error(&format!("{META}image: app\ncontextAddFile: [a]\ncontextAddFiles: [b]\n")),
        at(5, 1, InvalidValue, "only one out of contextAddFiles and contextAddFile directives can be used at a time")
    );
    assert_eq!(only_error(&format!("{META}image: app\ncontextAddFiles: [../x]\n")).2, PathEscape);
    assert_eq!(
        only_error(&format!("{META}image: app\ncontextAddFiles: [nope.txt]\n")),
        at(5, 19, MissingContext, "contextAddFile `nope.txt` was not found")
    );
}

#[test]
fn image_spec_is_typed_and_merged_into_final_images() {
    let text = "project: shop\nconfigVersion: 1\nbuild:\n  imageSpec:\n    author: ops\n    config:\n      labels: {team: core}\n      removeLabels: [/^vendor\\./]\n---\nimage: app\nimageSpec:\n  clearHistory: true\n  config:\n    labels: {tier: web}\n    env: {MODE: prod}\n    expose: [8080/tcp, '53/udp']\n    entrypoint: [/bin/app]\n    stopSignal: SIGTERM\n    healthcheck: {test: [CMD, /bin/app, check], interval: 30, retries: 3}\n---\nimage: builder\nfinal: false\n";
    let project = parse_ok(text);
    let app = project.image("app").unwrap().image_spec.clone().unwrap();
    assert_eq!(app.author.as_deref(), Some("ops"));
    assert!(app.clear_history);
    let labels: Vec<(&str, &str)> = app.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(labels, [("team", "core"), ("tier", "web")]);
    assert_eq!(app.remove_labels, ["/^vendor\\./"]);
    assert_eq!(app.entrypoint.as_deref(), Some(&["/bin/app".to_string()][..]));
    assert_eq!(app.healthcheck.as_ref().and_then(|h| h.retries), Some(3));
    assert!(project.image("builder").unwrap().image_spec.is_none(), "build.imageSpec applies to final images only");
    assert!(project.warnings.iter().all(|w| !w.message.contains("imageSpec")), "applied at publish: no warning");
    let errs = errors(&format!(
        "{META}image: app\nimageSpec:\n  config:\n    expose: [http]\n    stopSignal: 'sig term'\n    removeEnv: ['/[/']\n    healthcheck: {{test: [curl]}}\n    colour: red\n"
    ));
    let messages: Vec<&str> = errs.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(messages.len(), 5, "{errs:#?}");
    assert!(messages.contains(&"invalid exposed port `http`"));
    assert!(messages.contains(&"invalid stop signal `sig term`"));
    assert!(messages.contains(&"unknown key `colour` in `imageSpec.config`"));
    assert!(messages.iter().any(|m| m.starts_with("invalid regular expression in `removeEnv`")));
    assert!(messages.contains(&"`healthcheck.test` starts with `curl`"));
    assert_eq!(
        only_error("project: shop\nconfigVersion: 1\nbuild:\n  imageSpec:\n    config:\n      user: root\n").3,
        "unknown key `user` in `build.imageSpec.config`"
    );
}

#[test]
fn build_platform_and_cache_version_are_defaults() {
    let text = "project: shop\nconfigVersion: 1\nbuild:\n  platform: [linux/arm64]\n  cacheVersion: 7\n---\nimage: base\n---\nimage: app\nplatform: linux/amd64\ncacheVersion: x\n";
    let project = parse_ok(text);
    let base = project.image("base").unwrap();
    assert_eq!(
        (base.platforms.as_slice(), base.cache_version.as_deref()),
        (&["linux/arm64".to_string()][..], Some("7"))
    );
    let app = project.image("app").unwrap();
    assert_eq!((app.platforms.as_slice(), app.cache_version.as_deref()), (&["linux/amd64".to_string()][..], Some("x")));
    assert_eq!(
        only_error("project: shop\nconfigVersion: 1\nbuild:\n  platform: linux\n").3,
        "invalid platform `linux`"
    );
    let mismatch = "project: shop\nconfigVersion: 1\n---\nimage: base\nplatform: linux/amd64\n---\nimage: app\nplatform: [linux/amd64, linux/arm64]\ndependencies:\n- image: base\n";
    assert_eq!(
        only_error(mismatch),
        at(
            10,
            10,
            InvalidValue,
            "this image is built for platform linux/arm64, which dependency `base` is not built for"
        )
    );
}

#[test]
fn dependency_stages_and_null_args_follow_werf() {
    assert_eq!(
        only_error(&format!("{META}image: base\n---\nimage: app\ndependencies:\n- image: base\n  after: install\n")),
        at(9, 3, InvalidValue, "`after:` directive is not supported for dockerfile dependencies")
    );
    let project = parse_ok(&format!("{META}image: app\nargs:\n  EMPTY:\n  SET: x\n"));
    assert_eq!(project.image("app").unwrap().args.get("EMPTY").map(String::as_str), Some("<nil>"));
    assert!(
        project.warnings[0].message.starts_with("build argument `EMPTY` has no value: werf passes the text `<nil>`")
    );
}

#[test]
fn stapel_images_beside_dockerfile_images_validate() {
    let text = format!(
        "{META}image: app\ndependencies:\n- image: assets\n---\nimage: assets\nfrom: node:20\ngit:\n- add: /web\n  to: /app\nshell:\n  install: [npm ci]\ndependencies:\n- image: tools\n  after: setup\n---\nartifact: tools\nfrom: alpine\n---\nimage: standalone\n"
    );
    let project = parse_ok(&text);
    let names: Vec<_> = project.images.iter().map(|i| i.display_name()).collect();
    assert_eq!(names, ["app", "standalone"]);
    let stapel: Vec<_> = project.stapel.iter().map(|s| (s.name.as_deref(), s.location.as_str())).collect();
    assert_eq!(stapel, [(Some("assets"), "wharf.yaml:8:1"), (Some("tools"), "wharf.yaml:19:1")]);
    assert_eq!(project.warnings.len(), 2);
    assert!(
        project.warnings[0].message.starts_with("stapel image `assets` is not built by wharf"),
        "{:?}",
        project.warnings
    );
    assert_eq!(project.stapel_dependency(project.image("app").unwrap()), Some("assets"));
    assert_eq!(project.select(&["standalone".into()]).unwrap().images.len(), 1);
    assert!(matches!(project.select(&["assets".into()]), Err(SelectError::Stapel { .. })));
    assert!(matches!(project.select(&["ap".into()]), Err(SelectError::Unknown { .. })));
    // werf's rules for a stapel image's dependencies still apply.
    assert_eq!(
        only_error(&format!(
            "{META}image: tools\nfrom: alpine\n---\nimage: x\nfrom: alpine\ndependencies:\n- image: tools\n"
        )),
        at(
            10,
            3,
            MissingKey,
            "dependency stage is not specified with `before: install|setup` or `after: install|setup`"
        )
    );
    assert_eq!(only_error(&format!("{META}image: x\nfromImage: nope\n")).3, "dependency on unknown image `nope`");
}
