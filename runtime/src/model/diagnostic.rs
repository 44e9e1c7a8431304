//! Diagnostics that point into resource files: file, line, column, a label
//! under the offending text, and advice. Rendered with miette.

use miette::{NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// A place in a resource file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The file's path in the repository.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A file's text, shared by the diagnostics that point into it, with the
/// offsets where its lines start, so that locating a resource costs a
/// binary search rather than a scan of the file.
#[derive(Debug, Clone)]
pub struct FileText {
    /// The path in the repository.
    pub path: Arc<str>,
    /// The text.
    pub text: Arc<String>,
    line_starts: Arc<[usize]>,
}

impl FileText {
    /// Wraps a file's text.
    pub fn new(path: &str, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Self {
            path: path.into(),
            text: Arc::new(text),
            line_starts,
        }
    }

    /// The location of a byte offset: 1-based line, and 1-based column in
    /// characters.
    pub fn location(&self, offset: usize) -> Location {
        let offset = self.text.floor_char_boundary(offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        Location {
            file: self.path.to_string(),
            line,
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }
}

/// One problem in the desired state, pointing at the text that causes it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{location}: {message}")]
pub struct SourceDiagnostic {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub location: Location,
    #[source_code]
    source_code: NamedSource<Arc<String>>,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    /// What to do about it.
    #[help]
    pub help: Option<String>,
    /// Other places involved (the first of two duplicates, say).
    #[related]
    pub related: Vec<SourceDiagnostic>,
}

impl SourceDiagnostic {
    /// A diagnostic on `span` of `file`.
    pub fn new(file: &FileText, span: Range<usize>, message: impl Into<String>) -> Self {
        let span = clamp(span, file.text.len());
        Self {
            message: message.into(),
            location: file.location(span.start),
            source_code: NamedSource::new(&*file.path, file.text.clone()),
            span: span.clone().into(),
            label: "here".into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Sets the label under the text.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds advice.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds another place involved.
    pub fn with_related(mut self, related: SourceDiagnostic) -> Self {
        self.related.push(related);
        self
    }
}

fn clamp(span: Range<usize>, len: usize) -> Range<usize> {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    start..end
}

/// The desired state at a commit is invalid; nothing was applied.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the desired state at commit {commit} has {} problem{}; nothing was applied", .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" })]
pub struct InvalidState {
    /// The commit.
    pub commit: String,
    /// Every problem found.
    #[related]
    pub diagnostics: Vec<SourceDiagnostic>,
}
