//! A small Dockerfile reader: just enough to know what a build depends on.
//!
//! It joins continuation lines, honours the `escape` parser directive, splits the file into
//! stages, expands `ARG`s in `FROM`, and finds for each stage the external images it reads
//! (`FROM`, `COPY --from`, `RUN --mount=…,from=`) and the context paths it copies. The stage
//! digest hashes only what the target's stages can see, as werf does, so editing the
//! `frontend` stage of a shared Dockerfile does not rebuild `backend`.

use std::collections::{BTreeMap, BTreeSet};

/// One instruction, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// Upper-cased keyword (`FROM`, `RUN`, …).
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined with a space.
    pub args: String,
}

/// A build stage: a `FROM` and what follows until the next `FROM`.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: Option<String>,
    /// The image named after `FROM`, unexpanded.
    pub base: String,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// `ARG`s before the first `FROM`, with their defaults.
    pub global_args: Vec<(String, Option<String>)>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct DockerfileError {
    pub line: usize,
    pub message: String,
}

/// What of the build context a set of stages copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextUse {
    /// Paths (or globs) relative to the context root, as written in `COPY`/`ADD`.
    Paths(BTreeSet<String>),
    /// Something we cannot resolve statically (a variable in a source, a bind mount of the
    /// context): every file of the context counts.
    Everything,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
        let instructions = split_instructions(text);
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for ins in instructions {
            if ins.keyword == "FROM" {
                let (base, name) = parse_from(&ins)?;
                stages.push(Stage { name, base, instructions: vec![ins] });
            } else if let Some(stage) = stages.last_mut() {
                stage.instructions.push(ins);
            } else if ins.keyword == "ARG" {
                global_args.extend(parse_arg(&ins.args));
            } else {
                return Err(DockerfileError {
                    line: ins.line,
                    message: format!("{} before the first FROM (only ARG may come first)", ins.keyword),
                });
            }
        }
        if stages.is_empty() {
            return Err(DockerfileError { line: 1, message: "no FROM instruction".into() });
        }
        Ok(Dockerfile { global_args, stages })
    }

    /// Index of the stage named `name` (case-insensitive, as Docker compares them).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    /// The stage a build of `target` ends with.
    pub fn target_index(&self, target: Option<&str>) -> Result<usize, DockerfileError> {
        match target {
            None => Ok(self.stages.len() - 1),
            Some(t) => self.stage_index(t).ok_or_else(|| DockerfileError {
                line: 1,
                message: format!(
                    "target stage {t:?} not found; stages: {}",
                    self.stages.iter().filter_map(|s| s.name.clone()).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }

    /// The stages a build of `target` needs, in file order.
    pub fn reachable(&self, target: usize, args: &BTreeMap<String, String>) -> Vec<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if !seen.insert(i) {
                continue;
            }
            for r in self.stage_refs(i, args) {
                if let StageRef::Stage(j) = r {
                    todo.push(j);
                }
            }
        }
        seen.into_iter().collect()
    }

    /// External images the given stages read, expanded with the build args.
    pub fn external_images(&self, stages: &[usize], args: &BTreeMap<String, String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for &i in stages {
            for r in self.stage_refs(i, args) {
                if let StageRef::Image(img) = r {
                    out.insert(img);
                }
            }
        }
        out
    }

    /// What of the context the given stages copy.
    pub fn context_use(&self, stages: &[usize], args: &BTreeMap<String, String>) -> ContextUse {
        let vars = self.global_vars(args);
        let mut paths = BTreeSet::new();
        for &i in stages {
            for ins in &self.stages[i].instructions {
                match ins.keyword.as_str() {
                    "COPY" | "ADD" => {
                        let (flags, words) = split_flags(&ins.args);
                        if flags.iter().any(|(k, _)| k == "from") {
                            continue;
                        }
                        let words = json_or_words(&words);
                        let Some((_dest, sources)) = words.split_last() else { continue };
                        for src in sources {
                            if src.starts_with("http://") || src.starts_with("https://") || src.starts_with("git@") {
                                continue;
                            }
                            match expand(src, &vars) {
                                Some(p) => {
                                    paths.insert(clean_path(&p));
                                }
                                None => return ContextUse::Everything,
                            }
                        }
                    }
                    "RUN" => {
                        let (flags, _) = split_flags(&ins.args);
                        for (k, v) in flags {
                            if k == "mount" && mount_binds_context(&v) {
                                return ContextUse::Everything;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        ContextUse::Paths(paths)
    }

    /// The instructions of the given stages, as canonical text for hashing.
    pub fn canonical_text(&self, stages: &[usize]) -> String {
        let mut out = String::new();
        for (name, default) in &self.global_args {
            out.push_str(&format!("ARG {name}={}\n", default.as_deref().unwrap_or("")));
        }
        for &i in stages {
            out.push_str(&format!("# stage {i}\n"));
            for ins in &self.stages[i].instructions {
                out.push_str(&ins.keyword);
                out.push(' ');
                out.push_str(&ins.args);
                out.push('\n');
            }
        }
        out
    }

    /// The 1-based line of the instruction the legacy builder reported as
    /// `Step N/M : TEXT`: the instruction whose text matches (nearest to position N when
    /// several do), else the N-th instruction.
    pub fn line_of_step(&self, step: &str) -> Option<usize> {
        let (count, text) = step.split_once(" : ").unwrap_or((step, ""));
        let n: usize = count.split('/').next()?.trim().parse().ok()?;
        let all: Vec<&Instruction> = self.stages.iter().flat_map(|s| s.instructions.iter()).collect();
        let text = text.trim();
        let matching = all.iter().enumerate().filter(|(_, i)| {
            text.split_once(char::is_whitespace)
                .is_some_and(|(kw, rest)| kw.eq_ignore_ascii_case(&i.keyword) && rest.trim() == i.args)
        });
        matching
            .min_by_key(|(k, _)| k.abs_diff(n - 1))
            .map(|(_, i)| i.line)
            .or_else(|| all.get(n.checked_sub(1)?).map(|i| i.line))
    }

    /// Build args with global `ARG` defaults filled in: what `FROM` lines may use.
    fn global_vars(&self, args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        for (name, default) in &self.global_args {
            if let Some(v) = args.get(name) {
                vars.insert(name.clone(), v.clone());
            } else if let Some(d) = default {
                let d = expand(d, &vars).unwrap_or_default();
                vars.insert(name.clone(), d);
            }
        }
        // BuildKit's automatic platform args are in the global scope without an `ARG`.
        for name in ["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"] {
            if let Some(v) = args.get(name) {
                vars.entry(name.to_string()).or_insert_with(|| v.clone());
            }
        }
        vars
    }

    fn stage_refs(&self, i: usize, args: &BTreeMap<String, String>) -> Vec<StageRef> {
        let vars = self.global_vars(args);
        let mut refs = Vec::new();
        let stage = &self.stages[i];
        let base = expand(&stage.base, &vars).unwrap_or_else(|| stage.base.clone());
        refs.push(self.classify(&base, i));
        for ins in &stage.instructions[1..] {
            let (flags, _) = split_flags(&ins.args);
            for (k, v) in flags {
                let from = match (ins.keyword.as_str(), k.as_str()) {
                    ("COPY" | "ADD", "from") => Some(v),
                    ("RUN", "mount") => mount_option(&v, "from"),
                    _ => None,
                };
                if let Some(from) = from {
                    refs.push(self.classify(&from, i));
                }
            }
        }
        refs
    }

    /// A name used in `FROM` or `--from`: an earlier stage, a stage index, or an image.
    fn classify(&self, name: &str, before: usize) -> StageRef {
        if name.eq_ignore_ascii_case("scratch") {
            return StageRef::Scratch;
        }
        if let Some(j) =
            self.stages[..before].iter().position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        {
            return StageRef::Stage(j);
        }
        if let Ok(j) = name.parse::<usize>()
            && j < before
        {
            return StageRef::Stage(j);
        }
        StageRef::Image(name.to_string())
    }
}

enum StageRef {
    Stage(usize),
    Image(String),
    Scratch,
}

/// Splits the file into instructions: comments and blank lines dropped, continuations joined.
fn split_instructions(text: &str) -> Vec<Instruction> {
    let escape = escape_char(text);
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if current.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if current.is_some() && trimmed.starts_with('#') {
            continue; // comment lines inside a continuation are dropped, as Docker does
        }
        let (body, continues) = match line.trim_end().strip_suffix(escape) {
            Some(b) => (b.to_string(), true),
            None => (line.to_string(), false),
        };
        let entry = current.get_or_insert_with(|| (n + 1, String::new()));
        if !entry.1.is_empty() {
            entry.1.push(' ');
        }
        entry.1.push_str(body.trim());
        if !continues && let Some((line_no, text)) = current.take() {
            out.extend(make_instruction(line_no, &text));
        }
    }
    if let Some((line_no, text)) = current {
        out.extend(make_instruction(line_no, &text));
    }
    out
}

fn make_instruction(line: usize, text: &str) -> Option<Instruction> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let (kw, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    Some(Instruction { line, keyword: kw.to_ascii_uppercase(), args: rest.trim().to_string() })
}

/// The `# escape=` parser directive, if the file starts with one.
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let t = line.trim();
        let Some(d) = t.strip_prefix('#') else { break };
        if let Some((k, v)) = d.split_once('=') {
            if k.trim().eq_ignore_ascii_case("escape")
                && let Some(c) = v.trim().chars().next()
            {
                return c;
            }
            continue;
        }
        break;
    }
    '\\'
}

fn parse_from(ins: &Instruction) -> Result<(String, Option<String>), DockerfileError> {
    let (_flags, words) = split_flags(&ins.args);
    match words.as_slice() {
        [image] => Ok((image.clone(), None)),
        [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Ok((image.clone(), Some(name.clone()))),
        _ => Err(DockerfileError {
            line: ins.line,
            message: format!("cannot read FROM {:?}: expected `FROM [--platform=…] IMAGE [AS NAME]`", ins.args),
        }),
    }
}

fn parse_arg(args: &str) -> Vec<(String, Option<String>)> {
    args.split_whitespace()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(unquote(v))),
            None => (w.to_string(), None),
        })
        .collect()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\''))) {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Leading `--flag=value` words, and the remaining words.
fn split_flags(args: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut flags = Vec::new();
    let mut words = args.split_whitespace().peekable();
    while let Some(w) = words.peek() {
        let Some(f) = w.strip_prefix("--") else { break };
        let (k, v) = f.split_once('=').unwrap_or((f, ""));
        flags.push((k.to_ascii_lowercase(), v.to_string()));
        words.next();
    }
    (flags, words.map(str::to_string).collect())
}

/// The words of an instruction's arguments, in JSON (exec) form or plain form.
fn json_or_words(words: &[String]) -> Vec<String> {
    let joined = words.join(" ");
    if joined.starts_with('[')
        && let Ok(v) = serde_json::from_str::<Vec<String>>(&joined)
    {
        return v;
    }
    words.to_vec()
}

fn mount_option(spec: &str, key: &str) -> Option<String> {
    spec.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// A `RUN --mount` that binds the build context (type=bind without from=).
fn mount_binds_context(spec: &str) -> bool {
    let ty = mount_option(spec, "type").unwrap_or_else(|| "bind".into());
    ty == "bind" && mount_option(spec, "from").is_none()
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}`; `None` when a variable is
/// unknown (the caller then cannot know the value statically).
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let mut inner = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
                inner.push(c);
            }
            if let Some((name, def)) = inner.split_once(":-") {
                match vars.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&expand(def, vars)?),
                }
            } else if let Some((name, alt)) = inner.split_once(":+") {
                if vars.get(name).is_some_and(|v| !v.is_empty()) {
                    out.push_str(&expand(alt, vars)?);
                }
            } else {
                out.push_str(vars.get(&inner)?);
            }
        } else {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(vars.get(&name)?);
            }
        }
    }
    Some(out)
}

/// `./a//b/` → `a/b`; `.` and `/` → `.` (the whole context).
fn clean_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if parts.is_empty() { ".".to_string() } else { parts.join("/") }
}

#[cfg(test)]
#[path = "dockerfile_tests.rs"]
mod tests;
