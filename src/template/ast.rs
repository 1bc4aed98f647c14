//! The tree a template parses into: text, actions, `if` / `range` / `with` branches,
//! `template` calls, pipelines of commands and their operands, each with its byte offset so
//! that errors point at the template's own file:line:col.

/// A byte range of the template text (an action from `{{` to `}}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text { pos: usize, text: String },
    Action { span: Span, pipe: Pipe },
    If(Branch),
    Range(Branch),
    With(Branch),
    Template { span: Span, name: String, pipe: Option<Pipe> },
    Break(usize),
    Continue(usize),
}

/// `if`, `range` and `with`: the pipeline, the body and the `else` part.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub span: Span,
    pub pipe: Pipe,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    /// Variables declared (`$x :=`) or assigned (`$x =`); two in `range $i, $e :=`.
    pub vars: Vec<(String, usize)>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

/// One command of a pipeline: a function and its arguments, or a single operand.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Int(usize, i64),
    Float(usize, f64),
    Str(usize, String),
    /// `.A.B`.
    Field(usize, Vec<String>),
    /// `$x.A.B` (no fields for a plain variable).
    Var(usize, String, Vec<String>),
    Func(usize, String),
    /// `(pipeline)` with optional `.A.B` after it.
    Sub(usize, Box<Pipe>, Vec<String>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Dot(p) | Arg::Nil(p) | Arg::Bool(p, _) | Arg::Int(p, _) | Arg::Float(p, _) | Arg::Str(p, _) => *p,
            Arg::Field(p, _) | Arg::Var(p, _, _) | Arg::Func(p, _) | Arg::Sub(p, _, _) => *p,
        }
    }
}
