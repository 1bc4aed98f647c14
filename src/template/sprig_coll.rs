//! sprig's lists, dicts, defaults, type tests and integer math.
//!
//! Dicts are shared: `set` and `unset` change the dict given (and return it), as in
//! sprig, which is how `{{ $_ := set . "Base" "alpine" }}` makes `.Base` visible later.
//! List functions return new lists. `keys` returns the keys sorted (sprig leaves the
//! order random).

use super::exec::{Call, Fail};
use super::funcs::{Func, int, string, want};
use super::sprig_str::strval;
use super::value::{Map, Value};
use std::collections::BTreeMap;

pub(crate) const FUNCS: &[(&str, Func)] = &[
    ("list", |_, a| Ok(Value::list(a))),
    ("tuple", |_, a| Ok(Value::list(a))),
    ("dict", dict),
    ("set", |_, a| {
        want("set", &a, 3, 3)?;
        let m = map(&a[0])?;
        m.borrow_mut().insert(string(&a[1])?, a[2].clone());
        Ok(a[0].clone())
    }),
    ("unset", |_, a| {
        want("unset", &a, 2, 2)?;
        map(&a[0])?.borrow_mut().remove(&string(&a[1])?);
        Ok(a[0].clone())
    }),
    ("get", |_, a| {
        want("get", &a, 2, 2)?;
        Ok(map(&a[0])?.borrow().get(&string(&a[1])?).cloned().unwrap_or_else(|| Value::str("")))
    }),
    ("hasKey", |_, a| {
        want("hasKey", &a, 2, 2)?;
        Ok(Value::Bool(map(&a[0])?.borrow().contains_key(&string(&a[1])?)))
    }),
    ("keys", |_, a| {
        let mut keys: Vec<String> = Vec::new();
        for d in &a {
            keys.extend(map(d)?.borrow().keys().cloned());
        }
        keys.sort();
        Ok(Value::list(keys.into_iter().map(Value::Str).collect()))
    }),
    ("values", |_, a| {
        want("values", &a, 1, 1)?;
        Ok(Value::list(map(&a[0])?.borrow().values().cloned().collect()))
    }),
    ("pluck", |_, a| {
        want("pluck", &a, 1, usize::MAX)?;
        let key = string(&a[0])?;
        let mut out = Vec::new();
        for d in &a[1..] {
            out.extend(map(d)?.borrow().get(&key).cloned());
        }
        Ok(Value::list(out))
    }),
    ("pick", |_, a| pick_omit("pick", a, true)),
    ("omit", |_, a| pick_omit("omit", a, false)),
    ("merge", |_, a| merge("merge", a, false)),
    ("mergeOverwrite", |_, a| merge("mergeOverwrite", a, true)),
    ("deepCopy", |_, a| {
        want("deepCopy", &a, 1, 1)?;
        Ok(a[0].deep_copy())
    }),
    ("dig", dig),
    ("first", |_, a| list_fn("first", a, |l| l.first().cloned().unwrap_or(Value::Nil))),
    ("last", |_, a| list_fn("last", a, |l| l.last().cloned().unwrap_or(Value::Nil))),
    ("rest", |_, a| list_fn("rest", a, |l| Value::list(l.get(1..).unwrap_or_default().to_vec()))),
    ("initial", |_, a| list_fn("initial", a, |l| Value::list(l[..l.len().saturating_sub(1)].to_vec()))),
    ("reverse", |_, a| list_fn("reverse", a, |l| Value::list(l.iter().rev().cloned().collect()))),
    ("compact", |_, a| list_fn("compact", a, |l| Value::list(l.iter().filter(|v| !empty(v)).cloned().collect()))),
    ("uniq", |_, a| {
        list_fn("uniq", a, |l| {
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !out.iter().any(|o| o.deep_eq(v)) {
                    out.push(v.clone());
                }
            }
            Value::list(out)
        })
    }),
    ("sortAlpha", |_, a| {
        list_fn("sortAlpha", a, |l| {
            let mut s: Vec<String> = l.iter().map(strval).collect();
            s.sort();
            Value::list(s.into_iter().map(Value::Str).collect())
        })
    }),
    ("append", |_, a| push("append", a, false)),
    ("push", |_, a| push("push", a, false)),
    ("prepend", |_, a| push("prepend", a, true)),
    ("concat", |_, a| {
        let mut out = Vec::new();
        for l in &a {
            out.extend(list(l)?.iter().cloned());
        }
        Ok(Value::list(out))
    }),
    ("has", |_, a| {
        want("has", &a, 2, 2)?;
        Ok(Value::Bool(list_or_empty(&a[1])?.iter().any(|v| v.deep_eq(&a[0]))))
    }),
    ("without", |_, a| {
        want("without", &a, 1, usize::MAX)?;
        let l = list(&a[0])?;
        Ok(Value::list(l.iter().filter(|v| !a[1..].iter().any(|o| o.deep_eq(v))).cloned().collect()))
    }),
    ("until", |_, a| {
        want("until", &a, 1, 1)?;
        let n = int(&a[0])?;
        steps(0, n, if n < 0 { -1 } else { 1 })
    }),
    ("untilStep", |_, a| {
        want("untilStep", &a, 3, 3)?;
        steps(int(&a[0])?, int(&a[1])?, int(&a[2])?)
    }),
    ("empty", |_, a| {
        want("empty", &a, 1, 1)?;
        Ok(Value::Bool(empty(&a[0])))
    }),
    ("default", |_, a| {
        want("default", &a, 1, 2)?;
        Ok(match a.get(1) {
            Some(given) if !empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    }),
    ("coalesce", |_, a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))),
    ("ternary", |_, a| {
        want("ternary", &a, 3, 3)?;
        let Value::Bool(cond) = a[2] else {
            return Err(Fail::Msg(format!("wrong type for value; expected bool; got {}", a[2].type_name())));
        };
        Ok(if cond { a[0].clone() } else { a[1].clone() })
    }),
    ("typeOf", |_, a| {
        want("typeOf", &a, 1, 1)?;
        Ok(Value::Str(a[0].type_name()))
    }),
    ("kindOf", |_, a| {
        want("kindOf", &a, 1, 1)?;
        Ok(Value::str(a[0].kind_name()))
    }),
    ("kindIs", |_, a| {
        want("kindIs", &a, 2, 2)?;
        Ok(Value::Bool(string(&a[0])? == a[1].kind_name()))
    }),
    ("typeIs", |_, a| {
        want("typeIs", &a, 2, 2)?;
        Ok(Value::Bool(string(&a[0])? == a[1].type_name()))
    }),
    ("add", |_, a| Ok(Value::Int(a.iter().map(to_int64).fold(0i64, i64::wrapping_add)))),
    ("add1", |_, a| {
        want("add1", &a, 1, 1)?;
        Ok(Value::Int(to_int64(&a[0]).wrapping_add(1)))
    }),
    ("sub", |_, a| arith("sub", &a, |x, y| Some(x.wrapping_sub(y)))),
    ("mul", |_, a| Ok(Value::Int(a.iter().map(to_int64).fold(1i64, i64::wrapping_mul)))),
    ("div", |_, a| arith("div", &a, i64::checked_div)),
    ("mod", |_, a| arith("mod", &a, i64::checked_rem)),
    ("max", |_, a| {
        want("max", &a, 1, usize::MAX)?;
        Ok(Value::Int(a.iter().map(to_int64).max().unwrap_or(0)))
    }),
    ("min", |_, a| {
        want("min", &a, 1, usize::MAX)?;
        Ok(Value::Int(a.iter().map(to_int64).min().unwrap_or(0)))
    }),
    ("int", |_, a| {
        want("int", &a, 1, 1)?;
        Ok(Value::Int(to_int64(&a[0])))
    }),
    ("int64", |_, a| {
        want("int64", &a, 1, 1)?;
        Ok(Value::Int(to_int64(&a[0])))
    }),
    ("atoi", |_, a| {
        want("atoi", &a, 1, 1)?;
        Ok(Value::Int(string(&a[0])?.parse().unwrap_or(0)))
    }),
    ("float64", |_, a| {
        want("float64", &a, 1, 1)?;
        Ok(Value::Float(to_float64(&a[0])))
    }),
    ("toStrings", |_, a| {
        want("toStrings", &a, 1, 1)?;
        Ok(Value::list(match &a[0] {
            Value::List(l) => l.iter().map(|v| Value::Str(strval(v))).collect(),
            other => vec![Value::Str(strval(other))],
        }))
    }),
];

