//! Naming: where each image goes and under which tags. Pure functions, no I/O.
//!
//! - **monorepo**: every image in one repository, the image name as tag prefix:
//!   `REPO:IMAGE-TAG`;
//! - **multirepo**: one repository per image: `REPO/IMAGE:TAG`;
//! - the nameless image (`image: ~`) is `REPO:TAG` in both.
//!
//! Stages (built images keyed by their stage digest) live beside the images:
//! `REPO:wharf-stage-<digest>` in monorepo mode, `REPO/wharf-stages:<digest>` in multirepo.

pub(crate) mod custom_tag;

use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// What the user asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoMode {
    /// multirepo for a generic registry; refined per registry by its driver.
    #[default]
    Auto,
    Monorepo,
    Multirepo,
}

/// A mode after `auto` was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Monorepo,
    Multirepo,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Monorepo => "monorepo",
            Layout::Multirepo => "multirepo",
        })
    }
}

impl RepoMode {
    /// `auto` for a registry that has no opinion: multirepo, as werf does.
    pub fn resolve_generic(self) -> Layout {
        match self {
            RepoMode::Auto | RepoMode::Multirepo => Layout::Multirepo,
            RepoMode::Monorepo => Layout::Monorepo,
        }
    }
}

/// Longest tag the distribution spec allows.
pub const MAX_TAG: usize = 128;
/// Tag prefix of stages in monorepo mode.
pub const STAGE_TAG_PREFIX: &str = "wharf-stage-";
/// Repository (below REPO) of stages in multirepo mode.
pub const STAGES_REPO: &str = "wharf-stages";

/// Repository path suffix and tag for `image` published as `tag`. `None` suffix: REPO itself.
pub fn place(layout: Layout, image: Option<&str>, tag: &str) -> (Option<String>, String) {
    match (layout, image) {
        (_, None) => (None, tag.to_string()),
        (Layout::Monorepo, Some(name)) => (None, format!("{name}-{tag}")),
        (Layout::Multirepo, Some(name)) => (Some(name.to_string()), tag.to_string()),
    }
}

/// Room a tag has once the monorepo prefix is added.
pub fn tag_budget(layout: Layout, image: Option<&str>) -> usize {
    match (layout, image) {
        (Layout::Monorepo, Some(name)) => MAX_TAG.saturating_sub(name.len() + 1),
        _ => MAX_TAG,
    }
}

/// Repository path suffix and tag of the stage with `digest_hex`.
pub fn stage_place(layout: Layout, digest_hex: &str) -> (Option<String>, String) {
    match layout {
        Layout::Monorepo => (None, format!("{STAGE_TAG_PREFIX}{digest_hex}")),
        Layout::Multirepo => (Some(STAGES_REPO.to_string()), digest_hex.to_string()),
    }
}

/// Tag prefix of publish records (see [`meta_place`]).
pub const META_TAG_PREFIX: &str = "wharf-meta-";

/// Image names that would collide with wharf's own tags and repositories (stages, publish
/// records): every name starting with `wharf-`.
pub fn reserved_image_name(name: &str) -> bool {
    name.starts_with("wharf-") || name == "wharf"
}

/// Repository path suffix and tag of the publish record that links `image`'s stage
/// `stage_hex` to git commit `commit`: `wharf-meta-<commit>-<stage>` in the image's
/// repository, with no image prefix in monorepo mode (the record names its image).
pub fn meta_place(layout: Layout, image: Option<&str>, commit: &str, stage_hex: &str) -> (Option<String>, String) {
    let suffix = match (layout, image) {
        (Layout::Multirepo, Some(name)) => Some(name.to_string()),
        _ => None,
    };
    (suffix, format!("{META_TAG_PREFIX}{commit}-{stage_hex}"))
}

/// `(commit, stage digest)` of a publish-record tag.
pub fn parse_meta_tag(tag: &str) -> Option<(&str, &str)> {
    let rest = tag.strip_prefix(META_TAG_PREFIX)?;
    let (commit, stage) = rest.split_once('-')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(commit, 40) && hex(stage, 64)).then_some((commit, stage))
}

