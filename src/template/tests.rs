//! The template language against what Go's text/template (with sprig and werf's
//! functions) prints for the same input; expectations follow Go's documented behaviour.

use super::*;
use std::collections::{BTreeMap, HashMap};

struct Env(HashMap<String, String>);

impl Host for Env {
    fn env(&self, name: &str) -> Result<Option<String>, String> {
        if name == "FORBIDDEN" {
            return Err(format!("env name {name:?} not allowed by giterminism"));
        }
        Ok(self.0.get(name).cloned())
    }
}

fn data() -> Value {
    let mut m = BTreeMap::new();
    m.insert("Name".into(), Value::str("api"));
    m.insert("Apps".into(), Value::list(vec![Value::str("api"), Value::str("worker")]));
    m.insert("Versions".into(), Value::map(BTreeMap::from([("b".into(), Value::Int(2)), ("a".into(), Value::Int(1))])));
    m.insert("Null".into(), Value::Nil);
    m.insert("Empty".into(), Value::str(""));
    Value::map(m)
}

fn run_with(files: &[(&str, &str)], limits: Limits) -> Result<String, Error> {
    let set = Set::new();
    for (name, text) in files {
        set.add(name, name, text)?;
    }
    let host =
        Env(HashMap::from([("APP_VERSION".to_string(), "1.2.3".to_string()), ("EMPTY".to_string(), String::new())]));
    set.execute(files[0].0, data(), &host, limits).map(|o| o.text)
}

fn render(text: &str) -> String {
    match run_with(&[("main", text)], Limits::default()) {
        Ok(t) => t,
        Err(e) => panic!("{text}: {e:?}"),
    }
}

fn fails(text: &str) -> Error {
    match run_with(&[("main", text)], Limits::default()) {
        Ok(t) => panic!("{text}: rendered {t:?}, expected an error"),
        Err(e) => e,
    }
}

#[test]
fn text_fields_and_missing_values() {
    assert_eq!(render("image: {{ .Name }}"), "image: api");
    assert_eq!(render("{{ .Nope }}|{{ .Nope.Deeper }}|{{ .Null }}"), "<no value>|<no value>|<no value>");
    assert_eq!(fails("{{ .Null.X }}").message, "nil pointer evaluating interface {}.X");
    assert_eq!(fails("{{ .Name.X }}").message, "can't evaluate field X in type string");
    assert_eq!(render("{{ print .Nope }}"), "<nil>");
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(render("a:  \n  {{- \" b\" -}}  \n c"), "a: bc");
    assert_eq!(render("x{{/* gone */}}y {{- /* trims */ -}} z"), "xyz");
    assert_eq!(render("# a YAML comment with {{ .Name }}\n"), "# a YAML comment with api\n");
}

#[test]
fn variables_scope_and_assignment() {
    assert_eq!(render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}"), "2");
    let e = fails_parse("{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}");
    assert_eq!(e.message, "undefined variable \"$y\"");
    assert_eq!(render("{{ range $i, $app := .Apps }}{{ $i }}={{ $app }};{{ end }}"), "0=api;1=worker;");
    assert_eq!(render("{{ range $k, $v := .Versions }}{{ $k }}{{ $v }}{{ end }}"), "a1b2");
    assert_eq!(render("{{ range .Apps }}{{ $.Name }}-{{ . }} {{ end }}"), "api-api api-worker ");
}

fn fails_parse(text: &str) -> Error {
    Set::new().add("main", "main", text).unwrap_err()
}

#[test]
fn control_structures() {
    assert_eq!(render("{{ if .Nope }}a{{ else if eq .Name \"api\" }}b{{ else }}c{{ end }}"), "b");
    assert_eq!(render("{{ with .Empty }}x{{ else with .Name }}{{ . }}{{ end }}"), "api");
    assert_eq!(render("{{ range .Nope }}x{{ else }}none{{ end }}"), "none");
    assert_eq!(
        render(
            "{{ range 4 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}"
        ),
        "02"
    );
    assert_eq!(fails("{{ range .Name }}{{ end }}").message, "range can't iterate over api");
}