/// sprig's `empty`: nil, `""`, `0`, `false` and empty lists and dicts.
pub(crate) fn empty(v: &Value) -> bool {
    !v.truthy() && !matches!(v, Value::Object(_))
}

fn map(v: &Value) -> Result<&Map, Fail> {
    match v {
        Value::Map(m) => Ok(m),
        Value::Missing | Value::Nil => Err("invalid value; expected map[string]interface {}".into()),
        other => Err(Fail::Msg(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            other.type_name()
        ))),
    }
}

fn list(v: &Value) -> Result<&[Value], Fail> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(Fail::Msg(format!("cannot find a list in a value of type {}", other.type_name()))),
    }
}

/// A list, with nil read as an empty list (sprig's list functions accept nil).
fn list_or_empty(v: &Value) -> Result<Vec<Value>, Fail> {
    match v {
        Value::Missing | Value::Nil => Ok(Vec::new()),
        other => list(other).map(<[Value]>::to_vec),
    }
}

fn list_fn(name: &str, a: Vec<Value>, f: impl Fn(&[Value]) -> Value) -> Result<Value, Fail> {
    want(name, &a, 1, 1)?;
    Ok(f(&list_or_empty(&a[0])?))
}

fn push(name: &str, a: Vec<Value>, front: bool) -> Result<Value, Fail> {
    want(name, &a, 2, 2)?;
    let mut l = list_or_empty(&a[0])?;
    if front {
        l.insert(0, a[1].clone());
    } else {
        l.push(a[1].clone());
    }
    Ok(Value::list(l))
}

