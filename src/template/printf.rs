//! Go's `fmt` as templates use it: `print`, `println`, `printf` and `strconv.Quote`.
//!
//! `printf` knows the verbs `%v %s %q %d %f %F %e %E %g %G %x %X %o %b %c %t %T %%`, the
//! flags `- + # 0 space`, width and precision; a verb that does not fit its argument
//! prints `%!d(string=x)` and a missing argument `%!d(MISSING)`, as Go does.

use super::value::{Value, format_float_g};
use std::fmt::Write as _;

/// `fmt.Sprint`: a space between operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        a.write_go(&mut out);
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, a newline at the end.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut out = args.iter().map(Value::to_text).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

/// `strconv.Quote`: double quotes, Go escapes for control and invalid characters.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let body = match format_one(verb, &spec, arg) {
            Some(s) => s,
            None => {
                let _ = write!(out, "%!{verb}({}={})", arg.type_name(), arg.to_text());
                continue;
            }
        };
        pad(
            &mut out,
            &body,
            &spec,
            matches!(verb, 'd' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'x' | 'X' | 'o' | 'b')
                && !matches!(arg, Value::Str(_)),
        );
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..].iter().map(|a| format!("{}={}", a.type_name(), a.to_text())).collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize).min(1 << 16));
        chars.next();
    }
    n
}

fn pad(out: &mut String, body: &str, spec: &Spec, numeric: bool) {
    let len = body.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(body);
    } else if spec.minus {
        out.push_str(body);
        out.push_str(&" ".repeat(width - len));
    } else if spec.zero && numeric {
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body),
        };
        out.push_str(sign);
        out.push_str(&"0".repeat(width - len));
        out.push_str(digits);
    } else {
        out.push_str(&" ".repeat(width - len));
        out.push_str(body);
    }
}

fn signed(s: String, spec: &Spec, negative: bool) -> String {
    if negative {
        s
    } else if spec.plus {
        format!("+{s}")
    } else if spec.space {
        format!(" {s}")
    } else {
        s
    }
}

/// One verb applied to one argument; `None` when they do not fit.
fn format_one(verb: char, spec: &Spec, arg: &Value) -> Option<String> {
    match (verb, arg) {
        ('v', Value::Float(f)) | ('g', Value::Float(f)) => Some(signed(
            match spec.precision {
                Some(p) => format_g_precision(*f, p),
                None => format_float_g(*f),
            },
            spec,
            *f < 0.0,
        )),
        ('v', Value::Int(i)) | ('d', Value::Int(i)) => Some(signed(i.to_string(), spec, *i < 0)),
        ('v', Value::Str(s)) if spec.sharp => Some(quote(s)),
        ('v', other) => Some(other.to_text()),
        ('s', Value::Str(s)) => Some(truncate(s, spec.precision)),
        ('s', v @ (Value::List(_) | Value::Map(_) | Value::Bool(_) | Value::Nil | Value::Missing)) => {
            (!matches!(v, Value::Bool(_))).then(|| v.to_text())
        }
        ('q', Value::Str(s)) => Some(if spec.sharp && !s.contains('`') { format!("`{s}`") } else { quote(s) }),
        ('q', Value::Int(i)) => {
            char::from_u32(u32::try_from(*i).ok()?).map(|c| format!("'{}'", quote(&c.to_string()).trim_matches('"')))
        }
        ('t', Value::Bool(b)) => Some(b.to_string()),
        ('T', v) => Some(v.type_name()),
        ('c', Value::Int(i)) => char::from_u32(u32::try_from(*i).ok()?).map(String::from),
        ('x' | 'X' | 'o' | 'b', Value::Int(i)) => {
            let mag = i.unsigned_abs();
            let mut s = match verb {
                'x' => format!("{mag:x}"),
                'X' => format!("{mag:X}"),
                'o' => format!("{mag:o}"),
                _ => format!("{mag:b}"),
            };
            if spec.sharp {
                s = match verb {
                    'x' => format!("0x{s}"),
                    'X' => format!("0X{s}"),
                    'o' => format!("0{s}"),
                    _ => s,
                };
            }
            Some(signed(if *i < 0 { format!("-{s}") } else { s }, spec, *i < 0))
        }
        ('x' | 'X', Value::Str(s)) => {
            let hex = hex::encode(s.as_bytes());
            Some(if verb == 'X' { hex.to_uppercase() } else { hex })
        }
        ('f' | 'F', Value::Float(f)) => Some(signed(format!("{:.*}", spec.precision.unwrap_or(6), f), spec, *f < 0.0)),
        ('e' | 'E', Value::Float(f)) => {
            let s = go_exp(*f, spec.precision.unwrap_or(6));
            Some(signed(if verb == 'E' { s.to_uppercase() } else { s }, spec, *f < 0.0))
        }
        ('G', Value::Float(f)) => Some(format_float_g(*f).to_uppercase()),
        _ => None,
    }
}

fn truncate(s: &str, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

/// `%.Ne`: mantissa with N decimals, exponent with sign and at least two digits.
fn go_exp(f: f64, precision: usize) -> String {
    let s = format!("{f:.precision$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// `%.Ng`: N significant digits, trailing zeros removed.
fn format_g_precision(f: f64, precision: usize) -> String {
    let p = precision.max(1);
    let exp = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
    if exp < -4 || exp >= p as i32 {
        let s = go_exp(f, p - 1);
        let (m, e) = s.split_once('e').unwrap_or((&s, ""));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        format!("{m}e{e}")
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{f:.decimals$}");
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_like_go() {
        let s = |f: &str, a: &[Value]| sprintf(f, a);
        assert_eq!(s("%s-%d-%v", &[Value::str("a"), Value::Int(3), Value::Float(2.5)]), "a-3-2.5");
        assert_eq!(
            s(
                "%05d|%-4s|%4s|%x|%#x",
                &[Value::Int(-42), Value::str("ab"), Value::str("ab"), Value::Int(255), Value::Int(255)]
            ),
            "-0042|ab  |  ab|ff|0xff"
        );
        assert_eq!(
            s("%.2f %q %t", &[Value::Float(1.23456), Value::str("a\"b"), Value::Bool(true)]),
            "1.23 \"a\\\"b\" true"
        );
        assert_eq!(s("%d", &[Value::str("x")]), "%!d(string=x)");
        assert_eq!(s("%s %s", &[Value::str("x")]), "x %!s(MISSING)");
        assert_eq!(s("%s", &[Value::str("x"), Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(s("100%%", &[]), "100%");
        assert_eq!(s("%.3g %e", &[Value::Float(1234.5678), Value::Float(1234.5678)]), "1.23e+03 1.234568e+03");
    }

    #[test]
    fn sprint_spaces_like_go() {
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2), Value::str("a"), Value::Int(3)]), "1 2a3");
        assert_eq!(sprintln(&[Value::str("a"), Value::Int(1)]), "a 1\n");
    }

    #[test]
    fn quote_like_strconv() {
        assert_eq!(quote("a\"b\\c\n\x01é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
