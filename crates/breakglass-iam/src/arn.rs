//! ARNs: splitting them into their six components, and matching ARN patterns the way IAM
//! does for `Resource` and the `Arn*` condition operators — component by component, with
//! the last component (the resource) free to contain colons.

use crate::context::Context;
use crate::pattern::{Glob, Template, UnclosedVariable};

/// The six components of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text` if it is an ARN (starts with `arn:` and has all six components).
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

/// How one compiled ARN pattern matches.
#[derive(Debug, Clone)]
enum Shape {
    /// `*`: everything.
    Any,
    /// No wildcards and no variables: string equality.
    Exact(Box<str>),
    /// `literal*`: a prefix test.
    Prefix(Box<str>),
    /// Component-wise globs; the last one takes the rest of the text, colons included.
    Components(Vec<Glob>),
    /// Like `Components`, but the resource component has variables to fill per request.
    WithVariables { head: Vec<Glob>, resource: Template },
}

/// A compiled ARN pattern from `Resource`/`NotResource` or an `Arn*` condition value.
#[derive(Debug, Clone)]
pub(crate) struct ArnPattern {
    shape: Shape,
}

impl ArnPattern {
    /// Compiles `text`. Policy variables are honoured only in the resource component (after
    /// the fifth colon), as IAM documents, and only when `variables` is true.
    pub(crate) fn compile(text: &str, variables: bool) -> Result<ArnPattern, UnclosedVariable> {
        if text == "*" {
            return Ok(ArnPattern { shape: Shape::Any });
        }
        let comps: Vec<&str> = text.splitn(6, ':').collect();
        let resource_template = match (comps.len(), comps.last()) {
            (6, Some(last)) => Some(Template::parse(last, variables, true)?),
            _ => None,
        };
        if let Some(template) = resource_template.filter(Template::has_variables) {
            let head = comps.iter().take(5).map(|c| Glob::new(c)).collect();
            return Ok(ArnPattern {
                shape: Shape::WithVariables {
                    head,
                    resource: template,
                },
            });
        }
        // `${*}`-style escapes only mean something inside the resource component.
        let literal_text = match comps.len() {
            6 => {
                let head: Vec<&str> = comps.iter().take(5).copied().collect();
                let tail = Template::parse(comps.last().copied().unwrap_or(""), variables, true)?;
                if tail.has_wildcards() || head.iter().any(|c| c.contains(['*', '?'])) {
                    None
                } else {
                    tail.plain_text().map(|t| format!("{}:{t}", head.join(":")))
                }
            }
            _ if !text.contains(['*', '?']) => Some(text.to_owned()),
            _ => None,
        };
        if let Some(exact) = literal_text {
            return Ok(ArnPattern {
                shape: Shape::Exact(exact.into()),
            });
        }
        // `literal*` with the only star at the very end is a prefix test.
        if let Some(prefix) = text
            .strip_suffix('*')
            .filter(|p| !p.contains(['*', '?', '$']))
        {
            return Ok(ArnPattern {
                shape: Shape::Prefix(prefix.into()),
            });
        }
        let globs: Vec<Glob> = match comps.len() {
            6 => {
                let mut g: Vec<Glob> = comps.iter().take(5).map(|c| Glob::new(c)).collect();
                let tail = Template::parse(comps.last().copied().unwrap_or(""), variables, true)?;
                g.push(tail.to_glob());
                g
            }
            _ => comps.iter().map(|c| Glob::new(c)).collect(),
        };
        Ok(ArnPattern {
            shape: Shape::Components(globs),
        })
    }

    /// Whether the pattern is `*`.
    pub(crate) fn is_any(&self) -> bool {
        matches!(self.shape, Shape::Any)
    }

    /// Whether the pattern holds policy variables, resolved per request.
    pub(crate) fn has_variables(&self) -> bool {
        matches!(self.shape, Shape::WithVariables { .. })
    }

    /// Whether `text` matches; variables are filled from `ctx` (an unresolvable variable
    /// matches nothing).
    pub(crate) fn matches(&self, text: &str, ctx: &Context) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(e) => **e == *text,
            Shape::Prefix(p) => text.starts_with(&**p),
            Shape::Components(globs) => components_match(globs, text),
            Shape::WithVariables { head, resource } => match resource.resolve(ctx) {
                Some(tail) => {
                    let mut parts = text.splitn(6, ':');
                    head.iter()
                        .all(|g| parts.next().is_some_and(|p| g.matches(p)))
                        && parts.next().is_some_and(|rest| tail.matches(rest))
                }
                None => false,
            },
        }
    }
}

fn components_match(globs: &[Glob], text: &str) -> bool {
    let mut parts = text.splitn(globs.len(), ':');
    globs
        .iter()
        .all(|g| parts.next().is_some_and(|p| g.matches(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        ArnPattern::compile(pattern, true)
            .unwrap()
            .matches(text, &Context::default())
    }

    #[test]
    fn matches_component_by_component() {
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b/c"));
        assert!(m(
            "arn:aws:ec2:*:*:instance/*",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-1"
        ));
        // The documented ArnLike example: the first `*` covers only the region.
        assert!(!m(
            "arn:aws:someservice:*:111122223333:finance/*",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
        ));
        // A star ending a short pattern runs past the colons.
        assert!(m("arn:aws:s3*", "arn:aws:s3:::bucket"));
        assert!(!m("arn:aws:s3", "arn:aws:s3:::bucket"));
        assert!(m(
            "arn:aws:logs:us-east-1:1:log-group:*",
            "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s"
        ));
        assert!(!m("arn:aws:iam::1:user/Bob", "arn:aws:iam::1:user/bob"));
    }
}
