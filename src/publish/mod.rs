//! Publishing: which references each image gets (decided up front, checked for collisions)
//! and the copies that make them point at the image.

pub mod meta;
pub mod settled;

use crate::naming::{self, Layout, Tag, TagOptions};
use crate::store::{CopyStats, Image, ImageStore, Location, StoreError};
use std::sync::Arc;

/// Where `image` tagged `tag` goes under `base` (`--repo`, or the embedded layout) in `layout`.
pub fn location(base: &Arc<dyn ImageStore>, layout: Layout, image: Option<&str>, tag: &str) -> Result<Location, StoreError> {
    let (suffix, tag) = naming::place(layout, image, tag);
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

/// Decides every reference of every image; fails before anything is written when a tag
/// is invalid or two images would land on the same reference.
pub fn plan(target: &Arc<dyn ImageStore>, layout: Layout, images: &[(Option<String>, String)], opts: &TagOptions) -> Result<Vec<ImagePublish>, String> {
    let mut out = Vec::new();
    for (image, signature) in images {
        if let Some(name) = image.as_deref().filter(|n| naming::reserved_image_name(n)) {
            return Err(format!("image name {name:?} is reserved: names starting with `wharf-` are wharf's own stages and records\n  hint: rename the image"));
        }
        let budget = naming::tag_budget(layout, image.as_deref());
        let tags = naming::tags(opts, signature, budget).map_err(|e| format!("image {}: {e}", image.as_deref().unwrap_or("~")))?;
        let locations = tags
            .iter()
            .map(|t| location(target, layout, image.as_deref(), &t.value).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(ImagePublish { image: image.clone(), tags, locations });
    }
    let all = out.iter().flat_map(|p| p.locations.iter().map(move |l| (p.image.as_deref().unwrap_or("~"), l.to_string())));
    if let Some((a, b, r)) = naming::find_collision(all) {
        return Err(format!(
            "images {a} and {b} would both be published as {r}\n  hint: in monorepo mode an image name followed by `-` is a tag prefix; rename one image or use --repo-mode multirepo"
        ));
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
