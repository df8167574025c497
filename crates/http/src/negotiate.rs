//! Content and language negotiation with q-values (RFC 9110 §12.5): which of the media types an
//! operation can produce a client prefers by `Accept`, which it explicitly refuses (`q=0`), and which
//! of the languages we speak it prefers by `Accept-Language`.
//!
//! Parsing is actix-web's: its typed [`Accept`] header (media ranges through the `mime` crate, and
//! quality values held exactly, in thousandths, as RFC 9110 §12.4.2 writes them), and its
//! [`QualityItem`] for each language range. Choosing is ours: actix's `Accept::ranked` orders the
//! ranges, but RFC 9110 §12.5.1 gives each *offered* type the quality of the most specific range that
//! matches it (`application/xml;q=0, */*` refuses XML), and an unsatisfiable `Accept` falls back to
//! a type the client did not refuse rather than failing.

use actix_web::http::header::{Accept, Quality, QualityItem};

/// One media range of an `Accept` header: `type/subtype` (either may be `*`), its quality, and its
/// position in the header (earlier wins a tie, as ASP.NET and most servers do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    pub main: String,
    pub sub: String,
    pub quality: Quality,
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

/// The media ranges of a request's `Accept` headers (actix-web's parse), in order. actix skips a
/// range it can't read (a bad media type or quality); on top of that we skip `*/subtype`, which the
/// `mime` crate reads but RFC 9110's `media-range` does not allow (only `*/*`, `type/*` and
/// `type/subtype`).
pub fn parse_accept(accept: &Accept) -> Vec<MediaRange> {
    let mut ranges = Vec::new();
    for QualityItem { item, quality } in accept.iter() {
        // The essence keeps a structured suffix (`json-patch+json`), which `Mime::subtype` drops.
        let Some((main, sub)) = item.essence_str().split_once('/') else {
            continue;
        };
        if main == "*" && sub != "*" {
            continue;
        }
        ranges.push(MediaRange {
            main: main.to_owned(),
            sub: sub.to_owned(),
            quality: *quality,
            position: ranges.len(),
        });
    }
    ranges
}

/// The quality `ranges` give `media` (`type/subtype`) and the position of the range that decides it
/// (the most specific matching one; the first of equally specific ones). `None` when no range
/// mentions it.
pub fn quality_for(ranges: &[MediaRange], media: &str) -> Option<(Quality, usize)> {
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
    let mut best: Option<(Quality, usize, &'a str)> = None;
    for media in offered {
        if let Some((quality, position)) = quality_for(ranges, media)
            && quality > Quality::ZERO
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
        .find(|media| quality_for(ranges, media).is_none_or(|(q, _)| q > Quality::ZERO))
        .map_or(Choice::NotAcceptable, |m| Choice::Fallback(m))
}

/// The primary subtag of the most preferred language of an `Accept-Language` header that is among
/// `supported` (lower-case primary subtags, in the server's order of preference); `*` picks the
/// first supported one. `None` when the header names none of them.
///
/// Each range and its quality are read by actix-web's [`QualityItem`]; the range itself is matched
/// by its primary subtag only, so it is not validated as a BCP 47 tag (actix's `AcceptLanguage`
/// would drop `sv_SE`, which some clients send, and this also reads the `SO-Language` header).
pub fn choose_language<'a>(header: &str, supported: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(Quality, usize, &'a str)> = None;
    for (position, part) in header.split(',').enumerate() {
        let Ok(QualityItem { item: range, quality }) = part.trim().parse::<QualityItem<String>>() else {
            continue;
        };
        let tag = range.split(';').next().unwrap_or("").trim();
        if quality == Quality::ZERO || tag.is_empty() {
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
    use actix_web::http::header::{self, Header, q};
    use actix_web::test::TestRequest;

    const OFFERED: [&str; 4] = [
        "application/json",
        "text/json",
        "application/json-patch+json",
        "application/xml",
    ];
    const FALLBACKS: [&str; 2] = ["application/json", "application/xml"];

    /// The ranges of a request with these `Accept` header lines, parsed as the handlers do.
    fn ranges(lines: &[&str]) -> Vec<MediaRange> {
        let mut req = TestRequest::default();
        for line in lines {
            req = req.append_header((header::ACCEPT, *line));
        }
        let accept = Accept::parse(&req.to_http_request()).unwrap();
        parse_accept(&accept)
    }

    fn pick(accept: &str) -> Choice<'static> {
        choose(&ranges(&[accept]), &OFFERED, &FALLBACKS)
    }

    /// The quality of `text/html;q=<value>`, or `None` when the range is skipped as malformed.
    fn quality(value: &str) -> Option<Quality> {
        ranges(&[&format!("text/html;q={value}")]).first().map(|r| r.quality)
    }

    #[test]
    fn qualities_parse_as_rfc_9110_says() {
        assert_eq!(quality("1"), Some(Quality::MAX));
        assert_eq!(quality("1.000"), Some(Quality::MAX));
        assert_eq!(quality("0.5"), Some(q(0.5)));
        assert_eq!(quality("0.05"), Some(q(0.05)));
        assert_eq!(quality("0.001"), Some(Quality::MIN));
        assert_eq!(quality("0"), Some(Quality::ZERO));
        assert_eq!(quality("0."), Some(Quality::ZERO));
        assert_eq!(quality("1.5"), None);
        assert_eq!(quality("1.001"), None);
        assert_eq!(quality("0.1234"), None);
        assert_eq!(quality("x"), None);
        assert_eq!(quality("2"), None);
        assert_eq!(quality("-0"), None);
        assert_eq!(quality(".5"), None);
    }

    #[test]
    fn accept_ranges_keep_order_and_skip_garbage() {
        let ranges = ranges(&[
            "application/json; charset=utf-8, text/*;q=0.3",
            "nonsense, */x, */*;q=0.1",
        ]);
        let names: Vec<(String, Quality)> = ranges
            .iter()
            .map(|r| (format!("{}/{}", r.main, r.sub), r.quality))
            .collect();
        assert_eq!(
            names,
            [
                ("application/json".to_owned(), Quality::MAX),
                ("text/*".to_owned(), q(0.3)),
                ("*/*".to_owned(), q(0.1))
            ]
        );
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
        // A structured suffix is part of the subtype.
        assert_eq!(
            pick("application/json-patch+json"),
            Choice::Preferred("application/json-patch+json")
        );
        assert_eq!(
            pick("application/json-patch+json;q=0.5, application/json"),
            Choice::Preferred("application/json")
        );
        // Thousandths compare exactly.
        assert_eq!(
            pick("application/json;q=0.999, application/xml;q=1"),
            Choice::Preferred("application/xml")
        );
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
        assert_eq!(choose_language("sv_SE;q=0.9, en;q=0.8", &ours), Some("sv"));
        // A malformed quality drops that range only.
        assert_eq!(choose_language("sv;q=2, en;q=0.1", &ours), Some("en"));
        assert_eq!(choose_language("en;q=0.5, sv;Q=0.7", &ours), Some("sv"));
    }
}
