//! When two names are "the same", for the whole project: equal after ASCII case folding,
//! nothing else. MariaDB's `utf8mb4_general_ci` would also fold accents and trailing
//! spaces (`'root ' = 'ŕoot' = 'root'`), SQLite's NOCASE folds ASCII only, so a lookup
//! through the collation finds candidates and this decides. Used by bounce's lookups,
//! tuxedo's lookups and logins, and the login limiter's key.

/// Whether `a` and `b` name the same thing.
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The canonical form of a name (what [`same`] compares): ASCII-lower-cased.
pub fn canonical(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_ascii_case_folds() {
        assert!(super::same("Firefox-Latest", "firefox-latest"));
        assert!(!super::same("root ", "root"));
        assert!(!super::same("ŕoot", "root"));
        assert!(!super::same("fírefox", "firefox"));
        assert_eq!(super::canonical("RooT"), "root");
    }
}
