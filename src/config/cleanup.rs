//! The `cleanup:` section of the project document, in werf's syntax.
//!
//! ```yaml
//! cleanup:
//!   keepPolicies:
//!   - references:
//!       branch: /.*/            # or tag:, a name or a /REGEX/
//!       limit: { last: 10, in: 168h, operator: And }
//!     imagesPerReference: { last: 2, in: 168h, operator: And }
//! ```
//!
//! As in werf: a name matches exactly, `/REGEX/` becomes `^REGEX$` (Go RE2 syntax,
//! which Rust's `regex` shares), `in` is a Go duration, `operator` defaults to
//! `And`, `last: -1` means no limit, and without `keepPolicies` werf's default
//! policies apply (see [`CleanupConfig::default`]).

use super::decode::{self, Fields};
use super::duration::parse_go_duration;
use super::error::{ErrorKind, Report};
use super::node::Node;
use regex::Regex;
use std::time::Duration;

/// Cleanup settings, werf-compatible.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupConfig {
    /// Images kept by git history; an image is deleted if no policy keeps it.
    pub keep_policies: Vec<KeepPolicy>,
    /// `true` when the file set no `keepPolicies` and werf's defaults are used.
    pub default_keep_policies: bool,
    /// Images built within this many hours are never deleted (werf's default: 2).
    pub keep_images_built_within_last_n_hours: u64,
    pub disable_kubernetes_based_policy: bool,
    pub disable_git_history_based_policy: bool,
    pub disable_built_within_last_n_hours_policy: bool,
}

/// One `keepPolicies` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepPolicy {
    pub references: References,
    /// How many images to keep per matching reference; `None`: all of them.
    pub images_per_reference: Option<Limit>,
}

/// Which git references a policy looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct References {
    pub kind: RefKind,
    pub pattern: RefPattern,
    /// Keep only the latest / most recently active references.
    pub limit: Option<Limit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

/// `last` and `in` combined with `operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// At most this many; `None`: no count limit.
    pub last: Option<u64>,
    /// Only within this period; `None`: no time limit.
    pub within: Option<Duration>,
    /// How `last` and `within` combine when both are set.
    pub operator: Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    And,
    Or,
}

/// A reference name or `/REGEX/`, compiled.
#[derive(Debug, Clone)]
pub struct RefPattern {
    written: String,
    regex: Regex,
}

impl RefPattern {
    /// Parses werf's form: `/REGEX/` is anchored as `^REGEX$`, anything else is an exact name.
    pub fn parse(written: &str) -> Result<Self, String> {
        let expr = match written.strip_prefix('/').and_then(|s| s.strip_suffix('/')) {
            Some(inner) if written.len() >= 2 => {
                Regex::new(inner).map_err(|e| e.to_string())?;
                format!("^{inner}$")
            }
            _ => format!("^{}$", regex::escape(written)),
        };
        let regex = Regex::new(&expr).map_err(|e| e.to_string())?;
        Ok(RefPattern { written: written.to_string(), regex })
    }

    /// Whether reference `name` (without `origin/`) matches.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The pattern as written in the file.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl PartialEq for RefPattern {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl Default for CleanupConfig {
    /// werf's defaults: one image for each of the last 10 tags; up to 2 images
    /// from the past week for the 10 branches most active that week; 2 images for
    /// `main`, `master`, `staging` and `production`; a 2-hour fresh window.
    fn default() -> Self {
        let week = Some(Duration::from_secs(168 * 3600));
        let policy = |kind, pattern: &str, limit, per_ref| KeepPolicy {
            references: References {
                kind,
                pattern: RefPattern::parse(pattern).expect("werf's default patterns compile"),
                limit,
            },
            images_per_reference: per_ref,
        };
        let limit = |last, within| Some(Limit { last: Some(last), within, operator: Operator::And });
        CleanupConfig {
            keep_policies: vec![
                policy(RefKind::Tag, "/.*/", limit(10, None), None),
                policy(RefKind::Branch, "/.*/", limit(10, week), limit(2, week)),
                policy(RefKind::Branch, "/^(main|master|staging|production)$/", None, limit(2, None)),
            ],
            default_keep_policies: true,
            keep_images_built_within_last_n_hours: 2,
            disable_kubernetes_based_policy: false,
            disable_git_history_based_policy: false,
            disable_built_within_last_n_hours_policy: false,
        }
    }
}