#[test]
fn pipelines_and_functions() {
    assert_eq!(render("{{ .Name | upper | printf \"%s-%d\" | quote }}"), "\"API-%!d(MISSING)\"");
    assert_eq!(render("{{ \"x\" | printf \"%s-%d\" 7 }}"), "%!s(int=7)-%!d(string=x)");
    assert_eq!(render("{{ and 1 0 2 }} {{ or 0 \"\" 3 }} {{ not 0 }}"), "0 3 true");
    assert_eq!(
        render("{{ len .Apps }} {{ index .Apps 1 }} {{ index .Versions \"b\" }} {{ slice .Apps 1 }}"),
        "2 worker 2 [worker]"
    );
    assert_eq!(render("{{ lt 1 2 }} {{ eq .Nope nil }} {{ eq 1 2 1 }} {{ ne \"a\" \"b\" }}"), "true true true true");
    assert_eq!(fails("{{ eq 1 \"1\" }}").message, "error calling eq: incompatible types for comparison");
    assert_eq!(fails("{{ lower 1 }}").message, "error calling lower: wrong type for value; expected string; got int");
    assert_eq!(fails("{{ .Nope | lower }}").message, "error calling lower: invalid value; expected string");
}

#[test]
fn sprig_functions() {
    assert_eq!(
        render("{{ default \"alpine\" .Nope }} {{ default \"x\" .Name }} {{ .Empty | default \"d\" }}"),
        "alpine api d"
    );
    assert_eq!(render("{{ $_ := set . \"Base\" \"alpine:3.20\" }}{{ .Base }}"), "alpine:3.20");
    assert_eq!(
        render(
            "{{ $d := dict \"a\" 1 \"b\" \"x\" }}{{ get $d \"b\" }}{{ hasKey $d \"a\" }}{{ get $d \"z\" }}|{{ keys $d }}"
        ),
        "xtrue|[a b]"
    );
    assert_eq!(
        render("{{ list 1 \"a\" | toJson }} {{ dict \"k\" \"<v>\" | toJson }}"),
        "[1,\"a\"] {\"k\":\"\\u003cv\\u003e\"}"
    );
    assert_eq!(
        render(
            "{{ splitList \",\" \"a,b\" | join \"+\" }} {{ \"a-b\" | replace \"-\" \"_\" }} {{ trimSuffix \"-dev\" \"app-dev\" }}"
        ),
        "a+b a_b app"
    );
    assert_eq!(
        render(
            "{{ \" x \" | trim | squote }} {{ \"AbC\" | lower }} {{ b64enc \"hi\" }} {{ sha256sum \"\" | trunc 8 }}"
        ),
        "'x' abc aGk= e3b0c442"
    );
    assert_eq!(render("{{ semverCompare \">=1.2.0\" \"1.10.0\" }} {{ (semver \"v2.3.4\").Minor }}"), "true 3");
    assert_eq!(
        render("{{ add 1 2 3 }} {{ sub 5 2 }} {{ until 3 }} {{ append (list 1) 2 }} {{ has 2 (list 1 2) }}"),
        "6 3 [0 1 2] [1 2] true"
    );
    assert_eq!(
        render("{{ \"a: [1, 2]\" | fromYaml | toJson }} {{ dict \"a\" (list 1 2) | toYaml }}"),
        "{\"a\":[1,2]} a:\n- 1\n- 2"
    );
    assert_eq!(render("{{ \"line1\\nline2\" | nindent 2 }}"), "\n  line1\n  line2");
    assert_eq!(
        render("{{ mustToJson (list 1) }} {{ ternary \"y\" \"n\" true }} {{ kindOf .Apps }} {{ typeOf 1 }}"),
        "[1] y slice int"
    );
    assert_eq!(fails("{{ required \"set BASE\" .Nope }}").message, "error calling required: set BASE");
    assert_eq!(
        fails_parse("{{ now }}").hint.unwrap(),
        "sprig's `now` is not available in wharf: it makes the configuration (and the stage digests) change on every run"
    );
    assert_eq!(fails_parse("{{ expandenv \"$HOME\" }}").message, "function \"expandenv\" not defined");
    assert!(fails_parse("{{ uper 1 }}").hint.unwrap().starts_with("did you mean `upper`?"));
}

#[test]
fn werf_env() {
    assert_eq!(
        render("{{ env \"APP_VERSION\" }} {{ env \"UNSET\" \"dflt\" }} {{ env \"EMPTY\" \"e\" }}"),
        "1.2.3 dflt e"
    );
    assert_eq!(
        fails("{{ env \"UNSET\" }}").message,
        "error calling env: the environment variable \"UNSET\" must be set or default must be provided"
    );
    assert_eq!(
        fails("{{ env \"FORBIDDEN\" \"x\" }}").message,
        "error calling env: env name \"FORBIDDEN\" not allowed by giterminism"
    );
}

