//! BuildKit's progress (`Control.Status` answers) as plain build-log lines, in the style of
//! `docker build --progress=plain`: `#3 [build 2/4] RUN make`, the step's output prefixed
//! `#3 `, `#3 CACHED`, `#3 ERROR: …`. The step that failed is remembered, so the failure can be
//! mapped to its Dockerfile line.

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use std::collections::HashMap;

/// Turns status answers into lines; one per build.
#[derive(Debug, Default)]
pub struct Progress {
    /// Vertex digest → its number in the log (`#N`).
    numbers: HashMap<String, usize>,
    /// `(vertex, what)` already logged: its start, its cache hit, its error (each once).
    logged: std::collections::HashSet<(String, &'static str)>,
    /// The name of the first step that failed, and its error.
    failed: Option<(String, String)>,
    /// Unfinished output per vertex (a log message may end mid-line).
    partial: HashMap<String, String>,
}

impl Progress {
    /// The lines `status` adds to the log.
    pub fn lines(&mut self, status: &StatusResponse) -> Vec<String> {
        let mut out = Vec::new();
        for v in &status.vertexes {
            let n = self.number(&v.digest);
            let mut first = |what: &'static str| self.logged.insert((v.digest.clone(), what));
            if v.started.is_some() && first("start") {
                out.push(format!("#{n} {}", v.name));
            }
            if v.cached && v.completed.is_some() && first("cached") {
                out.push(format!("#{n} CACHED"));
            }
            if !v.error.is_empty() && first("error") {
                out.push(format!("#{n} ERROR: {}", v.error));
                // The context was cancelled for the others: the first real error is the cause.
                if self.failed.is_none() && !v.error.contains("context canceled") {
                    self.failed = Some((v.name.clone(), v.error.clone()));
                }
            }
        }
        for log in &status.logs {
            let n = self.number(&log.vertex);
            let buf = self.partial.entry(log.vertex.clone()).or_default();
            buf.push_str(&String::from_utf8_lossy(&log.msg));
            while let Some(i) = buf.find('\n') {
                let line: String = buf.drain(..=i).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                out.push(format!("#{n} {line}"));
            }
        }
        for w in &status.warnings {
            out.push(format!("#{} WARN: {}", self.number(&w.vertex), String::from_utf8_lossy(&w.short)));
        }
        out
    }

    /// Output still buffered when the build ends (a last line without newline).
    pub fn finish(&mut self) -> Vec<String> {
        let mut rest: Vec<(usize, String)> = self
            .partial
            .drain()
            .filter(|(_, text)| !text.trim().is_empty())
            .map(|(vertex, text)| (self.numbers.get(&vertex).copied().unwrap_or(0), text))
            .collect();
        rest.sort();
        rest.into_iter().map(|(n, text)| format!("#{n} {}", text.trim_end())).collect()
    }

    /// The step that failed (`[stage 2/4] RUN make`) and its error.
    pub fn failed(&self) -> Option<&(String, String)> {
        self.failed.as_ref()
    }

