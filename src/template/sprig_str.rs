//! sprig's string functions (and Go's `html`, `js`, `urlquery` escapes), with sprig's
//! argument order: the string operated on comes last, so it can be piped in
//! (`{{ .Name | trimSuffix "-dev" | upper }}`).

use super::exec::{Call, Fail};
use super::funcs::{Func, int, string, want};
use super::printf::quote;
use super::value::Value;

pub(crate) const FUNCS: &[(&str, Func)] = &[
    ("quote", |_, a| {
        Ok(Value::Str(a.iter().filter(|v| !v.is_nil()).map(|v| quote(&strval(v))).collect::<Vec<_>>().join(" ")))
    }),
    ("squote", |_, a| {
        Ok(Value::Str(
            a.iter().filter(|v| !v.is_nil()).map(|v| format!("'{}'", strval(v))).collect::<Vec<_>>().join(" "),
        ))
    }),
    ("cat", |_, a| Ok(Value::Str(a.iter().filter(|v| !v.is_nil()).map(strval).collect::<Vec<_>>().join(" ")))),
    ("trim", |_, a| one("trim", &a, |s| s.trim().to_string())),
    ("trimAll", |_, a| two("trimAll", &a, |cut, s| s.trim_matches(|c| cut.contains(c)).to_string())),
    ("trimPrefix", |_, a| two("trimPrefix", &a, |p, s| s.strip_prefix(p).unwrap_or(s).to_string())),
    ("trimSuffix", |_, a| two("trimSuffix", &a, |p, s| s.strip_suffix(p).unwrap_or(s).to_string())),
    ("upper", |_, a| one("upper", &a, str::to_uppercase)),
    ("lower", |_, a| one("lower", &a, str::to_lowercase)),
    ("title", |_, a| one("title", &a, title)),
    ("untitle", |_, a| one("untitle", &a, untitle)),
    ("nospace", |_, a| one("nospace", &a, |s| s.chars().filter(|c| !c.is_whitespace()).collect())),
    ("snakecase", |_, a| one("snakecase", &a, |s| words(s).join("_"))),
    ("kebabcase", |_, a| one("kebabcase", &a, |s| words(s).join("-"))),
    ("camelcase", |_, a| one("camelcase", &a, camelcase)),
    ("contains", |_, a| test("contains", &a, |sub, s| s.contains(sub))),
    ("hasPrefix", |_, a| test("hasPrefix", &a, |p, s| s.starts_with(p))),
    ("hasSuffix", |_, a| test("hasSuffix", &a, |p, s| s.ends_with(p))),
    ("replace", replace),
    ("repeat", repeat),
    ("substr", substr),
    ("trunc", trunc),
    ("abbrev", abbrev),
    ("indent", |c, a| indent(c, a, false)),
    ("nindent", |c, a| indent(c, a, true)),
    ("split", |_, a| split("split", a, None)),
    ("splitn", splitn),
    ("splitList", split_list),
    ("join", join),
    ("toString", |_, a| {
        want("toString", &a, 1, 1)?;
        Ok(Value::Str(strval(&a[0])))
    }),
    ("regexMatch", |_, a| regex2("regexMatch", &a, |re, s| Value::Bool(re.is_match(s)))),
    ("regexFind", |_, a| regex2("regexFind", &a, |re, s| Value::str(re.find(s).map_or("", |m| m.as_str())))),
    ("regexFindAll", regex_find_all),
    ("regexReplaceAll", |_, a| regex_replace(a, false)),
    ("regexReplaceAllLiteral", |_, a| regex_replace(a, true)),
    ("regexSplit", regex_split),
    ("base", |_, a| one("base", &a, |s| path_base(s).to_string())),
    ("dir", |_, a| one("dir", &a, path_dir)),
    ("ext", |_, a| {
        one("ext", &a, |s| path_base(s).rfind('.').map_or(String::new(), |i| path_base(s)[i..].to_string()))
    }),
];

/// sprig's `strval`: strings as they are, anything else as Go's `%v` prints it.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_text(),
    }
}

fn one(name: &str, a: &[Value], f: impl Fn(&str) -> String) -> Result<Value, Fail> {
    want(name, a, 1, 1)?;
    Ok(Value::Str(f(&string(&a[0])?)))
}

