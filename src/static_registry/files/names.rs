//! The grammar of what becomes a path (pure functions), and the order of versions.
//!
//! Every part of a published path is checked against a small alphabet before any file is
//! read or written, so none can be `..`, start with `.` or `_` (temporaries, `_wharf`), hold
//! a `/`, or need escaping in a URL:
//!
//! | part | grammar |
//! | --- | --- |
//! | name | one lowercase repository path component (`[a-z0-9]+([._-]…)*`), not `v2` |
//! | version | `[A-Za-z0-9][A-Za-z0-9._+-]{0,127}` (an OCI tag, or semver with `+build`), not `tags.json` |
//! | os, architecture, variant | `[a-z0-9][a-z0-9_-]{0,63}` (`linux`, `amd64`, `x86_64`, `v7`) |
//! | file | `[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}` |
//!
//! **Version order** (tags.json, `static gc`): versions that are semver (a leading `v` is
//! allowed: `v1.2.3`) are ordered by semver precedence (pre-releases before their release,
//! build metadata ignored); the others by the time they were pushed.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::HashMap;

use super::{FilesError, RELEASE_FILE, TAGS_FILE};
use crate::spec::reference::validate_path_component;

/// Checks a name (`DEST/<name>/…`).
pub fn validate_name(name: &str) -> Result<(), FilesError> {
    let bad = |why: String| {
        FilesError::Usage(format!(
            "name {name:?}: {why}\n  hint: a name is one lowercase path component, e.g. alba or my-tool"
        ))
    };
    if name.contains('/') {
        return Err(bad("a name is one path component (no '/')".into()));
    }
    validate_path_component(name).map_err(bad)?;
    if name == "v2" {
        return Err(bad("v2 is where a static registry lives".into()));
    }
    Ok(())
}

/// Checks a version (`DEST/<name>/<version>/…`).
pub fn validate_version(version: &str) -> Result<(), FilesError> {
    let bad = |why: &str| FilesError::Usage(format!("version {version:?}: {why}"));
    if version.is_empty() || version.len() > 128 {
        return Err(bad("a version has 1 to 128 characters"));
    }
    if !version.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("a version starts with a letter or a digit"));
    }
    if !version.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b)) {
        return Err(bad("a version holds only letters, digits, '.', '_', '+' and '-'"));
    }
    if version == TAGS_FILE {
        return Err(bad("tags.json is the name of the version list"));
    }
    Ok(())
}

/// Checks an os, architecture or variant directory name (`what` says which, for the error).
pub fn validate_platform_part(what: &str, part: &str) -> Result<(), String> {
    let ok = !part.is_empty()
        && part.len() <= 64
        && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!("{part:?} is not a valid {what} (lowercase letters, digits, '_' and '-', e.g. linux, amd64, v7)"))
    }
}

/// Checks a file name.
pub fn validate_file_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a file name that can be published (letters, digits, '.', '_', '+' and '-', not starting with '.', '+' or '-')"
        ))
    }
}

/// `NAME:VERSION`, both checked.
pub fn parse_ref(text: &str) -> Result<(String, String), FilesError> {
    let (name, version) = text
        .split_once(':')
        .ok_or_else(|| FilesError::Usage(format!("{text:?}: expected NAME:VERSION, e.g. alba:1.2.3")))?;
    validate_name(name)?;
    validate_version(version)?;
    Ok((name.to_string(), version.to_string()))
}

/// The semver precedence of a version (`v1.2.3` too); `None` when it is not semver.
pub fn semver_key(version: &str) -> Option<(u64, u64, u64, semver::Prerelease)> {
    let v = semver::Version::parse(version.strip_prefix('v').unwrap_or(version)).ok()?;
    Some((v.major, v.minor, v.patch, v.pre))
}

