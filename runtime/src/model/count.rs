//! Counting a resource file's resources and values before it is parsed.
//!
//! Parsing builds a tree of the whole file (the `toml` crate keeps every
//! token, every event and every table of it at once), so a file of a
//! million `{}` — 3 MB, well within the file size limit — would cost
//! hundreds of megabytes before a quota could look at the result. This
//! scan walks the file's tokens one at a time with the `toml_parser` lexer
//! and a stack of the open brackets, and allocates nothing else: the
//! caller adds up every file of a commit and refuses it, naming where the
//! quota was crossed, before any file is parsed.
//!
//! For a file the parser accepts, the count is exact: a resource is a
//! table of an array two keys below the root (`[[PROVIDER.TYPE]]`, or an
//! entry of `PROVIDER.TYPE = [ … ]` however the two keys are spelled). A
//! file the parser refuses may be counted high or low; it is refused
//! anyway, and its parse stops at the error or the nesting limit.

use toml_parser::Source;
use toml_parser::lexer::TokenKind;

/// How deep the scan follows brackets one by one: past the `toml`
/// parser's own limit (80), so that only files the parser refuses go
/// deeper, and the stack stays a few kilobytes. Deeper brackets are only
/// counted (the parser still builds what follows them, so their values
/// must count).
pub const MAX_NESTING: usize = 128;

/// What a file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Resources.
    pub resources: usize,
    /// Values: every table header, key's value, array entry and inline
    /// table; a measure of what parsing the file will build.
    pub values: usize,
}

/// What [`count`] reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A resource starts.
    Resource,
    /// A value starts (a resource is a value too, reported after it).
    Value,
}

/// An open bracket.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// An array, with the number of keys from the root to it (`None`
    /// below an array entry, where no resource can be).
    Array(Option<usize>),
    /// An inline table, the same.
    Table(Option<usize>),
}

/// Where the scan is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// At the start of a line of the document.
    Line,
    /// In a `[table]` or `[[array]]` header starting at `start`, after
    /// `keys` keys.
    Header {
        array: bool,
        start: usize,
        keys: usize,
    },
    /// In a key, after `keys` keys; `base` is the path length of the table
    /// it is in.
    Key { base: Option<usize>, keys: usize },
    /// Before a value whose path length is `path`.
    Value { path: Option<usize> },
    /// Inside brackets nested past [`MAX_NESTING`], `depth` of them open:
    /// every atom, string and bracket counts as a value until they close.
    Deep { depth: usize },
    /// After a value or a header: what follows until a separator, a closing
    /// bracket or (at the top) the end of the line is the rest of it (the
    /// digits of a float, the time of a date) or an error for the parser.
    After,
}

