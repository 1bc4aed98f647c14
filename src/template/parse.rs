//! Tokens → a tree per template, as Go's `text/template/parse` defines the language.
//!
//! A file is one template (its name) plus every `{{define "name"}}…{{end}}` in it, which
//! are only allowed at the top level. Checks done here, as Go does them at parse time:
//! every function exists, every variable was declared in scope, `break`/`continue` sit
//! inside a `range`, `else`/`end` match their action. Nesting is bounded so that no input
//! can exhaust the stack.

use super::Error;
pub(crate) use super::ast::{Arg, Branch, Cmd, Node, Pipe, Span};
use super::lexer::{Tok, Token};
use super::literal::{describe, number};

/// A parsed file: its own body and the templates it defines, in file order.
pub(crate) struct Parsed {
    pub body: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

/// Control structures and parentheses nested at most this deep.
pub(crate) const MAX_NESTING: usize = 100;

/// Parses the tokens of one file. `is_func` tells which function names exist.
pub(crate) fn parse(tokens: Vec<Token>, is_func: &dyn Fn(&str) -> bool) -> Result<Parsed, Error> {
    let mut p = Parser { tokens, at: 0, vars: vec!["$".into()], is_func, depth: 0, ranges: 0, defines: Vec::new() };
    let (body, end) = p.list(true)?;
    if let Some(end) = end {
        let word = if end.word == "end" { "end" } else { "else" };
        return Err(Error::syntax(end.pos, format!("unexpected {{{{{word}}}}}"))
            .hint("this `end`/`else` has no `if`, `range`, `with`, `define` or `block` to close"));
    }
    Ok(Parsed { body, defines: p.defines })
}

struct Parser<'f> {
    tokens: Vec<Token>,
    at: usize,
    vars: Vec<String>,
    is_func: &'f dyn Fn(&str) -> bool,
    depth: usize,
    /// `range` bodies we are inside (for `break` / `continue`).
    ranges: usize,
    defines: Vec<(String, Vec<Node>)>,
}

