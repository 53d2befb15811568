//! Parameters of an XML API call: the query string, and for POSTs the form-encoded body
//! (read up to the configured size and time; past them the call is refused, 413 / 408).

use crate::catalogue::files::FileForm;
use crate::catalogue::Match;
use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::{web, HttpRequest};

/// The decoded parameters, in the order given; a name may repeat (`languages`).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads the parameters of `req`: for POSTs the body first (see [`crate::body`]),
    /// then the query string.
    pub async fn read(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Self> {
        let mut pairs = Vec::new();
        if req.method() == actix_web::http::Method::POST {
            let body = crate::body::read(req, payload, state)
                .await
                .map_err(|e| match e {
                    TuxedoError::BadRequest(reason) => TuxedoError::invalid("body", reason),
                    e => e,
                })?;
            pairs.extend(url::form_urlencoded::parse(&body).into_owned());
        }
        pairs.extend(url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned());
        Ok(Self(pairs))
    }

    /// The first non-blank value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first non-blank value of `key`, or [`TuxedoError::Missing`].
    pub fn required(&self, key: &'static str) -> Result<&str> {
        self.get(key).ok_or(TuxedoError::Missing(key))
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag: `true` in any case, or `1`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
    }

    /// How `key` selects names: fuzzy (substring) when `fuzzy` is set, else exact.
    pub fn matcher(&self, key: &'static str) -> Option<Match<'_>> {
        let value = self.get(key)?.trim();
        Some(match self.flag("fuzzy") {
            true => Match::Fuzzy(value),
            false => Match::Exact(value),
        })
    }

    /// Like [`Params::matcher`], but the parameter is required.
    pub fn required_matcher(&self, key: &'static str) -> Result<Match<'_>> {
        self.matcher(key).ok_or(TuxedoError::Missing(key))
    }

    /// The file a `location_add` / `location_modify` states: `size`, `sha256`, `sha512`
    /// (any of them) and `lang`, which the old admin never had. `None` when none of the
    /// first three is given (a `lang` alone is ignored, as unknown parameters always
    /// were), so old clients' calls stay what they were.
    pub fn file(&self) -> Result<Option<FileForm>> {
        let [size, sha256, sha512] = ["size", "sha256", "sha512"].map(|k| self.get(k));
        if size.is_none() && sha256.is_none() && sha512.is_none() {
            return Ok(None);
        }
        let text = |v: Option<&str>| v.unwrap_or("").to_owned();
        let lang = text(self.get("lang"));
        FileForm::from_text(&lang, &text(size), &text(sha256), &text(sha512)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Params {
        Params(
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    #[test]
    fn repeated_and_flags() {
        let q = p("product=Firefox&languages=de&languages=fr&fuzzy=TRUE&ssl_only=1&x=");
        assert_eq!(q.all("languages"), vec!["de", "fr"]);
        assert!(q.flag("fuzzy") && q.flag("ssl_only") && !q.flag("x"));
        assert_eq!(q.matcher("product"), Some(Match::Fuzzy("Firefox")));
        assert!(matches!(q.required("x"), Err(TuxedoError::Missing("x"))));
        assert_eq!(
            p("product=a%26b").matcher("product"),
            Some(Match::Exact("a&b"))
        );
    }

    #[test]
    fn file_parameters() {
        assert!(p("product=a&lang=de&size=").file().unwrap().is_none());
        let f = p("size=%2012%20&lang=de&sha256=AB")
            .file()
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.lang.as_str(), f.size, f.sha256.as_deref(), f.sha512),
            ("de", Some(12), Some("AB"), None)
        );
        assert!(matches!(
            p("size=-1").file().unwrap().unwrap().size,
            Some(-1)
        ));
        assert!(matches!(
            p("size=12kB").file(),
            Err(TuxedoError::Invalid { field: "size", .. })
        ));
    }
}
