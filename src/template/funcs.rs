//! The function table: Go's built-ins (here), sprig's common set (`sprig_*`) and werf's
//! additions (`include`, `tpl`, `env`, `required`, `toYaml`, `fromYaml`).
//!
//! Arguments arrive evaluated (`and`/`or` are evaluated lazily by the executor). Typed
//! parameters are checked as Go checks them: a string parameter refuses a number ("wrong
//! type for value; expected string; got int") and a missing value ("invalid value;
//! expected string"). sprig's `mustX` names are the same functions as `x` (they fail
//! with an error either way here).

use super::exec::{Call, Fail};
use super::value::Value;
use super::{printf, sprig_coll, sprig_enc, sprig_str};

pub(crate) type Func = fn(&mut Call<'_, '_>, Vec<Value>) -> Result<Value, Fail>;

const GO: &[(&str, Func)] = &[
    ("and", unused),
    ("or", unused),
    ("not", not),
    ("len", len),
    ("index", index),
    ("slice", slice),
    ("print", |_, a| Ok(Value::Str(printf::sprint(&a)))),
    ("println", |_, a| Ok(Value::Str(printf::sprintln(&a)))),
    ("printf", printf_fn),
    ("eq", |_, a| compare_eq(&a).map(Value::Bool)),
    ("ne", |_, a| {
        want("ne", &a, 2, 2)?;
        compare_eq(&a).map(|b| Value::Bool(!b))
    }),
    ("lt", |_, a| order("lt", &a).map(|o| Value::Bool(o.is_lt()))),
    ("le", |_, a| order("le", &a).map(|o| Value::Bool(o.is_le()))),
    ("gt", |_, a| order("gt", &a).map(|o| Value::Bool(o.is_gt()))),
    ("ge", |_, a| order("ge", &a).map(|o| Value::Bool(o.is_ge()))),
    ("html", |_, a| Ok(Value::Str(sprig_str::html_escape(&printf::sprint(&a))))),
    ("js", |_, a| Ok(Value::Str(sprig_str::js_escape(&printf::sprint(&a))))),
    ("urlquery", |_, a| Ok(Value::Str(sprig_str::query_escape(&printf::sprint(&a))))),
    ("call", |_, _| Err("call of non-function: templates here have no function values".into())),
];

/// Functions of sprig (and Helm) that wharf leaves out, with the reason.
const LEFT_OUT: &[(&str, &str)] = &[
    ("expandenv", "werf removes sprig's `expandenv` from its templates; use `env \"NAME\"`"),
    ("now", "it makes the configuration (and the stage digests) change on every run"),
    ("date", "it makes the configuration change with the clock; use `.Commit.Date.Unix` or `.Commit.Date.Human`"),
    ("randAlphaNum", "random values make every build unique"),
    ("randAlpha", "random values make every build unique"),
    ("randNumeric", "random values make every build unique"),
    ("randAscii", "random values make every build unique"),
    ("randInt", "random values make every build unique"),
    ("uuidv4", "random values make every build unique"),
    ("shuffle", "random values make every build unique"),
    ("getHostByName", "it reads the network while rendering"),
    ("genPrivateKey", "key generation does not belong in a build configuration"),
    ("genCA", "certificate generation does not belong in a build configuration"),
];

/// Whether `name` is a function templates can call.
pub(crate) fn exists(name: &str) -> bool {
    lookup(name).is_some()
}

pub(crate) fn lookup(name: &str) -> Option<Func> {
    let find = |n: &str| {
        GO.iter()
            .chain(sprig_str::FUNCS)
            .chain(sprig_coll::FUNCS)
            .chain(sprig_enc::FUNCS)
            .find(|(k, _)| *k == n)
            .map(|(_, f)| *f)
    };
    find(name).or_else(|| {
        let rest = name.strip_prefix("must")?;
        let mut chars = rest.chars();
        let first = chars.next()?.to_ascii_lowercase();
        find(&format!("{first}{}", chars.as_str()))
    })
}

/// Why an unknown function is unknown, for the parse error.
pub(crate) fn unknown_hint(name: &str) -> String {
    if let Some((_, why)) = LEFT_OUT.iter().find(|(n, _)| *n == name) {
        return format!("sprig's `{name}` is not available in wharf: {why}");
    }
    let names: Vec<&str> =
        GO.iter().chain(sprig_str::FUNCS).chain(sprig_coll::FUNCS).chain(sprig_enc::FUNCS).map(|(n, _)| *n).collect();
    match crate::config::suggest_word(name, &names) {
        Some(s) => format!("did you mean `{s}`? (see README, \"werf compatibility\", for the functions wharf has)"),
        None => "see README, \"werf compatibility\", for the template functions wharf has".into(),
    }
}

fn unused(_: &mut Call<'_, '_>, _: Vec<Value>) -> Result<Value, Fail> {
    Err("evaluated by the executor".into())
}

/// Go's arity message.
pub(crate) fn want(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), Fail> {
    if args.len() < min || args.len() > max {
        let wanted = if min == max {
            min.to_string()
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(Fail::Msg(format!("wrong number of args for {name}: want {wanted} got {}", args.len())));
    }
    Ok(())
}

/// A `string` parameter.
pub(crate) fn string(v: &Value) -> Result<String, Fail> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Missing | Value::Nil => Err("invalid value; expected string".into()),
        other => Err(Fail::Msg(format!("wrong type for value; expected string; got {}", other.type_name()))),
    }
}