pub(crate) const CLEANUP_KEYS: &[&str] = &[
    "keepPolicies",
    "keepImagesBuiltWithinLastNHours",
    "disableKubernetesBasedPolicy",
    "disableGitHistoryBasedPolicy",
    "disableBuiltWithinLastNHoursPolicy",
];
pub(crate) const POLICY_KEYS: &[&str] = &["references", "imagesPerReference"];
pub(crate) const REFERENCES_KEYS: &[&str] = &["branch", "tag", "limit"];
pub(crate) const LIMIT_KEYS: &[&str] = &["last", "in", "operator"];

/// Reads the `cleanup:` mapping.
pub(crate) fn decode_cleanup(rep: &mut Report<'_>, node: &Node) -> CleanupConfig {
    let mut config = CleanupConfig::default();
    let Some(fields) = decode::fields(rep, node, "`cleanup`") else {
        return config;
    };
    decode::reject_unknown(rep, &fields, CLEANUP_KEYS, &[], "`cleanup`");
    let flag = |rep: &mut Report<'_>, key: &str| {
        fields.value(key).and_then(|v| decode::boolean(rep, v, &format!("`cleanup.{key}`"))).unwrap_or(false)
    };
    config.disable_kubernetes_based_policy = flag(rep, "disableKubernetesBasedPolicy");
    config.disable_git_history_based_policy = flag(rep, "disableGitHistoryBasedPolicy");
    config.disable_built_within_last_n_hours_policy = flag(rep, "disableBuiltWithinLastNHoursPolicy");
    if let Some(v) = fields.value("keepImagesBuiltWithinLastNHours") {
        let what = "`cleanup.keepImagesBuiltWithinLastNHours`";
        if let Some(hours) = decode::integer(rep, v, what, 0, i128::from(u32::MAX)) {
            config.keep_images_built_within_last_n_hours = u64::try_from(hours).unwrap_or(2);
        }
    }
    if let Some(list) = fields.value("keepPolicies") {
        let items = decode::list_items(rep, list, "`cleanup.keepPolicies`");
        let policies: Vec<KeepPolicy> = items.iter().filter_map(|p| decode_policy(rep, p)).collect();
        if items.is_empty() && matches!(list.kind, super::node::Kind::Seq(_)) {
            rep.warn(list.pos, "`keepPolicies` is empty, so werf's default policies apply; to keep nothing by git history set `disableGitHistoryBasedPolicy: true`");
        } else if !policies.is_empty() {
            config.keep_policies = policies;
            config.default_keep_policies = false;
        }
    }
    config
}

fn decode_policy(rep: &mut Report<'_>, node: &Node) -> Option<KeepPolicy> {
    let what = "a keep policy";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, POLICY_KEYS, &[], what);
    let per_ref = fields.value("imagesPerReference").and_then(|v| decode_limit(rep, v, "`imagesPerReference`"));
    let Some(refs_node) = fields.value("references") else {
        rep.error(ErrorKind::MissingKey, node.head(), "keep policy without `references`").label("this policy").hint(
            "every keep policy needs `references: { branch: NAME|/REGEX/ }` or `references: { tag: NAME|/REGEX/ }`",
        );
        return None;
    };
    let references = decode_references(rep, refs_node)?;
    if let (RefKind::Tag, Some(Limit { last: Some(n), .. })) = (references.kind, per_ref)
        && n > 1
    {
        rep.warn(refs_node.pos, format!("`imagesPerReference.last: {n}` has no effect for tags: a tag points at one commit, so one image per tag is kept"));
    }
    Some(KeepPolicy { references, images_per_reference: per_ref })
}

fn decode_references(rep: &mut Report<'_>, node: &Node) -> Option<References> {
    let what = "`references`";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, REFERENCES_KEYS, &[], what);
    let limit = fields.value("limit").and_then(|v| decode_limit(rep, v, "`limit`"));
    let (kind, value) = ref_kind(rep, node, &fields)?;
    let written = decode::non_empty_string(rep, value, &format!("`{}`", kind_key(kind)))?;
    match RefPattern::parse(&written.value) {
        Ok(pattern) => Some(References { kind, pattern, limit }),
        Err(e) => {
            rep.error(
                ErrorKind::InvalidValue,
                value.pos,
                format!("`{}` is not a valid regular expression", written.value),
            )
            .label("invalid regular expression")
            .hint(format!("`/…/` patterns use Go/RE2 regular expression syntax:\n{e}"));
            None
        }
    }
}

