//! Drawing a build-and-publish run's [`Board`]: a live line per image on a terminal
//! (indicatif), or one line per state change (`[image] step 2/4: RUN make`) for logs. The
//! engine's lines are kept, and printed only for the step that failed, unless `-v` asks for
//! all of them as they come.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::state::{Board, Changed, Image, Phase, seconds};
use crate::build::schedule::Log;
use crate::progress::{Event, Progress};
use crate::report::{Report, human_bytes};

/// Progress of one build-and-publish run; its [`log`](Self::log) and
/// [`events`](Self::events) callbacks go to the library.
#[derive(Clone)]
pub struct BuildProgress {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    board: Board,
    view: View,
    /// Print every engine line as it comes (`-v`).
    verbose: bool,
    started: Instant,
}

enum View {
    /// One line per state change.
    Lines(Box<dyn Write + Send>),
    /// A live line per image.
    Bars(Bars),
}

impl BuildProgress {
    /// Live lines when standard error is a terminal, else lines per state change.
    pub fn stderr(terminal: bool, verbose: bool) -> BuildProgress {
        let view = if terminal {
            View::Bars(Bars::new(ProgressDrawTarget::stderr()))
        } else {
            View::Lines(Box::new(std::io::stderr()))
        };
        Self::with(view, verbose)
    }

    /// Lines per state change into `out`.
    #[cfg(test)]
    pub fn lines(out: Box<dyn Write + Send>, verbose: bool) -> BuildProgress {
        Self::with(View::Lines(out), verbose)
    }

