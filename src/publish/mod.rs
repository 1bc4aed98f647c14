//! Publishing: which references each image gets (decided up front, checked for collisions)
//! and the copies that make them point at the image.

pub(crate) mod image_spec;
pub mod meta;
pub(crate) mod settled;

use crate::naming::{self, Layout, Tag, TagOptions};
use crate::store::{CopyStats, Image, ImageStore, Location, StoreError};
use std::sync::Arc;

/// Where `image` tagged `tag` goes under `base` (`--repo`, or the embedded layout) in `layout`;
/// a `verbatim` tag (werf's `--add-custom-tag`) without the monorepo `IMAGE-` prefix.
pub fn location(
    base: &Arc<dyn ImageStore>,
    layout: Layout,
    image: Option<&str>,
    tag: &str,
    verbatim: bool,
) -> Result<Location, StoreError> {
    let (suffix, tag) = match (verbatim, layout, image) {
        (true, Layout::Multirepo, Some(name)) => (Some(name.to_string()), tag.to_string()),
        (true, _, _) => (None, tag.to_string()),
        (false, _, _) => naming::place(layout, image, tag),
    };
    let store = match suffix {
        Some(s) => base.join(&s)?,
        None => base.clone(),
    };
    Ok(Location::new(store, tag))
}

/// One image's planned references.
#[derive(Debug, Clone)]
pub struct ImagePublish {
    pub image: Option<String>,
    pub tags: Vec<Tag>,
    pub locations: Vec<Location>,
}

/// Decides every reference of every image — `(name, stage digest, published)`; an image
/// not published (werf's `final: false`) gets none — and fails before anything is written
/// when a tag is invalid or two images would land on the same reference.
pub fn plan(
    target: &Arc<dyn ImageStore>,
    layout: Layout,
    images: &[(Option<String>, String, bool)],
    opts: &TagOptions,
) -> Result<Vec<ImagePublish>, PlanError> {
    let mut out = Vec::new();
    for (image, signature, published) in images {
        if !published {
            out.push(ImagePublish { image: image.clone(), tags: Vec::new(), locations: Vec::new() });
            continue;
        }
        let shown = image.as_deref().unwrap_or("~").to_string();
        if let Some(name) = image.as_deref().filter(|n| naming::reserved_image_name(n)) {
            return Err(PlanError::Reserved { name: name.to_string() });
        }
        let budget = naming::tag_budget(layout, image.as_deref());
        let mut tags = naming::tags(opts, signature, budget)
            .map_err(|problem| PlanError::Tag { image: shown.clone(), problem })?;
        for custom in &opts.add_custom {
            tags.push(
                custom
                    .render(image.as_deref(), signature)
                    .map_err(|problem| PlanError::Tag { image: shown.clone(), problem })?,
            );
        }
        let mut locations: Vec<Location> = Vec::new();
        let mut kept: Vec<Tag> = Vec::new();
        for t in tags {
            let loc = location(target, layout, image.as_deref(), &t.value, t.verbatim())
                .map_err(|source| PlanError::Location { image: shown.clone(), source })?;
            // Two strategies giving the same reference publish it once.
            if !locations.iter().any(|l| l.to_string() == loc.to_string()) {
                locations.push(loc);
                kept.push(t);
            }
        }
        out.push(ImagePublish { image: image.clone(), tags: kept, locations });
    }
    let all =
        out.iter().flat_map(|p| p.locations.iter().map(move |l| (p.image.as_deref().unwrap_or("~"), l.to_string())));
    if let Some((a, b, reference)) = naming::find_collision(all) {
        // werf's own error when an --add-custom-tag without the image name is the cause.
        let tag = out
            .iter()
            .flat_map(|p| p.locations.iter().zip(&p.tags))
            .find(|(l, _)| l.to_string() == reference)
            .map(|(_, t)| t);
        let shared = tag.filter(|t| t.verbatim()).and_then(|t| {
            opts.add_custom.iter().find(|c| !c.names_image() && c.render(None, "").is_ok_and(|x| x.value == t.value))
        });
        return Err(match shared {
            Some(c) => PlanError::SharedCustomTag { message: naming::custom_tag::shared_tag_error(c.template()) },
            None => PlanError::Collision { a: a.to_string(), b: b.to_string(), reference },
        });
    }
    Ok(out)
}

/// Why the references of a publish cannot be planned: nothing is built or written then.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "image name {name:?} is reserved: names starting with `wharf-` are wharf's own stages and records\n  hint: rename the image"
    )]
    Reserved { name: String },
    #[error("image {image}: {problem}")]
    Tag { image: String, problem: String },
    #[error("image {image}: {source}")]
    Location { image: String, source: StoreError },
    #[error(
        "images {a} and {b} would both be published as {reference}\n  hint: in monorepo mode an image name followed by `-` is a tag prefix; rename one image or use --repo-mode multirepo"
    )]
    Collision { a: String, b: String, reference: String },
    /// An `--add-custom-tag` without `%image%` would give several images one tag.
    #[error("{message}")]
    SharedCustomTag { message: String },
}

/// Makes every planned location point at the image.
pub async fn execute(image: &Image, plan: &ImagePublish) -> Result<CopyStats, StoreError> {
    let mut stats = CopyStats::default();
    for loc in &plan.locations {
        stats.add(crate::store::copy(image, loc).await?);
    }
    Ok(stats)
}
