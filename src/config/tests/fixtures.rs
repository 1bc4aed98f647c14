//! The corpus of werf projects in `tests/fixtures/werf/`: each is loaded as `wharf config
//! validate` loads it (with the variables in its `env` file, `--env test` and a fixed
//! commit), and its report (`expected.json`) and rendered file (`rendered.yaml`) must
//! stay what they are. `WHARF_UPDATE_FIXTURES=1` rewrites them; review the diff.

use crate::config::{CommitInfo, RenderInputs, Validation, load_with, render};
use std::path::Path;

const ROOT: &str = "tests/fixtures/werf";

fn inputs(dir: &Path) -> RenderInputs {
    let env = std::fs::read_to_string(dir.join("env")).unwrap_or_default();
    RenderInputs {
        env: env.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        werf_env: "test".into(),
        commit: Some(CommitInfo {
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            time: chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00+02:00").expect("a valid time"),
        }),
        templates_dir: None,
        work_tree: None,
        loose_giterminism: false,
    }
}

fn check(path: &Path, fresh: &str, failures: &mut Vec<String>) {
    if std::env::var_os("WHARF_UPDATE_FIXTURES").is_some() {
        std::fs::write(path, fresh).expect("write fixture expectation");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != fresh {
        failures.push(format!("{} differs; now:\n{fresh}", path.display()));
    }
}

#[test]
fn every_werf_fixture_gives_its_expected_report() {
    let mut dirs: Vec<_> =
        std::fs::read_dir(ROOT).expect("the corpus").flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 14, "the corpus lost projects: {dirs:?}");
    let mut failures = Vec::new();
    for dir in &dirs {
        let inputs = inputs(dir);
        let result = load_with(dir, None, &inputs);
        let report = serde_json::to_string_pretty(&Validation::of(&result)).expect("JSON") + "\n";
        check(&dir.join("expected.json"), &report, &mut failures);
        if let Ok((_, text)) = render(dir, None, &inputs) {
            check(&dir.join("rendered.yaml"), &text, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(if the new output is right: WHARF_UPDATE_FIXTURES=1 cargo test --lib config::tests::fixtures)",
        failures.join("\n\n")
    );
}

/// What each fixture is for, checked on the reports (so a regenerated expectation that
/// lost the point fails here).
#[test]
fn the_corpus_covers_each_feature() {
    let report = |name: &str| -> serde_json::Value {
        let dir = Path::new(ROOT).join(name);
        serde_json::to_value(Validation::of(&load_with(&dir, None, &inputs(&dir)))).expect("JSON")
    };
    let valid = |name: &str| report(name)["valid"] == true;
    let first_error = |name: &str| report(name)["errors"][0].clone();
    for name in
        ["templated", "partials", "comments", "build-options", "image-spec", "platforms", "null-args", "stapel-mixed"]
    {
        assert!(valid(name), "{name}: {}", report(name));
    }
    let t = report("templated");
    let names: Vec<&str> = t["images"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["base", "api", "worker"]);
    assert_eq!(t["images"][0]["publish"], false);
    assert_eq!(t["stapel"][0]["name"], "legacy");
    let p = report("partials");
    assert_eq!(p["images"].as_array().unwrap().len(), 2);
    let e = first_error("comment-invalid");
    assert_eq!((e["kind"].as_str(), e["line"].as_u64(), e["column"].as_u64()), (Some("template"), Some(3), Some(10)));
    assert!(
        first_error("giterminism-env")["message"].as_str().unwrap().contains("\"USER\" not allowed by giterminism")
    );
    assert_eq!(first_error("includes")["kind"], "unsupported");
    assert_eq!(
        first_error("dependencies-after")["message"],
        "`after:` directive is not supported for dockerfile dependencies"
    );
    assert!(first_error("platform-mismatch")["message"].as_str().unwrap().contains("linux/arm64"));
    let e = first_error("template-error");
    assert!(e["file"].as_str().unwrap().ends_with(".werf/image.tmpl") && e["line"] == 4, "{e}");
    assert!(report("null-args")["warnings"][0]["message"].as_str().unwrap().contains("`<nil>`"));
}
