//! Executing a parsed template: Go's `text/template` evaluation rules.
//!
//! Dot and variables: `$` is the data the template was called with; variables declared in
//! an `if`, `range` or `with` live until its `end`; `template` starts a fresh scope.
//! Fields: a missing map key is "no value" (printed `<no value>`), a field of a missing
//! value is missing too, a field of an explicit nil is an error. Commands: the value of
//! each `|` stage becomes the last argument of the next. `and` / `or` stop at the first
//! argument that decides. `range` walks lists, maps (by sorted key) and integers.

mod range;

use super::parse::{Arg, Branch, Cmd, Node, Pipe};
use super::{Error, Frame, Host, Limits, Output, Segment, Set, SourceKind, Value, funcs};

pub(crate) struct Exec<'s> {
    pub set: &'s Set,
    pub host: &'s dyn Host,
    limits: Limits,
    steps: u64,
    depth: usize,
    /// Bytes produced so far, in every output (nested includes count too).
    produced: usize,
}

/// Variables in scope, innermost last.
pub(crate) type Vars = Vec<(String, Value)>;

enum Flow {
    Normal,
    Break,
    Continue,
}

/// A function's failure: a message (located at the call by the caller), or an error that
/// already has its place (from a nested `include` or `tpl`).
pub(crate) enum Fail {
    Msg(String),
    Located(Box<Error>),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Msg(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Fail {
        Fail::Msg(s.to_string())
    }
}

impl<'s> Exec<'s> {
    pub fn new(set: &'s Set, host: &'s dyn Host, limits: Limits) -> Self {
        Exec { set, host, limits, steps: 0, depth: 0, produced: 0 }
    }

    /// Runs template `name` with `data` into `out`. `call` is where it was called from
    /// (`None` for the entry template).
    pub fn run(
        &mut self,
        name: &str,
        call: Option<(usize, usize, String)>,
        data: Value,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some((file, body)) = self.set.lookup(name) else {
            let (file, offset) = call.as_ref().map_or((0, 0), |c| (c.0, c.1));
            let names = self
                .set
                .names()
                .into_iter()
                .filter(|n| !n.starts_with("tpl-"))
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error {
                file,
                offset,
                message: format!("no template {name:?}"),
                hint: Some(format!(
                    "define it with `{{{{ define {name:?} }}}}…{{{{ end }}}}` in the project file or in a partial (.werf/**/*.tmpl); defined: {names}"
                )),
                trace: Vec::new(),
            });
        };
        self.enter(call.as_ref().map_or((file, 0), |c| (c.0, c.1)))?;
        let mut vars: Vars = vec![("$".into(), data.clone())];
        let result = self.walk(file, &body, &data, &mut vars, out);
        self.depth -= 1;
        result.map(|_| ()).map_err(|mut e| {
            if let Some((f, o, what)) = call {
                e.trace.push(Frame { file: f, offset: o, call: what });
            }
            e
        })
    }

