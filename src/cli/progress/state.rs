//! One state per image, fed with the engine's lines and wharf's events; each update says
//! whether the image's phase changed (a line to print, a progress line to redraw) or only
//! its numbers did. Each image keeps its engine lines, so the step that failed can be shown.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::lines::{self, Line};
use crate::progress::Event;
use crate::report::human_bytes;

/// Engine lines kept per image (the oldest go first).
const KEPT_LINES: usize = 5_000;
/// Lines shown for a failure whose step cannot be told.
const TAIL_LINES: usize = 40;

/// Where an image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Planned,
    /// Already published as planned: nothing to do (final).
    UpToDate,
    /// Its stage was built before; it waits to be published.
    Found,
    /// Building, before the first instruction.
    Building,
    /// Building this instruction.
    Step {
        position: usize,
        count: usize,
        stage: Option<String>,
        text: String,
    },
    Exporting,
    Uploading {
        to: String,
        done: u64,
        total: u64,
    },
    /// Its tags are written (final).
    Published {
        references: usize,
    },
}

impl Phase {
    pub fn is_final(&self) -> bool {
        matches!(self, Phase::UpToDate | Phase::Published { .. })
    }
}

/// One image's state.
#[derive(Debug)]
pub struct Image {
    pub name: String,
    pub phase: Phase,
    /// Its stage was built in this run.
    pub built: bool,
    /// When its build started, and how long it took (building to exporting).
    started: Option<Instant>,
    pub build_time: Option<Duration>,
    /// Bytes that went over the wire for it (stage and publish).
    pub uploaded: u64,
    log: VecDeque<String>,
}

impl Image {
    fn new(name: &str) -> Image {
        Image {
            name: name.to_string(),
            phase: Phase::Planned,
            built: false,
            started: None,
            build_time: None,
            uploaded: 0,
            log: VecDeque::new(),
        }
    }

    /// The phase in words: `step 2/4: RUN make`, `published: 2 tags (built in 3.1s, 1.2 MiB uploaded)`.
    pub fn describe(&self) -> String {
        match &self.phase {
            Phase::Planned => "planned".into(),
            Phase::UpToDate => "up to date: already published".into(),
            Phase::Found => "stage built before: nothing to build".into(),
            Phase::Building => "building".into(),
            Phase::Step { position, count, stage: Some(stage), text } => {
                format!("[{stage}] step {position}/{count}: {text}")
            }
            Phase::Step { position, count, stage: None, text } => format!("step {position}/{count}: {text}"),
            Phase::Exporting => "exporting".into(),
            Phase::Uploading { to, .. } => format!("uploading to {to}"),
            Phase::Published { references } => {
                let what = match references {
                    0 => "built, not published".to_string(),
                    1 => "published 1 tag".to_string(),
                    n => format!("published {n} tags"),
                };
                let how = match (self.built, self.build_time) {
                    (true, Some(t)) => format!("built in {}", seconds(t)),
                    (true, None) => "built".to_string(),
                    (false, _) => "reused".to_string(),
                };
                match self.uploaded {
                    0 => format!("{what} ({how}, nothing uploaded)"),
                    n => format!("{what} ({how}, {} uploaded)", human_bytes(n)),
                }
            }
        }
    }

    fn keep(&mut self, line: &str) {
        if self.log.len() == KEPT_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line.to_string());
    }

    /// The engine's lines of the step that failed: BuildKit's failed vertex, else what the
    /// classic builder printed since its last `Step`, else the last lines.
    pub fn failing_step(&self) -> Vec<&str> {
        let read: Vec<(&str, Line<'_>)> = self.log.iter().map(|l| (l.as_str(), lines::read(l))).collect();
        let vertex_of = |l: &Line<'_>| match l {
            Line::Step { vertex, .. } | Line::Output { vertex, .. } => *vertex,
            Line::Work { vertex, .. } | Line::Cached { vertex } | Line::Error { vertex, .. } => Some(*vertex),
            Line::Noise => None,
        };
        if let Some(failed) =
            read.iter().rev().find_map(|(_, l)| if let Line::Error { vertex, .. } = l { Some(*vertex) } else { None })
        {
            return read.iter().filter(|(_, l)| vertex_of(l) == Some(failed)).map(|(t, _)| *t).collect();
        }
        if let Some(start) = read.iter().rposition(|(_, l)| matches!(l, Line::Step { vertex: None, .. })) {
            return read[start..].iter().map(|(t, _)| *t).collect();
        }
        let from = read.len().saturating_sub(TAIL_LINES);
        read[from..].iter().map(|(t, _)| *t).collect()
    }
}

