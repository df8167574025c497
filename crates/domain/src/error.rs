//! Why a value was refused. Every validated constructor in this crate answers with [`InvalidValue`],
//! which names the field and carries a [`Problem`] with a stable machine-readable code.

use std::fmt;

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The value is empty (or only white space).
    Empty,
    /// Longer than `max` characters.
    TooLong { max: usize },
    /// Shorter than `min` characters.
    TooShort { min: usize },
    /// Holds a control character (newline, NUL, …).
    ControlCharacter,
    /// Holds a character that changes how text is shown without being seen: a bidi embedding,
    /// override or isolate, a zero-width character, a directional mark (names and text).
    InvisibleCharacter,
    /// Holds `/` or `\`, or is `.` / `..`: it could escape a URL path or a department path.
    PathSeparator,
    /// Starts or ends with white space.
    SurroundingWhitespace,
    /// Not of the expected shape; the text says which shape.
    Format(&'static str),
    /// A number outside its range.
    OutOfRange { min: i64, max: i64 },
    /// Two things were given that exclude each other.
    Conflict(&'static str),
}

impl Problem {
    /// A stable code for clients (`errors[].code` on the wire). Never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Empty => "empty",
            Problem::TooLong { .. } => "too_long",
            Problem::TooShort { .. } => "too_short",
            Problem::ControlCharacter => "control_character",
            Problem::InvisibleCharacter => "invisible_character",
            Problem::PathSeparator => "path_separator",
            Problem::SurroundingWhitespace => "surrounding_whitespace",
            Problem::Format(_) => "invalid_format",
            Problem::OutOfRange { .. } => "out_of_range",
            Problem::Conflict(_) => "conflict",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("must not be empty"),
            Problem::TooLong { max } => write!(f, "must be at most {max} characters"),
            Problem::TooShort { min } => write!(f, "must be at least {min} characters"),
            Problem::ControlCharacter => f.write_str("must not contain control characters"),
            Problem::InvisibleCharacter => f.write_str(
                "must not contain invisible characters (bidi embeddings, overrides or isolates, \
                 zero-width characters, directional marks)",
            ),
            Problem::PathSeparator => f.write_str("must not contain '/' or '\\' nor be '.' or '..'"),
            Problem::SurroundingWhitespace => f.write_str("must not start or end with white space"),
            Problem::Format(what) => write!(f, "must be {what}"),
            Problem::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Problem::Conflict(what) => f.write_str(what),
        }
    }
}

/// A value refused by a domain constructor: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct InvalidValue {
    /// The field's name as the APIs spell it where there is one (`tenant_id`, `emailAddress`, …).
    pub field: &'static str,
    pub problem: Problem,
}

impl InvalidValue {
    pub fn new(field: &'static str, problem: Problem) -> Self {
        Self { field, problem }
    }

    /// The same problem under another field name (a DTO naming the field differently).
    pub fn renamed(self, field: &'static str) -> Self {
        Self { field, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_keeps_the_problem_under_the_new_name() {
        let renamed = InvalidValue::new("tenant", Problem::Empty).renamed("department.tenantId");
        assert_eq!(renamed, InvalidValue::new("department.tenantId", Problem::Empty));
    }
}
