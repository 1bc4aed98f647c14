//! Publishing: which references each image gets (decided up front, checked for collisions)
//! and the copies that make them point at the image.

pub mod meta;
pub mod settled;

use crate::naming::{self, Layout, Tag, TagOptions};
use crate::store::{CopyStats, Image, ImageStore, Location, StoreError};
use std::sync::Arc;

/// Where `image` tagged `tag` goes under `base` (`--repo`, or the embedded layout) in `layout`;
/// a `verbatim` tag (werf's `--add-custom-tag`) without the monorepo `IMAGE-` prefix.
pub fn location(base: &Arc<dyn ImageStore>, layout: Layout, image: Option<&str>, tag: &str, verbatim: bool) -> Result<Location, StoreError> {
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
pub fn plan(target: &Arc<dyn ImageStore>, layout: Layout, images: &[(Option<String>, String, bool)], opts: &TagOptions) -> Result<Vec<ImagePublish>, String> {
    let mut out = Vec::new();
    for (image, signature, published) in images {
        if !published {
            out.push(ImagePublish { image: image.clone(), tags: Vec::new(), locations: Vec::new() });
            continue;
        }
        if let Some(name) = image.as_deref().filter(|n| naming::reserved_image_name(n)) {
            return Err(format!("image name {name:?} is reserved: names starting with `wharf-` are wharf's own stages and records\n  hint: rename the image"));
        }
        let budget = naming::tag_budget(layout, image.as_deref());
        let mut tags = naming::tags(opts, signature, budget).map_err(|e| format!("image {}: {e}", image.as_deref().unwrap_or("~")))?;
        for custom in &opts.add_custom {
            tags.push(custom.render(image.as_deref(), signature)?);
        }
        let mut locations: Vec<Location> = Vec::new();
        let mut kept: Vec<Tag> = Vec::new();
        for t in tags {
            let loc = location(target, layout, image.as_deref(), &t.value, t.verbatim()).map_err(|e| e.to_string())?;
            // Two strategies giving the same reference publish it once.
            if !locations.iter().any(|l| l.to_string() == loc.to_string()) {
                locations.push(loc);
                kept.push(t);
            }
        }
        out.push(ImagePublish { image: image.clone(), tags: kept, locations });
    }
    let all = out.iter().flat_map(|p| p.locations.iter().map(move |l| (p.image.as_deref().unwrap_or("~"), l.to_string())));
    if let Some((a, b, r)) = naming::find_collision(all) {
        // werf's own error when an --add-custom-tag without the image name is the cause.
        let tag = out.iter().flat_map(|p| p.locations.iter().zip(&p.tags)).find(|(l, _)| l.to_string() == r).map(|(_, t)| t);
        let shared = tag
            .filter(|t| t.verbatim())
            .and_then(|t| opts.add_custom.iter().find(|c| !c.names_image() && c.render(None, "").is_ok_and(|x| x.value == t.value)));
        return Err(match shared {
            Some(c) => naming::custom_tag::shared_tag_error(c.template()),
            None => format!(
                "images {a} and {b} would both be published as {r}\n  hint: in monorepo mode an image name followed by `-` is a tag prefix; rename one image or use --repo-mode multirepo"
            ),
        });
    }
    Ok(out)
}

/// Makes every planned location point at the image.
pub async fn execute(image: &Image, plan: &ImagePublish) -> Result<CopyStats, StoreError> {
    let mut stats = CopyStats::default();
    for loc in &plan.locations {
        stats.add(crate::store::copy(image, loc).await?);
    }
    Ok(stats)
}
