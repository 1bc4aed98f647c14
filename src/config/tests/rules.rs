//! Document-level rules: keys, types, documents, the project document, werf leftovers.

use super::*;
use ErrorKind::*;

#[test]
fn unknown_key_suggests_the_closest() {
    let text = format!("{META}image: app\ndockerfil: Dockerfile\n");
    assert_eq!(only_error(&text), at(5, 1, UnknownKey, "unknown key `dockerfil` in an image document"));
    let out = plain(&text);
    assert!(out.contains("wharf.yaml:5:1: unknown key `dockerfil` in an image document\n"), "{out}");
    assert!(out.contains("  5 | dockerfil: Dockerfile\n    | ^^^^^^^^^ unknown key\n"), "{out}");
    assert!(out.contains("hint: did you mean `dockerfile`?"), "{out}");
    let far = plain(&format!("{META}image: app\nzzz: 1\n"));
    assert!(far.contains("hint: an image document accepts: `image`, `dockerfile`"), "{far}");
}

#[test]
fn wrong_types() {
    assert_eq!(
        only_error(&format!("{META}image: app\ntarget: [a, b]\n")),
        at(5, 9, WrongType, "`target` must be a string, found a list")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\nargs: [A]\n")),
        at(5, 7, WrongType, "`args` must be a mapping, found a list")
    );
    assert_eq!(
        only_error(&format!("{META}image: app\nargs:\n  A: {{x: 1}}\n")),
        at(6, 6, WrongType, "build argument `A` must be a string, number or boolean, found a mapping")
    );
    assert_eq!(
        only_error(&format!("{META}image: {{a: 1}}\n")),
        at(4, 8, WrongType, "an image name must be a string, found a mapping")
    );
}

#[test]
fn duplicate_keys_point_at_both() {
    let dir = project_dir();
    let err = parse(&dir, &format!("{META}image: app\ntarget: a\ntarget: b\n")).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!((e.line(), e.column(), e.kind()), (6, 1, DuplicateKey));
    assert_eq!(e.message(), "duplicate key `target` in an image document");
    assert_eq!((e.notes()[0].line, e.notes()[0].column), (5, 1));
}

#[test]
fn documents_must_be_recognisable() {
    assert_eq!(only_error(&format!("{META}{{}}\n---\nimage: app\n")), at(4, 1, EmptyDocument, "empty document"));
    assert_eq!(only_error(&format!("{META}- a\n")), at(4, 1, WrongType, "a document must be a mapping, found a list"));
    assert_eq!(
        only_error(&format!("{META}image: app\n---\nfoo: bar\n")),
        at(6, 1, UnknownDocument, "cannot tell what this document is")
    );
    assert_eq!(
        only_error(&format!("{META}dockerfile: Dockerfile\n")),
        at(4, 1, MissingKey, "image document without `image`")
    );
    assert_eq!(
        only_error(&format!("{META}project: other\nconfigVersion: 1\n---\nimage: app\n")),
        at(4, 1, DuplicateProject, "a second project document")
    );
}

#[test]
fn project_document_rules() {
    assert_eq!(only_error(""), at(1, 1, MissingProject, "the configuration file is empty"));
    assert_eq!(
        only_error("image: app\n"),
        at(1, 1, MissingProject, "no project document: `project` and `configVersion` are missing")
    );
    assert_eq!(
        only_error("configVersion: 1\n---\nimage: app\n"),
        at(1, 1, MissingProject, "the project document has no `project` name")
    );
    assert_eq!(
        only_error("project: x\n---\nimage: app\n"),
        at(1, 1, MissingKey, "the project document has no `configVersion`")
    );
    assert_eq!(only_error("project: x\nconfigVersion: 2\n"), at(2, 16, InvalidValue, "`configVersion` must be 1"));
    let bad_name = "project: My_Shop\nconfigVersion: 1\n";
    assert_eq!(only_error(bad_name), at(1, 10, InvalidValue, "invalid project name `My_Shop`"));
    assert!(plain(bad_name).contains("for example `my-shop`"), "{}", plain(bad_name));
    let typo = errors("projct: shop\nconfigVersion: 1\n---\nimage: app\n");
    assert_eq!(typo[0], at(1, 1, UnknownKey, "unknown key `projct` in the project document"));
    assert_eq!(typo[1].2, MissingProject);
    let merged = errors("project: shop\nconfigVersion: 1\nimage: app\n");
    assert_eq!(merged[0], at(1, 1, UnknownKey, "`project` belongs in the project document, not in an image"));
}

#[test]
fn yaml_syntax_errors_are_located() {
    let (line, _, kind, message) = only_error(&format!("{META}image: app\nargs: [a\n"));
    assert_eq!(kind, Syntax);
    assert!(line >= 5 && message.starts_with("invalid YAML: "), "{line} {message}");
}

#[test]
fn one_file_yields_all_its_errors() {
    let text = "project: Shop\nconfigVersion: 1\n---\nimage: app\ndockerfil: Dockerfile\ntarget: [x]\ndependencies:\n- image: nope\n---\nimage: app\ncontext: ../x\n";
    let got: Vec<_> = errors(text).into_iter().map(|(l, c, k, _)| (l, c, k)).collect();
    assert_eq!(
        got,
        [
            (1, 10, InvalidValue),
            (5, 1, UnknownKey),
            (6, 9, WrongType),
            (8, 10, UnknownDependency),
            (10, 8, DuplicateImage),
            (11, 10, PathEscape),
        ]
    );
    let dir = project_dir();
    let err = parse(&dir, text).unwrap_err();
    assert_eq!(err.to_string(), "wharf.yaml has 6 configuration errors");
    let out = err.plain();
    for loc in [
        "wharf.yaml:1:10:",
        "wharf.yaml:5:1:",
        "wharf.yaml:6:9:",
        "wharf.yaml:8:10:",
        "wharf.yaml:10:8:",
        "wharf.yaml:11:10:",
    ] {
        assert!(out.contains(loc), "{loc} missing in\n{out}");
    }
}
