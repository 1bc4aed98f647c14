//! Literals and token names for the parser: Go's number syntax, and how a token is named
//! in messages (`unexpected "}}" in operand`).

use super::Error;
use super::lexer::Tok;
use super::parse::Arg;

/// How a token is named in parse errors.
pub(crate) fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Close => "\"}}\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Ident(w) => format!("<{w}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Number(n) => n.clone(),
        Tok::Eof => "EOF".into(),
        other => format!("{other:?}"),
    }
}

/// A number constant: an integer if it is one (Go's syntax: `0x`, `0o`, `0b`, leading-zero
/// octal, `_` separators), else a float.
pub(crate) fn number(pos: usize, text: &str) -> Result<Arg, Error> {
    let bad = || Error::syntax(pos, format!("bad number syntax: {text:?}"));
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err(bad());
    }
    let clean = digits.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(hex) = lower.strip_prefix("0x") {
        if hex.contains('p') { None } else { Some(u64::from_str_radix(hex, 16).map_err(|_| bad())?) }
    } else if let Some(oct) = lower.strip_prefix("0o") {
        Some(u64::from_str_radix(oct, 8).map_err(|_| bad())?)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        Some(u64::from_str_radix(bin, 2).map_err(|_| bad())?)
    } else if clean.bytes().all(|b| b.is_ascii_digit()) {
        if clean.len() > 1 && clean.starts_with('0') {
            Some(u64::from_str_radix(&clean[1..], 8).map_err(|_| bad())?)
        } else {
            Some(clean.parse::<u64>().map_err(|_| bad())?)
        }
    } else {
        None
    };
    match int {
        Some(v) => {
            let v = i64::try_from(v).ok().map(|v| if negative { -v } else { v }).ok_or_else(bad)?;
            Ok(Arg::Int(pos, v))
        }
        None => {
            let v: f64 = clean.parse().map_err(|_| bad())?;
            if !v.is_finite() {
                return Err(bad());
            }
            Ok(Arg::Float(pos, if negative { -v } else { v }))
        }
    }
}