/// Counts the resources and values of `text`, calling `on` with each and
/// the byte offset where it starts, in order.
pub fn count(text: &str, mut on: impl FnMut(Item, usize)) -> Counts {
    let source = Source::new(text);
    let mut tokens = source.lex().peekable();
    let mut counts = Counts::default();
    let mut open: Vec<Open> = Vec::new();
    // The path length of the last `[table]`; `None` after an `[[array]]`
    // header, whose keys are in the array's last entry.
    let mut table: Option<usize> = Some(0);
    let mut state = State::Line;
    while let Some(token) = tokens.next() {
        let kind = token.kind();
        if matches!(kind, TokenKind::Whitespace | TokenKind::Comment) {
            continue;
        }
        if kind == TokenKind::Eof {
            break;
        }
        state = match state {
            State::Line => match kind {
                TokenKind::LeftSquareBracket => {
                    let array = tokens
                        .next_if(|next| next.kind() == TokenKind::LeftSquareBracket)
                        .is_some();
                    State::Header {
                        array,
                        start: token.span().start(),
                        keys: 0,
                    }
                }
                kind if is_key(kind) => State::Key {
                    base: table,
                    keys: 1,
                },
                _ => State::Line,
            },
            State::Header { array, start, keys } => match kind {
                kind if is_key(kind) => State::Header {
                    array,
                    start,
                    keys: keys + 1,
                },
                TokenKind::RightSquareBracket => {
                    if array {
                        tokens.next_if(|next| next.kind() == TokenKind::RightSquareBracket);
                    }
                    if array && keys == 2 {
                        counts.resources += 1;
                        on(Item::Resource, start);
                    }
                    counts.values += 1;
                    on(Item::Value, start);
                    table = if array { None } else { Some(keys) };
                    State::After
                }
                TokenKind::Newline => State::Line,
                _ => State::Header { array, start, keys },
            },
            State::Key { base, keys } => match kind {
                kind if is_key(kind) => State::Key {
                    base,
                    keys: keys + 1,
                },
                TokenKind::Equals => State::Value {
                    path: base.map(|base| base + keys),
                },
                // `{}`, `{ }`, or a comma before the end.
                TokenKind::RightCurlyBracket if matches!(open.last(), Some(Open::Table(_))) => {
                    open.pop();
                    State::After
                }
                TokenKind::Newline if open.is_empty() => State::Line,
                _ => State::Key { base, keys },
            },
            State::Value { path } => {
                if kind == TokenKind::Newline {
                    if open.is_empty() {
                        State::Line
                    } else {
                        State::Value { path }
                    }
                } else if kind == TokenKind::RightSquareBracket
                    && matches!(open.last(), Some(Open::Array(_)))
                {
                    // An empty array, or a comma before its end.
                    open.pop();
                    State::After
                } else {
                    let start = token.span().start();
                    if let Some(Open::Array(Some(2))) = open.last() {
                        counts.resources += 1;
                        on(Item::Resource, start);
                    }
                    counts.values += 1;
                    on(Item::Value, start);
                    match kind {
                        TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket
                            if open.len() >= MAX_NESTING =>
                        {
                            State::Deep { depth: 1 }
                        }
                        TokenKind::LeftSquareBracket => {
                            open.push(Open::Array(path));
                            State::Value { path: None }
                        }
                        TokenKind::LeftCurlyBracket => {
                            open.push(Open::Table(path));
                            State::Key {
                                base: path,
                                keys: 0,
                            }
                        }
                        _ => State::After,
                    }
                }
            }
            State::Deep { depth } => match kind {
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket if depth == 1 => {
                    State::After
                }
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    State::Deep { depth: depth - 1 }
                }
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                    counts.values += 1;
                    on(Item::Value, token.span().start());
                    State::Deep { depth: depth + 1 }
                }
                TokenKind::Atom
                | TokenKind::LiteralString
                | TokenKind::BasicString
                | TokenKind::MlLiteralString
                | TokenKind::MlBasicString => {
                    counts.values += 1;
                    on(Item::Value, token.span().start());
                    State::Deep { depth }
                }
                _ => State::Deep { depth },
            },
            State::After => match (kind, open.last().copied()) {
                (TokenKind::Newline, None) => State::Line,
                (TokenKind::Comma, Some(Open::Array(_))) => State::Value { path: None },
                (TokenKind::Comma, Some(Open::Table(path))) => State::Key {
                    base: path,
                    keys: 0,
                },
                (TokenKind::RightSquareBracket, Some(Open::Array(_)))
                | (TokenKind::RightCurlyBracket, Some(Open::Table(_))) => {
                    open.pop();
                    State::After
                }
                _ => State::After,
            },
        };
    }
    counts
}

