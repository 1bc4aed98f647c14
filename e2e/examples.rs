//! Every bundled example is a valid project.

#[test]
fn every_example_parses_and_validates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        // examples/ci holds CI files, run by `ci_recipes`.
        if !dir.is_dir() || dir.ends_with("ci") {
            continue;
        }
        let project = wharf::config::load(&dir, None)
            .unwrap_or_else(|e| panic!("{}: {:?}", dir.display(), miette::Report::new(e)));
        assert!(!project.images.is_empty(), "{} has no image", dir.display());
        seen += 1;
    }
    assert!(seen >= 3, "examples/ should hold flant, nameless and dependencies");
}
