//! The small XML writer of the `application/xml` representation: elements in the carriers' order,
//! text escaped.

use super::*;

/// A tiny XML writer: element names are ours (constants), text is escaped.
#[derive(Default)]
pub(crate) struct Xml(pub(crate) String);

impl Xml {
    pub(crate) fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    pub(crate) fn text(&mut self, name: &str, value: &str) {
        let _ = write!(self.0, "<{name}>");
        escape_into(&mut self.0, value);
        let _ = write!(self.0, "</{name}>");
    }

    pub(crate) fn num(&mut self, name: &str, value: i64) {
        let _ = write!(self.0, "<{name}>{value}</{name}>");
    }

    pub(crate) fn flag(&mut self, name: &str, value: bool) {
        let _ = write!(self.0, "<{name}>{value}</{name}>");
    }

    pub(crate) fn optional(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.text(name, v),
            None => {
                let _ = write!(self.0, "<{name} i:nil=\"true\"/>");
            }
        }
    }
}

/// Escapes the five XML specials, and replaces characters XML 1.0 can't carry with U+FFFD.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}
