//! JSON patterns: `{ SELECTOR TEST && ( … || … ) }`.

use super::super::ast::{Condition, JsonExpr, Segment, Selector, Test};
use super::super::error::ProblemKind;
use super::{Parser, is_ident};

impl Parser<'_> {
    pub(super) fn json(&mut self) -> Option<JsonExpr> {
        self.pos += 1; // `{`
        let expr = self.or_expr();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            let at = self.pos;
            self.expected(at, "`&&`, `||` or `}`");
            return None;
        }
        self.skip_ws();
        if self.pos < self.b.len() {
            let at = self.pos;
            self.expected(at, "the end of the pattern after `}`");
            return None;
        }
        expr
    }

    fn or_expr(&mut self) -> Option<JsonExpr> {
        self.chain(false)
    }

    /// `a || b || …` (operands are `&&` chains) or, with `and`, `a && b && …` (operands are
    /// primaries); nested chains of the same operator are flattened.
    fn chain(&mut self, and: bool) -> Option<JsonExpr> {
        let op = if and { "&&" } else { "||" };
        let mut items = Vec::new();
        let mut ok = true;
        loop {
            let item = if and {
                self.primary()
            } else {
                self.chain(true)
            };
            match item {
                Some(JsonExpr::And(inner)) if and => items.extend(inner),
                Some(JsonExpr::Or(inner)) if !and => items.extend(inner),
                Some(e) => items.push(e),
                None => ok = false,
            }
            self.skip_ws();
            if self.starts_with(op) {
                self.pos += 2;
            } else {
                break;
            }
        }
        if !ok {
            return None;
        }
        match (items.len(), and) {
            (1, _) => items.pop(),
            (_, true) => Some(JsonExpr::And(items)),
            (_, false) => Some(JsonExpr::Or(items)),
        }
    }

    fn primary(&mut self) -> Option<JsonExpr> {
        self.skip_ws();
        if self.peek() == Some(b'(') {
            self.pos += 1;
            let inner = self.or_expr();
            self.skip_ws();
            if self.peek() == Some(b')') {
                self.pos += 1;
                return inner;
            }
            let at = self.pos;
            self.expected(at, "`&&`, `||` or `)`");
            self.recover();
            if self.peek() == Some(b')') {
                self.pos += 1;
            }
            return None;
        }
        let cond = self.condition();
        if cond.is_none() {
            self.recover();
        }
        cond.map(JsonExpr::Cond)
    }

    fn condition(&mut self) -> Option<Condition> {
        let selector = self.selector()?;
        self.skip_ws();
        let test = self.test()?;
        Some(Condition { selector, test })
    }

    fn selector(&mut self) -> Option<Selector> {
        let start = self.pos;
        if self.peek() != Some(b'$') {
            self.expected(start, "a property selector such as `$.eventName`");
            return None;
        }
        self.pos += 1;
        let mut segments = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'*') => {
                            self.pos += 1;
                            segments.push(Segment::AnyKey);
                        }
                        Some(b'[') => segments.push(self.bracket()?),
                        Some(b) if is_ident(b) => {
                            let name = self.take_while(is_ident).to_owned();
                            segments.push(Segment::Key(name));
                        }
                        _ => {
                            let at = self.pos;
                            self.expected(at, "a property name, `*` or `[` after `.`");
                            return None;
                        }
                    }
                }
                Some(b'[') => segments.push(self.bracket()?),
                _ => break,
            }
        }
        if segments.is_empty() {
            let at = self.pos;
            self.expected(at, "`.` or `[` after `$`");
            return None;
        }
        let selector = Selector { segments };
        let wildcards = selector.wildcards();
        if wildcards > 0 {
            self.wildcard_selectors += 1;
        }
        if wildcards > 1 {
            let text = self.src.get(start..self.pos).unwrap_or("").to_owned();
            self.problem_at(
                start,
                ProblemKind::SelectorWildcards {
                    selector: text,
                    count: wildcards,
                },
            );
        }
        Some(selector)
    }

    /// `[0]`, `[*]`, `['key']` or `["key"]`.
    fn bracket(&mut self) -> Option<Segment> {
        self.pos += 1; // `[`
        self.skip_ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Segment::AnyIndex
            }
            Some(q @ (b'\'' | b'"')) => {
                let open = self.pos;
                let key = self.enclosed(q, open, "a closing quote for this key")?;
                Segment::Key(key.to_owned())
            }
            Some(b'0'..=b'9') => {
                let at = self.pos;
                let digits = self.take_while(|b| b.is_ascii_digit());
                match digits.parse::<u32>() {
                    Ok(n) => Segment::Index(n),
                    Err(_) => {
                        self.expected(at, "an array index below 4294967296");
                        return None;
                    }
                }
            }
            _ => {
                let at = self.pos;
                self.expected(at, "an array index, `*` or a quoted key inside `[ ]`");
                return None;
            }
        };
        self.skip_ws();
        if self.peek() != Some(b']') {
            let at = self.pos;
            self.expected(at, "`]`");
            return None;
        }
        self.pos += 1;
        Some(seg)
    }

    fn keyword(&self) -> Option<&str> {
        let rest = self.b.get(self.pos..)?;
        let n = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if n == 0 {
            return None;
        }
        self.src.get(self.pos..self.pos + n)
    }

    fn test(&mut self) -> Option<Test> {
        let at = self.pos;
        if let Some(word) = self.keyword() {
            let word = word.to_owned();
            let upper = word.to_ascii_uppercase();
            if matches!(upper.as_str(), "IS" | "NOT" | "EXISTS") && word != upper {
                self.problem_at(
                    at,
                    ProblemKind::Unsupported {
                        found: word,
                        hint: "keywords are upper case (`IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`)",
                    },
                );
                return None;
            }
            match word.as_str() {
                "IS" => {
                    self.pos += 2;
                    self.skip_ws();
                    let at = self.pos;
                    let what = self.keyword().map(str::to_owned);
                    return match what.as_deref() {
                        Some("NULL") => {
                            self.pos += 4;
                            Some(Test::IsNull)
                        }
                        Some("TRUE") => {
                            self.pos += 4;
                            Some(Test::IsTrue)
                        }
                        Some("FALSE") => {
                            self.pos += 5;
                            Some(Test::IsFalse)
                        }
                        Some("NOT") => {
                            self.problem_at(
                                at,
                                ProblemKind::Unsupported {
                                    found: "IS NOT".to_owned(),
                                    hint: "CloudWatch Logs has no `IS NOT`; use `!=` or `NOT EXISTS`",
                                },
                            );
                            None
                        }
                        _ => {
                            self.expected(at, "`NULL`, `TRUE` or `FALSE` after `IS`");
                            None
                        }
                    };
                }
                "NOT" => {
                    self.pos += 3;
                    self.skip_ws();
                    if self.keyword() == Some("EXISTS") {
                        self.pos += 6;
                        return Some(Test::NotExists);
                    }
                    let at = self.pos;
                    self.expected(at, "`EXISTS` after `NOT`");
                    return None;
                }
                "EXISTS" => {
                    self.problem_at(
                        at,
                        ProblemKind::Unsupported {
                            found: word,
                            hint: "CloudWatch Logs has no `EXISTS`; `= *` matches any present value",
                        },
                    );
                    return None;
                }
                _ => {}
            }
        }
        let op = self.operator()?;
        self.skip_ws();
        let value_at = self.pos;
        let value = self.value()?;
        self.check_numeric(op, &value, value_at)?;
        Some(Test::Compare { op, value })
    }
}
