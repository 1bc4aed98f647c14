//! Progress on standard error, built on the callbacks the library offers:
//!
//! - [`listing`]: a spinner counting the tags of a long listing (terminals only);
//! - a build-and-publish run ([`BuildProgress`]): the engine's lines (build log) and wharf's
//!   own events ([`crate::progress::Event`]) become one state per image ([`state`]; engine
//!   and BuildKit lines are read by [`lines`]). On a terminal, a live line per image
//!   (indicatif); otherwise one line per state change, prefixed by the image. The engine's
//!   full log is printed only for the step that failed, or always with `-v`; totals close
//!   the run.

mod lines;
mod listing;
mod render;
mod state;

pub(super) use listing::tag_listing;
pub use render::BuildProgress;