/// Whether a token can be (part of) a key.
fn is_key(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Atom | TokenKind::BasicString | TokenKind::LiteralString
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diagnostic::FileText;
    use crate::model::parse::parse_file;

    /// The count and the offsets of `text`'s resources, checked against
    /// the parser's; `valid` says whether the parser accepts the file.
    fn counted(text: &str, valid: bool) -> (Counts, Vec<usize>) {
        let mut offsets = Vec::new();
        let counts = count(text, |item, offset| {
            if item == Item::Resource {
                offsets.push(offset);
            }
        });
        assert_eq!(counts.resources, offsets.len());
        match parse_file(&FileText::new("a.toml", text.to_string())) {
            Ok(resources) => {
                assert!(valid, "{text}");
                let starts: Vec<usize> = resources.iter().map(|r| r.span.start).collect();
                assert_eq!(offsets, starts, "{text}");
            }
            Err(_) => assert!(!valid, "{text}"),
        }
        (counts, offsets)
    }

    #[test]
    fn every_way_of_writing_resources_is_counted_as_the_parser_sees_it() {
        let cases = [
            (
                "[[dns.zone]]\nname = \"a.\"\n\n[[dns.zone]]\nname = \"b.\"\n",
                2,
            ),
            ("dns.zone = [{ name = \"a.\" }, { name = \"b.\" }, {}]\n", 3),
            (
                "[dns]\nzone = [{}, { },]\nrecord = [\n  { name = \"x\" }, # one\n  {},\n]\n",
                4,
            ),
            ("dns = { zone = [{}, { n = [1, 2, { a = [{}] }] }] }\n", 2),
            (
                "[[ \"dns\" . 'zone' ]]\nttl = 1.5\nwhen = 1979-05-27 07:32:00Z\n[[dns.zone]]\n",
                2,
            ),
            // Tables inside a resource are not resources.
            (
                "[[dns.zone]]\nname = \"a.\"\n[dns.zone.meta]\nx = [{}, {}]\n[[dns.zone.sub]]\ny = 1\n",
                1,
            ),
            // Strings and comments that look like headers are not.
            (
                "# [[dns.zone]]\n[[dns.zone]]\ntext = \"\"\"\n[[dns.zone]]\n\"\"\"\nother = '[[x.y]]'\n",
                1,
            ),
            ("[[\"a[[b\".zone]]\n[[dns.zone]]\n", 2),
            ("", 0),
        ];
        for (text, expected) in cases {
            assert_eq!(counted(text, true).0.resources, expected, "{text}");
        }
        // Files the parser refuses are counted as they read.
        assert_eq!(counted("a = 1\nb.c.d = [{}, {}]\n", false).0.resources, 0);
        assert_eq!(counted("dns.zone = [1, 2]\n", false).0.resources, 2);
    }

    #[test]
    fn values_measure_what_a_parse_builds() {
        let (counts, _) = counted(
            "[[dns.zone]]\nname = \"a.\"\nrecords = [\"1\", \"2\"]\nmeta = { a = 1 }\n",
            true,
        );
        // The header, name, the array and its two entries, the inline
        // table and its entry.
        assert_eq!(counts.values, 7);
    }

    #[test]
    fn a_million_empty_tables_are_counted_without_being_built() {
        let mut text = String::from("dns.zone = [");
        text.push_str(&"{},".repeat(1_000_000));
        text.push_str("]\n");
        let mut hundredth = None;
        let mut seen = 0;
        let counts = count(&text, |item, offset| {
            if item == Item::Value {
                return;
            }
            seen += 1;
            if seen == 100 {
                hundredth = Some(offset);
            }
        });
        assert_eq!(counts.resources, 1_000_000);
        assert_eq!(hundredth, Some(12 + 3 * 99));
    }

    #[test]
    fn values_nested_past_the_parsers_limit_still_count() {
        // Brackets past the limit, then a million empty tables: the parser
        // refuses the file, but only after building what follows them.
        let text = format!(
            "[[dns.zone]]\nx = {}{}{}\n[[dns.zone]]\n",
            "[".repeat(10_000),
            "{},".repeat(1_000_000),
            "]".repeat(10_000)
        );
        let counts = count(&text, |_, _| {});
        assert!(counts.values > 1_000_000, "{counts:?}");
        let small = text.replace(&"{},".repeat(1_000_000), "{},");
        assert!(parse_file(&FileText::new("a.toml", small)).is_err());
    }
}