/// The stage digest a stage tag (`wharf-stage-<hex>` or, in the stages repository, `<hex>`)
/// names.
pub fn parse_stage_tag(tag: &str, in_stages_repo: bool) -> Option<&str> {
    let hex = if in_stages_repo { tag } else { tag.strip_prefix(STAGE_TAG_PREFIX)? };
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// Tag strategies, combinable. Values are already resolved (CLI, CI environment or git).
#[derive(Debug, Clone, Default)]
pub struct TagOptions {
    pub custom: Vec<String>,
    pub git_branch: Option<String>,
    pub git_tag: Option<String>,
    pub git_commit: Option<String>,
    pub by_signature: bool,
    pub semver: Option<String>,
    pub latest: bool,
    /// werf's `--add-custom-tag` templates, rendered per image and published as written.
    pub add_custom: Vec<custom_tag::CustomTag>,
}

impl TagOptions {
    pub fn is_empty(&self) -> bool {
        self.custom.is_empty()
            && self.git_branch.is_none()
            && self.git_tag.is_none()
            && self.git_commit.is_none()
            && !self.by_signature
            && self.semver.is_none()
            && !self.latest
            && self.add_custom.is_empty()
    }
}

/// Where a tag comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Custom,
    GitBranch,
    GitTag,
    GitCommit,
    Signature,
    Semver,
    Latest,
    // werf's `--add-custom-tag`: placed as written, without the monorepo `IMAGE-` prefix
    // (the template names its image itself). A plain comment keeps the schema one enum.
    AddCustomTag,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Custom => "custom",
            Strategy::GitBranch => "git-branch",
            Strategy::GitTag => "git-tag",
            Strategy::GitCommit => "git-commit",
            Strategy::Signature => "signature",
            Strategy::Semver => "semver",
            Strategy::Latest => "latest",
            Strategy::AddCustomTag => "add-custom-tag",
        })
    }
}

/// One tag to publish, with where it came from and what it was before slugging.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Tag {
    pub value: String,
    pub strategy: Strategy,
    pub original: String,
}

impl Tag {
    /// Placed as written, without the monorepo `IMAGE-` prefix (werf's `--add-custom-tag`).
    pub fn verbatim(&self) -> bool {
        self.strategy == Strategy::AddCustomTag
    }
}

/// The tags for an image whose stage digest is `signature`, each fitting in `budget`
/// characters, deduplicated in order.
pub fn tags(opts: &TagOptions, signature: &str, budget: usize) -> Result<Vec<Tag>, String> {
    let mut raw: Vec<(Strategy, String)> = Vec::new();
    raw.extend(opts.custom.iter().map(|t| (Strategy::Custom, t.clone())));
    raw.extend(opts.git_branch.iter().map(|t| (Strategy::GitBranch, t.clone())));
    raw.extend(opts.git_tag.iter().map(|t| (Strategy::GitTag, t.clone())));
    raw.extend(opts.git_commit.iter().map(|t| (Strategy::GitCommit, t.clone())));
    if opts.by_signature {
        raw.push((Strategy::Signature, signature.to_string()));
    }
    if let Some(v) = &opts.semver {
        raw.extend(semver_tags(v)?.into_iter().map(|t| (Strategy::Semver, t)));
    }
    if opts.latest {
        raw.push((Strategy::Latest, "latest".to_string()));
    }
    let mut out: Vec<Tag> = Vec::new();
    for (strategy, original) in raw {
        let value = slug(&original, budget);
        if value.is_empty() {
            return Err(format!("{strategy} tag {original:?} has no character a tag can use"));
        }
        if !out.iter().any(|t| t.value == value) {
            out.push(Tag { value, strategy, original });
        }
    }
    Ok(out)
}

