//! Template values, shaped like the Go values werf's templates see.
//!
//! Maps are shared and mutable, as Go maps are references: sprig's `set` on `.` changes
//! the data every later action sees. Lists are immutable (sprig's list functions return
//! new lists). Host objects (`.Files`, `.Commit`) answer fields and method calls.
//! Printing follows Go's `fmt` `%v`: `[a b]`, `map[k:v]`, shortest floats.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

pub type Map = Rc<RefCell<BTreeMap<String, Value>>>;

#[derive(Clone)]
pub enum Value {
    /// No value at all: a missing map key (Go's invalid value, printed `<no value>`).
    Missing,
    /// An explicit nil (YAML `null`, the `nil` constant).
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Rc<Vec<Value>>),
    Map(Map),
    Object(Rc<dyn Object>),
}

/// A host object: fields (`.Files`) and methods with arguments (`.Files.Get "x"`).
pub trait Object {
    /// The Go type shown in messages (`config.files`).
    fn type_name(&self) -> &str;
    /// `Ok(None)` when the object has no such field or method.
    fn call(&self, name: &str, args: &[Value]) -> Result<Option<Value>, String>;
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(entries)))
    }

    /// Missing or nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Missing | Value::Nil)
    }

    /// Go's truth: false, 0, nil and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(_) => true,
        }
    }

    /// The Go type name (`string`, `int`, `[]interface {}`, …) for messages and `typeOf`.
    pub fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name().to_string(),
        }
    }

    /// Go's `reflect.Kind` name, for sprig's `kindOf` / `kindIs`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Missing | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(_) => "struct",
        }
    }

    /// As `fmt.Sprint` prints it (`<nil>` for nil).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_go(&mut out);
        out
    }

    /// Go's `%v`.
    pub fn write_go(&self, out: &mut String) {
        match self {
            Value::Missing | Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&format_float_g(*f)),
            Value::Str(s) => out.push_str(s),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    item.write_go(out);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go(out);
                }
                out.push(']');
            }
            Value::Object(o) => {
                let _ = write!(out, "{{{}}}", o.type_name());
            }
        }
    }

    /// Structural equality for lists and maps, as sprig's `has`, `uniq` and `without` compare.
    pub fn deep_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_eq(y)),
            (Value::Map(a), Value::Map(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len() && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.deep_eq(vb))
            }
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// A deep copy: maps become new maps (sprig's `deepCopy`).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(items) => Value::list(items.iter().map(Value::deep_copy).collect()),
            Value::Map(m) => Value::map(m.borrow().iter().map(|(k, v)| (k.clone(), v.deep_copy())).collect()),
            other => other.clone(),
        }
    }

    /// JSON, as Go's `encoding/json` writes it (maps by sorted key); objects become `{}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Missing | Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // Go writes whole floats without a fraction (`1`, not `1.0`).
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => J::from(*f as i64),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.borrow().iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Object(_) => J::Object(serde_json::Map::new()),
        }
    }

    /// From JSON (or YAML read as JSON): whole numbers become ints when `ints` is set, as
    /// YAML decoding gives them; JSON decoding gives float64 like Go's `encoding/json`.
    pub fn from_json(v: &serde_json::Value, ints: bool) -> Value {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (ints, n.as_i64()) {
                (true, Some(i)) => Value::Int(i),
                _ => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::list(items.iter().map(|i| Value::from_json(i, ints)).collect()),
            J::Object(m) => Value::map(m.iter().map(|(k, v)| (k.clone(), Value::from_json(v, ints))).collect()),
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Missing => f.write_str("<no value>"),
            Value::Str(s) => write!(f, "{s:?}"),
            other => f.write_str(&other.to_text()),
        }
    }
}

/// Go's `%v` / `%g` for a float64, as `strconv`'s `'g'` with precision -1: the shortest
/// digits that read back the same, in exponent form when the exponent is below -4 or at
/// least 6 (`1e+06`, `123456`).
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_printing() {
        let m = Value::map(BTreeMap::from([
            ("b".into(), Value::Int(2)),
            ("a".into(), Value::list(vec![Value::str("x"), Value::Nil])),
        ]));
        assert_eq!(m.to_text(), "map[a:[x <nil>] b:2]");
        assert_eq!(format_float_g(1.5), "1.5");
        assert_eq!(format_float_g(100000.0), "100000");
        assert_eq!(format_float_g(1e6), "1e+06");
        assert_eq!(format_float_g(123456789.0), "1.23456789e+08");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(-2.0), "-2");
    }

    #[test]
    fn truth() {
        assert!(!Value::Missing.truthy() && !Value::str("").truthy() && !Value::Int(0).truthy());
        assert!(Value::str("0").truthy() && Value::list(vec![Value::Nil]).truthy());
    }
}
