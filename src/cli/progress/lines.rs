//! What one line of the engine's build output is: the classic builder's
//! (`Step 3/14 : RUN make`, ` ---> Running in 0a1b…`, `Successfully tagged …`) or BuildKit's
//! plain progress (`#5 [build 2/4] RUN make`, `#5 CACHED`, `#5 ERROR: …`, `#5 0.31 output`).
//! Pure: the state machine decides what to show.

/// One line of build output, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// A Dockerfile instruction starts: `position`/`count` in its stage (classic builder: in
    /// the whole build), the stage's name when BuildKit gives one, and the instruction.
    Step { position: usize, count: usize, stage: Option<&'a str>, text: &'a str, vertex: Option<usize> },
    /// BuildKit's own work before or after the steps (`[internal] load build context`,
    /// `exporting to image`): its vertex and name.
    Work { vertex: usize, text: &'a str },
    /// A BuildKit step was found in the cache.
    Cached { vertex: usize },
    /// A BuildKit step failed.
    Error { vertex: usize, message: &'a str },
    /// The builder's bookkeeping nobody needs to read (`---> 3f2a…`, `Removing intermediate
    /// container …`, `Successfully built …`).
    Noise,
    /// Anything else: the output of the running step (BuildKit: of `vertex`).
    Output { vertex: Option<usize>, text: &'a str },
}

/// Reads one line of build output.
pub fn read(line: &str) -> Line<'_> {
    if let Some(rest) = line.strip_prefix('#')
        && let Some((number, text)) = rest.split_once(' ')
        && let Ok(vertex) = number.parse::<usize>()
    {
        return buildkit(vertex, text);
    }
    classic(line)
}

/// A classic builder line.
fn classic(line: &str) -> Line<'_> {
    if let Some(rest) = line.strip_prefix("Step ")
        && let Some((counts, text)) = rest.split_once(" : ")
        && let Some((position, count)) = counts.split_once('/')
        && let (Ok(position), Ok(count)) = (position.parse(), count.parse())
    {
        return Line::Step { position, count, stage: None, text: text.trim(), vertex: None };
    }
    let trimmed = line.trim_start();
    let noise = ["---> ", "Removing intermediate container ", "Successfully built ", "Successfully tagged "];
    if noise.iter().any(|n| trimmed.starts_with(n)) || trimmed == "--->" {
        return Line::Noise;
    }
    Line::Output { vertex: None, text: line }
}

/// A BuildKit line after its `#N `.
fn buildkit(vertex: usize, text: &str) -> Line<'_> {
    if text == "CACHED" {
        return Line::Cached { vertex };
    }
    if let Some(message) = text.strip_prefix("ERROR: ").or_else(|| text.strip_prefix("ERROR ")) {
        return Line::Error { vertex, message };
    }
    if text == "DONE" || text.starts_with("DONE ") {
        return Line::Noise;
    }
    if let Some((position, count, stage, instruction)) = step_name(text) {
        return Line::Step { position, count, stage, text: instruction, vertex: Some(vertex) };
    }
    if text.starts_with("[internal]")
        || text.starts_with("exporting ")
        || text.starts_with("writing image")
        || text.starts_with("naming to")
    {
        return Line::Work { vertex, text };
    }
    // `#5 0.312 output` (a timestamp before RUN output) reads as the output alone.
    let output = match text.split_once(' ') {
        Some((time, rest)) if time.parse::<f64>().is_ok() => rest,
        _ => text,
    };
    Line::Output { vertex: Some(vertex), text: output }
}

/// `[stage i/n] INSTRUCTION` (also `[linux/arm64 stage i/n]`): position, count, stage, text.
fn step_name(text: &str) -> Option<(usize, usize, Option<&str>, &str)> {
    let (inside, instruction) = text.strip_prefix('[')?.split_once("] ")?;
    let mut words: Vec<&str> = inside.split_whitespace().collect();
    let (position, count) = words.pop()?.split_once('/')?;
    let stage = words.into_iter().rfind(|w| !w.contains('/'));
    Some((position.parse().ok()?, count.parse().ok()?, stage, instruction.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_builder_lines() {
        assert_eq!(
            read("Step 3/14 : RUN make -j2"),
            Line::Step { position: 3, count: 14, stage: None, text: "RUN make -j2", vertex: None }
        );
        for noise in [
            " ---> Running in 0a1b2c3d4e5f",
            " ---> 9f8e7d6c5b4a",
            " ---> Using cache",
            "Removing intermediate container 0a1b2c3d4e5f",
            "Successfully built 9f8e7d6c5b4a",
            "Successfully tagged wharf-stages/flant:abc",
        ] {
            assert_eq!(read(noise), Line::Noise, "{noise}");
        }
        assert_eq!(read("make: *** [all] Error 2"), Line::Output { vertex: None, text: "make: *** [all] Error 2" });
        assert_eq!(read("Step x/y : RUN"), Line::Output { vertex: None, text: "Step x/y : RUN" });
    }

    #[test]
    fn buildkit_plain_lines() {
        assert_eq!(
            read("#7 [build 2/4] RUN make"),
            Line::Step { position: 2, count: 4, stage: Some("build"), text: "RUN make", vertex: Some(7) }
        );
        assert_eq!(
            read("#8 [linux/arm64 build 3/4] COPY a /a"),
            Line::Step { position: 3, count: 4, stage: Some("build"), text: "COPY a /a", vertex: Some(8) }
        );
        assert_eq!(
            read("#3 [2/3] RUN true"),
            Line::Step { position: 2, count: 3, stage: None, text: "RUN true", vertex: Some(3) }
        );
        assert_eq!(
            read("#1 [internal] load build definition from Dockerfile"),
            Line::Work { vertex: 1, text: "[internal] load build definition from Dockerfile" }
        );
        assert_eq!(read("#9 exporting to image"), Line::Work { vertex: 9, text: "exporting to image" });
        assert_eq!(read("#4 CACHED"), Line::Cached { vertex: 4 });
        assert_eq!(
            read("#7 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2"),
            Line::Error {
                vertex: 7,
                message: "process \"/bin/sh -c make\" did not complete successfully: exit code: 2"
            }
        );
        assert_eq!(read("#7 0.312 cc -o app main.c"), Line::Output { vertex: Some(7), text: "cc -o app main.c" });
        assert_eq!(read("#7 building"), Line::Output { vertex: Some(7), text: "building" });
        assert_eq!(read("#7 DONE 0.4s"), Line::Noise);
        assert_eq!(read("#notanumber x"), Line::Output { vertex: None, text: "#notanumber x" });
    }
}
