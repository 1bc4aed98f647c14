//! An image ready to be copied: its manifest, and the store its blobs are read from. An index
//! has no blobs of its own; its child manifests are `children`, each with its own origin.

use bytes::Bytes;
use std::sync::Arc;

use super::{ImageStore, Location, Result, StoreError};
use crate::spec::Digest;
use crate::spec::manifest::{Descriptor, is_index, parse_manifest};

#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Bytes,
    pub media_type: String,
    pub digest: Digest,
    pub blobs: Vec<Descriptor>,
    pub children: Vec<Image>,
    pub origin: Arc<dyn ImageStore>,
}

impl Image {
    /// Reads the image tagged at `loc`, or `None` when nothing is tagged there.
    pub async fn read(loc: &Location) -> Result<Option<Image>> {
        // One GET, no HEAD first: a missing tag is `None`.
        let Some((bytes, media_type, digest)) = loc.store.manifest(&loc.tag).await? else { return Ok(None) };
        let mut image = Image::from_manifest(loc, bytes, media_type, digest, loc.store.clone())?;
        image.read_children(loc).await?;
        Ok(Some(image))
    }

    /// For an index: reads each child manifest (one level; nested indexes are rare) and moves
    /// it from `blobs` to `children`.
    async fn read_children(&mut self, loc: &Location) -> Result<()> {
        if !is_index(&self.media_type) || !self.children.is_empty() {
            return Ok(());
        }
        let from_registry = self.origin.registry().is_some();
        for child in std::mem::take(&mut self.blobs) {
            let broken = |message: &str| StoreError::Manifest {
                location: loc.to_string(),
                digest: child.digest.clone(),
                message: message.into(),
                from_registry,
            };
            let (bytes, media_type, _) = self
                .origin
                .manifest(child.digest.as_str())
                .await?
                .ok_or_else(|| broken("child manifest is missing"))?;
            if Digest::of(&bytes) != child.digest {
                return Err(broken("child manifest does not match its digest"));
            }
            // A layout's index entry knows the type; a store's answer may not.
            let media_type = if media_type.is_empty() { child.media_type.clone() } else { media_type };
            self.children.push(Image::from_manifest(loc, bytes, media_type, child.digest, self.origin.clone())?);
        }
        Ok(())
    }

    pub fn from_manifest(
        loc: &impl std::fmt::Display,
        manifest: Bytes,
        media_type: String,
        digest: Digest,
        origin: Arc<dyn ImageStore>,
    ) -> Result<Image> {
        let content = parse_manifest(&manifest, &media_type).map_err(|e| StoreError::Manifest {
            location: loc.to_string(),
            digest: digest.clone(),
            message: e.to_string(),
            from_registry: origin.registry().is_some(),
        })?;
        let blobs = content.references().into_iter().cloned().collect();
        Ok(Image { manifest, media_type, digest, blobs, children: Vec::new(), origin })
    }
}
