//! No input makes the reader panic, and errors render both ways.

use super::*;

/// Every prefix of a rich file, plus odd inputs, must give `Ok` or located errors.
#[test]
fn no_input_panics() {
    let dir = project_dir();
    let mut inputs: Vec<String> = Vec::new();
    for text in [FULL, FLANT] {
        inputs.extend(text.char_indices().map(|(i, _)| text[..i].to_string()));
    }
    inputs.extend(
        [
            "\u{feff}project: x\nconfigVersion: 1\n",
            "\0",
            "---\n---\n---\n",
            "? [a, b]\n: c\n",
            "&a [*a]\n",
            "a: &a {b: *a}\n",
            "project: &p x\nconfigVersion: 1\n---\nimage: *p\n",
            "base: &b {dockerfile: Dockerfile}\nproject: x\nconfigVersion: 1\n---\nimage: a\n<<: *b\n",
            "image: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
            "project: \"é\u{0301}\u{1F600}\"\nconfigVersion: 1e400\n",
            "configVersion: 99999999999999999999999999999999999999999\n",
            "{{",
            "}}{{\n",
            "project: x\r\nconfigVersion: 1\r\n---\r\nimage: a\r\ncontext: \"\\0\"\r\n",
            "image: a\ndependencies: [[], {}, ~, 1]\nargs: {~: 1, [1]: 2, '': 3, 'A B': 4}\n",
            "project: x\nconfigVersion: 1\ncleanup: {keepPolicies: [~, [], {references: {branch: ~, tag: 1}}]}\n",
        ]
        .map(String::from),
    );
    for text in &inputs {
        match parse(&dir, text) {
            Ok(_) => {}
            Err(e) => {
                let _ = e.plain();
                let _ = render_graphical(&e);
            }
        }
    }
}

fn render_graphical(err: &ConfigError) -> String {
    let mut out = String::new();
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor()).with_width(100);
    handler.render_report(&mut out, err).expect("rendering into a String cannot fail");
    out
}

#[test]
fn graphical_rendering_shows_every_error_with_its_snippet() {
    let dir = project_dir();
    let text = format!("{META}image: app\ndockerfil: Dockerfile\n---\nimage: app\n");
    let err = parse(&dir, &text).unwrap_err();
    let out = render_graphical(&err);
    assert!(out.contains("wharf.yaml has 2 configuration errors"), "{out}");
    assert!(out.contains("wharf::config::unknown-key"), "{out}");
    assert!(out.contains("[wharf.yaml:5:1]"), "{out}");
    assert!(out.contains("did you mean `dockerfile`?"), "{out}");
    assert!(out.contains("wharf::config::duplicate-image") && out.contains("first defined here"), "{out}");
}

/// Huge or repetitive files stay fast: errors are capped and lookups hashed.
#[test]
fn pathological_files_stay_fast() {
    let dir = project_dir();
    let started = std::time::Instant::now();
    let one_line_keys: String = (0..50_000).map(|i| format!("k{i}: 1, ")).collect();
    let repeated_keys = "k: 1, ".repeat(50_000);
    let docs: String =
        (0..5_000).map(|i| format!("---\nimage: a{i}\ndependencies: [{{image: a{}}}]\n", (i + 1) % 5_000)).collect();
    let inputs = [
        format!("{META}image: app\nargs: {{{repeated_keys}}}\n"),
        format!("{META}{{{one_line_keys}}}\n"),
        format!("project: x\nconfigVersion: 1\n{docs}"),
        format!("{META}image: app\nargs: {{A: \"{}\"}}\n", "{{".repeat(100_000)),
    ];
    for text in &inputs {
        let Err(err) = parse(&dir, text) else { panic!("expected errors") };
        assert!(err.errors().len() <= crate::config::MAX_ERRORS);
        let _ = err.plain();
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
}
