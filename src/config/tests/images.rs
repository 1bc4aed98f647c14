//! Rules across images: names, nameless images, dependencies, cycles, build arguments.

use super::*;
use ErrorKind::*;

#[test]
fn duplicate_image_names_point_at_both() {
    let dir = project_dir();
    let err = parse(&dir, &format!("{META}image: app\n---\nimage: [web, app]\n")).unwrap_err();
    assert_eq!(err.errors().len(), 1);
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column(), e.kind(), e.message()), (6, 14, DuplicateImage, "image `app` is defined twice"));
    assert_eq!((e.notes()[0].line, e.notes()[0].column, e.notes()[0].label.as_str()), (4, 8, "first defined here"));
    assert!(err.plain().contains("note: wharf.yaml:4:8: first defined here"), "{}", err.plain());
}

#[test]
fn nameless_images() {
    assert_eq!(
        only_error(&format!("{META}image: ~\n---\nimage: app\n")),
        at(4, 8, NamelessWithNamed, "a nameless image (`image: ~`) next to named images")
    );
    assert_eq!(
        only_error(&format!("{META}image: ~\n---\nimage:\n")),
        at(6, 1, MultipleNameless, "more than one nameless image")
    );
    assert_eq!(only_error(&format!("{META}image: []\n")), at(4, 8, InvalidValue, "`image` is an empty list"));
}

#[test]
fn image_names_must_fit_repositories_and_tags() {
    assert_eq!(
        only_error(&format!("{META}image: Backend\n")),
        at(4, 8, InvalidImageName, "invalid image name `Backend`: it has uppercase letters")
    );
    let (line, col, kind, _) = only_error(&format!("{META}image: [ok, a--b]\n"));
    assert_eq!((line, col, kind), (4, 13, InvalidImageName));
    let werf_style = plain(&format!("{META}image: base/Vex\n"));
    assert!(werf_style.contains("(e.g. `base-vex`); werf also allows uppercase and `/`"), "{werf_style}");
    let out = plain(&format!("{META}image: {}\n", "a".repeat(65)));
    assert!(out.contains("longer than 64 characters"), "{out}");
    assert!(out.contains("part of a registry repository path (`registry/project/NAME`) and of tags"), "{out}");
}

#[test]
fn dependencies_must_exist() {
    let (line, col, kind, message) =
        only_error(&format!("{META}image: base\n---\nimage: app\ndependencies:\n- image: bsae\n"));
    assert_eq!((line, col, kind, message.as_str()), (8, 10, UnknownDependency, "dependency on unknown image `bsae`"));
    assert!(
        plain(&format!("{META}image: base\n---\nimage: app\ndependencies:\n- image: bsae\n"))
            .contains("did you mean `base`?")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\ndependencies:\n- imports: []\n")),
        at(6, 3, MissingKey, "a dependency without `image`")
    );
}

#[test]
fn dependency_cycles_are_named() {
    let text = format!("{META}image: a\ndependencies:\n- image: b\n---\nimage: b\ndependencies:\n- image: a\n");
    let dir = project_dir();
    let err = parse(&dir, &text).unwrap_err();
    assert_eq!(err.errors().len(), 1);
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column(), e.kind(), e.message()), (10, 10, DependencyCycle, "dependency cycle: a → b → a"));
    assert_eq!((e.notes()[0].line, e.notes()[0].column, e.notes()[0].label.as_str()), (6, 10, "`a` depends on `b`"));
    assert_eq!(
        only_error(&format!("{META}image: a\ndependencies:\n- image: a\n")),
        at(6, 10, DependencyCycle, "dependency cycle: a → a")
    );
}

#[test]
fn build_args_are_set_once() {
    let text = format!(
        "{META}image: base\n---\nimage: other\n---\nimage: app\nargs:\n  X: \"1\"\ndependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: A\n- image: other\n  imports:\n  - type: ImageTag\n    targetBuildArg: A\n  - type: ImageTag\n    targetBuildArg: X\n"
    );
    let dir = project_dir();
    let err = parse(&dir, &text).unwrap_err();
    let got: Vec<_> =
        err.errors().iter().map(|e| (e.line(), e.column(), e.kind(), e.notes()[0].line, e.notes()[0].column)).collect();
    assert_eq!(got, [(19, 21, DuplicateBuildArg, 15, 21), (21, 21, DuplicateBuildArg, 10, 3)]);
    assert_eq!(err.errors()[0].message(), "build argument `A` is set by two imports");
    assert_eq!(err.errors()[1].message(), "build argument `X` is set both in `args` and by an import");
}

#[test]
fn imports_are_checked() {
    let text = format!(
        "{META}image: base\n---\nimage: app\ndependencies:\n- image: base\n  imports:\n  - type: ImageId\n    targetBuildArg: A\n  - targetBuildArg: B\n"
    );
    let errs = errors(&text);
    assert_eq!(
        errs,
        [at(10, 11, InvalidValue, "unknown import type `ImageId`"), at(12, 5, MissingKey, "an import without `type`")]
    );
    assert!(plain(&text).contains("did you mean `ImageID`?"));
}

#[test]
fn platforms_are_checked() {
    let errs = errors(&format!("{META}image: app\nplatform: [linux-amd64, linux/arm64, linux/arm64]\n"));
    assert_eq!(
        errs,
        [
            at(5, 12, InvalidValue, "invalid platform `linux-amd64`"),
            at(5, 38, InvalidValue, "platform `linux/arm64` is listed twice"),
        ]
    );
}
