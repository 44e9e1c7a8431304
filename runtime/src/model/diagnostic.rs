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

    /// The byte offset of 1-based `line` and `column` (in characters),
    /// clamped to the line's end and the text's.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.max(1) - 1) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        start
            + rest[..line_end]
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(line_end, |(index, _)| index)
    }

    /// The span of the character at 1-based `line` and `column`, empty at
    /// the end of a line or of the text.
    pub fn character_at(&self, line: usize, column: usize) -> Range<usize> {
        let start = self.offset(line, column);
        let end = self.text[start..]
            .chars()
            .next()
            .filter(|&c| c != '\n')
            .map_or(start, |c| start + c.len_utf8());
        start..end
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

    /// The line of the file where the problem starts, as written.
    pub fn snippet(&self) -> &str {
        let text = self.source_code.inner().as_str();
        let start = text.floor_char_boundary(self.span.offset().min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |index| index + 1);
        let line_end = text[start..]
            .find('\n')
            .map_or(text.len(), |index| start + index);
        text[line_start..line_end].trim_end_matches('\r')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_map_to_offsets_and_back() {
        let file = FileText::new("m.yaml", "a: 1\nnamé: x\n".to_string());
        let offset = file.offset(2, 5);
        assert_eq!(&file.text[offset..], ": x\n");
        let location = file.location(offset);
        assert_eq!((location.line, location.column), (2, 5));
        // Past a line's end, the end of the line; past the text, its end.
        assert_eq!(file.offset(1, 40), 4);
        assert_eq!(file.offset(9, 1), file.text.len());
        assert_eq!(&file.text[file.character_at(2, 4)], "é");
        assert!(file.character_at(1, 5).is_empty());
    }

    #[test]
    fn a_snippet_is_the_line_where_the_problem_starts() {
        let file = FileText::new(
            "z.toml",
            "[[dns.zone]]\nname = \"a.\"\nttl = -1\n".to_string(),
        );
        let start = file.text.find("-1").unwrap();
        let problem = SourceDiagnostic::new(&file, start..start + 2, "negative");
        assert_eq!(problem.snippet(), "ttl = -1");
        assert_eq!(problem.location.to_string(), "z.toml:3:7");
    }
}
