//! Config errors: every problem names the file, the line and column, and the field, and says
//! what is wrong. Validation collects all of them instead of stopping at the first.

use std::fmt;

use super::spans::{FieldPath, SpanIndex};

/// One problem with a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct ConfigError {
    file: String,
    line: usize,
    column: usize,
    field: String,
    message: String,
}

impl ConfigError {
    /// The file name the caller gave the loader.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line (from 1) of the offending value, or of its closest enclosing table.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column (from 1).
    pub fn column(&self) -> usize {
        self.column
    }

    /// The field's path, e.g. `playbooks.contain.roles[1]`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, lowercase, user input in backticks.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Every problem found in one config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// The problems, in file order.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{n} problem{} in the config",
            if n == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// Problems gathered during validation, located once at the end.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    items: Vec<(FieldPath, String)>,
}

impl Problems {
    pub(crate) fn push(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.items.push((path.clone(), message.into()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Resolves every problem to a location in `file`, sorted by position.
    pub(crate) fn locate(self, file: &str, index: &SpanIndex<'_>) -> ConfigErrors {
        let mut errors: Vec<ConfigError> = self
            .items
            .into_iter()
            .map(|(path, message)| {
                let at = index.locate(&path);
                ConfigError {
                    file: file.to_owned(),
                    line: at.map_or(1, |a| a.line),
                    column: at.map_or(1, |a| a.column),
                    field: path.to_string(),
                    message,
                }
            })
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        ConfigErrors { errors }
    }

    /// A single problem reported by the TOML parser or serde, with its own byte span.
    pub(crate) fn from_parser(
        file: &str,
        index: &SpanIndex<'_>,
        message: &str,
        offset: Option<usize>,
    ) -> ConfigErrors {
        let (at, field) = match offset {
            Some(offset) => (index.location(offset), index.path_at(offset)),
            None => (index.location(0), FieldPath::root()),
        };
        ConfigErrors {
            errors: vec![ConfigError {
                file: file.to_owned(),
                line: at.line,
                column: at.column,
                field: field.to_string(),
                message: message.trim().to_owned(),
            }],
        }
    }
}
