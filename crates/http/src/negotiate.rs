//! Content and language negotiation with q-values (RFC 9110 §12.5): which of the media types an
//! operation can produce a client prefers by `Accept`, which it explicitly refuses (`q=0`), and which
//! of the languages we speak it prefers by `Accept-Language`.
//!
//! Quality values are kept as thousandths (`q=0.5` is 500), so comparing them is exact.

/// One media range of an `Accept` header: `type/subtype` (either may be `*`), its quality, and its
/// position in the header (earlier wins a tie, as ASP.NET and most servers do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    pub main: String,
    pub sub: String,
    /// 0 to 1000.
    pub quality: u16,
    pub position: usize,
}

impl MediaRange {
    /// How specifically this range names `main/sub`: 2 exactly, 1 as `main/*`, 0 as `*/*`; `None`
    /// when it does not match.
    fn specificity(&self, main: &str, sub: &str) -> Option<u8> {
        match (self.main.as_str(), self.sub.as_str()) {
            ("*", "*") => Some(0),
            (m, "*") if m.eq_ignore_ascii_case(main) => Some(1),
            (m, s) if m.eq_ignore_ascii_case(main) && s.eq_ignore_ascii_case(sub) => Some(2),
            _ => None,
        }
    }
}

/// `q=0.8` → 800. `None` for anything RFC 9110 does not allow (`q=2`, `q=0.1234`, `q=x`).
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The quality parameter among `;`-separated parameters (1000 when absent; `None` when malformed).
fn quality_of<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    for param in params {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            return parse_quality(value.trim());
        }
    }
    Some(1000)
}

/// The media ranges of every `Accept` header value, in order. Malformed ranges are skipped.
pub fn parse_accept<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<MediaRange> {
    let mut ranges = Vec::new();
    for part in values.into_iter().flat_map(|v| v.split(',')) {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim();
        let Some((main, sub)) = media.split_once('/') else {
            continue;
        };
        let (main, sub) = (main.trim(), sub.trim());
        if main.is_empty() || sub.is_empty() || (main == "*" && sub != "*") {
            continue;
        }
        let Some(quality) = quality_of(pieces) else {
            continue;
        };
        ranges.push(MediaRange {
            main: main.to_owned(),
            sub: sub.to_owned(),
            quality,
            position: ranges.len(),
        });
    }
    ranges
}

/// The quality `ranges` give `media` (`type/subtype`) and the position of the range that decides it
/// (the most specific matching one; the first of equally specific ones). `None` when no range
/// mentions it.
pub fn quality_for(ranges: &[MediaRange], media: &str) -> Option<(u16, usize)> {
    let (main, sub) = media.split_once('/')?;
    let mut best: Option<(u8, &MediaRange)> = None;
    for range in ranges {
        if let Some(spec) = range.specificity(main, sub)
            && best.is_none_or(|(s, _)| spec > s)
        {
            best = Some((spec, range));
        }
    }
    best.map(|(_, r)| (r.quality, r.position))
}

/// The outcome of negotiating a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<'a> {
    /// The client asked for this one (with the highest quality, earliest in its header).
    Preferred(&'a str),
    /// The client asked for none we have, nor refused this one: answer with it anyway.
    Fallback(&'a str),
    /// The client explicitly refused every fallback.
    NotAcceptable,
}

impl<'a> Choice<'a> {
    /// The media type to answer with, if any.
    pub fn media(self) -> Option<&'a str> {
        match self {
            Choice::Preferred(m) | Choice::Fallback(m) => Some(m),
            Choice::NotAcceptable => None,
        }
    }
}

