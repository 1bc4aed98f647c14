//! sprig's `semver` and `semverCompare`, with Masterminds/semver v3 constraint syntax:
//! `||` between alternatives, `,` or spaces between comparators that must all hold,
//! operators `= != > < >= <= ~ ~> ^`, `x`/`X`/`*` wildcards and partial versions
//! (`1.2` is `1.2.x` for `=`, `~`, `^`), and `A - B` ranges. A pre-release version only
//! satisfies a comparator whose own version has a pre-release, as in Masterminds.

use semver::{Prerelease, Version};

/// A version as Masterminds reads it: an optional `v`, one to three parts.
pub(crate) fn parse_version(text: &str) -> Result<Version, String> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("invalid semantic version {text:?}"));
    }
    let mut full = parts.join(".");
    for _ in parts.len()..3 {
        full.push_str(".0");
    }
    Version::parse(&format!("{full}{rest}")).map_err(|_| format!("invalid semantic version {text:?}"))
}

/// Whether `version` satisfies `constraint`.
pub(crate) fn matches(constraint: &str, version: &str) -> Result<bool, String> {
    let v = parse_version(version)?;
    let mut any = false;
    for alternative in constraint.split("||") {
        let comparators = comparators(alternative).map_err(|e| format!("improper constraint: {constraint} ({e})"))?;
        if comparators.is_empty() {
            return Err(format!("improper constraint: {constraint}"));
        }
        if comparators.iter().all(|c| c.holds(&v)) {
            any = true;
        }
    }
    Ok(any)
}

#[derive(Debug)]
struct Comparator {
    op: &'static str,
    version: Version,
    /// How many parts were given (a wildcard ends the count).
    parts: usize,
}

fn comparators(text: &str) -> Result<Vec<Comparator>, String> {
    let normalized = text.replace(',', " ");
    let words: Vec<&str> = normalized.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        // `A - B`.
        if words.get(i + 1) == Some(&"-") && i + 2 < words.len() {
            out.push(comparator(&format!(">={}", words[i]))?);
            let upper = comparator(words[i + 2])?;
            out.push(if upper.parts < 3 {
                Comparator { op: "<", version: bump(&upper.version, upper.parts), parts: 3 }
            } else {
                Comparator { op: "<=", ..upper }
            });
            i += 3;
            continue;
        }
        // An operator written apart from its version: `>= 1.2`.
        let word = if is_operator(words[i]) && i + 1 < words.len() {
            i += 1;
            format!("{}{}", words[i - 1], words[i])
        } else {
            words[i].to_string()
        };
        out.push(comparator(&word)?);
        i += 1;
    }
    Ok(out)
}

fn is_operator(w: &str) -> bool {
    matches!(w, "=" | "!=" | ">" | "<" | ">=" | "=>" | "<=" | "=<" | "~" | "~>" | "^")
}

fn comparator(word: &str) -> Result<Comparator, String> {
    let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
    let (op, rest) = ops.iter().find_map(|op| word.strip_prefix(op).map(|r| (*op, r))).unwrap_or(("=", word));
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        other => other,
    };
    let rest = rest.trim().strip_prefix('v').unwrap_or(rest.trim());
    let (core, tail) = match rest.find(['-', '+']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut numbers = Vec::new();
    for part in core.split('.') {
        if matches!(part, "x" | "X" | "*") {
            break;
        }
        numbers.push(part);
    }
    let parts = numbers.len();
    let base = if parts == 0 { "0".to_string() } else { numbers.join(".") };
    let version = parse_version(&format!("{base}{}", if parts == 3 { tail } else { "" }))
        .map_err(|_| format!("{word:?} is not a version comparison"))?;
    Ok(Comparator { op, version, parts })
}

/// The first version past `v` at the given precision (`1.2` → `1.3.0`, `1` → `2.0.0`).
fn bump(v: &Version, parts: usize) -> Version {
    match parts {
        0 => Version::new(u64::MAX, 0, 0),
        1 => Version::new(v.major + 1, 0, 0),
        _ => Version::new(v.major, v.minor + 1, 0),
    }
}

impl Comparator {
    fn holds(&self, v: &Version) -> bool {
        if !v.pre.is_empty() && self.version.pre.is_empty() {
            return false;
        }
        let lo = &self.version;
        let release = |v: &Version| Version { pre: Prerelease::EMPTY, build: Default::default(), ..v.clone() };
        let v_cmp = if self.version.pre.is_empty() { release(v) } else { v.clone() };
        match self.op {
            "=" if self.parts < 3 => v_cmp >= *lo && v_cmp < bump(lo, self.parts),
            "=" => v.cmp_precedence(lo).is_eq(),
            "!=" if self.parts < 3 => !(v_cmp >= *lo && v_cmp < bump(lo, self.parts)),
            "!=" => !v.cmp_precedence(lo).is_eq(),
            ">" if self.parts < 3 => v_cmp >= bump(lo, self.parts),
            ">" => v.cmp_precedence(lo).is_gt(),
            ">=" => v.cmp_precedence(lo).is_ge(),
            "<" => v.cmp_precedence(lo).is_lt(),
            "<=" if self.parts < 3 => v_cmp < bump(lo, self.parts),
            "<=" => v.cmp_precedence(lo).is_le(),
            "~" => v.cmp_precedence(lo).is_ge() && v_cmp < bump(lo, if self.parts <= 1 { 1 } else { 2 }),
            "^" => {
                let upper = if lo.major > 0 || self.parts <= 1 {
                    Version::new(lo.major + 1, 0, 0)
                } else if lo.minor > 0 || self.parts == 2 {
                    Version::new(0, lo.minor + 1, 0)
                } else {
                    Version::new(0, 0, lo.patch + 1)
                };
                v.cmp_precedence(lo).is_ge() && v_cmp < upper
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_like_masterminds() {
        let yes = [
            (">= 1.2.3", "1.3.0"),
            ("^1.2.0", "1.9.9"),
            ("~1.2.3", "1.2.9"),
            ("1.2.x", "1.2.7"),
            (">1.0 <2", "1.5.0"),
            ("<1.0.0 || >=2.0.0", "2.1.0"),
            ("1.1 - 1.3", "1.3.5"),
            ("^0.2.3", "0.2.9"),
            (">= 1.0.0-0", "1.0.0-rc.1"),
            ("*", "3.0.0"),
            ("=1.2.3", "v1.2.3"),
        ];
        for (c, v) in yes {
            assert!(matches(c, v).unwrap(), "{c} should accept {v}");
        }
        let no = [
            (">= 1.2.3", "1.2.2"),
            ("^1.2.0", "2.0.0"),
            ("~1.2.3", "1.3.0"),
            ("^0.2.3", "0.3.0"),
            (">=1.0.0", "1.5.0-rc.1"),
            ("!=1.2.3", "1.2.3"),
        ];
        for (c, v) in no {
            assert!(!matches(c, v).unwrap(), "{c} should refuse {v}");
        }
        assert!(matches("", "1.0.0").is_err());
        assert!(matches(">= 1.0", "banana").is_err());
    }
}
