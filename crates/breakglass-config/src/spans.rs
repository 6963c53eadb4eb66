//! Where each value of a TOML document was written, so that a semantic error found after
//! deserialisation ("playbook names a missing role") still points at a file, line and column.
//!
//! The document is read a second time into a tree of spans; errors carry the field's path
//! (`playbooks.contain.roles[1]`) and are resolved to a location here.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// One step of a path into the document: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    /// A key of a table.
    Key(String),
    /// An index into an array.
    Index(usize),
}

/// A path from the document root to a value, e.g. `playbooks.contain.roles[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The root of the document.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by a table key.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Key(key.to_owned()));
        Self(next)
    }

    /// This path extended by an array index.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Index(index));
        Self(next)
    }

    /// The segments from the root.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the document root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

/// A key is written bare when TOML allows it, quoted otherwise, so the path can be pasted
/// back into the file's vocabulary.
fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        f.write_str(key)
    } else {
        write!(f, "{key:?}")
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write_key(f, key)?;
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A value of the document with the byte range it was written at.
#[derive(Debug)]
enum Node {
    Table(Vec<(Spanned<String>, Spanned<Node>)>),
    Array(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

macro_rules! scalar {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: de::Error>(self, _value: $ty) -> Result<Node, E> {
            Ok(Node::Scalar)
        })*
    };
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Table(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
}

/// The spans of a whole document, and the text to turn byte offsets into lines.
pub struct SpanIndex<'a> {
    text: &'a str,
    root: Option<Spanned<Node>>,
}

/// A position in the file, 1-based as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
}

impl<'a> SpanIndex<'a> {
    /// Indexes `text`. A document that does not parse yields an index that knows no spans
    /// (the parse error itself carries its own span).
    pub fn new(text: &'a str) -> Self {
        let root = toml::from_str::<Spanned<Node>>(text).ok();
        Self { text, root }
    }

    /// The byte range of the value at `path`, or of its closest existing ancestor.
    pub fn span(&self, path: &FieldPath) -> Option<Range<usize>> {
        let mut node = self.root.as_ref()?;
        let mut best = node.span();
        for segment in path.segments() {
            let next = match (node.get_ref(), segment) {
                (Node::Table(entries), Segment::Key(key)) => entries
                    .iter()
                    .find(|(k, _)| k.get_ref() == key)
                    .map(|(_, v)| v),
                (Node::Array(items), Segment::Index(index)) => items.get(*index),
                _ => None,
            };
            let Some(next) = next else { break };
            node = next;
            best = node.span();
        }
        Some(best)
    }

    /// The line and column of byte `offset`.
    pub fn location(&self, offset: usize) -> Location {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Location { line, column }
    }

    /// The location of the value at `path` (or its closest existing ancestor).
    pub fn locate(&self, path: &FieldPath) -> Option<Location> {
        self.span(path).map(|span| self.location(span.start))
    }

    /// The path of the innermost value whose span contains `offset`. Tables written as
    /// `[headers]` do not span their contents, so the whole tree is searched for the
    /// narrowest span rather than descending through containing parents.
    pub fn path_at(&self, offset: usize) -> FieldPath {
        let mut best: Option<(usize, Vec<Segment>)> = None;
        if let Some(root) = self.root.as_ref() {
            let mut trail = Vec::new();
            narrowest(root, offset, &mut trail, &mut best);
        }
        FieldPath(best.map(|(_, path)| path).unwrap_or_default())
    }
}

fn narrowest(
    node: &Spanned<Node>,
    offset: usize,
    trail: &mut Vec<Segment>,
    best: &mut Option<(usize, Vec<Segment>)>,
) {
    let span = node.span();
    if span.contains(&offset) && !trail.is_empty() {
        let width = span.len();
        if best.as_ref().is_none_or(|(w, _)| width <= *w) {
            *best = Some((width, trail.clone()));
        }
    }
    match node.get_ref() {
        Node::Table(entries) => {
            for (key, child) in entries {
                trail.push(Segment::Key(key.get_ref().clone()));
                // An error on a key (an unknown field) points at the key itself.
                if key.span().contains(&offset) {
                    *best = Some((0, trail.clone()));
                }
                narrowest(child, offset, trail, best);
                trail.pop();
            }
        }
        Node::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                trail.push(Segment::Index(i));
                narrowest(child, offset, trail, best);
                trail.pop();
            }
        }
        Node::Scalar => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"version = 1

[roles.SecurityAnalyst]
template = "SecurityAnalyst"

[playbooks.contain]
roles = ["SecurityBreakGlass", "Missing"]
"#;

    #[test]
    fn paths_resolve_to_the_line_they_were_written_on() {
        let index = SpanIndex::new(DOC);
        let path = FieldPath::root()
            .key("playbooks")
            .key("contain")
            .key("roles")
            .index(1);
        assert_eq!(path.to_string(), "playbooks.contain.roles[1]");
        let at = index.locate(&path).unwrap();
        assert_eq!(at.line, 7);
        assert_eq!(at.column, 32);
        let template = FieldPath::root()
            .key("roles")
            .key("SecurityAnalyst")
            .key("template");
        assert_eq!(index.locate(&template).unwrap().line, 4);
    }

    #[test]
    fn a_missing_field_falls_back_to_its_closest_ancestor() {
        let index = SpanIndex::new(DOC);
        let path = FieldPath::root()
            .key("playbooks")
            .key("contain")
            .key("approval");
        let at = index.locate(&path).unwrap();
        assert!(at.line >= 6, "{at:?}");
    }

    #[test]
    fn an_offset_maps_back_to_the_innermost_path() {
        let index = SpanIndex::new(DOC);
        let offset = DOC.find("\"Missing\"").unwrap() + 1;
        assert_eq!(
            index.path_at(offset).to_string(),
            "playbooks.contain.roles[1]"
        );
    }

    #[test]
    fn an_offset_on_a_key_maps_to_that_key() {
        let index = SpanIndex::new(DOC);
        let offset = DOC.find("template").unwrap();
        assert_eq!(
            index.path_at(offset).to_string(),
            "roles.SecurityAnalyst.template"
        );
    }

    #[test]
    fn keys_that_toml_would_quote_are_quoted() {
        let path = FieldPath::root().key("roles").key("a.b");
        assert_eq!(path.to_string(), "roles.\"a.b\"");
    }
}