#[test]
fn define_template_include_tpl() {
    let partial = "{{- define \"image\" -}}\nimage: {{ .name }}\n{{- end }}";
    let main = "{{ range list \"a\" \"b\" }}{{ template \"image\" (dict \"name\" .) }}\n{{ end }}{{ include \"image\" (dict \"name\" \"c\") | upper }}";
    assert_eq!(
        run_with(&[("main", main), ("_helpers.tmpl", partial)], Limits::default()).unwrap(),
        "image: a\nimage: b\nIMAGE: C"
    );
    assert_eq!(render("{{ tpl \"{{ .Name }}-x\" . }}"), "api-x");
    assert_eq!(render("{{ block \"b\" . }}[{{ .Name }}]{{ end }}"), "[api]");
    let e = fails("{{ include \"nope\" . }}");
    assert_eq!(e.message, "no template \"nope\"");
}

#[test]
fn errors_point_into_the_right_file() {
    let partial = "{{ define \"bad\" }}\n  {{ .Null.X }}\n{{ end }}";
    let e = run_with(&[("main", "a\n{{ include \"bad\" . }}"), ("p.tmpl", partial)], Limits::default()).unwrap_err();
    assert_eq!((e.file, e.offset), (1, 24));
    assert_eq!(e.trace, [Frame { file: 0, offset: 5, call: "include \"bad\"".into() }]);
    let e = run_with(&[("main", "{{ tpl \"{{ .Null.Y }}\" . }}")], Limits::default()).unwrap_err();
    assert_eq!((e.file, e.offset), (1, 3));
    assert_eq!(e.trace.last().map(|f| (f.file, f.offset)), Some((0, 3)));
}

#[test]
fn parse_errors_are_located() {
    let cases: &[(&str, usize, &str)] = &[
        ("a {{ if .X }}b", 14, "unexpected EOF"),
        ("{{ end }}", 3, "unexpected {{end}}"),
        ("{{ break }}", 3, "{{break}} outside {{range}}"),
        ("ok\n{{ .a | 3 }}", 11, "non executable command in pipeline stage 2"),
        ("{{ define \"x\" }}{{ else }}{{ end }}", 19, "unexpected {{else}} in define"),
        ("{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}", 13, "unexpected {{define}}"),
        ("{{ 0x }}", 3, "bad number syntax: \"0x\""),
        ("{{ $x := 1 $y }}", 11, "undefined variable \"$y\""),
    ];
    for (text, offset, message) in cases {
        let e = fails_parse(text);
        assert_eq!((e.offset, e.message.as_str()), (*offset, *message), "{text}");
    }
}

#[test]
fn output_maps_back_to_the_source() {
    let set = Set::new();
    set.add("main", "main", "a: 1\nb: {{ .Name }}\n").unwrap();
    let out = set.execute("main", data(), &Env(HashMap::new()), Limits::default()).unwrap();
    assert_eq!(out.text, "a: 1\nb: api\n");
    assert_eq!(out.origin(2), Some((0, 2, None)));
    assert_eq!(out.origin(9), Some((0, 8, Some((8, 19)))));
    assert_eq!(out.origin(11), Some((0, 19, None)));
}

#[test]
fn runaway_templates_stop() {
    let tight = Limits { steps: 10_000, output: 1 << 20, depth: 50 };
    let e = run_with(&[("main", "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}")], tight)
        .unwrap_err();
    assert!(e.message.starts_with("templates nested more than 50 deep"), "{e:?}");
    let e = run_with(&[("main", "{{ range 100000 }}x{{ end }}")], tight).unwrap_err();
    assert!(e.message.contains("steps"), "{e:?}");
    let e = run_with(&[("main", "{{ range 100 }}{{ repeat 100000 \"x\" }}{{ end }}")], tight).unwrap_err();
    assert!(e.message.starts_with("the rendered text is larger than"), "{e:?}");
    // With the default limits, on a test thread's 2 MiB stack: an error, not an overflow.
    let e = run_with(
        &[("main", "{{ define \"r\" }}{{ if 1 }}{{ include \"r\" . | trim }}{{ end }}{{ end }}{{ include \"r\" . }}")],
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.message.starts_with("templates nested more than 100 deep"), "{e:?}");
    let e = run_with(
        &[("main", "{{ define \"t\" }}{{ tpl \"{{ include \\\"t\\\" . }}\" . }}{{ end }}{{ include \"t\" . }}")],
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.message.starts_with("templates nested more than 100 deep"), "{e:?}");
    let nested = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    assert!(fails_parse(&nested).message.contains("nested more than"));
}