/// Ascending order: semver versions by precedence, then the others by name.
fn ascending(a: &str, b: &str) -> Ordering {
    match (semver_key(a), semver_key(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Sorts versions for `tags.json` (see [`ascending`]) and drops repeats.
pub fn sort_versions(versions: &mut Vec<String>) {
    versions.sort_by(|a, b| ascending(a, b));
    versions.dedup();
}

/// Whether `rel` (a request's path without its leading `/`, decoded) is one static file
/// distribution publishes: `<name>/tags.json`, `<name>/<version>/release.json` or
/// `<name>/<version>/<os>/<arch>[/<variant>]/<file>`, every part valid.
pub fn is_published_path(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let name = |n: &str| validate_name(n).is_ok();
    let version = |v: &str| validate_version(v).is_ok();
    let platform = |parts: &[&str]| parts.iter().all(|p| validate_platform_part("", p).is_ok());
    let file = |f: &str| validate_file_name(f).is_ok();
    match parts.as_slice() {
        [n, f] => name(n) && *f == TAGS_FILE,
        [n, v, f] => name(n) && version(v) && *f == RELEASE_FILE,
        [n, v, dirs @ .., f] if (2..=3).contains(&dirs.len()) => name(n) && version(v) && platform(dirs) && file(f),
        _ => false,
    }
}

/// What `static gc` does with a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Keep,
    Remove,
}

/// Which versions `static gc --keep N` keeps, with the reason, in the order given: the newest
/// N semver versions by precedence, and the N last pushed of the others. Versions tied with
/// the last one kept stay too (a tie is never broken by name), and a version whose push time
/// is unknown stays and is never ranked. `keep` is at least 1.
pub fn rank(versions: &[(String, Option<DateTime<Utc>>)], keep: usize) -> Vec<(String, Decision, String)> {
    let mut decided: HashMap<&str, (Decision, String)> = HashMap::new();
    let mut semver: Vec<(_, &str)> = versions.iter().filter_map(|(v, _)| Some((semver_key(v)?, v.as_str()))).collect();
    semver.sort_by(|a, b| b.0.cmp(&a.0));
    let cutoff = semver.get(keep.min(semver.len()).saturating_sub(1)).map(|s| s.0.clone());
    for (key, v) in &semver {
        decided.insert(
            v,
            match cutoff.as_ref().is_some_and(|c| key >= c) {
                true => (Decision::Keep, format!("one of the newest {keep} semver version(s)")),
                false => (Decision::Remove, format!("older than the newest {keep} semver version(s)")),
            },
        );
    }
    let mut dated: Vec<(DateTime<Utc>, &str)> = Vec::new();
    for (v, time) in versions.iter().filter(|(v, _)| semver_key(v).is_none()) {
        match time {
            Some(t) => dated.push((*t, v)),
            None => {
                decided.insert(v, (Decision::Keep, "push time unknown: kept, never ranked".into()));
            }
        }
    }
    dated.sort_by_key(|d| std::cmp::Reverse(d.0));
    let cutoff = dated.get(keep.min(dated.len()).saturating_sub(1)).map(|d| d.0);
    for (time, v) in &dated {
        decided.insert(
            v,
            match cutoff.is_some_and(|c| *time >= c) {
                true => (Decision::Keep, format!("one of the {keep} last pushed version(s) that are not semver")),
                false => (Decision::Remove, format!("pushed before the {keep} last version(s) that are not semver")),
            },
        );
    }
    versions.iter().filter_map(|(v, _)| decided.remove(v.as_str()).map(|(d, why)| (v.clone(), d, why))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_that_would_leave_their_place_are_refused() {
        for good in ["alba", "my-tool", "a.b", "a__b", "x1"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Alba", "a/b", "..", ".a", "_wharf", "v2", "a b", "-a"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        for good in ["1.2.3", "v1.2.3", "1.0.0-rc.1+build.5", "latest", "2024_01", "nightly-2"] {
            assert!(validate_version(good).is_ok(), "{good}");
        }
        for bad in ["", "..", ".1", "_wharf", "-1", "1/2", "1 2", "tags.json", "1%2e", &"1".repeat(129)] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
        assert!(validate_platform_part("os", "linux").is_ok() && validate_platform_part("arch", "x86_64").is_ok());
        for bad in ["", "Linux", "..", ".x", "_x", "a.b", "a/b"] {
            assert!(validate_platform_part("os", bad).is_err(), "{bad}");
        }
        for good in ["alba", "alba-1.2.3-linux-amd64.tar.gz", "alba.exe", "SHA256SUMS", "_x", "a+b"] {
            assert!(validate_file_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", ".hidden", ".wharf-tmp-1", "a b", "a/b", "-x", "a%20b", "é"] {
            assert!(validate_file_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_ref("alba:1.2.3").unwrap(), ("alba".into(), "1.2.3".into()));
        let e = parse_ref("alba").unwrap_err().to_string();
        assert!(e.contains("NAME:VERSION"), "{e}");
        let e = parse_ref("Alba:1").unwrap_err().to_string();
        assert!(e.contains("lowercase") && e.contains("hint"), "{e}");
    }

    #[test]
    fn only_published_paths_are_served() {
        for good in [
            "alba/tags.json",
            "alba/1.0/release.json",
            "alba/1.0/linux/amd64/alba",
            "alba/1.0/linux/arm/v7/alba.tar.gz",
        ] {
            assert!(is_published_path(good), "{good}");
        }
        for bad in [
            "alba",
            "alba/",
            "alba/1.0",
            "alba/1.0/linux/amd64",
            "alba/_wharf/lock",
            "alba/1.0/.wharf-tmp-x",
            "alba/1.0/linux/amd64/.wharf-tmp-x",
            "alba/../etc/passwd",
            "alba/1.0/linux/../../x",
            "alba/1.0/linux/amd64/v7/x/alba",
            "v2/x/tags.json",
            "alba/1.0/tags.json",
            "alba//linux/amd64/x",
        ] {
            assert!(!is_published_path(bad), "{bad}");
        }
    }

    fn at(hours_ago: i64) -> Option<DateTime<Utc>> {
        Some(DateTime::from_timestamp(1_800_000_000 - hours_ago * 3600, 0).unwrap())
    }

    fn decisions(versions: &[(&str, Option<DateTime<Utc>>)], keep: usize) -> Vec<(String, Decision)> {
        let owned: Vec<(String, Option<DateTime<Utc>>)> = versions.iter().map(|(v, t)| (v.to_string(), *t)).collect();
        rank(&owned, keep).into_iter().map(|(v, d, _)| (v, d)).collect()
    }

    #[test]
    fn gc_keeps_the_newest_semver_versions_by_precedence_and_the_others_by_time() {
        use Decision::{Keep, Remove};
        // 1.10.0 was pushed first (a backport later went out as 1.9.1): precedence, not time.
        let versions = [
            ("1.2.0", at(50)),
            ("1.9.1", at(1)),
            ("1.10.0", at(40)),
            ("2.0.0-rc.1", at(2)),
            ("nightly", at(3)),
            ("latest", at(0)),
            ("edge", at(30)),
            ("handmade", None),
        ];
        let got = decisions(&versions, 2);
        let want = [
            ("1.2.0", Remove),
            ("1.9.1", Remove),
            ("1.10.0", Keep),
            ("2.0.0-rc.1", Keep),
            ("nightly", Keep),
            ("latest", Keep),
            ("edge", Remove),
            ("handmade", Keep),
        ];
        assert_eq!(got, want.iter().map(|(v, d)| (v.to_string(), *d)).collect::<Vec<_>>());
        // Ties with the last one kept stay: 1.0.0 and v1.0.0+b have the same precedence.
        let tied = decisions(&[("1.0.0", at(5)), ("v1.0.0+b", at(4)), ("0.9.0", at(9))], 1);
        assert_eq!(tied, vec![("1.0.0".into(), Keep), ("v1.0.0+b".into(), Keep), ("0.9.0".into(), Remove)]);
        let same_time = decisions(&[("a", at(1)), ("b", at(1)), ("c", at(2))], 1);
        assert_eq!(same_time, vec![("a".into(), Keep), ("b".into(), Keep), ("c".into(), Remove)]);
        assert!(decisions(&versions, 100).iter().all(|(_, d)| *d == Keep));
    }

    #[test]
    fn versions_sort_by_semver_precedence_then_by_name() {
        let mut v: Vec<String> = ["latest", "1.10.0", "v1.2.0", "1.2.0-rc.1", "1.9.0", "nightly", "1.10.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        sort_versions(&mut v);
        assert_eq!(v, ["1.2.0-rc.1", "v1.2.0", "1.9.0", "1.10.0", "latest", "nightly"]);
        assert_eq!(semver_key("1.0.0+a"), semver_key("1.0.0+b"), "build metadata has no precedence");
        assert!(semver_key("1.0").is_none() && semver_key("latest").is_none());
    }
}