/// An `int` parameter (a whole float constant is accepted, as Go converts constants).
pub(crate) fn int(v: &Value) -> Result<i64, Fail> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
        Value::Missing | Value::Nil => Err("invalid value; expected int".into()),
        other => Err(Fail::Msg(format!("wrong type for value; expected int; got {}", other.type_name()))),
    }
}

fn not(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("not", &a, 1, 1)?;
    Ok(Value::Bool(!a[0].truthy()))
}

fn len(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("len", &a, 1, 1)?;
    let n = match &a[0] {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.borrow().len(),
        Value::Missing | Value::Nil => return Err("len of nil pointer".into()),
        other => return Err(Fail::Msg(format!("len of type {}", other.type_name()))),
    };
    Ok(Value::Int(n as i64))
}

fn index(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("index", &a, 1, usize::MAX)?;
    let mut item = a[0].clone();
    for key in &a[1..] {
        item = match (&item, key) {
            (Value::Map(m), Value::Str(k)) => m.borrow().get(k).cloned().unwrap_or(Value::Missing),
            (Value::Map(_), other) => {
                return Err(Fail::Msg(format!("value has type {}; should be string", other.type_name())));
            }
            (Value::List(l), k) => {
                let i =
                    int(k).map_err(|_| Fail::Msg(format!("cannot index slice/array with type {}", k.type_name())))?;
                l.get(usize::try_from(i).unwrap_or(usize::MAX))
                    .cloned()
                    .ok_or_else(|| Fail::Msg(format!("index out of range: {i}")))?
            }
            (Value::Str(s), k) => {
                let i = int(k)?;
                let b = s
                    .as_bytes()
                    .get(usize::try_from(i).unwrap_or(usize::MAX))
                    .ok_or_else(|| Fail::Msg(format!("index out of range: {i}")))?;
                Value::Int(i64::from(*b))
            }
            (Value::Missing | Value::Nil, _) => return Err("index of untyped nil".into()),
            (other, _) => return Err(Fail::Msg(format!("can't index item of type {}", other.type_name()))),
        };
    }
    Ok(item)
}

fn slice(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("slice", &a, 1, 4)?;
    let len = match &a[0] {
        Value::List(l) => l.len(),
        Value::Str(s) => s.len(),
        Value::Missing | Value::Nil => return Err("slice of untyped nil".into()),
        other => return Err(Fail::Msg(format!("can't slice item of type {}", other.type_name()))),
    };
    let bound = |i: usize, default: usize| -> Result<usize, Fail> {
        match a.get(i) {
            None => Ok(default),
            Some(v) => usize::try_from(int(v)?)
                .ok()
                .filter(|&n| n <= len)
                .ok_or_else(|| Fail::Msg(format!("index out of range: {}", int(v).unwrap_or(-1)))),
        }
    };
    let (start, end) = (bound(1, 0)?, bound(2, len)?);
    if start > end {
        return Err(Fail::Msg(format!("invalid slice index: {start} > {end}")));
    }
    match &a[0] {
        Value::List(l) => Ok(Value::list(l[start..end].to_vec())),
        Value::Str(s) => s.get(start..end).map(Value::str).ok_or_else(|| "slice in the middle of a character".into()),
        _ => unreachable!("checked above"),
    }
}

fn printf_fn(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("printf", &a, 1, usize::MAX)?;
    let format = string(&a[0])?;
    Ok(Value::Str(printf::sprintf(&format, &a[1..])))
}

#[derive(PartialEq)]
enum Basic {
    Bool,
    Int,
    Float,
    Str,
    Nil,
    Other,
}

fn basic(v: &Value) -> Basic {
    match v {
        Value::Bool(_) => Basic::Bool,
        Value::Int(_) => Basic::Int,
        Value::Float(_) => Basic::Float,
        Value::Str(_) => Basic::Str,
        Value::Missing | Value::Nil => Basic::Nil,
        _ => Basic::Other,
    }
}

/// Go's `eq arg1 arg2…`: true when `arg1` equals any of the others.
fn compare_eq(a: &[Value]) -> Result<bool, Fail> {
    want("eq", a, 2, usize::MAX)?;
    let first = &a[0];
    for other in &a[1..] {
        let (k1, k2) = (basic(first), basic(other));
        let equal = if k1 != k2 {
            if k1 != Basic::Nil && k2 != Basic::Nil {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match k1 {
                Basic::Other => {
                    return Err(Fail::Msg(format!("non-comparable type {}: {}", first.to_text(), first.type_name())));
                }
                _ => first.deep_eq(other),
            }
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's ordering of two basic values of the same kind.
fn order(name: &str, a: &[Value]) -> Result<std::cmp::Ordering, Fail> {
    want(name, a, 2, 2)?;
    match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).ok_or_else(|| "NaN is not ordered".into()),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (x, y)
            if matches!(basic(x), Basic::Int | Basic::Float | Basic::Str)
                && matches!(basic(y), Basic::Int | Basic::Float | Basic::Str) =>
        {
            Err("incompatible types for comparison".into())
        }
        _ => Err("invalid type for comparison".into()),
    }
}