    fn with(view: View, verbose: bool) -> BuildProgress {
        BuildProgress {
            inner: Arc::new(Mutex::new(Inner { board: Board::default(), view, verbose, started: Instant::now() })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The build log callback: the engine's lines of each image.
    pub fn log(&self) -> Log {
        let this = self.clone();
        Arc::new(move |image: &str, line: &str| this.lock().line(image, line))
    }

    /// The events callback: wharf's own steps of each image.
    pub fn events(&self) -> Progress {
        let this = self.clone();
        Arc::new(move |image: &str, event: &Event| this.lock().event(image, event))
    }

    /// Closes a run that succeeded: the totals (built, reused, uploaded, wall time).
    pub fn finish(&self, report: &Report) {
        let mut inner = self.lock();
        let built = report.images.iter().filter(|i| i.built).count();
        let uploaded: u64 = report.images.iter().map(|i| i.stats.bytes_uploaded).sum();
        let total = format!(
            "{} image(s) in {}: {built} built, {} reused, {} uploaded",
            report.images.len(),
            seconds(inner.started.elapsed()),
            report.images.len() - built,
            human_bytes(uploaded)
        );
        match &mut inner.view {
            // Below the finished lines, not above them.
            View::Bars(bars) => {
                bars.abandon();
                eprintln!("{total}");
            }
            View::Lines(_) => inner.say(&total),
        }
    }

    /// Closes a run that failed: the engine's lines of the failed step of `image` (unless
    /// `-v` printed them all already).
    pub fn failed(&self, image: Option<&str>) {
        let mut inner = self.lock();
        if let View::Bars(bars) = &mut inner.view {
            bars.abandon();
        }
        let Some(name) = image else { return };
        if inner.verbose {
            return;
        }
        let Some(img) = inner.board.image(name) else { return };
        let lines: Vec<String> = img.failing_step().into_iter().map(|l| format!("[{name}] | {l}")).collect();
        if lines.is_empty() {
            return;
        }
        let mut text = format!("[{name}] the failed step's build output:\n");
        text.push_str(&lines.join("\n"));
        inner.say(&text);
    }
}

impl Inner {
    fn line(&mut self, image: &str, line: &str) {
        let changed = self.board.line(image, line);
        if self.verbose {
            self.say(&format!("[{image}] {line}"));
        }
        self.show(image, changed);
    }

    fn event(&mut self, image: &str, event: &Event) {
        let changed = self.board.event(image, event);
        self.show(image, changed);
    }

    fn show(&mut self, name: &str, changed: Changed) {
        let Some(img) = self.board.image(name) else { return };
        // With -v the engine's own `Step` line, just printed, says it.
        let said = img.phase == Phase::Planned || (self.verbose && matches!(img.phase, Phase::Step { .. }));
        match &mut self.view {
            View::Lines(out) if changed == Changed::Phase && !said => {
                let _ = writeln!(out, "[{name}] {}", short_digests(&img.describe()));
            }
            View::Lines(_) => {}
            View::Bars(bars) if changed != Changed::Nothing => bars.show(img),
            View::Bars(_) => {}
        }
    }

    /// A line above the progress lines (or in the log).
    fn say(&mut self, text: &str) {
        match &mut self.view {
            View::Lines(out) => {
                let _ = writeln!(out, "{text}");
            }
            View::Bars(bars) => bars.println(text),
        }
    }
}

/// One indicatif line per image, in the order images were named; before the first, one
/// line saying the run is planning (reading the project, hashing contexts, resolving bases).
struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    planning: Option<ProgressBar>,
    width: usize,
}

impl Bars {
    fn new(target: ProgressDrawTarget) -> Bars {
        let multi = MultiProgress::with_draw_target(target);
        let planning =
            multi.add(ProgressBar::new_spinner().with_style(Self::style("{spinner:.cyan} {msg} {elapsed:.dim}")));
        planning.set_message("planning: stage digests and base images");
        planning.enable_steady_tick(Duration::from_millis(120));
        Bars { multi, bars: HashMap::new(), planning: Some(planning), width: 0 }
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("=> ")
    }

    fn show(&mut self, img: &Image) {
        if let Some(planning) = self.planning.take() {
            planning.finish_and_clear();
        }
        if img.name.len() > self.width {
            self.width = img.name.len();
            for (name, bar) in &self.bars {
                bar.set_prefix(format!("{name:<w$}", w = self.width));
            }
        }
        let width = self.width;
        let multi = &self.multi;
        let bar = self.bars.entry(img.name.clone()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner().with_prefix(format!("{:<width$}", img.name)));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        match &img.phase {
            Phase::Uploading { to, done, total } => {
                bar.set_message(short_digests(to));
                bar.set_length(*total);
                bar.set_position(*done);
                bar.set_style(Self::style(
                    "{spinner:.cyan} {prefix:.bold} uploading {bytes}/{total_bytes} [{bar:24}] to {wide_msg}",
                ));
            }
            phase if phase.is_final() => {
                bar.set_style(Self::style("{prefix:.bold} {msg}"));
                bar.finish_with_message(format!("\u{2713} {}", img.describe()));
            }
            phase => {
                if matches!(phase, Phase::Building) {
                    bar.reset_elapsed();
                }
                bar.set_message(short_digests(&img.describe()));
                bar.set_style(Self::style("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:.dim}"));
            }
        }
    }

    fn println(&self, text: &str) {
        if self.multi.println(text).is_err() {
            eprintln!("{text}");
        }
    }

    /// Stops every line still running, leaving it as it was.
    fn abandon(&mut self) {
        if let Some(planning) = self.planning.take() {
            planning.finish_and_clear();
        }
        for bar in self.bars.values().filter(|b| !b.is_finished()) {
            bar.abandon();
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// `text` with every sha256 hex digest cut to its first 12 characters (stage tags are
/// digests: `REPO/wharf-stages:48449e96b9b6…`).
fn short_digests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        if run.len() == 64 {
            out.push_str(&run[..12]);
            out.push('\u{2026}');
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CopyStats;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn report(images: &[(&str, bool, u64)]) -> Report {
        Report {
            project: "p".into(),
            images: images
                .iter()
                .map(|(name, built, bytes)| crate::report::ImageReport {
                    name: Some(name.to_string()),
                    stage_digest: "0".repeat(64),
                    manifest_digest: String::new(),
                    built: *built,
                    references: Vec::new(),
                    tags: Vec::new(),
                    platforms: Vec::new(),
                    image_id: None,
                    size: None,
                    stats: CopyStats { bytes_uploaded: *bytes, ..CopyStats::default() },
                })
                .collect(),
        }
    }

    /// Two images, one built, one reused, in a log: one line per state change, no engine
    /// noise, the engine's output nowhere, totals at the end.
    #[test]
    fn a_log_gets_one_line_per_state_change_and_totals() {
        let out = Shared::default();
        let p = BuildProgress::lines(Box::new(out.clone()), false);
        let (log, events) = (p.log(), p.events());
        events("api", &Event::Planned { stage: "a".into() });
        events("web", &Event::Planned { stage: "b".into() });
        events("web", &Event::Found);
        events("api", &Event::Building);
        for l in [
            "Step 1/2 : FROM busybox",
            " ---> 3f2a",
            "Step 2/2 : RUN make",
            " ---> Running in 0a1b",
            "cc main.c",
            "Removing intermediate container 0a1b",
        ] {
            log("api", l);
        }
        events("api", &Event::Exporting);
        events("api", &Event::Uploading { to: "r/api:v1".into(), total: 2048 });
        events("api", &Event::Blob { bytes: 2048, written: true });
        events("api", &Event::Published { references: 1 });
        events("web", &Event::Uploading { to: "r/web:v1".into(), total: 10 });
        events("web", &Event::Blob { bytes: 10, written: false });
        events("web", &Event::Published { references: 1 });
        p.finish(&report(&[("api", true, 2048), ("web", false, 0)]));
        // Times vary: `built in 0.0s` reads `built in T`, `in 0.0s:` reads `in T:`.
        let times = regex::Regex::new(r"in [0-9.]+s").unwrap();
        let text = times.replace_all(&out.text(), "in T").into_owned();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "[web] stage built before: nothing to build",
                "[api] building",
                "[api] step 1/2: FROM busybox",
                "[api] step 2/2: RUN make",
                "[api] exporting",
                "[api] uploading to r/api:v1",
                "[api] published 1 tag (built in T, 2.0 KiB uploaded)",
                "[web] uploading to r/web:v1",
                "[web] published 1 tag (reused, nothing uploaded)",
                "2 image(s) in T: 1 built, 1 reused, 2.0 KiB uploaded",
            ]
        );
        assert!(!text.contains("cc main.c") && !text.contains("Running in"), "{text}");
    }

    #[test]
    fn a_failure_shows_the_failed_steps_output_and_verbose_shows_everything() {
        let out = Shared::default();
        let p = BuildProgress::lines(Box::new(out.clone()), false);
        p.events()("api", &Event::Building);
        for l in ["Step 1/2 : RUN make early", "early-output", "Step 2/2 : RUN echo boom && exit 3", "boom"] {
            p.log()("api", l);
        }
        p.failed(Some("api"));
        let text = out.text();
        assert!(text.contains("[api] | Step 2/2 : RUN echo boom && exit 3\n[api] | boom"), "{text}");
        assert!(!text.contains("early-output"), "{text}");

        let out = Shared::default();
        let p = BuildProgress::lines(Box::new(out.clone()), true);
        p.log()("api", "early-output");
        p.failed(Some("api"));
        assert_eq!(out.text().matches("early-output").count(), 1, "printed as it came, not again");
    }

    #[test]
    fn digests_are_cut_short() {
        let d = "48449e96b9b6a9c7f072af95ae0dd02fbd4a1e0c2cf0fc3cc44bb49af6c1b8bd";
        assert_eq!(
            short_digests(&format!("uploading to r/wharf-stages:{d}")),
            "uploading to r/wharf-stages:48449e96b9b6\u{2026}"
        );
        assert_eq!(short_digests("step 2/4: RUN make abc123"), "step 2/4: RUN make abc123");
    }

    /// The terminal view, drawn into a hidden target: each image's line ends as its outcome.
    #[test]
    fn terminal_lines_end_with_each_images_outcome() {
        let p = BuildProgress::with(View::Bars(Bars::new(ProgressDrawTarget::hidden())), false);
        let events = p.events();
        events("api", &Event::Building);
        events("api", &Event::Exporting);
        events("api", &Event::Uploading { to: "r/api:v1".into(), total: 100 });
        events("api", &Event::Blob { bytes: 60, written: true });
        {
            let inner = p.lock();
            let View::Bars(bars) = &inner.view else { panic!() };
            assert_eq!((bars.bars["api"].position(), bars.bars["api"].length()), (60, Some(100)));
        }
        events("api", &Event::Published { references: 2 });
        events("web", &Event::UpToDate);
        let inner = p.lock();
        let View::Bars(bars) = &inner.view else { panic!() };
        assert!(bars.bars.values().all(|b| b.is_finished()));
        assert!(
            bars.bars["api"].message().starts_with("\u{2713} published 2 tags (built in "),
            "{}",
            bars.bars["api"].message()
        );
        assert_eq!(bars.bars["web"].message(), "\u{2713} up to date: already published");
    }
}
