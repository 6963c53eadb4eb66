//! Space-delimited patterns: `[ip, user, ..., status_code = 4* || status_code = 5*, bytes]`.

use super::super::ast::{Field, FieldTest};
use super::super::error::ProblemKind;
use super::{Parser, is_word};

impl Parser<'_> {
    pub(super) fn delimited(&mut self) -> Option<Vec<Field>> {
        self.pos += 1; // `[`
        let mut fields = Vec::new();
        let mut ok = true;
        loop {
            self.skip_ws();
            match self.field() {
                Some(f) => fields.push(f),
                None => {
                    ok = false;
                    self.recover();
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    let at = self.pos;
                    self.expected(at, "`,` or `]`");
                    return None;
                }
            }
        }
        self.skip_ws();
        if self.pos < self.b.len() {
            let at = self.pos;
            self.expected(at, "the end of the pattern after `]`");
            return None;
        }
        ok.then_some(fields)
    }

    fn field(&mut self) -> Option<Field> {
        if self.starts_with("...") {
            self.pos += 3;
            return Some(Field::Ellipsis);
        }
        let at = self.pos;
        let name = self.take_while(is_word).to_owned();
        if name.is_empty() {
            self.expected(at, "a field name or `...`");
            return None;
        }
        self.skip_ws();
        if !matches!(self.peek(), Some(b'=' | b'!' | b'<' | b'>')) {
            return Some(Field::Named {
                name,
                any_of: Vec::new(),
            });
        }
        let mut any_of = vec![vec![self.field_test()?]];
        loop {
            self.skip_ws();
            let new_group = if self.starts_with("||") {
                true
            } else if self.starts_with("&&") {
                false
            } else {
                break;
            };
            self.pos += 2;
            self.skip_ws();
            let at = self.pos;
            let again = self.take_while(is_word).to_owned();
            if again != name {
                if again.is_empty() {
                    self.expected(at, "the field name again after `&&` or `||`");
                } else {
                    self.problem_at(
                        at,
                        ProblemKind::FieldNameMismatch {
                            field: name.clone(),
                            found: again,
                        },
                    );
                }
                return None;
            }
            self.skip_ws();
            let test = self.field_test()?;
            if new_group {
                any_of.push(vec![test]);
            } else if let Some(group) = any_of.last_mut() {
                group.push(test);
            }
        }
        Some(Field::Named { name, any_of })
    }

    fn field_test(&mut self) -> Option<FieldTest> {
        let op = self.operator()?;
        self.skip_ws();
        let at = self.pos;
        let value = self.value()?;
        self.check_numeric(op, &value, at)?;
        Some(FieldTest { op, value })
    }
}
