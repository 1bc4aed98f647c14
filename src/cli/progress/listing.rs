//! Progress lines for long listings: a spinner on a terminal, nothing otherwise (CI logs get
//! the final counts from the command's own output).

use crate::registry::{ListProgress, Repository};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

/// Pages of this many tags or more get a progress line; small repositories stay quiet.
const QUIET_BELOW: usize = 2_000;

/// A tag-listing progress callback when standard error is a terminal.
pub(in crate::cli) fn tag_listing() -> Option<ListProgress> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar: Arc<Mutex<Option<ProgressBar>>> = Arc::new(Mutex::new(None));
    Some(ListProgress(Arc::new(move |repo: &Repository, listed: usize| {
        if listed < QUIET_BELOW {
            return;
        }
        let Ok(mut slot) = bar.lock() else { return };
        let pb = slot.get_or_insert_with(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb
        });
        pb.set_message(format!("listing {repo}: {listed} tags"));
        pb.tick();
    })))
}
