//! `context` and `dockerfile`: existence and staying inside the project.

use super::*;
use ErrorKind::*;

#[test]
fn missing_files() {
    assert_eq!(
        only_error(&format!("{META}image: app\ndockerfile: Nope\n")),
        at(5, 13, MissingDockerfile, "Dockerfile `Nope` does not exist")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\ncontext: nope\n")),
        at(5, 10, MissingContext, "context directory `nope` does not exist")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\ncontext: Dockerfile\n")),
        at(5, 10, MissingContext, "context directory `Dockerfile` is not a directory")
    );
    let defaulted = format!("{META}image: app\ncontext: app\n");
    assert_eq!(only_error(&defaulted), at(4, 8, MissingDockerfile, "Dockerfile `Dockerfile` does not exist"));
    assert!(plain(&defaulted).contains("uses the default `Dockerfile`"));
    let project_relative = plain(&format!("{META}image: app\ncontext: app\ndockerfile: base/Dockerfile\n"));
    assert!(project_relative.contains("`dockerfile` is relative to `context` (as in werf)"), "{project_relative}");
    assert!(project_relative.contains("write `dockerfile: ../base/Dockerfile`"), "{project_relative}");
}

#[test]
fn paths_must_stay_in_the_project() {
    assert_eq!(
        only_error(&format!("{META}image: app\ncontext: ../outside\n")),
        at(5, 10, PathEscape, "`context: ../outside` leads outside the project directory")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\ndockerfile: ../../Dockerfile\n")),
        at(5, 13, PathEscape, "`dockerfile: ../../Dockerfile` leads outside the project directory")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\ncontext: /tmp\n")),
        at(5, 10, PathEscape, "`context: /tmp` is an absolute path")
    );
    // Inside the project after `..` is fine: the Dockerfile may sit outside the context.
    let project = parse_ok(&format!("{META}image: app\ncontext: app/docker/..\ndockerfile: ../Dockerfile\n"));
    assert!(project.images[0].dockerfile.ends_with("Dockerfile") && project.images[0].context.ends_with("app"));
}

#[cfg(unix)]
#[test]
fn symlinks_must_stay_in_the_project() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let dir = project_dir();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("Dockerfile"), dir.path().join("Dockerfile.link")).unwrap();
    let errs = errors_in(&dir, &format!("{META}image: a\ncontext: link\n---\nimage: b\ndockerfile: Dockerfile.link\n"));
    let kinds: Vec<_> = errs.iter().map(|e| (e.0, e.1, e.2)).collect();
    assert_eq!(kinds, [(5, 10, PathEscape), (8, 13, PathEscape)]);
    assert!(errs[0].3.starts_with("`context: link` resolves through a symlink to"), "{errs:?}");
}
