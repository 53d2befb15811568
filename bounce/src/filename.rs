//! A file name a download manager can save as is, from a decoded location path segment.
//!
//! Location paths are stored as the release tooling gave them, and percent-decoded they
//! may hold bytes no file name should: `%00` and `%1B` make the Metalink invalid XML (so
//! aria2c fails the download), an RLO (`%E2%80%AE`, U+202E) before `exe.txt` makes it
//! look like `txt.exe`, and `%3A` saves `setup.exe:Zone.Identifier` (an NTFS stream) on
//! Windows. The rules here are the union of what Windows, the XML `Char` production and a reader's
//! eyes need; every other character passes through, so ordinary names
//! (`Firefox Setup 120.0.exe`) are unchanged.

/// Characters that are invisible or reorder what a reader sees: C0 and C1 controls,
/// DEL, the bidirectional marks, embeddings, overrides and isolates, and the two
/// non-characters XML 1.0 excludes. They are dropped: a replacement would still hide
/// what the name looks like without them.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{fffe}' | '\u{ffff}')
}

/// Characters Windows does not allow in a file name (`:` also names an NTFS stream) and
/// the path separators: replaced by `_`, so the name keeps its length and shape.
fn reserved(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
}

/// Device names Windows opens instead of a file, whatever the extension (`NUL.txt`).
const DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// `name` made safe to save: invisible characters dropped, reserved ones replaced by
/// `_`, trailing dots and spaces trimmed (Windows drops them, so `a.exe.` would become
/// another name than the one shown), a device name prefixed with `_`; `download` when
/// nothing (or only `.`/`..`) is left.
pub fn safe(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|&c| !invisible(c))
        .map(|c| if reserved(c) { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        return "download".to_owned();
    }
    let stem = trimmed.split('.').next().unwrap_or_default().trim_end();
    if DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
        return format!("_{trimmed}");
    }
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn ordinary_names_pass_unchanged() {
        for n in [
            "Firefox Setup 120.0.exe",
            "firefox-120.0.tar.bz2",
            "Setup X&Y.exe",
            "Firefox 120.0.dmg",
            "ファイアフォックス.exe",
        ] {
            assert_eq!(safe(n), n);
        }
    }

    #[test]
    fn controls_are_dropped() {
        assert_eq!(safe("set\0up\u{1b}.exe"), "setup.exe");
        assert_eq!(safe("a\tb\r\nc\u{7f}\u{85}\u{9f}.exe"), "abc.exe");
        assert_eq!(safe("a\u{fffe}\u{ffff}.exe"), "a.exe", "not XML characters");
    }

    #[test]
    fn bidi_controls_are_dropped() {
        // Shown as `setupexe.txt` with the override, saved as an executable.
        assert_eq!(safe("setup\u{202e}txt.exe"), "setuptxt.exe");
        for c in [
            '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{61c}',
        ] {
            assert_eq!(safe(&format!("a{c}b.exe")), "ab.exe", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn windows_reserved_characters_are_replaced() {
        assert_eq!(
            safe("setup.exe:Zone.Identifier"),
            "setup.exe_Zone.Identifier"
        );
        assert_eq!(safe(r#"a<b>c"d/e\f|g?h*.exe"#), "a_b_c_d_e_f_g_h_.exe");
    }

    #[test]
    fn windows_name_rules() {
        assert_eq!(safe("setup.exe. . "), "setup.exe");
        assert_eq!(safe("NUL.txt"), "_NUL.txt");
        assert_eq!(safe("com1"), "_com1");
        assert_eq!(safe("Con .exe"), "_Con .exe");
        assert_eq!(safe("console.exe"), "console.exe");
    }

    #[test]
    fn nothing_left_is_download() {
        for n in ["", ".", "..", "\u{202e}", "\0. "] {
            assert_eq!(safe(n), "download", "{n:?}");
        }
    }
}