fn kind_key(kind: RefKind) -> &'static str {
    match kind {
        RefKind::Branch => "branch",
        RefKind::Tag => "tag",
    }
}

/// Exactly one of `branch:` and `tag:`.
fn ref_kind<'n>(rep: &mut Report<'_>, node: &Node, fields: &Fields<'n>) -> Option<(RefKind, &'n Node)> {
    match (fields.value("branch"), fields.value("tag")) {
        (Some(b), None) => Some((RefKind::Branch, b)),
        (None, Some(t)) => Some((RefKind::Tag, t)),
        (Some(_), Some(t)) => {
            rep.error(
                ErrorKind::InvalidValue,
                fields.key_pos("tag").unwrap_or(t.pos),
                "`references` has both `branch` and `tag`",
            )
            .label("second reference kind")
            .hint("a policy selects either branches or tags: split it into two policies");
            None
        }
        (None, None) => {
            rep.error(ErrorKind::MissingKey, node.head(), "`references` needs `branch` or `tag`")
                .label("no `branch` or `tag` here")
                .hint("write `branch: main`, `branch: /^feature-.*$/`, `tag: v1.0.0` or `tag: /.*/`");
            None
        }
    }
}

fn decode_limit(rep: &mut Report<'_>, node: &Node, what: &str) -> Option<Limit> {
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, LIMIT_KEYS, &[], what);
    let last = fields.value("last").and_then(|v| decode::integer(rep, v, "`last`", -1, i128::from(u32::MAX)));
    let within = fields.value("in").and_then(|v| decode_duration(rep, v));
    let operator = fields.value("operator").map_or(Some(Operator::And), |v| decode_operator(rep, v))?;
    Some(Limit { last: last.and_then(|n| u64::try_from(n).ok()), within, operator })
}

fn decode_duration(rep: &mut Report<'_>, node: &Node) -> Option<Duration> {
    let text = decode::string(rep, node, "`in`")?;
    match parse_go_duration(&text.value) {
        Ok(d) => Some(d),
        Err(why) => {
            rep.error(ErrorKind::InvalidValue, node.pos, format!("invalid duration for `in`: {why}"))
                .label("not a Go duration")
                .hint("`in` takes a Go duration: a number and a unit (`h`, `m`, `s`), e.g. `168h` for a week");
            None
        }
    }
}

fn decode_operator(rep: &mut Report<'_>, node: &Node) -> Option<Operator> {
    let text = decode::string(rep, node, "`operator`")?;
    match text.value.as_str() {
        "And" => Some(Operator::And),
        "Or" => Some(Operator::Or),
        other => {
            let hint = match decode::suggest(other, &["And", "Or"]) {
                Some(s) => format!("did you mean `{s}`? (werf spells it exactly so)"),
                None => "use `And` (keep what satisfies both) or `Or` (either)".to_string(),
            };
            rep.error(ErrorKind::InvalidValue, node.pos, format!("unknown operator `{other}`: expected `And` or `Or`"))
                .label("not `And` or `Or`")
                .hint(hint);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_werf() {
        let exact = RefPattern::parse("main").unwrap();
        assert!(exact.matches("main") && !exact.matches("main2") && !exact.matches("xmain"));
        let dotted = RefPattern::parse("v1.0").unwrap();
        assert!(dotted.matches("v1.0") && !dotted.matches("v1x0"));
        let re = RefPattern::parse("/^feature-.*$/").unwrap();
        assert!(re.matches("feature-x") && !re.matches("main"));
        let unanchored = RefPattern::parse("/rel.*/").unwrap();
        assert!(unanchored.matches("release") && !unanchored.matches("prerelease"));
        assert!(RefPattern::parse("/(/").is_err());
        assert!(RefPattern::parse("/").unwrap().matches("/"));
    }

    #[test]
    fn defaults_are_werfs() {
        let c = CleanupConfig::default();
        assert!(c.default_keep_policies);
        assert_eq!(c.keep_policies.len(), 3);
        assert_eq!(c.keep_images_built_within_last_n_hours, 2);
        let main = &c.keep_policies[2];
        assert!(main.references.pattern.matches("production") && !main.references.pattern.matches("dev"));
        assert_eq!(main.images_per_reference.and_then(|l| l.last), Some(2));
    }
}