    fn number(&mut self, digest: &str) -> usize {
        let next = self.numbers.len() + 1;
        *self.numbers.entry(digest.to_string()).or_insert(next)
    }
}

/// A BuildKit step name, `[stage i/n] INSTRUCTION` (`[linux/arm64 stage i/n]` when several
/// platforms build at once): the stage's name if it has one, the instruction's position in
/// its stage (1 is the `FROM`), and the instruction text.
pub fn parse_step(name: &str) -> Option<(Option<&str>, usize, &str)> {
    let rest = name.strip_prefix('[')?;
    let (inside, text) = rest.split_once(']')?;
    let mut words: Vec<&str> = inside.split_whitespace().collect();
    let count = words.pop()?;
    let (i, _) = count.split_once('/')?;
    let i: usize = i.parse().ok()?;
    let stage = words.into_iter().rfind(|w| !w.contains('/'));
    Some((stage, i, text.trim()))
}

/// The Dockerfile line of a failed BuildKit step: the stage by name (`stage-K` for an unnamed
/// one; the target stage when the name is left out), then the step's instruction in it,
/// checked against the step's text.
pub fn line_of_step(df: &crate::build::dockerfile::Dockerfile, target: usize, step: &str) -> Option<usize> {
    let (stage, i, text) = parse_step(step)?;
    let index = match stage {
        Some(name) => df.stage_index(name).or_else(|| name.strip_prefix("stage-").and_then(|k| k.parse().ok()))?,
        None => target,
    };
    let instructions = &df.stages.get(index)?.instructions;
    let matches = |ins: &&crate::build::dockerfile::Instruction| {
        text.split_once(char::is_whitespace)
            .is_some_and(|(kw, rest)| kw.eq_ignore_ascii_case(&ins.keyword) && rest.trim() == ins.args.trim())
    };
    match instructions.get(i.checked_sub(1)?) {
        Some(ins) if matches(&ins) || text.is_empty() => Some(ins.line),
        other => instructions.iter().find(matches).or(other).map(|ins| ins.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_buildkit_proto::google::protobuf::Timestamp;
    use bollard_buildkit_proto::moby::buildkit::v1::{Vertex, VertexLog};

    fn vertex(digest: &str, name: &str, started: bool, cached: bool, error: &str) -> Vertex {
        Vertex {
            digest: digest.into(),
            name: name.into(),
            started: started.then(Timestamp::default),
            completed: cached.then(Timestamp::default),
            cached,
            error: error.into(),
            ..Vertex::default()
        }
    }

    #[test]
    fn steps_logs_and_the_failing_step_become_plain_lines() {
        let mut p = Progress::default();
        let first = StatusResponse {
            vertexes: vec![
                vertex("a", "[1/3] FROM docker.io/library/busybox", true, true, ""),
                vertex("b", "[2/3] RUN make", true, false, ""),
            ],
            logs: vec![VertexLog { vertex: "b".into(), msg: b"building\nhalf".to_vec(), ..VertexLog::default() }],
            ..StatusResponse::default()
        };
        assert_eq!(
            p.lines(&first),
            ["#1 [1/3] FROM docker.io/library/busybox", "#1 CACHED", "#2 [2/3] RUN make", "#2 building"]
        );
        let second = StatusResponse {
            vertexes: vec![vertex(
                "b",
                "[2/3] RUN make",
                true,
                false,
                "process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
            )],
            logs: vec![VertexLog { vertex: "b".into(), msg: b" a line\n".to_vec(), ..VertexLog::default() }],
            ..StatusResponse::default()
        };
        let lines = p.lines(&second);
        assert_eq!(lines[0], "#2 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2");
        assert_eq!(lines[1], "#2 half a line");
        assert_eq!(p.failed().unwrap().0, "[2/3] RUN make");
        assert!(p.finish().is_empty());
        assert!(
            p.lines(&second).iter().all(|l| !l.contains("ERROR")),
            "an update repeating a vertex logs nothing twice"
        );
    }

    #[test]
    fn step_names_give_stage_position_and_text() {
        assert_eq!(parse_step("[build 2/4] RUN make"), Some((Some("build"), 2, "RUN make")));
        assert_eq!(parse_step("[2/3] COPY --chmod=755 a /a"), Some((None, 2, "COPY --chmod=755 a /a")));
        assert_eq!(parse_step("[linux/arm64 build 3/3] RUN x"), Some((Some("build"), 3, "RUN x")));
        assert_eq!(parse_step("[internal] load metadata for docker.io/library/busybox:latest"), None);
    }

    #[test]
    fn failed_steps_map_to_their_dockerfile_line() {
        let df = crate::build::dockerfile::Dockerfile::parse(
            "FROM busybox AS build\nRUN make\n\nRUN make install\nFROM busybox\nCOPY --from=build /out /out\nRUN \\\n  exit 3\n",
        )
        .unwrap();
        assert_eq!(line_of_step(&df, 1, "[build 3/3] RUN make install"), Some(4));
        assert_eq!(line_of_step(&df, 1, "[stage-1 3/3] RUN exit 3"), Some(7));
        assert_eq!(line_of_step(&df, 1, "[3/3] RUN exit 3"), Some(7), "no stage name: the target");
        assert_eq!(line_of_step(&df, 1, "[internal] load build context"), None);
    }
}