/// Picks one of `offered` (in the server's order of preference) for `ranges`. With no acceptable
/// match, answers the first of `fallbacks` that the client did not refuse with `q=0`; when it refused
/// them all, [`Choice::NotAcceptable`]. An empty `Accept` accepts anything.
pub fn choose<'a>(ranges: &[MediaRange], offered: &[&'a str], fallbacks: &[&'a str]) -> Choice<'a> {
    if ranges.is_empty() {
        return offered.first().map_or(Choice::NotAcceptable, |m| Choice::Preferred(m));
    }
    let mut best: Option<(u16, usize, &'a str)> = None;
    for media in offered {
        if let Some((quality, position)) = quality_for(ranges, media)
            && quality > 0
            && best.is_none_or(|(q, p, _)| quality > q || (quality == q && position < p))
        {
            best = Some((quality, position, media));
        }
    }
    if let Some((_, _, media)) = best {
        return Choice::Preferred(media);
    }
    fallbacks
        .iter()
        .find(|media| quality_for(ranges, media).is_none_or(|(q, _)| q > 0))
        .map_or(Choice::NotAcceptable, |m| Choice::Fallback(m))
}

/// The primary subtag of the most preferred language of an `Accept-Language` header that is among
/// `supported` (lower-case primary subtags, in the server's order of preference); `*` picks the
/// first supported one. `None` when the header names none of them.
pub fn choose_language<'a>(header: &str, supported: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(u16, usize, &'a str)> = None;
    for (position, part) in header.split(',').enumerate() {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim();
        let Some(quality) = quality_of(pieces) else {
            continue;
        };
        if quality == 0 || tag.is_empty() {
            continue;
        }
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        let found = if primary == "*" {
            supported.first().copied()
        } else {
            supported.iter().copied().find(|s| s.eq_ignore_ascii_case(primary))
        };
        if let Some(language) = found
            && best.is_none_or(|(q, p, _)| quality > q || (quality == q && position < p))
        {
            best = Some((quality, position, language));
        }
    }
    best.map(|(_, _, language)| language)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFERED: [&str; 3] = ["application/json", "text/json", "application/xml"];
    const FALLBACKS: [&str; 2] = ["application/json", "application/xml"];

    fn pick(accept: &str) -> Choice<'static> {
        choose(&parse_accept([accept]), &OFFERED, &FALLBACKS)
    }

    #[test]
    fn qualities_parse_as_rfc_9110_says() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.05"), Some(50));
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("0."), Some(0));
        assert_eq!(parse_quality("1.5"), None);
        assert_eq!(parse_quality("0.1234"), None);
        assert_eq!(parse_quality("x"), None);
        assert_eq!(parse_quality("2"), None);
    }

    #[test]
    fn accept_ranges_keep_order_and_skip_garbage() {
        let ranges = parse_accept([
            "application/json; charset=utf-8, text/*;q=0.3",
            "nonsense, */x, */*;q=0.1",
        ]);
        let names: Vec<String> = ranges
            .iter()
            .map(|r| format!("{}/{} {}", r.main, r.sub, r.quality))
            .collect();
        assert_eq!(names, ["application/json 1000", "text/* 300", "*/* 100"]);
        assert_eq!(ranges[2].position, 2);
    }

    #[test]
    fn the_highest_quality_then_the_earliest_wins() {
        assert_eq!(pick("application/xml"), Choice::Preferred("application/xml"));
        assert_eq!(
            pick("application/xml, application/json"),
            Choice::Preferred("application/xml")
        );
        assert_eq!(
            pick("application/xml;q=0.5, application/json"),
            Choice::Preferred("application/json")
        );
        assert_eq!(pick("text/*"), Choice::Preferred("text/json"));
        assert_eq!(pick("*/*"), Choice::Preferred("application/json"));
        assert_eq!(pick("application/*;q=0.2, text/json"), Choice::Preferred("text/json"));
        assert_eq!(pick(""), Choice::Preferred("application/json"));
        // The most specific range decides: XML is refused although */* would accept it.
        assert_eq!(pick("application/xml;q=0, */*"), Choice::Preferred("application/json"));
    }

    #[test]
    fn unsatisfiable_falls_back_unless_refused() {
        assert_eq!(pick("text/html"), Choice::Fallback("application/json"));
        assert_eq!(
            pick("text/html, application/json;q=0"),
            Choice::Fallback("application/xml")
        );
        assert_eq!(pick("application/json;q=0, */*;q=0"), Choice::NotAcceptable);
        assert_eq!(pick("application/json;q=0, application/xml;q=0"), Choice::NotAcceptable);
        assert_eq!(pick("*/*;q=0"), Choice::NotAcceptable);
    }

    #[test]
    fn languages() {
        let ours = ["en", "sv"];
        assert_eq!(choose_language("sv", &ours), Some("sv"));
        assert_eq!(choose_language("sv-SE, en;q=0.8", &ours), Some("sv"));
        assert_eq!(choose_language("de, en;q=0.5, sv;q=0.6", &ours), Some("sv"));
        assert_eq!(choose_language("de", &ours), None);
        assert_eq!(choose_language("*", &ours), Some("en"));
        assert_eq!(choose_language("sv;q=0, en", &ours), Some("en"));
        assert_eq!(choose_language("EN-gb", &ours), Some("en"));
        assert_eq!(choose_language("", &ours), None);
    }
}
