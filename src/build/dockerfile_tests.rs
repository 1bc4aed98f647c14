use super::*;

const FLANT: &str = "\
ARG BASE=busybox:1
FROM ${BASE} AS base
RUN mkdir /app

FROM base AS backend
COPY backend/ /app/
RUN echo built \\
    backend

FROM base AS frontend
COPY [\"frontend/index.html\", \"/app/\"]
COPY --from=backend /app/x /y
";

fn no_args() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn stages_and_reachability() {
    let df = Dockerfile::parse(FLANT).unwrap();
    assert_eq!(df.stages.len(), 3);
    let backend = df.target_index(Some("backend")).unwrap();
    assert_eq!(df.reachable(backend, &no_args()), vec![0, 1]);
    let frontend = df.target_index(Some("FRONTEND")).unwrap();
    assert_eq!(df.reachable(frontend, &no_args()), vec![0, 1, 2]);
    assert!(df.target_index(Some("nope")).unwrap_err().message.contains("backend"));
}

#[test]
fn continuation_lines_are_joined_and_keep_their_first_line() {
    let df = Dockerfile::parse(FLANT).unwrap();
    let run = &df.stages[1].instructions[2];
    assert_eq!(run.keyword, "RUN");
    assert_eq!(run.args, "echo built backend");
    assert_eq!(run.line, 7);
    assert_eq!(df.line_of_step("5/9"), Some(7));
    assert_eq!(df.line_of_step("3/9 : RUN echo built backend"), Some(7), "matched by text");
    assert_eq!(df.line_of_step("1/9 : RUN mkdir /app"), Some(3));
}

#[test]
fn from_expands_global_args_and_build_args_override() {
    let df = Dockerfile::parse(FLANT).unwrap();
    let all: Vec<usize> = (0..3).collect();
    assert_eq!(df.external_images(&all, &no_args()), BTreeSet::from(["busybox:1".to_string()]));
    let args = BTreeMap::from([("BASE".to_string(), "reg:5000/b:2".to_string())]);
    assert_eq!(df.external_images(&all, &args), BTreeSet::from(["reg:5000/b:2".to_string()]));
}

#[test]
fn context_use_lists_copy_sources_of_reachable_stages_only() {
    let df = Dockerfile::parse(FLANT).unwrap();
    let backend = df.reachable(1, &no_args());
    assert_eq!(df.context_use(&backend, &no_args()), ContextUse::Paths(BTreeSet::from(["backend".to_string()])));
    let frontend = df.reachable(2, &no_args());
    assert_eq!(
        df.context_use(&frontend, &no_args()),
        ContextUse::Paths(BTreeSet::from(["backend".to_string(), "frontend/index.html".to_string()]))
    );
}

#[test]
fn unresolvable_sources_and_context_mounts_mean_everything() {
    let df = Dockerfile::parse("FROM a\nCOPY $X /x\n").unwrap();
    assert_eq!(df.context_use(&[0], &no_args()), ContextUse::Everything);
    let df = Dockerfile::parse("FROM a\nRUN --mount=type=bind,target=/src make\n").unwrap();
    assert_eq!(df.context_use(&[0], &no_args()), ContextUse::Everything);
    let df = Dockerfile::parse("FROM a\nRUN --mount=type=cache,target=/c make\nCOPY . /\n").unwrap();
    assert_eq!(df.context_use(&[0], &no_args()), ContextUse::Paths(BTreeSet::from([".".to_string()])));
}

#[test]
fn copy_from_an_image_and_mount_from_count_as_external_images() {
    let df = Dockerfile::parse(
        "FROM scratch\nCOPY --from=tools:1 /bin/x /x\nRUN --mount=type=bind,from=deps:2,target=/d true\n",
    )
    .unwrap();
    assert_eq!(df.external_images(&[0], &no_args()), BTreeSet::from(["deps:2".to_string(), "tools:1".to_string()]));
}

#[test]
fn errors_name_the_line() {
    let e = Dockerfile::parse("RUN x\nFROM a\n").unwrap_err();
    assert_eq!(e.line, 1);
    assert!(Dockerfile::parse("# only a comment\n").is_err());
    let e = Dockerfile::parse("FROM a b c d\n").unwrap_err();
    assert!(e.message.contains("FROM"));
}

#[test]
fn escape_directive_changes_the_continuation_character() {
    let df = Dockerfile::parse("# escape=`\nFROM a\nRUN echo `\n  x\n").unwrap();
    assert_eq!(df.stages[0].instructions[1].args, "echo x");
}

#[test]
fn expand_forms() {
    let vars = BTreeMap::from([("A".to_string(), "1".to_string())]);
    assert_eq!(expand("x$A-${A}", &vars).as_deref(), Some("x1-1"));
    assert_eq!(expand("${B:-d}", &vars).as_deref(), Some("d"));
    assert_eq!(expand("${A:+y}${B:+z}", &vars).as_deref(), Some("y"));
    assert_eq!(expand("$B", &vars), None);
    assert_eq!(expand("cost $", &vars).as_deref(), Some("cost $"));
}