/// `v1.2.3` → `v1.2.3`, `1.2.3`, `1.2`, `1`. A pre-release (`1.2.3-rc.1`) gets no aliases:
/// `1` must not move to a release candidate.
pub fn semver_tags(version: &str) -> Result<Vec<String>, String> {
    let bare = version.strip_prefix('v').unwrap_or(version);
    let (core, rest) = match bare.find(['-', '+']) {
        Some(i) => (&bare[..i], &bare[i..]),
        None => (bare, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric =
        |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0'));
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(format!("{version:?} is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. v1.2.3)"));
    }
    let mut out = vec![version.to_string()];
    if rest.starts_with('-') {
        out.push(bare.to_string());
    } else {
        out.push(core.to_string());
        out.push(format!("{}.{}", parts[0], parts[1]));
        out.push(parts[0].to_string());
    }
    out.dedup();
    Ok(out)
}

/// Makes `s` a valid tag of at most `max` characters, deterministically: characters a tag
/// cannot hold become `-` (`/` included), the result is lowercased when anything had to
/// change, a leading `.`/`-` is dropped, and a value too long is cut and given an 8-character
/// hash of the original so two long names never meet.
pub fn slug(s: &str, max: usize) -> String {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let already_valid = !s.is_empty() && s.chars().all(valid_char) && !s.starts_with(['.', '-']) && s.len() <= max;
    if already_valid {
        return s.to_string();
    }
    let mut out: String = s.chars().map(|c| if valid_char(c) { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_start_matches(['.', '-']).trim_end_matches('-').to_string();
    if out.len() <= max {
        return out;
    }
    let hash = &hex::encode(Sha256::digest(s.as_bytes()))[..8];
    let keep = max.saturating_sub(hash.len() + 1);
    format!("{}-{hash}", out[..keep].trim_end_matches(['-', '.']))
}

/// Finds two images that would publish the same reference (`app` + tag `api-1` and
/// `app-api` + tag `1` in monorepo mode).
pub fn find_collision<'a>(refs: impl IntoIterator<Item = (&'a str, String)>) -> Option<(String, String, String)> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (image, r) in refs {
        if let Some(other) = seen.insert(r.clone(), image)
            && other != image
        {
            return Some((other.to_string(), image.to_string(), r));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monorepo_and_multirepo_places() {
        assert_eq!(place(Layout::Monorepo, Some("backend"), "v1"), (None, "backend-v1".into()));
        assert_eq!(place(Layout::Multirepo, Some("backend"), "v1"), (Some("backend".into()), "v1".into()));
        assert_eq!(place(Layout::Monorepo, None, "v1"), (None, "v1".into()));
        assert_eq!(place(Layout::Multirepo, None, "v1"), (None, "v1".into()));
    }

    #[test]
    fn stages_have_their_own_place() {
        let hex = "a".repeat(64);
        assert_eq!(stage_place(Layout::Monorepo, &hex), (None, format!("wharf-stage-{hex}")));
        assert_eq!(stage_place(Layout::Multirepo, &hex), (Some("wharf-stages".into()), hex.clone()));
        assert!(reserved_image_name("wharf-stages"));
        assert!(reserved_image_name("wharf-stage"));
        assert!(reserved_image_name("wharf-meta"));
        assert!(!reserved_image_name("backend"));
        assert!(!reserved_image_name("wharfie"));
    }

    #[test]
    fn publish_records_round_trip() {
        let (commit, stage) = ("a".repeat(40), "b".repeat(64));
        let (suffix, tag) = meta_place(Layout::Monorepo, Some("app"), &commit, &stage);
        assert_eq!(suffix, None);
        assert!(tag.len() <= MAX_TAG);
        assert_eq!(parse_meta_tag(&tag), Some((commit.as_str(), stage.as_str())));
        assert_eq!(meta_place(Layout::Multirepo, Some("app"), &commit, &stage).0.as_deref(), Some("app"));
        assert_eq!(parse_meta_tag("wharf-meta-xyz"), None);
        assert_eq!(parse_stage_tag(&format!("wharf-stage-{stage}"), false), Some(stage.as_str()));
        assert_eq!(parse_stage_tag(&stage, true), Some(stage.as_str()));
        assert_eq!(parse_stage_tag("v1", true), None);
    }

    #[test]
    fn auto_is_multirepo_for_a_generic_registry() {
        assert_eq!(RepoMode::Auto.resolve_generic(), Layout::Multirepo);
        assert_eq!(RepoMode::Monorepo.resolve_generic(), Layout::Monorepo);
    }

    #[test]
    fn semver_aliases() {
        assert_eq!(semver_tags("v1.2.3").unwrap(), vec!["v1.2.3", "1.2.3", "1.2", "1"]);
        assert_eq!(semver_tags("1.2.3").unwrap(), vec!["1.2.3", "1.2", "1"]);
        assert_eq!(semver_tags("v2.0.0-rc.1").unwrap(), vec!["v2.0.0-rc.1", "2.0.0-rc.1"]);
        assert!(semver_tags("1.2").is_err());
        assert!(semver_tags("v01.2.3").is_err());
    }

    #[test]
    fn slug_is_deterministic_and_valid() {
        assert_eq!(slug("main", 128), "main");
        assert_eq!(slug("Release_1.0", 128), "Release_1.0", "valid tags stay as they are");
        assert_eq!(slug("feature/Login", 128), "feature-login");
        assert_eq!(slug("-x", 128), "x");
        let long = format!("feature/{}", "x".repeat(200));
        let s = slug(&long, 120);
        assert_eq!(s.len(), 120);
        assert_eq!(s, slug(&long, 120));
        assert_ne!(s, slug(&format!("feature/{}y", "x".repeat(200)), 120), "a cut keeps a hash of the original");
    }

    #[test]
    fn tags_combine_and_dedupe() {
        let opts = TagOptions {
            custom: vec!["latest".into(), "x".into()],
            git_branch: Some("feature/a".into()),
            by_signature: true,
            semver: Some("v1.2.3".into()),
            latest: true,
            ..Default::default()
        };
        let t = tags(&opts, "abc", 128).unwrap();
        let values: Vec<&str> = t.iter().map(|t| t.value.as_str()).collect();
        assert_eq!(values, vec!["latest", "x", "feature-a", "abc", "v1.2.3", "1.2.3", "1.2", "1"]);
        assert_eq!(t[2].original, "feature/a");
        assert!(tags(&TagOptions { custom: vec!["///".into()], ..Default::default() }, "s", 128).is_err());
    }

    #[test]
    fn monorepo_prefix_collisions_are_found() {
        let refs = vec![("app", "r:app-api-1".to_string()), ("app-api", "r:app-api-1".to_string())];
        assert_eq!(find_collision(refs).unwrap().2, "r:app-api-1");
        assert!(find_collision(vec![("a", "r:a-1".to_string()), ("b", "r:b-1".to_string())]).is_none());
    }
}
