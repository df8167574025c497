//! The language of an answer (`SO-Language`, then `Accept-Language`): English or Swedish, for the
//! role texts and the problems.

use super::*;
use crate::error::ApiError;
use crate::negotiate::{self};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

// ---------------------------------------------------------------------------------------------
// Languages

/// The languages this dialect speaks (role descriptions, error texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Swedish,
}

impl Language {
    /// ISO 639-1 codes, in order of preference when a client accepts any (`*`).
    const SUPPORTED: [&'static str; 2] = ["en", "sv"];

    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Swedish => "sv",
        }
    }

    pub(crate) fn from_code(code: &str) -> Self {
        if code == "sv" {
            Language::Swedish
        } else {
            Language::English
        }
    }

    /// `SO-Language` when present (it overrides `Accept-Language`), else `Accept-Language` with its
    /// q-values; English when neither names a language we speak.
    pub fn of(req: &HttpRequest) -> Self {
        let header = |name: &HeaderName| {
            let values: Vec<&str> = req
                .headers()
                .get_all(name)
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let chosen = match header(&SO_LANGUAGE) {
            Some(so) => negotiate::choose_language(&so, &Self::SUPPORTED),
            None => header(&header::ACCEPT_LANGUAGE)
                .and_then(|accept| negotiate::choose_language(&accept, &Self::SUPPORTED)),
        };
        chosen.map_or(Language::English, Self::from_code)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors in the caller's language

/// `err` as problem+json, its `detail`/`details` in `language` where the error table has the text,
/// with the headers `ApiError` adds (`WWW-Authenticate` with this dialect's `SOTicket` scheme too,
/// `Retry-After`) and `Content-Language`.
pub(crate) fn localized_error(err: &ApiError, language: Language) -> HttpResponse {
    let mut response = err.superoffice_error_response(language == Language::Swedish);
    response
        .headers_mut()
        .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.code()));
    response
}
