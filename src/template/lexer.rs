//! Template text → tokens: plain text, and inside `{{ … }}` the words of actions.
//!
//! Follows Go's `text/template` lexical rules: `{{- ` trims the white space (space, tab,
//! CR, LF) before the action and ` -}}` the white space after it (the marker needs a space
//! next to it: `{{-3}}` is the number -3); `{{/* … */}}` is a comment that may span lines
//! and must touch its delimiters; newlines inside actions are spaces. Every token records
//! the byte offset where it starts, so errors can point at it.

use super::Error;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Plain text between actions (already trimmed by neighbouring markers).
    Text(String),
    /// `{{` (a trim marker is consumed with it).
    Open,
    /// `}}`.
    Close,
    Space,
    /// A word: a function name or a keyword (`if`, `range`, `end`, …).
    Ident(String),
    /// `.Name` (one segment of a field chain).
    Field(String),
    /// `.` alone.
    Dot,
    /// `$` or `$name`.
    Var(String),
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    Pipe,
    LParen,
    RParen,
    Comma,
    /// A quoted or raw string, unquoted.
    Str(String),
    /// A number as written (`1`, `0x1F`, `1_000`, `2.5e3`) or a character constant's value.
    Number(String),
    Char(i64),
    Bool(bool),
    Nil,
    Eof,
}

