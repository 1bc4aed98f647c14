//! Go duration strings (`168h`, `1h30m`, `1.5h`), as werf's `in:` fields use them.
//!
//! Follows Go's `time.ParseDuration`: a sequence of decimal numbers, each with an
//! optional fraction and a required unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`);
//! `0` alone needs no unit. Negative durations are refused (a cleanup window
//! cannot reach into the future), and Go has no `d` unit, which we explain.

use std::time::Duration;

const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
];

/// Go's limit: durations are `i64` nanoseconds (about 292 years).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration; the error explains what is wrong.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("a duration must not be empty; write e.g. `168h` or `30m`".into());
    }
    if s.starts_with('-') {
        return Err(format!("`{s}` is negative; a duration here must be positive"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, tail) = component(rest, text)?;
        total = total.saturating_add(nanos);
        rest = tail;
    }
    if total > MAX_NANOS {
        return Err(format!("`{}` is too long: the limit is about 292 years", text.trim()));
    }
    let nanos = u64::try_from(total).map_err(|_| format!("`{}` is too long", text.trim()))?;
    Ok(Duration::from_nanos(nanos))
}

/// One `<number><unit>` at the start of `s`: its nanoseconds and the rest of `s`.
fn component<'a>(s: &'a str, whole: &str) -> Result<(u128, &'a str), String> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int_part, after_int) = s.split_at(int_len);
    let (frac_part, after_num) = match after_int.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            f.split_at(n)
        }
        None => ("", after_int),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid(whole));
    }
    let unit_len = after_num.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after_num.len());
    let (unit, tail) = after_num.split_at(unit_len);
    let scale = unit_scale(unit, whole)?;
    Ok((scaled(int_part, frac_part, scale), tail))
}

fn unit_scale(unit: &str, whole: &str) -> Result<u128, String> {
    if let Some((_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) {
        return Ok(*scale);
    }
    Err(match unit {
        "" => format!("`{}` needs a unit: `ns`, `us`, `ms`, `s`, `m` or `h` (e.g. `168h`)", whole.trim()),
        "d" => format!("`{}`: Go durations have no `d` unit; write days as hours (7 days = `168h`)", whole.trim()),
        "w" => format!("`{}`: Go durations have no `w` unit; write weeks as hours (1 week = `168h`)", whole.trim()),
        other => {
            format!("`{}`: unknown unit `{other}`; use `ns`, `us`, `ms`, `s`, `m` or `h` (e.g. `168h`)", whole.trim())
        }
    })
}

/// `int.frac × scale` in nanoseconds, saturating; fraction digits beyond
/// nanosecond precision are dropped, as in Go.
fn scaled(int_part: &str, frac_part: &str, scale: u128) -> u128 {
    let int: u128 = int_part.bytes().fold(0u128, |acc, d| acc.saturating_mul(10).saturating_add(u128::from(d - b'0')));
    let mut nanos = int.saturating_mul(scale);
    let mut place = scale;
    for d in frac_part.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos = nanos.saturating_add(u128::from(d - b'0') * place);
    }
    nanos
}

fn invalid(whole: &str) -> String {
    format!("`{}` is not a duration; write e.g. `168h`, `30m` or `1h30m`", whole.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        parse_go_duration(s).unwrap()
    }

    #[test]
    fn go_examples() {
        assert_eq!(d("168h"), Duration::from_secs(168 * 3600));
        assert_eq!(d("30m"), Duration::from_secs(1800));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("2h45m30.5s"), Duration::from_millis((2 * 3600 + 45 * 60 + 30) * 1000 + 500));
        assert_eq!(d("300ms"), Duration::from_millis(300));
        assert_eq!(d("1µs"), Duration::from_micros(1));
        assert_eq!(d("1us"), Duration::from_micros(1));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("+5s"), Duration::from_secs(5));
    }

    #[test]
    fn errors_explain() {
        let e = |s| parse_go_duration(s).unwrap_err();
        assert!(e("7d").contains("no `d` unit"), "{}", e("7d"));
        assert!(e("10").contains("needs a unit"));
        assert!(e("-1h").contains("negative"));
        assert!(e("").contains("empty"));
        assert!(e("h").contains("not a duration"));
        assert!(e("1x").contains("unknown unit `x`"));
        assert!(e("1.2.3s").contains("needs a unit") || e("1.2.3s").contains("not a duration"));
        assert!(e("3000000h").contains("too long"));
        assert!(e("99999999999999999999999999999999999999999h").contains("too long"));
    }
}
