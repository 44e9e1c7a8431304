//! The two SQL dialects the store speaks. Queries are written once, with
//! `?` placeholders and `{now}` for the store's clock; [`Dialect::sql`]
//! turns them into what the engine expects.

use std::borrow::Cow;

/// The database engine behind a store URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `sqlite:PATH`: the embedded default, one host.
    Sqlite,
    /// `postgres://…`: shared by several daemons.
    Postgres,
}

impl Dialect {
    /// The dialect of a store URL, `None` when it is neither.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The engine's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }

    /// The store's clock in milliseconds since the Unix epoch. Leases are
    /// timed by it alone, so that daemons whose clocks disagree still agree
    /// on who holds what.
    fn clock(self) -> &'static str {
        match self {
            Self::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Self::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// `text` in this dialect: `{now}` becomes the store's clock, and for
    /// PostgreSQL each `?` becomes `$1`, `$2`, … in order. The queries of
    /// this module never hold a `?` inside a literal.
    pub fn sql(self, text: &str) -> Cow<'_, str> {
        let text: Cow<'_, str> = if text.contains("{now}") {
            Cow::Owned(text.replace("{now}", self.clock()))
        } else {
            Cow::Borrowed(text)
        };
        if self == Self::Sqlite || !text.contains('?') {
            return text;
        }
        let mut numbered = String::with_capacity(text.len() + 16);
        for (index, piece) in text.split('?').enumerate() {
            if index > 0 {
                numbered.push('$');
                numbered.push_str(&index.to_string());
            }
            numbered.push_str(piece);
        }
        Cow::Owned(numbered)
    }
}

/// `(?, ?, …), (?, ?, …)`: `rows` tuples of `columns` placeholders, for a
/// multi-row `VALUES`.
pub fn value_tuples(rows: usize, columns: usize) -> String {
    let tuple = format!("({})", vec!["?"; columns].join(", "));
    vec![tuple; rows].join(", ")
}

/// `?, ?, …`: `count` placeholders, for an `IN (…)` list.
pub fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_in_order() {
        let sql = "UPDATE t SET a = ?, b = ? WHERE c IN (?, ?) AND d < {now}";
        assert_eq!(
            Dialect::Postgres.sql(sql),
            "UPDATE t SET a = $1, b = $2 WHERE c IN ($3, $4) AND d < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        );
        assert!(
            Dialect::Sqlite
                .sql(sql)
                .starts_with("UPDATE t SET a = ?, b = ?")
        );
        assert_eq!(value_tuples(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(Dialect::of_url("postgres://h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("sqlite:x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("mysql://x"), None);
    }
}
