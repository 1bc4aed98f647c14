//! Encodings, hashes and versions (sprig), and werf's own functions: `include`, `tpl`,
//! `env`, `required`, `toYaml`, `fromYaml` and the `*_debug` helpers.
//!
//! `toJson` writes what Go's `encoding/json` writes (sorted keys, `<`, `>` and `&`
//! escaped; `toRawJson` leaves them). `fromJson` reads numbers as float64, as Go does;
//! `fromYaml` reads whole numbers as ints and must find a mapping (werf's signature).

use super::exec::{Call, Fail};
use super::funcs::{Func, string, want};
use super::semver;
use super::sprig_str::strval;
use super::value::Value;
use base64::Engine as _;
use sha2::Digest as _;

pub(crate) const FUNCS: &[(&str, Func)] = &[
    ("toJson", |_, a| json("toJson", &a, false, true)),
    ("toPrettyJson", |_, a| json("toPrettyJson", &a, true, true)),
    ("toRawJson", |_, a| json("toRawJson", &a, false, false)),
    ("fromJson", |_, a| {
        want("fromJson", &a, 1, 1)?;
        let v: serde_json::Value = serde_json::from_str(&string(&a[0])?).map_err(|e| Fail::Msg(e.to_string()))?;
        Ok(Value::from_json(&v, false))
    }),
    ("toYaml", |_, a| {
        want("toYaml", &a, 1, 1)?;
        let text = serde_saphyr::to_string(&a[0].to_json()).unwrap_or_default();
        Ok(Value::Str(text.trim_end_matches('\n').to_string()))
    }),
    ("fromYaml", |_, a| {
        want("fromYaml", &a, 1, 1)?;
        let text = string(&a[0])?;
        let v: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
            Fail::Msg(format!("cannot read YAML: {}", e.to_string().lines().next().unwrap_or_default()))
        })?;
        match v {
            serde_json::Value::Object(_) => Ok(Value::from_json(&v, true)),
            serde_json::Value::Null => Ok(Value::map(Default::default())),
            other => Err(Fail::Msg(format!("cannot unmarshal {} into map[string]interface {{}}", yaml_kind(&other)))),
        }
    }),
    ("b64enc", |_, a| hash("b64enc", &a, |b| base64::engine::general_purpose::STANDARD.encode(b))),
    ("b64dec", |_, a| {
        want("b64dec", &a, 1, 1)?;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(strval(&a[0])).map_err(|e| Fail::Msg(e.to_string()))?;
        Ok(Value::Str(String::from_utf8_lossy(&bytes).into_owned()))
    }),
    ("sha256sum", |_, a| hash("sha256sum", &a, |b| hex::encode(sha2::Sha256::digest(b)))),
    ("sha512sum", |_, a| hash("sha512sum", &a, |b| hex::encode(sha2::Sha512::digest(b)))),
    ("sha1sum", |_, a| hash("sha1sum", &a, |b| hex::encode(sha1::Sha1::digest(b)))),
    ("adler32sum", |_, a| hash("adler32sum", &a, |b| adler32(b).to_string())),
    ("semver", |_, a| {
        want("semver", &a, 1, 1)?;
        let v = semver::parse_version(&string(&a[0])?)?;
        let fields = [
            ("Major", Value::Int(v.major as i64)),
            ("Minor", Value::Int(v.minor as i64)),
            ("Patch", Value::Int(v.patch as i64)),
            ("Prerelease", Value::str(v.pre.as_str())),
            ("Metadata", Value::str(v.build.as_str())),
            ("Original", a[0].clone()),
        ];
        Ok(Value::map(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }),
    ("semverCompare", |_, a| {
        want("semverCompare", &a, 2, 2)?;
        Ok(Value::Bool(semver::matches(&string(&a[0])?, &string(&a[1])?)?))
    }),
    ("fail", |_, a| {
        want("fail", &a, 1, 1)?;
        Err(Fail::Msg(string(&a[0])?))
    }),
    ("required", |_, a| {
        want("required", &a, 2, 2)?;
        match &a[1] {
            Value::Missing | Value::Nil => Err(Fail::Msg(string(&a[0])?)),
            Value::Str(s) if s.is_empty() => Err(Fail::Msg(string(&a[0])?)),
            v => Ok(v.clone()),
        }
    }),
    ("env", env),
    ("include", include),
    ("include_debug", include),
    ("tpl", tpl),
    ("tpl_debug", tpl),
    ("printf_debug", |_, _| Ok(Value::str(""))),
    ("dump_debug", |_, _| Ok(Value::str(""))),
];

fn json(name: &str, a: &[Value], pretty: bool, html_safe: bool) -> Result<Value, Fail> {
    want(name, a, 1, 1)?;
    let v = a[0].to_json();
    let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }
        .map_err(|e| Fail::Msg(e.to_string()))?;
    let text = if html_safe {
        text.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    } else {
        text
    };
    Ok(Value::Str(text))
}

fn yaml_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "!!seq",
        serde_json::Value::String(_) => "!!str",
        serde_json::Value::Number(_) => "!!int",
        serde_json::Value::Bool(_) => "!!bool",
        _ => "!!null",
    }
}

/// Functions of one value taken as text (`sha256sum`, `b64enc`, …).
fn hash(name: &str, a: &[Value], f: impl Fn(&[u8]) -> String) -> Result<Value, Fail> {
    want(name, a, 1, 1)?;
    let text = match &a[0] {
        Value::Str(s) => s.clone(),
        other => strval(other),
    };
    Ok(Value::Str(f(text.as_bytes())))
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// werf's `env NAME [DEFAULT]`: the variable (allowed by `werf-giterminism.yaml`, when the
/// project has one); the default when it is unset or empty; an error when it is unset and
/// there is no default.
fn env(c: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    if a.len() > 2 {
        return Err("more than 1 optional argument prohibited".into());
    }
    want("env", &a, 1, 2)?;
    let name = strval(&a[0]);
    let fallback = a.get(1).map(string).transpose()?;
    let value = c.ex.host.env(&name).map_err(Fail::Msg)?;
    match (value, fallback) {
        (None, Some(f)) => Ok(Value::Str(f)),
        (None, None) => {
            Err(Fail::Msg(format!("the environment variable {name:?} must be set or default must be provided")))
        }
        (Some(v), Some(f)) if v.is_empty() => Ok(Value::Str(f)),
        (Some(v), _) => Ok(Value::Str(v)),
    }
}

fn include(c: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("include", &a, 2, 2)?;
    let name = string(&a[0])?;
    c.ex.include(c.file, c.pos, &name, a[1].clone()).map(Value::Str)
}

fn tpl(c: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("tpl", &a, 2, 2)?;
    let text = string(&a[0])?;
    c.ex.tpl(c.file, c.pos, &text, a[1].clone()).map(Value::Str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_value() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E60398);
    }
}
