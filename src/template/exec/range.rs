//! `range`: over a list, a map (by sorted key) or an integer, with `else` when there is
//! nothing to walk, and `break` / `continue`.

use super::{Exec, Flow, Vars};
use crate::template::parse::Branch;
use crate::template::{Error, Output, Value};

impl Exec<'_> {
    pub(super) fn range(
        &mut self,
        file: usize,
        b: &Branch,
        dot: &Value,
        vars: &mut Vars,
        out: &mut Output,
    ) -> Result<(), Error> {
        self.step(file, b.span.start)?;
        self.enter((file, b.span.start))?;
        let mark = vars.len();
        let result = self.range_inner(file, b, dot, vars, out);
        vars.truncate(mark);
        self.depth -= 1;
        result
    }

    fn range_inner(
        &mut self,
        file: usize,
        b: &Branch,
        dot: &Value,
        vars: &mut Vars,
        out: &mut Output,
    ) -> Result<(), Error> {
        let value = self.pipe(file, &b.pipe, dot, vars)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(items) => items.iter().enumerate().map(|(i, v)| (Value::Int(i as i64), v.clone())).collect(),
            Value::Map(m) => m.borrow().iter().map(|(k, v)| (Value::str(k.clone()), v.clone())).collect(),
            Value::Int(n) => {
                if b.pipe.vars.len() > 1 {
                    return Err(self.err(file, b.pipe.pos, "can't use two variables when ranging over an integer"));
                }
                if *n > 0 && *n as u64 > self.limits.steps {
                    return Err(self.err(
                        file,
                        b.pipe.pos,
                        format!(
                            "range over {n}: more iterations than the {} steps rendering allows",
                            self.limits.steps
                        ),
                    ));
                }
                (0..(*n).max(0)).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Missing | Value::Nil => Vec::new(),
            other => {
                return Err(self
                    .err(file, b.pipe.pos, format!("range can't iterate over {}", other.to_text()))
                    .hint("`range` walks a list, a map or a number"));
            }
        };
        if items.is_empty() {
            self.walk(file, &b.otherwise, dot, vars, out)?;
            return Ok(());
        }
        let base = vars.len();
        // The declared (or assigned) variables: the element, after the key if two.
        let slots: Vec<usize> = if b.pipe.assign {
            b.pipe.vars.iter().filter_map(|(name, _)| vars.iter().rposition(|(n, _)| n == name)).collect()
        } else {
            (base - b.pipe.vars.len()..base).collect()
        };
        for (key, elem) in items {
            self.step(file, b.span.start)?;
            match slots.as_slice() {
                [e] => vars[*e].1 = elem.clone(),
                [k, e] => {
                    vars[*k].1 = key;
                    vars[*e].1 = elem.clone();
                }
                _ => {}
            }
            let flow = self.walk(file, &b.body, &elem, vars, out)?;
            vars.truncate(base);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(())
    }
}