/// The `{{end}}` or `{{else …}}` that ended a list.
struct Ender {
    word: &'static str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at.min(self.tokens.len() - 1)].tok
    }
    fn pos(&self) -> usize {
        self.tokens[self.at.min(self.tokens.len() - 1)].pos
    }
    fn next(&mut self) -> Token {
        let t = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        self.at += 1;
        t
    }
    fn skip_space(&mut self) {
        while *self.peek() == Tok::Space {
            self.at += 1;
        }
    }
    fn next_word(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    /// Nodes up to `{{end}}` / `{{else}}` (returned) or the end of input (only at `top`).
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Option<Ender>), Error> {
        let mut nodes = Vec::new();
        loop {
            let token = self.next();
            match token.tok {
                Tok::Text(text) => nodes.push(Node::Text { pos: token.pos, text }),
                Tok::Eof if top => return Ok((nodes, None)),
                Tok::Eof => {
                    return Err(Error::syntax(token.pos, "unexpected EOF")
                        .hint("an `if`, `range`, `with`, `define` or `block` is missing its `{{end}}`"));
                }
                Tok::Open => match self.action(token.pos, top)? {
                    Step::Node(n) => nodes.push(n),
                    Step::Nothing => {}
                    Step::End(e) => return Ok((nodes, Some(e))),
                },
                other => return Err(Error::syntax(token.pos, format!("unexpected {other:?}"))),
            }
        }
    }

    fn action(&mut self, open: usize, top: bool) -> Result<Step, Error> {
        self.skip_space();
        let word = match self.peek() {
            Tok::Ident(w) => w.clone(),
            _ => String::new(),
        };
        let keyword = |w: &'static str| Some(w);
        let kw = match word.as_str() {
            "if" => keyword("if"),
            "range" => keyword("range"),
            "with" => keyword("with"),
            "end" => keyword("end"),
            "else" => keyword("else"),
            "define" => keyword("define"),
            "template" => keyword("template"),
            "block" => keyword("block"),
            "break" => keyword("break"),
            "continue" => keyword("continue"),
            _ => None,
        };
        let Some(kw) = kw else {
            let pipe = self.pipeline("command", true)?;
            let close = self.close()?;
            return Ok(Step::Node(Node::Action { span: Span { start: open, end: close }, pipe }));
        };
        let kw_pos = self.pos();
        self.at += 1;
        match kw {
            "end" => {
                self.close()?;
                Ok(Step::End(Ender { word: "end", pos: kw_pos }))
            }
            "else" => {
                // `{{else}}`, or `{{else if …}}` / `{{else with …}}` (the rest is parsed by the caller).
                self.skip_space();
                if *self.peek() == Tok::Close {
                    self.close()?;
                    return Ok(Step::End(Ender { word: "else", pos: kw_pos }));
                }
                Ok(Step::End(Ender { word: "else-chain", pos: kw_pos }))
            }
            "if" | "range" | "with" => self.branch(kw, open, kw_pos).map(Step::Node),
            "break" | "continue" => {
                if self.ranges == 0 {
                    return Err(Error::syntax(kw_pos, format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                }
                self.close()?;
                Ok(Step::Node(if kw == "break" { Node::Break(kw_pos) } else { Node::Continue(kw_pos) }))
            }
            "template" => {
                let name = self.template_name(kw)?;
                self.skip_space();
                let pipe = if *self.peek() == Tok::Close { None } else { Some(self.pipeline("template", false)?) };
                let close = self.close()?;
                Ok(Step::Node(Node::Template { span: Span { start: open, end: close }, name, pipe }))
            }
            "define" | "block" => {
                if !top || self.depth > 0 {
                    return Err(Error::syntax(kw_pos, format!("unexpected {{{{{kw}}}}}")).hint(
                        "`define` and `block` are only allowed at the top level of a file, outside other actions",
                    ));
                }
                let name = self.template_name(kw)?;
                let pipe = if kw == "block" { Some(self.pipeline("block", false)?) } else { None };
                let close = self.close()?;
                let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
                self.depth += 1;
                let (body, end) = self.list(false)?;
                self.depth -= 1;
                self.vars = saved;
                match end {
                    Some(Ender { word: "end", .. }) => {}
                    Some(e) => return Err(Error::syntax(e.pos, format!("unexpected {{{{else}}}} in {kw}"))),
                    None => unreachable_eof(),
                }
                self.defines.push((name.clone(), body));
                match pipe {
                    Some(pipe) => Ok(Step::Node(Node::Template {
                        span: Span { start: open, end: close },
                        name,
                        pipe: Some(pipe),
                    })),
                    None => Ok(Step::Nothing),
                }
            }
            _ => unreachable_eof(),
        }
    }

    fn template_name(&mut self, context: &str) -> Result<String, Error> {
        let t = self.next_word();
        match t.tok {
            Tok::Str(name) => Ok(name),
            _ => Err(Error::syntax(
                t.pos,
                format!("unexpected token in {context}: a template name in quotes is expected"),
            )
            .hint(format!("write `{{{{ {context} \"name\" … }}}}`"))),
        }
    }

    /// `if`/`range`/`with` after the keyword: pipeline, body, optional `else` (chains included).
    fn branch(&mut self, kw: &str, open: usize, kw_pos: usize) -> Result<Node, Error> {
        if self.depth >= MAX_NESTING {
            return Err(Error::syntax(kw_pos, format!("actions nested more than {MAX_NESTING} deep")));
        }
        self.depth += 1;
        let scope = self.vars.len();
        let pipe = self.pipeline(kw, true)?;
        if kw == "range" && pipe.vars.len() > 2 {
            return Err(Error::syntax(pipe.pos, "too many declarations in range"));
        }
        if kw != "range" && pipe.vars.len() > 1 {
            return Err(Error::syntax(pipe.pos, format!("too many declarations in {kw}")));
        }
        let close = self.close()?;
        if kw == "range" {
            self.ranges += 1;
        }
        let body = self.list(false);
        if kw == "range" {
            self.ranges -= 1;
        }
        let (body, end) = body?;
        let mut otherwise = Vec::new();
        match end {
            Some(Ender { word: "end", .. }) => {}
            Some(Ender { word: "else", .. }) => {
                let (list, end) = self.list(false)?;
                otherwise = list;
                match end {
                    Some(Ender { word: "end", .. }) => {}
                    Some(e) => {
                        return Err(Error::syntax(e.pos, "expected end; found {{else}}")
                            .hint("an action has at most one plain `{{else}}`, and it comes last"));
                    }
                    None => unreachable_eof(),
                }
            }
            Some(Ender { word: _, pos, .. }) => {
                // `{{else if …}}` / `{{else with …}}`: a nested branch that shares our `{{end}}`.
                self.skip_space();
                let chained = match self.peek() {
                    Tok::Ident(w) if w == "if" && kw == "if" => "if",
                    Tok::Ident(w) if w == "with" && kw == "with" => "with",
                    _ => {
                        return Err(Error::syntax(pos, format!("unexpected word after {{{{else}}}} in {kw}"))
                            .hint(format!("write `{{{{else}}}}` or `{{{{else {kw} …}}}}`")));
                    }
                };
                let chain_pos = self.pos();
                self.at += 1;
                otherwise.push(self.branch(chained, pos, chain_pos)?);
                self.vars.truncate(scope);
                self.depth -= 1;
                return Ok(make(kw, Span { start: open, end: close }, pipe, body, otherwise));
            }
            None => unreachable_eof(),
        }
        self.vars.truncate(scope);
        self.depth -= 1;
        Ok(make(kw, Span { start: open, end: close }, pipe, body, otherwise))
    }

    /// `}}` (spaces before it are fine); returns the offset just after it.
    fn close(&mut self) -> Result<usize, Error> {
        let t = self.next_word();
        match t.tok {
            Tok::Close => Ok(t.pos + 2),
            other => Err(Error::syntax(t.pos, format!("unexpected {} in action", describe(&other)))
                .hint("an action holds one pipeline: `{{ f arg | g }}`")),
        }
    }

    /// `[$x :=|=] cmd | cmd …` up to `}}` or `)`.
    fn pipeline(&mut self, context: &str, decl_allowed: bool) -> Result<Pipe, Error> {
        self.skip_space();
        let pos = self.pos();
        let (vars, assign) = if decl_allowed { self.declarations(context)? } else { (Vec::new(), false) };
        let mut cmds = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Tok::Close | Tok::RParen => break,
                _ => {}
            }
            cmds.push(self.command()?);
            self.skip_space();
            match self.peek() {
                Tok::Pipe => {
                    self.at += 1;
                }
                Tok::Close | Tok::RParen => break,
                other => return Err(Error::syntax(self.pos(), format!("unexpected {} in operand", describe(other)))),
            }
        }
        if cmds.is_empty() {
            return Err(Error::syntax(pos, format!("missing value for {context}")));
        }
        for (i, cmd) in cmds.iter().enumerate().skip(1) {
            if let Some(first) = cmd.args.first()
                && matches!(
                    first,
                    Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Int(..) | Arg::Float(..) | Arg::Str(..)
                )
            {
                return Err(Error::syntax(first.pos(), format!("non executable command in pipeline stage {}", i + 1))
                    .hint("after `|` comes a function (or a method) that takes the value as its last argument"));
            }
        }
        for (name, _) in &vars {
            if !assign {
                self.vars.push(name.clone());
            }
        }
        Ok(Pipe { pos, vars, assign, cmds })
    }

    /// `$x :=`, `$x =`, `$i, $e :=` at the start of a pipeline (or nothing).
    fn declarations(&mut self, context: &str) -> Result<(Vec<(String, usize)>, bool), Error> {
        let start = self.at;
        let mut vars = Vec::new();
        loop {
            self.skip_space();
            let t = self.next();
            let Tok::Var(name) = t.tok else { break };
            vars.push((name, t.pos));
            self.skip_space();
            match self.next().tok {
                Tok::Declare => return Ok((vars, false)),
                Tok::Assign => {
                    for (name, pos) in &vars {
                        self.check_var(name, *pos)?;
                    }
                    return Ok((vars, true));
                }
                Tok::Comma if context == "range" && vars.len() == 1 => continue,
                _ => break,
            }
        }
        self.at = start;
        Ok((Vec::new(), false))
    }

    fn check_var(&self, name: &str, pos: usize) -> Result<(), Error> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            Err(Error::syntax(pos, format!("undefined variable {name:?}")).hint(format!("declare it first: `{{{{ {name} := … }}}}`; a variable lives until the `end` of the action that declared it")))
        }
    }

    fn command(&mut self) -> Result<Cmd, Error> {
        let pos = self.pos();
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Tok::Close | Tok::RParen | Tok::Pipe => break,
                _ => {}
            }
            args.push(self.operand()?);
            match self.peek() {
                Tok::Space | Tok::Close | Tok::RParen | Tok::Pipe => {}
                other => return Err(Error::syntax(self.pos(), format!("unexpected {} in operand", describe(other)))),
            }
        }
        if args.is_empty() {
            return Err(Error::syntax(pos, "empty command"));
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self) -> Result<Arg, Error> {
        let t = self.next();
        let pos = t.pos;
        let arg = match t.tok {
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::Char(c) => Arg::Int(pos, c),
            Tok::Str(s) => Arg::Str(pos, s),
            Tok::Number(text) => number(pos, &text)?,
            Tok::Field(first) => Arg::Field(pos, self.fields(vec![first])),
            Tok::Var(name) => {
                self.check_var(&name, pos)?;
                Arg::Var(pos, name, self.fields(Vec::new()))
            }
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return Err(Error::syntax(pos, format!("function {name:?} not defined"))
                        .hint(super::funcs::unknown_hint(&name)));
                }
                Arg::Func(pos, name)
            }
            Tok::LParen => {
                if self.depth >= MAX_NESTING {
                    return Err(Error::syntax(pos, format!("parentheses nested more than {MAX_NESTING} deep")));
                }
                self.depth += 1;
                let pipe = self.pipeline("parenthesized pipeline", true)?;
                self.depth -= 1;
                let close = self.next();
                if close.tok != Tok::RParen {
                    return Err(Error::syntax(close.pos, "unclosed left paren"));
                }
                Arg::Sub(pos, Box::new(pipe), self.fields(Vec::new()))
            }
            other => return Err(Error::syntax(pos, format!("unexpected {} in operand", describe(&other)))),
        };
        Ok(arg)
    }

    /// Field names directly following (no space): `.a.b`.
    fn fields(&mut self, mut names: Vec<String>) -> Vec<String> {
        while let Tok::Field(name) = self.peek() {
            names.push(name.clone());
            self.at += 1;
        }
        names
    }
}

enum Step {
    Node(Node),
    Nothing,
    End(Ender),
}

fn make(kw: &str, span: Span, pipe: Pipe, body: Vec<Node>, otherwise: Vec<Node>) -> Node {
    let b = Branch { span, pipe, body, otherwise };
    match kw {
        "range" => Node::Range(b),
        "with" => Node::With(b),
        _ => Node::If(b),
    }
}

/// `list(false)` never returns without an ender: it errors on EOF instead.
fn unreachable_eof() -> ! {
    unreachable!("a nested list ends with an ender or an error")
}