/// A token and where it starts (byte offset into the template text).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// Splits `text` into tokens; the first lexical error stops it.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, Error> {
    let mut lexer = Lexer { text, pos: 0, out: Vec::new(), trim_next_text: false };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'t> {
    text: &'t str,
    pos: usize,
    out: Vec<Token>,
    /// The previous action ended with ` -}}`.
    trim_next_text: bool,
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), Error> {
        loop {
            let rest = &self.text[self.pos..];
            let Some(open) = rest.find("{{") else {
                self.text_token(self.pos, self.text.len(), false);
                self.out.push(Token { tok: Tok::Eof, pos: self.text.len() });
                return Ok(());
            };
            let open = self.pos + open;
            let after = &self.text[open + 2..];
            let left_trim = after.starts_with('-') && after[1..].starts_with(SPACE);
            self.text_token(self.pos, open, left_trim);
            self.pos = open + 2 + if left_trim { 2 } else { 0 };
            if self.text[self.pos..].starts_with("/*") {
                self.comment(open)?;
            } else {
                self.out.push(Token { tok: Tok::Open, pos: open });
                self.action(open)?;
            }
        }
    }

    /// Emits the text `start..end`, trimmed by the markers around it (nothing if empty).
    fn text_token(&mut self, start: usize, end: usize, trim_right: bool) {
        let mut slice = &self.text[start..end];
        let mut at = start;
        if std::mem::take(&mut self.trim_next_text) {
            let trimmed = slice.trim_start_matches(SPACE);
            at += slice.len() - trimmed.len();
            slice = trimmed;
        }
        if trim_right {
            slice = slice.trim_end_matches(SPACE);
        }
        if !slice.is_empty() {
            self.out.push(Token { tok: Tok::Text(slice.to_string()), pos: at });
        }
    }

    /// `/* … */` right after the opening delimiter, then the closing one.
    fn comment(&mut self, open: usize) -> Result<(), Error> {
        let body = self.pos + 2;
        let Some(end) = self.text[body..].find("*/") else {
            return Err(Error::syntax(open, "unclosed comment").hint("a comment is `{{/* text */}}`"));
        };
        self.pos = body + end + 2;
        if !self.close_delimiter() {
            return Err(Error::syntax(open, "comment ends before closing delimiter")
                .hint("write `*/}}` with nothing in between (or `*/ -}}`)"));
        }
        Ok(())
    }

    /// At `}}` or ` -}}`: consumes it and records the trim; `false` if neither is here.
    fn close_delimiter(&mut self) -> bool {
        let rest = &self.text[self.pos..];
        if rest.starts_with("}}") {
            self.pos += 2;
            return true;
        }
        if rest.starts_with(SPACE) && rest[1..].starts_with("-}}") {
            self.pos += 4;
            self.trim_next_text = true;
            return true;
        }
        false
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.out.push(Token { tok, pos });
    }

    fn action(&mut self, open: usize) -> Result<(), Error> {
        let mut parens = 0usize;
        loop {
            let start = self.pos;
            let rest = &self.text[start..];
            if parens == 0 && self.close_delimiter() {
                self.push(Tok::Close, start);
                return Ok(());
            }
            let Some(c) = rest.chars().next() else {
                return Err(Error::syntax(open, "unclosed action").hint("close it with `}}`"));
            };
            if rest.starts_with("}}") {
                return Err(
                    Error::syntax(start, "unclosed left paren").hint("every `(` needs its `)` inside the action")
                );
            }
            match c {
                c if SPACE.contains(&c) => {
                    let len = rest.find(|c: char| !SPACE.contains(&c)).unwrap_or(rest.len());
                    // ` -}}` closes the action; leave it for the next round.
                    let next = &rest[len..];
                    if !(parens == 0 && next.starts_with("-}}")) {
                        self.pos += len;
                    } else {
                        self.pos += len - 1;
                    }
                    self.push(Tok::Space, start);
                }
                ':' if rest.starts_with(":=") => {
                    self.pos += 2;
                    self.push(Tok::Declare, start);
                }
                '=' => self.single(Tok::Assign, start),
                '|' => self.single(Tok::Pipe, start),
                ',' => self.single(Tok::Comma, start),
                '(' => {
                    parens += 1;
                    self.single(Tok::LParen, start);
                }
                ')' => {
                    if parens == 0 {
                        return Err(Error::syntax(start, "unexpected right paren"));
                    }
                    parens -= 1;
                    self.single(Tok::RParen, start);
                }
                '"' => self.quoted(start)?,
                '`' => self.raw(start)?,
                '\'' => self.char_constant(start)?,
                '$' => {
                    let name = word(&rest[1..]);
                    self.pos += 1 + name.len();
                    self.push(Tok::Var(format!("${name}")), start);
                }
                '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => self.number(start)?,
                '.' => {
                    let name = word(&rest[1..]);
                    self.pos += 1 + name.len();
                    let tok = if name.is_empty() { Tok::Dot } else { Tok::Field(name.to_string()) };
                    self.push(tok, start);
                }
                '+' | '-' | '0'..='9' => self.number(start)?,
                c if c == '_' || c.is_alphanumeric() => {
                    let name = word(rest);
                    self.pos += name.len();
                    let tok = match name {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => Tok::Ident(name.to_string()),
                    };
                    self.push(tok, start);
                }
                other => {
                    return Err(Error::syntax(start, format!("unrecognized character in action: {other:?}")));
                }
            }
        }
    }

    fn single(&mut self, tok: Tok, start: usize) {
        self.pos += 1;
        self.push(tok, start);
    }

    fn quoted(&mut self, start: usize) -> Result<(), Error> {
        let body = &self.text[start + 1..];
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    self.push(Tok::Str(value), start);
                    return Ok(());
                }
                '\n' => break,
                '\\' => {
                    let (j, e) = chars.next().ok_or_else(|| unterminated(start))?;
                    let (ch, used) = escape(e, &body[j + e.len_utf8()..]).ok_or_else(|| {
                        Error::syntax(start + 1 + i, format!("invalid escape `\\{e}` in a string"))
                            .hint("Go escapes: \\n \\t \\\\ \\\" \\xFF \\u00e9 …; or use a raw string in backquotes")
                    })?;
                    value.push(ch);
                    for _ in 0..used {
                        chars.next();
                    }
                }
                c => value.push(c),
            }
        }
        Err(unterminated(start))
    }

    fn raw(&mut self, start: usize) -> Result<(), Error> {
        let body = &self.text[start + 1..];
        let end = body.find('`').ok_or_else(|| Error::syntax(start, "unterminated raw quoted string"))?;
        self.pos = start + 1 + end + 1;
        self.push(Tok::Str(body[..end].replace('\r', "")), start);
        Ok(())
    }

    fn char_constant(&mut self, start: usize) -> Result<(), Error> {
        let body = &self.text[start + 1..];
        let mut chars = body.chars();
        let bad = || Error::syntax(start, "malformed character constant");
        let (value, len) = match chars.next().ok_or_else(bad)? {
            '\\' => {
                let e = chars.next().ok_or_else(bad)?;
                let (c, used) = escape(e, &body[1 + e.len_utf8()..]).ok_or_else(bad)?;
                (c, 1 + e.len_utf8() + used)
            }
            '\'' | '\n' => return Err(bad()),
            c => (c, c.len_utf8()),
        };
        if !body[len..].starts_with('\'') {
            return Err(bad());
        }
        self.pos = start + 1 + len + 1;
        self.push(Tok::Char(i64::from(u32::from(value))), start);
        Ok(())
    }

    fn number(&mut self, start: usize) -> Result<(), Error> {
        let rest = &self.text[start..];
        let len = rest
            .char_indices()
            .skip(1)
            .find(|&(i, c)| {
                let prev = rest[..i].chars().last().unwrap_or(' ');
                let exponent_sign =
                    matches!(c, '+' | '-') && matches!(prev, 'e' | 'E' | 'p' | 'P') && !rest.starts_with("0x");
                !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign)
            })
            .map_or(rest.len(), |(i, _)| i);
        let text = &rest[..len];
        if matches!(text, "+" | "-") {
            return Err(Error::syntax(start, format!("bad number syntax: {text:?}")));
        }
        self.pos = start + len;
        self.push(Tok::Number(text.to_string()), start);
        Ok(())
    }
}

