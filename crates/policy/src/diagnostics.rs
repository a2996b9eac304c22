//! Problems with a policy file, located by line and column so that a DPO
//! editing it can find them.

use std::fmt;

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, and what to do when that is known.
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// Why a policy set cannot be used. Nothing is applied when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.problems))]
pub struct PolicyError {
    /// Every problem found, in file order.
    pub problems: Vec<PolicyProblem>,
}

fn render(problems: &[PolicyProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl PolicyError {
    pub(crate) fn one(line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![PolicyProblem {
                line,
                column: None,
                message: message.into(),
            }],
        }
    }
}

/// The 1-based line and column of a byte offset in `src`.
pub(crate) fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(1, |tail| tail.chars().count() + 1);
    (line, column)
}

/// A problem from a Cedar diagnostic, located by its first label.
pub(crate) fn from_diagnostic(src: &str, diagnostic: &dyn miette::Diagnostic) -> PolicyProblem {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    let (line, column) = match offset {
        Some(offset) => {
            let (line, column) = line_column(src, offset);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    let mut message = diagnostic.to_string();
    if let Some(help) = diagnostic.help() {
        message.push_str(&format!(" ({help})"));
    }
    PolicyProblem {
        line,
        column,
        message,
    }
}

/// The byte offsets where each statement of a Cedar policy file starts: the
/// first character after the previous top-level `;` that is not whitespace
/// or inside a comment. Cedar parses policies in file order, so statement
/// `i` is policy `i`.
pub(crate) fn statement_starts(src: &str) -> Vec<usize> {
    let bytes = src.as_bytes();
    let mut starts = Vec::new();
    let mut expecting_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if expecting_start {
            starts.push(i);
            expecting_start = false;
        }
        match b {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b';' => expecting_start = true,
            _ => {}
        }
        i += 1;
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let src = "ab\ncdé\nf";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 3), (2, 1));
        assert_eq!(line_column(src, 8), (3, 1));
        assert_eq!(line_column(src, 99), (3, 2));
    }

    #[test]
    fn statements_skip_comments_and_strings() {
        let src = "// a; comment\npermit (principal, action, resource)\nwhen { \"x;y\" == \"\\\";\" };\n\n  forbid (principal, action, resource);\n";
        let starts = statement_starts(src);
        assert_eq!(starts.len(), 2);
        assert_eq!(&src[starts[0]..starts[0] + 6], "permit");
        assert_eq!(&src[starts[1]..starts[1] + 6], "forbid");
    }
}