fn dict(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    let mut m = BTreeMap::new();
    for pair in a.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
        m.insert(strval(&pair[0]), value);
    }
    Ok(Value::map(m))
}

fn pick_omit(name: &str, a: Vec<Value>, keep: bool) -> Result<Value, Fail> {
    want(name, &a, 1, usize::MAX)?;
    let keys: Vec<String> = a[1..].iter().map(string).collect::<Result<_, _>>()?;
    let out = map(&a[0])?
        .borrow()
        .iter()
        .filter(|(k, _)| keys.contains(k) == keep)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Value::map(out))
}

/// Deep merge into the first dict: nested dicts merge; a value there wins over the
/// sources unless `overwrite`.
fn merge(name: &str, a: Vec<Value>, overwrite: bool) -> Result<Value, Fail> {
    want(name, &a, 1, usize::MAX)?;
    let dst = map(&a[0])?;
    for src in &a[1..] {
        let src = map(src)?.borrow().clone();
        merge_into(dst, &src, overwrite, 0);
    }
    Ok(a[0].clone())
}

fn merge_into(dst: &Map, src: &BTreeMap<String, Value>, overwrite: bool, depth: usize) {
    for (k, v) in src {
        let existing = dst.borrow().get(k).cloned();
        match (existing, v) {
            (Some(Value::Map(d)), Value::Map(s)) if depth < 100 && !std::rc::Rc::ptr_eq(&d, s) => {
                let s = s.borrow().clone();
                merge_into(&d, &s, overwrite, depth + 1);
            }
            (Some(existing), v) if overwrite || empty(&existing) => {
                dst.borrow_mut().insert(k.clone(), v.clone());
            }
            (None, v) => {
                dst.borrow_mut().insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
}

fn dig(_: &mut Call<'_, '_>, a: Vec<Value>) -> Result<Value, Fail> {
    want("dig", &a, 3, usize::MAX)?;
    let (dict, rest) = a.split_last().expect("at least three arguments");
    let (default, keys) = rest.split_last().expect("at least two more");
    let mut cur = dict.clone();
    for k in keys {
        let key = string(k)?;
        let next = match &cur {
            Value::Map(m) => m.borrow().get(&key).cloned(),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(default.clone()),
        }
    }
    Ok(cur)
}

fn steps(start: i64, stop: i64, step: i64) -> Result<Value, Fail> {
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return Ok(Value::list(Vec::new()));
    }
    let count = (stop.abs_diff(start)).div_ceil(step.unsigned_abs());
    if count > 1_000_000 {
        return Err(Fail::Msg(format!("a list of {count} numbers is more than rendering allows")));
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(Value::Int(i));
        i = i.wrapping_add(step);
    }
    Ok(Value::list(out))
}

fn arith(name: &str, a: &[Value], f: impl Fn(i64, i64) -> Option<i64>) -> Result<Value, Fail> {
    want(name, a, 2, 2)?;
    f(to_int64(&a[0]), to_int64(&a[1])).map(Value::Int).ok_or_else(|| "integer divide by zero".into())
}

/// `cast.ToInt64` as sprig uses it: numbers, numeric strings (`0x` too), booleans; else 0.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int(s.trim()).unwrap_or(0),
        _ => 0,
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = digits.to_ascii_lowercase();
    let value = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        lower.parse().ok()?
    };
    Some(if neg { -value } else { value })
}

fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}