    fn enter(&mut self, (file, offset): (usize, usize)) -> Result<(), Error> {
        if self.depth >= self.limits.depth {
            return Err(Error {
                file,
                offset,
                message: format!("templates nested more than {} deep", self.limits.depth),
                hint: Some("an `include` or `template` probably calls itself without end".into()),
                trace: Vec::new(),
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn step(&mut self, file: usize, offset: usize) -> Result<(), Error> {
        self.steps += 1;
        if self.steps > self.limits.steps {
            return Err(Error {
                file,
                offset,
                message: format!("rendering takes more than {} steps", self.limits.steps),
                hint: Some("a `range` over a very long list, or templates calling each other without end".into()),
                trace: Vec::new(),
            });
        }
        Ok(())
    }

    fn write(
        &mut self,
        out: &mut Output,
        text: &str,
        seg: (usize, usize, usize, bool),
        at: usize,
    ) -> Result<(), Error> {
        self.produced += text.len();
        if self.produced > self.limits.output {
            return Err(Error {
                file: seg.0,
                offset: at,
                message: format!("the rendered text is larger than {} MiB", self.limits.output >> 20),
                hint: None,
                trace: Vec::new(),
            });
        }
        if text.is_empty() {
            return Ok(());
        }
        let start = out.text.len();
        out.text.push_str(text);
        out.segments.push(Segment {
            out_start: start,
            out_end: out.text.len(),
            file: seg.0,
            src_start: seg.1,
            src_end: seg.2,
            verbatim: seg.3,
        });
        Ok(())
    }

    fn walk(
        &mut self,
        file: usize,
        nodes: &[Node],
        dot: &Value,
        vars: &mut Vars,
        out: &mut Output,
    ) -> Result<Flow, Error> {
        for node in nodes {
            match node {
                Node::Text { pos, text } => {
                    self.step(file, *pos)?;
                    self.write(out, text, (file, *pos, pos + text.len(), true), *pos)?;
                }
                Node::Action { span, pipe } => {
                    self.step(file, span.start)?;
                    let value = self.pipe(file, pipe, dot, vars)?;
                    if pipe.vars.is_empty() {
                        let text = if value.is_nil() { "<no value>".to_string() } else { value.to_text() };
                        self.write(out, &text, (file, span.start, span.end, false), span.start)?;
                    }
                }
                Node::If(b) | Node::With(b) => {
                    let with = matches!(node, Node::With(_));
                    let flow = self.branch(file, b, with, dot, vars, out)?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(b) => self.range(file, b, dot, vars, out)?,
                Node::Template { span, name, pipe } => {
                    self.step(file, span.start)?;
                    let data = match pipe {
                        Some(p) => self.pipe(file, p, dot, vars)?,
                        None => Value::Missing,
                    };
                    self.run(name, Some((file, span.start, format!("template {name:?}"))), data, out)?;
                }
                Node::Break(pos) => {
                    self.step(file, *pos)?;
                    return Ok(Flow::Break);
                }
                Node::Continue(pos) => {
                    self.step(file, *pos)?;
                    return Ok(Flow::Continue);
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn branch(
        &mut self,
        file: usize,
        b: &Branch,
        with: bool,
        dot: &Value,
        vars: &mut Vars,
        out: &mut Output,
    ) -> Result<Flow, Error> {
        self.step(file, b.span.start)?;
        self.enter((file, b.span.start))?;
        let mark = vars.len();
        let result = (|| {
            let value = self.pipe(file, &b.pipe, dot, vars)?;
            if value.truthy() {
                let inner = if with { &value } else { dot };
                self.walk(file, &b.body, inner, vars, out)
            } else {
                self.walk(file, &b.otherwise, dot, vars, out)
            }
        })();
        vars.truncate(mark);
        self.depth -= 1;
        result
    }

    pub(crate) fn err(&self, file: usize, offset: usize, message: impl Into<String>) -> Error {
        Error { file, offset, message: message.into(), hint: None, trace: Vec::new() }
    }

    /// Evaluates a pipeline, declaring or assigning its variables.
    pub(crate) fn pipe(&mut self, file: usize, pipe: &Pipe, dot: &Value, vars: &mut Vars) -> Result<Value, Error> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            self.step(file, cmd.pos)?;
            value = Some(self.command(file, cmd, dot, vars, value)?);
        }
        let value = value.unwrap_or(Value::Missing);
        for (name, pos) in &pipe.vars {
            if pipe.assign {
                match vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => return Err(self.err(file, *pos, format!("undefined variable: {name}"))),
                }
            } else {
                vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        file: usize,
        cmd: &Cmd,
        dot: &Value,
        vars: &mut Vars,
        piped: Option<Value>,
    ) -> Result<Value, Error> {
        let (first, rest) = cmd.args.split_first().expect("the parser never makes an empty command");
        let has_args = !rest.is_empty() || piped.is_some();
        match first {
            Arg::Func(pos, name) => self.call(file, *pos, name, rest, dot, vars, piped),
            Arg::Field(pos, names) => self.chain(file, *pos, dot.clone(), names, rest, dot, vars, piped),
            Arg::Var(pos, name, names) if !names.is_empty() => {
                let base = lookup_var(vars, name);
                self.chain(file, *pos, base, names, rest, dot, vars, piped)
            }
            Arg::Sub(pos, pipe, names) if !names.is_empty() => {
                let base = self.pipe(file, pipe, dot, vars)?;
                self.chain(file, *pos, base, names, rest, dot, vars, piped)
            }
            Arg::Nil(pos) => Err(self.err(file, *pos, "nil is not a command")),
            other if has_args => Err(self
                .err(file, other.pos(), "can't give argument to non-function")
                .hint("only a function or a method takes arguments (and the value piped into it)")),
            other => self.arg(file, other, dot, vars),
        }
    }

    /// The value of one operand.
    pub(crate) fn arg(&mut self, file: usize, arg: &Arg, dot: &Value, vars: &mut Vars) -> Result<Value, Error> {
        Ok(match arg {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => Value::Nil,
            Arg::Bool(_, b) => Value::Bool(*b),
            Arg::Int(_, i) => Value::Int(*i),
            Arg::Float(_, f) => Value::Float(*f),
            Arg::Str(_, s) => Value::str(s.clone()),
            Arg::Field(pos, names) => self.chain(file, *pos, dot.clone(), names, &[], dot, vars, None)?,
            Arg::Var(pos, name, names) => {
                let base = lookup_var(vars, name);
                if names.is_empty() { base } else { self.chain(file, *pos, base, names, &[], dot, vars, None)? }
            }
            Arg::Func(pos, name) => self.call(file, *pos, name, &[], dot, vars, None)?,
            Arg::Sub(pos, pipe, names) => {
                let base = self.pipe(file, pipe, dot, vars)?;
                if names.is_empty() { base } else { self.chain(file, *pos, base, names, &[], dot, vars, None)? }
            }
        })
    }

    /// `receiver.a.b …`; the last name gets `args` (and `piped`) when it is a method.
    #[allow(clippy::too_many_arguments)]
    fn chain(
        &mut self,
        file: usize,
        pos: usize,
        receiver: Value,
        names: &[String],
        args: &[Arg],
        dot: &Value,
        vars: &mut Vars,
        piped: Option<Value>,
    ) -> Result<Value, Error> {
        let mut value = receiver;
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            let call_args = if last && (!args.is_empty() || piped.is_some()) {
                let mut v = Vec::with_capacity(args.len() + 1);
                for a in args {
                    v.push(self.arg(file, a, dot, vars)?);
                }
                v.extend(piped.clone());
                Some(v)
            } else {
                None
            };
            value = self.field(file, pos, &value, name, call_args)?;
        }
        Ok(value)
    }

    fn field(
        &mut self,
        file: usize,
        pos: usize,
        receiver: &Value,
        name: &str,
        args: Option<Vec<Value>>,
    ) -> Result<Value, Error> {
        match receiver {
            Value::Missing => Ok(Value::Missing),
            Value::Nil => Err(self.err(file, pos, format!("nil pointer evaluating interface {{}}.{name}"))),
            Value::Map(m) => {
                if args.is_some() {
                    return Err(self.err(file, pos, format!("{name} is not a method but has arguments")));
                }
                Ok(m.borrow().get(name).cloned().unwrap_or(Value::Missing))
            }
            Value::Object(o) => match o.call(name, args.as_deref().unwrap_or(&[])) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(self.err(file, pos, format!("can't evaluate field {name} in type {}", o.type_name()))),
                Err(message) => Err(self.err(file, pos, format!("error calling {name}: {message}"))),
            },
            other => Err(self.err(file, pos, format!("can't evaluate field {name} in type {}", other.type_name()))),
        }
    }

    /// Calls function `name` with `args` (and `piped` last).
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        file: usize,
        pos: usize,
        name: &str,
        args: &[Arg],
        dot: &Value,
        vars: &mut Vars,
        piped: Option<Value>,
    ) -> Result<Value, Error> {
        if name == "and" || name == "or" {
            return self.and_or(file, pos, name == "and", args, dot, vars, piped);
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(self.arg(file, a, dot, vars)?);
        }
        values.extend(piped);
        let f = funcs::lookup(name).expect("the parser checked that the function exists");
        let mut call = Call { ex: self, file, pos };
        f(&mut call, values).map_err(|fail| match fail {
            Fail::Msg(m) => Error {
                file,
                offset: pos,
                message: format!("error calling {name}: {m}"),
                hint: None,
                trace: Vec::new(),
            },
            Fail::Located(e) => *e,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn and_or(
        &mut self,
        file: usize,
        pos: usize,
        and: bool,
        args: &[Arg],
        dot: &Value,
        vars: &mut Vars,
        piped: Option<Value>,
    ) -> Result<Value, Error> {
        if args.is_empty() && piped.is_none() {
            return Err(self.err(
                file,
                pos,
                format!("wrong number of args for {}: want at least 1 got 0", if and { "and" } else { "or" }),
            ));
        }
        let mut last = Value::Missing;
        for a in args {
            last = self.arg(file, a, dot, vars)?;
            if last.truthy() != and {
                return Ok(last);
            }
        }
        if let Some(p) = piped {
            last = p;
        }
        Ok(last)
    }

    /// `include NAME DATA`: template `name`'s text.
    pub(crate) fn include(&mut self, file: usize, pos: usize, name: &str, data: Value) -> Result<String, Fail> {
        let mut out = Output::default();
        self.run(name, Some((file, pos, format!("include {name:?}"))), data, &mut out)
            .map_err(|e| Fail::Located(Box::new(e)))?;
        Ok(out.text)
    }

    /// `tpl TEXT DATA`: `text` parsed as a template and executed.
    pub(crate) fn tpl(&mut self, file: usize, pos: usize, text: &str, data: Value) -> Result<String, Fail> {
        let name = format!("tpl-{}", self.set.sources.borrow().len());
        let located = |mut e: Error| {
            e.trace.push(Frame { file, offset: pos, call: "tpl".into() });
            Fail::Located(Box::new(e))
        };
        self.set.add_source(&name, "the text given to tpl", text, SourceKind::Tpl).map_err(located)?;
        let mut out = Output::default();
        self.run(&name, Some((file, pos, "tpl".into())), data, &mut out).map_err(|e| Fail::Located(Box::new(e)))?;
        Ok(out.text)
    }
}

fn lookup_var(vars: &Vars, name: &str) -> Value {
    vars.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or(Value::Missing)
}

/// What a function gets besides its arguments: the executor (for `include`, `tpl`, `env`)
/// and where it was called.
pub(crate) struct Call<'e, 's> {
    pub ex: &'e mut Exec<'s>,
    pub file: usize,
    pub pos: usize,
}