/// What an update did to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Its phase changed: a line to print, or a progress line to redraw.
    Phase,
    /// Only its numbers (bytes uploaded) changed.
    Numbers,
    Nothing,
}

/// Every image of a run, in the order they were first named.
#[derive(Debug, Default)]
pub struct Board {
    images: Vec<Image>,
    by_name: HashMap<String, usize>,
}

impl Board {
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.by_name.get(name).map(|&k| &self.images[k])
    }

    #[cfg(test)]
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The image called `name`, and whether it is new (a first sighting shows it).
    fn entry(&mut self, name: &str) -> (&mut Image, bool) {
        let (k, new) = match self.by_name.get(name) {
            Some(&k) => (k, false),
            None => {
                self.images.push(Image::new(name));
                self.by_name.insert(name.to_string(), self.images.len() - 1);
                (self.images.len() - 1, true)
            }
        };
        (&mut self.images[k], new)
    }

    /// One line of `image`'s build output.
    pub fn line(&mut self, image: &str, line: &str) -> Changed {
        let (img, _) = self.entry(image);
        let read = lines::read(line);
        if read != Line::Noise {
            img.keep(line);
        }
        if img.phase.is_final() {
            return Changed::Nothing;
        }
        let next = match read {
            Line::Step { position, count, stage, text, .. } => {
                Phase::Step { position, count, stage: stage.map(str::to_string), text: text.to_string() }
            }
            Line::Work { text, .. } if text.starts_with("exporting") => Phase::Exporting,
            _ if img.phase == Phase::Planned || img.phase == Phase::Found => Phase::Building,
            _ => return Changed::Nothing,
        };
        set(img, next)
    }

    /// One of wharf's events for `image`.
    pub fn event(&mut self, image: &str, event: &Event) -> Changed {
        let (img, new) = self.entry(image);
        if img.phase.is_final() {
            return Changed::Nothing;
        }
        if new && matches!(event, Event::Planned { .. }) {
            return Changed::Phase;
        }
        let next = match event {
            Event::Planned { .. } => Phase::Planned,
            Event::UpToDate => Phase::UpToDate,
            Event::Found => Phase::Found,
            Event::Building => {
                // Several platforms build one after the other: timed from the first.
                img.built = true;
                img.started.get_or_insert_with(Instant::now);
                Phase::Building
            }
            Event::Exporting => {
                img.build_time = img.started.map(|s| s.elapsed());
                Phase::Exporting
            }
            Event::Uploading { to, total } => Phase::Uploading { to: to.clone(), done: 0, total: *total },
            Event::Blob { bytes, written } => {
                if *written {
                    img.uploaded += bytes;
                }
                if let Phase::Uploading { done, .. } = &mut img.phase {
                    *done += bytes;
                    return Changed::Numbers;
                }
                return Changed::Nothing;
            }
            Event::Published { references } => Phase::Published { references: *references },
        };
        set(img, next)
    }
}

fn set(img: &mut Image, next: Phase) -> Changed {
    if img.phase == next {
        return Changed::Nothing;
    }
    img.phase = next;
    Changed::Phase
}

