//! `WWW-Authenticate` challenges (RFC 7235) as registries send them.
//!
//! The parser accepts several challenges in one header, parameters in any order, quoted values
//! with commas and backslash escapes, odd spacing and case-insensitive names. It never panics
//! and never fails: malformed parts are skipped, so a fuzzer can throw anything at it.

/// One parsed challenge: a lowercased scheme and its parameters (lowercased names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawChallenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl RawChallenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The challenge the client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic { realm: Option<String> },
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

/// Picks the challenge to answer from one or more `WWW-Authenticate` values: Bearer (with a
/// realm) before Basic; unknown schemes are ignored.
pub fn select<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let all: Vec<RawChallenge> = headers.into_iter().flat_map(parse).collect();
    let bearer = all.iter().find_map(|c| {
        let realm = c.param("realm").filter(|r| !r.is_empty())?;
        (c.scheme == "bearer").then(|| Challenge::Bearer {
            realm: realm.to_string(),
            service: c.param("service").map(str::to_string),
            scope: c.param("scope").map(str::to_string),
        })
    });
    bearer.or_else(|| {
        all.iter()
            .find(|c| c.scheme == "basic")
            .map(|c| Challenge::Basic { realm: c.param("realm").map(str::to_string) })
    })
}

/// Parses one header value into its challenges.
pub fn parse(header: &str) -> Vec<RawChallenge> {
    let mut p = Parser { chars: header.chars().collect(), pos: 0 };
    let mut out: Vec<RawChallenge> = Vec::new();
    loop {
        p.skip_separators();
        if p.at_end() {
            break;
        }
        let Some(token) = p.token() else {
            p.pos += 1; // not a token character: skip it
            continue;
        };
        p.skip_spaces();
        if p.peek() == Some('=') && !out.is_empty() {
            // `name=value` belongs to the current challenge.
            p.pos += 1;
            p.skip_spaces();
            let value = p.value();
            if let Some(current) = out.last_mut() {
                current.params.push((token.to_ascii_lowercase(), value));
            }
        } else if p.peek() == Some('=') {
            // A parameter before any scheme: skip it.
            p.pos += 1;
            p.skip_spaces();
            p.value();
        } else {
            out.push(RawChallenge { scheme: token.to_ascii_lowercase(), params: Vec::new() });
            p.skip_token68();
        }
    }
    out
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.chars[start..self.pos].iter().collect())
    }

    /// A quoted string (with `\` escapes) or a bare token up to the next `,` or space.
    fn value(&mut self) -> String {
        if self.peek() != Some('"') {
            let start = self.pos;
            while self.peek().is_some_and(|c| c != ',' && c != ' ' && c != '\t') {
                self.pos += 1;
            }
            return self.chars[start..self.pos].iter().collect();
        }
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => break,
                '\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.pos += 1;
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    /// After a scheme, a `token68` credential blob (`abc==`) may follow; it is not a parameter.
    fn skip_token68(&mut self) {
        let save = self.pos;
        self.skip_spaces();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c)) {
            self.pos += 1;
        }
        if self.pos == start {
            self.pos = save;
            return;
        }
        while self.peek() == Some('=') {
            self.pos += 1;
        }
        let after = self.pos;
        self.skip_spaces();
        if matches!(self.peek(), Some(',') | None) {
            self.pos = after;
        } else {
            // What followed was `name=value`, a parameter: rewind so the loop reads it.
            self.pos = start;
        }
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#;
        assert_eq!(
            select([h]),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull".into()),
            })
        );
    }

    #[test]
    fn quoted_commas_escapes_and_spacing() {
        let h = r#"bearer  realm = "https://a.example/t?x=1,y=2" , scope="repository:a:pull,push repository:b:pull", service="svc \"q\"""#;
        let c = &parse(h)[0];
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://a.example/t?x=1,y=2"));
        assert_eq!(c.param("scope"), Some("repository:a:pull,push repository:b:pull"));
        assert_eq!(c.param("service"), Some("svc \"q\""));
    }

    #[test]
    fn several_challenges_and_basic() {
        let h = r#"Basic realm="Registry Realm", Bearer realm="https://t.example/token",service=reg"#;
        let all = parse(h);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].param("realm"), Some("Registry Realm"));
        assert_eq!(all[1].param("service"), Some("reg"));
        assert!(matches!(select([h]), Some(Challenge::Bearer { .. })));
        assert_eq!(
            select([r#"Basic realm="basic-realm""#]),
            Some(Challenge::Basic { realm: Some("basic-realm".into()) })
        );
        assert_eq!(select(["Basic"]), Some(Challenge::Basic { realm: None }));
        assert!(matches!(select(["Basic", r#"Bearer realm="r""#]), Some(Challenge::Bearer { .. })));
    }

    #[test]
    fn token68_is_skipped() {
        let all = parse(r#"Negotiate abc123==, Basic realm="x""#);
        assert_eq!(all.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(), ["negotiate", "basic"]);
        assert_eq!(all[1].param("realm"), Some("x"));
    }

    /// Random strings over the characters that matter to the grammar (a poor man's fuzzer).
    pub(crate) fn random_inputs(alphabet: &[&str], count: usize) -> Vec<String> {
        (0..count)
            .map(|_| {
                let len = rand::random_range(0..40);
                (0..len).map(|_| alphabet[rand::random_range(0..alphabet.len())]).collect()
            })
            .collect()
    }

    #[test]
    fn random_headers_never_panic() {
        let alphabet = ["Bearer", "Basic", " ", ",", "=", "\"", "\\", "realm", "scope", "a", "é", "\t", "==", ";"];
        for input in random_inputs(&alphabet, 20_000) {
            for ch in parse(&input) {
                assert!(!ch.scheme.is_empty());
            }
            let _ = select([input.as_str()]);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            "",
            ",",
            "=",
            "\"",
            "Bearer",
            "Bearer realm",
            "Bearer realm=",
            "Bearer realm=\"",
            "Bearer realm=\"\\",
            "Bearer ,,,= = =\"",
            "é=ü",
            "Bearer realm=\"é\"",
            "\u{0}\u{7f}",
            "Bearer realm=\"a\"\"b\"",
            "realm=x Basic",
            "Bearer realm=x,,service=,scope",
            "B\tearer\trealm=\t\"x\"",
        ];
        for i in inputs {
            let _ = parse(i);
            let _ = select([i]);
        }
        assert_eq!(select(["Bearer realm="]), None);
        // Every prefix of a realistic header parses without panicking.
        let h = r#"Bearer realm="https://a/b",service="s",scope="repository:x:pull,push", Basic realm="z""#;
        for (i, _) in h.char_indices() {
            let _ = parse(&h[..i]);
        }
    }
}
