//! What a person sees while `build-and-publish` runs, on the real engine and registry: in a log
//! (no terminal), one line per image and state change, none of the engine's bookkeeping, the
//! engine's output only for the step that failed (all of it with `-v`), totals at the end; on
//! a terminal (a pty from `script`), a line per image that ends as its outcome.

use crate::support::registry::Registry;
use crate::support::wharf::{Run, example, run, wharf};
use std::path::Path;

/// The flant example with a backend no earlier run has built (a file of its own in the
/// context), so the engine really builds it.
fn fresh_flant() -> tempfile::TempDir {
    let dir = example("flant");
    let nonce = nonce();
    std::fs::write(dir.path().join("backend/nonce"), nonce).unwrap();
    dir
}

/// Text no earlier run used.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{}-{nanos}", std::process::id())
}

fn publish(dir: &Path, repo: &str, extra: &[&str]) -> Run {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["build-and-publish", "--dir", d.as_str(), "--repo", repo, "--tag-custom", "v1"];
    args.extend_from_slice(extra);
    run(wharf(&args))
}

/// The engine's bookkeeping that must not reach a log.
const NOISE: &[&str] =
    &["Running in", "Removing intermediate container", "---> ", "Successfully built", "Successfully tagged"];

/// Each builder's lines become the same states: the classic builder's `Step N/M` and
/// BuildKit's `#N [stage i/n]`.
const BUILDERS: &[&str] = &["legacy", "buildkit"];

#[test]
fn a_log_gets_a_line_per_image_and_state_and_totals() {
    let step = regex::Regex::new(r"(?m)^\[backend\] (\[[^\]]+\] )?step \d+/\d+: ").unwrap();
    for builder in BUILDERS {
        let reg = Registry::start();
        let dir = fresh_flant();
        let repo = format!("{}/flant", reg.host());
        let err = publish(dir.path(), &repo, &["--builder", builder]).ok().stderr();
        for want in [
            "[backend] building",
            "[backend] exporting",
            "[backend] uploading to ",
            "[backend] published 1 tag (built in ",
        ] {
            assert!(err.contains(want), "{builder}: {want:?} missing:\n{err}");
        }
        assert!(step.is_match(&err), "{builder}: a line per step:\n{err}");
        assert!(err.contains("[frontend] published 1 tag ("), "{builder}: {err}");
        for noise in NOISE {
            assert!(!err.contains(noise), "{builder}: {noise:?} reached the log:\n{err}");
        }
        assert!(!err.contains("] #"), "{builder}: BuildKit's raw lines reached the log:\n{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("2 image(s) in ") && last.contains(": ") && last.ends_with(" uploaded"),
            "{builder}: totals close the run: {last}"
        );
        // Every line but the totals names its image.
        assert_eq!(err.lines().filter(|l| !l.starts_with('[')).count(), 1, "{builder}: {err}");

        let again = publish(dir.path(), &repo, &["--builder", builder]).ok().stderr();
        assert!(again.contains("[backend] stage built before: nothing to build"), "{builder}: {again}");
        assert!(!again.contains("[backend] building"), "{builder}: {again}");
        let last = again.lines().last().unwrap_or_default();
        assert!(last.contains(": 0 built, 2 reused, 0 B uploaded"), "{builder}: {again}");
    }
}

/// A project whose last step fails after an earlier step printed something.
fn failing_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let nonce = nonce();
    std::fs::write(dir.path().join("wharf.yaml"), "project: failing\nconfigVersion: 1\n---\nimage: app\n").unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {}\nRUN printf 'early-%s\\n' output # {nonce}\nRUN printf 'boom-%s\\n' output && exit 3\n",
            crate::support::engine::BASE_IMAGE
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_failed_build_shows_the_failed_steps_output_and_v_shows_all() {
    let reg = Registry::start();
    let repo = format!("{}/failing", reg.host());
    for builder in BUILDERS {
        let dir = failing_project();
        let failed = publish(dir.path(), &repo, &["--builder", builder]);
        assert_eq!(failed.code(), 4, "{builder}: {}", failed.stderr());
        let err = failed.stderr();
        assert!(err.contains("[app] the failed step's build output:"), "{builder}: {err}");
        assert!(err.lines().any(|l| l.starts_with("[app] | ") && l.ends_with("boom-output")), "{builder}: {err}");
        assert!(!err.contains("early-output"), "{builder}: only the failed step's output:\n{err}");
        assert!(err.contains("error: image app: build failed at"), "{builder}: {err}");
        // The failed step's own lines, in each builder's form (the engine counts wharf's labels
        // as steps too: 3 of 5).
        let header = match *builder {
            "legacy" => "[app] | Step 3/5 : RUN printf 'boom-%s\\n' output && exit 3",
            _ => "RUN printf 'boom-%s\\n' output && exit 3",
        };
        assert!(err.contains(header), "{builder}: {err}");

        let dir = failing_project();
        let verbose = publish(dir.path(), &repo, &["--builder", builder, "-v"]);
        assert_eq!(verbose.code(), 4);
        let err = verbose.stderr();
        assert!(
            err.contains("early-output") && err.contains("boom-output"),
            "{builder}: -v shows the whole log:\n{err}"
        );
    }
}

#[test]
fn a_terminal_gets_a_live_line_per_image_that_ends_as_its_outcome() {
    let reg = Registry::start();
    let dir = fresh_flant();
    let repo = format!("{}/flant", reg.host());
    let cmd = wharf(&[]);
    let quoted = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = [
        cmd.get_program().to_string_lossy().as_ref(),
        "build-and-publish",
        "--dir",
        &dir.path().to_string_lossy(),
        "--repo",
        &repo,
        "--tag-custom",
        "v1",
    ]
    .iter()
    .map(|a| quoted(a))
    .collect::<Vec<_>>()
    .join(" ");
    // `script` gives wharf a pty; the environment wharf() sets is passed on.
    let mut script = std::process::Command::new("script");
    script.args(["-qfec", &line, "/dev/null"]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = run(script).ok().stdout();
    assert!(out.contains("\u{2713} published 1 tag (built in "), "{out}");
    assert!(out.contains("backend") && out.contains("frontend"), "{out}");
    assert!(out.contains("uploading") && out.contains("step 1/"), "the live lines showed the phases:\n{out}");
    assert!(out.contains("2 image(s) in "), "{out}");
    for noise in NOISE {
        assert!(!out.contains(noise), "{noise:?} reached the terminal:\n{out}");
    }
    // The log's lines (`[backend] building`) are not printed; a live line may name a stage.
    assert!(
        !out.contains("[backend] building") && !out.contains("[backend] published"),
        "no log lines on a terminal:\n{out}"
    );
}