fn unterminated(start: usize) -> Error {
    Error::syntax(start, "unterminated quoted string").hint("close the string with `\"` on the same line")
}

/// A name: letters, digits and `_`.
fn word(s: &str) -> &str {
    let end = s.find(|c: char| !(c == '_' || c.is_alphanumeric())).unwrap_or(s.len());
    &s[..end]
}

/// The character a Go escape stands for, and how many more characters after `e` it used.
fn escape(e: char, rest: &str) -> Option<(char, usize)> {
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        '\'' => Some('\''),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c, 0));
    }
    let (digits, radix) = match e {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (2, 8),
        _ => return None,
    };
    let text: String = if radix == 8 {
        std::iter::once(e).chain(rest.chars().take(2)).collect()
    } else {
        rest.chars().take(digits).collect()
    };
    let wanted = if radix == 8 { 3 } else { digits };
    if text.chars().count() != wanted {
        return None;
    }
    let code = u32::from_str_radix(&text, radix).ok()?;
    Some((char::from_u32(code)?, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn text_and_actions() {
        assert_eq!(
            toks("a {{ .B.c | f $x }}"),
            [
                Tok::Text("a ".into()),
                Tok::Open,
                Tok::Space,
                Tok::Field("B".into()),
                Tok::Field("c".into()),
                Tok::Space,
                Tok::Pipe,
                Tok::Space,
                Tok::Ident("f".into()),
                Tok::Space,
                Tok::Var("$x".into()),
                Tok::Space,
                Tok::Close,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn trim_markers_need_a_space() {
        assert_eq!(
            toks("a \n{{- 1 -}}\n b"),
            [Tok::Text("a".into()), Tok::Open, Tok::Number("1".into()), Tok::Close, Tok::Text("b".into()), Tok::Eof]
        );
        assert_eq!(
            toks("a {{-3}}"),
            [Tok::Text("a ".into()), Tok::Open, Tok::Number("-3".into()), Tok::Close, Tok::Eof]
        );
    }

    #[test]
    fn comments_trim_and_must_touch_delimiters() {
        assert_eq!(toks("a  {{- /* x\ny */ -}}  b"), [Tok::Text("a".into()), Tok::Text("b".into()), Tok::Eof]);
        assert_eq!(lex("{{/* x */ }}").unwrap_err().message, "comment ends before closing delimiter");
        assert_eq!(lex("{{/* x").unwrap_err().message, "unclosed comment");
    }

    #[test]
    fn strings_numbers_chars() {
        assert_eq!(
            toks(r#"{{"a\n\x41\u00e9" `r\n` 'x' '\n' 0x1F -2.5e3 1_000 true nil}}"#),
            [
                Tok::Open,
                Tok::Str("a\nAé".into()),
                Tok::Space,
                Tok::Str("r\\n".into()),
                Tok::Space,
                Tok::Char(120),
                Tok::Space,
                Tok::Char(10),
                Tok::Space,
                Tok::Number("0x1F".into()),
                Tok::Space,
                Tok::Number("-2.5e3".into()),
                Tok::Space,
                Tok::Number("1_000".into()),
                Tok::Space,
                Tok::Bool(true),
                Tok::Space,
                Tok::Nil,
                Tok::Close,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = lex("ab {{ \"x }}").unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (6, "unterminated quoted string"));
        let e = lex("ab {{ f ").unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (3, "unclosed action"));
        let e = lex("{{ (f }}").unwrap_err();
        assert_eq!(e.message, "unclosed left paren");
        let e = lex("{{ # }}").unwrap_err();
        assert_eq!(e.message, "unrecognized character in action: '#'");
    }

    #[test]
    fn newlines_inside_actions_are_space() {
        assert_eq!(toks("{{ f\n  .x }}").len(), 8);
    }
}
