//! What [`Driver::list`](super::Driver::list) gives: tags with digests, tags listed without
//! one where the caller did not need it, and tags whose manifest cannot be read.

use crate::spec::digest::Digest;

/// One tag and the digest of the manifest (or index) it points at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct TagEntry {
    pub tag: String,
    pub digest: Digest,
}

impl TagEntry {
    pub fn new(tag: impl Into<String>, digest: Digest) -> Self {
        TagEntry { tag: tag.into(), digest }
    }
}

/// A listed tag whose manifest cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokenTag {
    pub tag: String,
    pub problem: String,
}

/// Which digests [`Driver::list`] must give.
#[derive(Clone, Copy)]
pub enum Digests<'a> {
    /// Every tag's digest (where the listing has none, one manifest read per tag).
    All,
    /// None needed: where digests cost a request per tag, the tags come back without them
    /// ([`TagListing::undigested`]), one request per page instead of one per tag.
    None,
    /// Every digest except of the tags for which this holds: the caller reads their manifests
    /// anyway (cleanup's publish records), and that one read gives the digest too.
    Except(&'a (dyn for<'t> Fn(&'t str) -> bool + Send + Sync)),
}

impl Digests<'_> {
    /// Whether `tag`'s digest is wanted.
    pub fn wanted(&self, tag: &str) -> bool {
        match self {
            Digests::All => true,
            Digests::None => false,
            Digests::Except(later) => !later(tag),
        }
    }
}

/// What [`Driver::list`] found in one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagListing {
    /// Tags with the digest each points at, sorted.
    pub tags: Vec<TagEntry>,
    /// Tags listed without their digest, as [`Digests`] allowed, sorted.
    pub undigested: Vec<String>,
    /// Listed tags whose manifest cannot be read (missing, unparsable, no digest given),
    /// sorted: reported, never acted on.
    pub broken: Vec<BrokenTag>,
}

impl TagListing {
    /// A listing of `tags` and `broken` (none undigested), each sorted.
    pub fn sorted(tags: Vec<TagEntry>, broken: Vec<BrokenTag>) -> Self {
        TagListing { tags, undigested: Vec::new(), broken }.sort()
    }

    /// The same listing with every list sorted.
    pub fn sort(mut self) -> Self {
        self.tags.sort();
        self.undigested.sort();
        self.broken.sort_by(|a, b| a.tag.cmp(&b.tag));
        self
    }

    /// Every readable tag's name (with or without its digest), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.tags.iter().map(|t| t.tag.clone()).chain(self.undigested.iter().cloned()).collect();
        names.sort();
        names
    }
}