fn two(name: &str, a: &[Value], f: impl Fn(&str, &str) -> String) -> Result<Value, Fail> {
    want(name, a, 2, 2)?;
    Ok(Value::Str(f(&string(&a[0])?, &string(&a[1])?)))
}

fn test(name: &str, a: &[Value], f: impl Fn(&str, &str) -> bool) -> Result<Value, Fail> {
    want(name, a, 2, 2)?;
    Ok(Value::Bool(f(&string(&a[0])?, &string(&a[1])?)))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace() || (c.is_ascii_punctuation() && c != '\'');
    }
    out
}

fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    out
}

/// Lowercase words split at case changes, digits boundaries and separators.
fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let boundary = c.is_uppercase()
            && (prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next.is_lowercase()));
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn camelcase(s: &str) -> String {
    s.split(['_', ' ', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

fn replace(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("replace", &a, 3, 3)?;
    let (old, new, src) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
    if old.is_empty() {
        // Go inserts `new` around every character.
        let mut out = new.clone();
        for c in src.chars() {
            out.push(c);
            out.push_str(&new);
        }
        return Ok(Value::Str(out));
    }
    Ok(Value::Str(src.replace(&old, &new)))
}

/// Output limit for functions that multiply text (`repeat`, `indent`).
const MAX_TEXT: usize = 16 << 20;

fn repeat(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("repeat", &a, 2, 2)?;
    let (n, s) = (int(&a[0])?, string(&a[1])?);
    let n = usize::try_from(n).map_err(|_| Fail::Msg("strings: negative Repeat count".into()))?;
    if n.saturating_mul(s.len()) > MAX_TEXT {
        return Err("repeat: the result would be larger than 16 MiB".into());
    }
    Ok(Value::Str(s.repeat(n)))
}

/// A byte range of `s`, moved back to character boundaries.
fn byte_slice(s: &str, start: usize, end: usize) -> String {
    let fix = |mut i: usize| {
        i = i.min(s.len());
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (start, end) = (fix(start), fix(end));
    s.get(start..end.max(start)).unwrap_or_default().to_string()
}

fn substr(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("substr", &a, 3, 3)?;
    let (start, end, s) = (int(&a[0])?, int(&a[1])?, string(&a[2])?);
    let len = s.len() as i64;
    let out = if start < 0 {
        byte_slice(&s, 0, end.max(0) as usize)
    } else if end < 0 || end > len {
        byte_slice(&s, start as usize, s.len())
    } else {
        byte_slice(&s, start as usize, end as usize)
    };
    Ok(Value::Str(out))
}

fn trunc(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("trunc", &a, 2, 2)?;
    let (c, s) = (int(&a[0])?, string(&a[1])?);
    let len = s.len() as i64;
    let out = if c >= 0 && len > c {
        byte_slice(&s, 0, c as usize)
    } else if c < 0 && len + c > 0 {
        byte_slice(&s, (len + c) as usize, s.len())
    } else {
        s
    };
    Ok(Value::Str(out))
}

fn abbrev(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("abbrev", &a, 2, 2)?;
    let (w, s) = (int(&a[0])?, string(&a[1])?);
    if w < 4 || s.len() as i64 <= w {
        return Ok(Value::Str(s));
    }
    Ok(Value::Str(format!("{}...", byte_slice(&s, 0, (w - 3) as usize))))
}

fn indent(_: &mut Call<'_, '_>, a: Vec<Value>, newline: bool) -> Result<Value, Fail> {
    want(if newline { "nindent" } else { "indent" }, &a, 2, 2)?;
    let (n, s) = (int(&a[0])?, string(&a[1])?);
    let pad = " ".repeat(usize::try_from(n).unwrap_or(0).min(1024));
    let lines = s.matches('\n').count() + 1;
    if lines.saturating_mul(pad.len()).saturating_add(s.len()) > MAX_TEXT {
        return Err("indent: the result would be larger than 16 MiB".into());
    }
    let body = format!("{pad}{}", s.replace('\n', &format!("\n{pad}")));
    Ok(Value::Str(if newline { format!("\n{body}") } else { body }))
}

/// sprig's `split`: a dict `_0`, `_1`, … of the parts.
fn split(name: &str, a: Vec<Value>, n: Option<usize>) -> Result<Value, Fail> {
    want(name, &a, 2, 2)?;
    let (sep, s) = (string(&a[0])?, string(&a[1])?);
    let parts = go_split(&s, &sep, n);
    Ok(Value::map(parts.into_iter().enumerate().map(|(i, p)| (format!("_{i}"), Value::Str(p))).collect()))
}

fn splitn(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("splitn", &a, 3, 3)?;
    let n = int(&a[1])?;
    let rest = vec![a[0].clone(), a[2].clone()];
    if n == 0 {
        return Ok(Value::map(Default::default()));
    }
    split("splitn", rest, usize::try_from(n).ok())
}

/// Go's `strings.Split` / `SplitN` (an empty separator splits into characters).
fn go_split(s: &str, sep: &str, n: Option<usize>) -> Vec<String> {
    if sep.is_empty() {
        let mut parts: Vec<String> = s.chars().map(String::from).collect();
        if let Some(n) = n.filter(|&n| n > 0 && parts.len() > n) {
            let tail: String = parts[n - 1..].concat();
            parts.truncate(n - 1);
            parts.push(tail);
        }
        return parts;
    }
    match n {
        Some(n) => s.splitn(n, sep).map(String::from).collect(),
        None => s.split(sep).map(String::from).collect(),
    }
}

fn split_list(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("splitList", &a, 2, 2)?;
    let (sep, s) = (string(&a[0])?, string(&a[1])?);
    Ok(Value::list(go_split(&s, &sep, None).into_iter().map(Value::Str).collect()))
}

/// sprig's `strslice`: a list's non-nil items as text; a string alone; nil as nothing.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => items.iter().filter(|i| !i.is_nil()).map(strval).collect(),
        Value::Missing | Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn join(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("join", &a, 2, 2)?;
    let sep = string(&a[0])?;
    Ok(Value::Str(strslice(&a[1]).join(&sep)))
}

fn compile(pattern: &str) -> Result<regex::Regex, Fail> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| Fail::Msg(format!("invalid regular expression {pattern:?}: {e}")))
}

fn regex2(name: &str, a: &[Value], f: impl Fn(&regex::Regex, &str) -> Value) -> Result<Value, Fail> {
    want(name, a, 2, 2)?;
    let re = compile(&string(&a[0])?)?;
    Ok(f(&re, &string(&a[1])?))
}

fn regex_find_all(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("regexFindAll", &a, 3, 3)?;
    let (re, s, n) = (compile(&string(&a[0])?)?, string(&a[1])?, int(&a[2])?);
    let found = re.find_iter(&s).map(|m| Value::str(m.as_str()));
    Ok(Value::list(if n < 0 { found.collect() } else { found.take(n as usize).collect() }))
}

fn regex_replace(a: Vec<Value>, literal: bool) -> Result<Value, Fail> {
    want("regexReplaceAll", &a, 3, 3)?;
    let (re, s, repl) = (compile(&string(&a[0])?)?, string(&a[1])?, string(&a[2])?);
    let out = if literal {
        re.replace_all(&s, regex::NoExpand(&repl)).into_owned()
    } else {
        re.replace_all(&s, repl.as_str()).into_owned()
    };
    Ok(Value::Str(out))
}

fn regex_split(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("regexSplit", &a, 3, 3)?;
    let (re, s, n) = (compile(&string(&a[0])?)?, string(&a[1])?, int(&a[2])?);
    let parts: Vec<Value> = if n < 0 {
        re.split(&s).map(Value::str).collect()
    } else {
        re.splitn(&s, n as usize).map(Value::str).collect()
    };
    Ok(Value::list(parts))
}

fn path_base(s: &str) -> &str {
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        return if s.is_empty() { "." } else { "/" };
    }
    t.rsplit('/').next().unwrap_or(t)
}

fn path_dir(s: &str) -> String {
    match s.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => s[..i].trim_end_matches('/').to_string(),
        None => ".".into(),
    }
}

/// Go's `html/template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('\'', "&#39;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\0', "\u{FFFD}")
}

/// Go's `JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(words("FirstName").join("_"), "first_name");
        assert_eq!(words("HTTPServer2go").join("-"), "http-server2go");
        assert_eq!(camelcase("http_server"), "HttpServer");
        assert_eq!(title("hello world-x"), "Hello World-X");
    }

    #[test]
    fn paths() {
        assert_eq!(path_base("a/b.txt"), "b.txt");
        assert_eq!(path_dir("a/b/c"), "a/b");
        assert_eq!(path_dir("c"), ".");
    }
}