/// `3.1s`, `2m05s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 { format!("{s:.1}s") } else { format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board_after(lines: &[&str]) -> Board {
        let mut b = Board::default();
        b.event("app", &Event::Planned { stage: "abc".into() });
        b.event("app", &Event::Building);
        for l in lines {
            b.line("app", l);
        }
        b
    }

    #[test]
    fn a_built_image_goes_through_its_phases_and_says_so_once_each() {
        let mut b = Board::default();
        assert_eq!(b.event("app", &Event::Planned { stage: "abc".into() }), Changed::Phase);
        assert_eq!(b.event("app", &Event::Building), Changed::Phase);
        assert_eq!(b.line("app", "Step 1/2 : FROM busybox"), Changed::Phase);
        assert_eq!(b.image("app").unwrap().describe(), "step 1/2: FROM busybox");
        assert_eq!(b.line("app", " ---> 3f2a"), Changed::Nothing);
        assert_eq!(b.line("app", "Step 2/2 : RUN make"), Changed::Phase);
        assert_eq!(b.line("app", "cc main.c"), Changed::Nothing, "output is no state change");
        assert_eq!(b.event("app", &Event::Exporting), Changed::Phase);
        assert_eq!(b.event("app", &Event::Uploading { to: "r/app:v1".into(), total: 300 }), Changed::Phase);
        assert_eq!(b.event("app", &Event::Blob { bytes: 100, written: true }), Changed::Numbers);
        assert_eq!(b.event("app", &Event::Blob { bytes: 200, written: false }), Changed::Numbers);
        assert_eq!(b.image("app").unwrap().phase, Phase::Uploading { to: "r/app:v1".into(), done: 300, total: 300 });
        assert_eq!(b.event("app", &Event::Published { references: 2 }), Changed::Phase);
        let text = b.image("app").unwrap().describe();
        assert!(text.starts_with("published 2 tags (built in ") && text.ends_with(", 100 B uploaded)"), "{text}");
        // Final: later events (a settled dependency found again) change nothing.
        assert_eq!(b.event("app", &Event::Found), Changed::Nothing);
    }

    #[test]
    fn reused_and_up_to_date_images() {
        let mut b = Board::default();
        b.event("web", &Event::Found);
        b.event("web", &Event::Published { references: 1 });
        assert_eq!(b.image("web").unwrap().describe(), "published 1 tag (reused, nothing uploaded)");
        b.event("api", &Event::UpToDate);
        assert_eq!(b.image("api").unwrap().describe(), "up to date: already published");
        assert_eq!(b.images().iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["web", "api"]);
    }

    #[test]
    fn buildkit_steps_and_export() {
        let b = board_after(&["#1 [internal] load build definition from Dockerfile", "#5 [build 2/3] RUN make"]);
        assert_eq!(b.image("app").unwrap().describe(), "[build] step 2/3: RUN make");
        let b = board_after(&["#9 exporting to image"]);
        assert_eq!(b.image("app").unwrap().phase, Phase::Exporting);
    }

    #[test]
    fn the_failing_step_is_the_classic_builders_last_step() {
        let b = board_after(&[
            "Step 1/3 : FROM busybox",
            " ---> 3f2a",
            "Step 2/3 : RUN echo early-output",
            "early-output",
            "Step 3/3 : RUN echo boom && exit 3",
            " ---> Running in 0a1b",
            "boom",
        ]);
        assert_eq!(b.image("app").unwrap().failing_step(), ["Step 3/3 : RUN echo boom && exit 3", "boom"]);
    }

    #[test]
    fn the_failing_step_is_buildkits_failed_vertex() {
        let b = board_after(&[
            "#4 [2/3] RUN echo early-output",
            "#4 0.2 early-output",
            "#5 [3/3] RUN echo boom && exit 3",
            "#4 DONE 0.3s",
            "#5 0.1 boom",
            "#5 ERROR: process \"/bin/sh -c echo boom && exit 3\" did not complete successfully: exit code: 3",
        ]);
        assert_eq!(
            b.image("app").unwrap().failing_step(),
            [
                "#5 [3/3] RUN echo boom && exit 3",
                "#5 0.1 boom",
                "#5 ERROR: process \"/bin/sh -c echo boom && exit 3\" did not complete successfully: exit code: 3"
            ]
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_millis(3140)), "3.1s");
        assert_eq!(seconds(Duration::from_secs(125)), "2m05s");
    }
}
