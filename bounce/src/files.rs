//! What bounce knows of a location's files, made ready for the answers once per cache
//! fill: the `Repr-Digest` (RFC 9530) and legacy `Digest` header values are built when the
//! rows are read, so a redirect only clones them.

use actix_web::http::header::HeaderValue;
use base64::Engine;
use bouncer_core::files::FileMeta;
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One file and its header values.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub meta: FileMeta,
    /// `sha-256=:…:` (and `sha-512` when known).
    pub repr_digest: Option<HeaderValue>,
    /// `SHA-256=…` (RFC 3230), for clients that predate RFC 9530.
    pub digest: Option<HeaderValue>,
}

/// A location's files by language key (`""`: the path has no `:lang`), and the number of
/// this build.
#[derive(Debug, Clone, Default)]
pub struct Files {
    id: u64,
    by_lang: HashMap<String, FileInfo>,
}

/// Build numbers: unique in the process, never 0.
static BUILDS: AtomicU64 = AtomicU64::new(1);

impl Files {
    pub fn new(rows: &[FileMeta]) -> Self {
        Self {
            id: BUILDS.fetch_add(1, Ordering::Relaxed),
            by_lang: rows
                .iter()
                .map(|m| (m.lang.clone(), info(m.clone())))
                .collect(),
        }
    }

    /// Names this build: values formatted from it (the digests in `crate::links`) are
    /// keyed by it. The mirror index cannot name the files: equal candidate lists share
    /// one index whatever the files are.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The file a request for `lang` gets from a location (`per_language`: its path holds
    /// `:lang`).
    pub fn get(&self, per_language: bool, lang: &str) -> Option<&FileInfo> {
        if self.by_lang.is_empty() {
            return None;
        }
        self.by_lang.get(if per_language { lang } else { "" })
    }
}

/// Base64 of a hex digest (`None` when it is not hex).
pub fn b64(hex: &str) -> Option<String> {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn info(meta: FileMeta) -> FileInfo {
    let sha256 = meta.sha256.as_deref().and_then(b64);
    let sha512 = meta.sha512.as_deref().and_then(b64);
    let mut repr = Vec::new();
    if let Some(h) = &sha256 {
        repr.push(format!("sha-256=:{h}:"));
    }
    if let Some(h) = &sha512 {
        repr.push(format!("sha-512=:{h}:"));
    }
    let value = |s: String| HeaderValue::try_from(s).ok();
    FileInfo {
        repr_digest: (!repr.is_empty()).then(|| repr.join(", ")).and_then(value),
        digest: sha256.map(|h| format!("SHA-256={h}")).and_then(value),
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_base64_of_the_hash() {
        // sha-256 of the empty string.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let f = Files::new(&[FileMeta {
            lang: "de".into(),
            sha256: Some(hex.into()),
            ..FileMeta::default()
        }]);
        let i = f.get(true, "de").unwrap();
        let b = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert_eq!(i.repr_digest.as_ref().unwrap(), &format!("sha-256=:{b}:"));
        assert_eq!(i.digest.as_ref().unwrap(), &format!("SHA-256={b}"));
        assert!(f.get(true, "fr").is_none());
        assert!(
            f.get(false, "de").is_none(),
            "a path without :lang has key \"\""
        );
    }
}
