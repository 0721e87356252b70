//! Text clean-up shared by every format: line ends, whitespace, invisible and control
//! characters. Characters are otherwise preserved exactly (no Traditional/Simplified
//! conversion, no NFKC: full-width CJK punctuation stays full-width).

use std::borrow::Cow;

/// Normalises `s`:
/// - `\r\n`, `\r`, U+2028 become `\n`; U+2029 a blank line;
/// - tabs and exotic spaces (NBSP, ideographic space U+3000, …) become one space, runs of
///   spaces collapse, lines are trimmed, at most one blank line in a row, none at the ends;
/// - control characters, zero-width spaces, BOMs and soft hyphens are dropped;
/// - Latin ligatures (ﬁ, ﬂ, …) are spelled out, as PDFs produce them;
/// - inside fenced code blocks (```` ``` ````), spacing is kept as is.
pub(crate) fn clean(s: &str) -> String {
    if is_clean_text(s) {
        return s.to_owned();
    }
    let s: Cow<'_, str> = if s.contains(['\r', '\u{2028}', '\u{2029}']) {
        Cow::Owned(
            s.replace("\r\n", "\n").replace(['\r', '\u{2028}'], "\n").replace('\u{2029}', "\n\n"),
        )
    } else {
        Cow::Borrowed(s)
    };
    let mut out = String::with_capacity(s.len());
    let mut blank_lines = 0usize;
    let mut in_fence = false;
    let mut line_buf = String::new();
    for line in s.split('\n') {
        line_buf.clear();
        let fence = is_fence(line.trim_start_matches(is_space));
        clean_line(line, in_fence && !fence, &mut line_buf);
        if fence {
            in_fence = !in_fence;
        }
        if line_buf.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(&line_buf);
    }
    out
}

/// [`clean`], without a copy when the text is already clean.
pub(crate) fn clean_owned(s: String) -> String {
    if is_clean_text(&s) { s } else { clean(&s) }
}

/// Whether [`clean`] would return `s` unchanged: clean lines, no blank-line runs, no blank
/// lines at the ends, no code fences (whose lines are handled apart).
fn is_clean_text(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('\n')
        && !s.ends_with('\n')
        // memchr's vectorised search: `str::contains` was a tenth of the PDF and DOCX time.
        && !contains(s, b"\n\n\n")
        && !contains(s, b"```")
        && !contains(s, b"~~~")
        && s.split('\n').all(|line| line.is_empty() || is_clean(line.as_bytes()))
}

fn contains(s: &str, needle: &[u8]) -> bool {
    memchr::memmem::find(s.as_bytes(), needle).is_some()
}

/// Cleans one line (no `\n` inside) into `out`.
pub(crate) fn clean_line(line: &str, keep_spacing: bool, out: &mut String) {
    if !keep_spacing && is_clean(line.as_bytes()) {
        out.push_str(line);
        return;
    }
    let line = if keep_spacing { line } else { line.trim_start_matches(is_space) };
    let mut pending_space = false;
    let start = out.len();
    for c in line.chars() {
        if is_space(c) {
            if keep_spacing {
                out.push(if c == '\t' { '\t' } else { ' ' });
            } else {
                pending_space = true;
            }
            continue;
        }
        if is_dropped(c) {
            continue;
        }
        if pending_space && out.len() > start {
            out.push(' ');
        }
        pending_space = false;
        match ligature(c) {
            Some(spelled) => out.push_str(spelled),
            None => out.push(c),
        }
    }
    if keep_spacing {
        let trimmed = out[start..].trim_end().len();
        out.truncate(start + trimmed);
    }
}

/// Bytes that need a closer look in [`is_clean`]: controls, the space, and the UTF-8 lead
/// bytes of the characters [`clean_line`] changes (U+0080–U+00BF, U+1680, U+2000–U+206F,
/// U+3000, U+FB00–U+FFFF). None of them occurs inside another character's encoding.
static INSPECT: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] =
            i <= 0x20 || i == 0x7F || i == 0xC2 || i == 0xE1 || i == 0xE2 || i == 0xE3 || i == 0xEF;
        i += 1;
    }
    t
};

/// Whether a line is already clean: no control characters, no leading, trailing or doubled
/// spaces, none of the characters [`clean_line`] replaces or drops. A byte scan that skips
/// ordinary bytes (ASCII letters, CJK ideographs) through a table, so typical text is copied
/// as is instead of decoded character by character.
pub(crate) fn is_clean(b: &[u8]) -> bool {
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while i < n {
        while i < n && !INSPECT[usize::from(b[i])] {
            i += 1;
        }
        if i >= n {
            break;
        }
        let (n1, n2) = (at(i + 1), at(i + 2));
        let special = match b[i] {
            b' ' => i == 0 || i + 1 == n || n1 == b' ',
            // C1 controls, NBSP, soft hyphen.
            0xC2 => n1 <= 0xA0 || n1 == 0xAD,
            // U+1680.
            0xE1 => n1 == 0x9A && n2 == 0x80,
            // U+2000–U+200D, U+2028/2029, U+202F, U+205F, U+2060.
            0xE2 => {
                (n1 == 0x80 && (n2 <= 0x8D || matches!(n2, 0xA8 | 0xA9 | 0xAF)))
                    || (n1 == 0x81 && matches!(n2, 0x9F | 0xA0))
            }
            // U+3000.
            0xE3 => n1 == 0x80 && n2 == 0x80,
            // U+FEFF, ligatures U+FB00–U+FB06.
            0xEF => (n1 == 0xBB && n2 == 0xBF) || (n1 == 0xAC && n2 <= 0x86),
            // Other controls.
            _ => true,
        };
        if special {
            return false;
        }
        i += 1;
    }
    true
}

/// Whitespace inside a line (not `\n`).
pub(crate) fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\u{0B}' | '\u{0C}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_dropped(c: char) -> bool {
    // Keep U+200C/U+200D (joiners: Persian, emoji sequences).
    (c.is_control() && c != '\n') || matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{AD}')
}

fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{FB00}' => "ff",
        '\u{FB01}' => "fi",
        '\u{FB02}' => "fl",
        '\u{FB03}' => "ffi",
        '\u{FB04}' => "ffl",
        '\u{FB05}' | '\u{FB06}' => "st",
        _ => return None,
    })
}

fn is_fence(line: &str) -> bool {
    line.starts_with("```") || line.starts_with("~~~")
}

/// Whether `c` is a CJK ideograph, kana, hangul or CJK/full-width punctuation: text in these
/// scripts is written without spaces, so lines are joined without one.
pub(crate) fn is_cjk(c: char) -> bool {
    let code = u32::from(c);
    // Most characters are below the first range (ASCII, Latin) or in the unified ideographs:
    // those two answer in a comparison or two, where the ranges below take a dozen.
    if code < 0x2E80 {
        return false;
    }
    if (0x4E00..=0x9FFF).contains(&code) {
        return true;
    }
    matches!(code,
        0x2E80..=0x2FDF | 0x3000..=0x303F | 0x3040..=0x30FF | 0x3100..=0x312F | 0x3190..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_whitespace_and_controls() {
        assert_eq!(clean("  a\t\tb  \r\n\r\n\r\n\n c\u{0}d\u{200B}e f "), "a b\n\ncde f");
        assert_eq!(clean("第一章\u{3000}總則\u{A0}說明"), "第一章 總則 說明");
        assert_eq!(clean("\u{FEFF}\n\nx\n"), "x");
        assert_eq!(clean("of\u{FB01}ce"), "office");
        assert_eq!(clean("a\u{2029}b"), "a\n\nb");
    }

    #[test]
    fn the_fast_path_agrees_with_the_slow_one() {
        for line in [
            "plain ascii",
            "台灣。高鐵",
            "a  b",
            " a",
            "a ",
            "x\u{A0}y",
            "x\u{3000}y",
            "x\u{200B}y",
            "\u{FB01}",
            "\u{FEFF}x",
            "“quoted” — dash",
            "a\u{85}b",
            "é ü 한국어 😀",
        ] {
            let mut slow = String::new();
            clean_line_slow(line, &mut slow);
            let mut fast = String::new();
            clean_line(line, false, &mut fast);
            assert_eq!(fast, slow, "{line:?}");
        }
    }

    fn clean_line_slow(line: &str, out: &mut String) {
        // Force the character path by making the line unclean and cleaning the rest.
        let mut padded = String::from(" ");
        padded.push_str(line);
        clean_line(&padded, false, out);
    }

    #[test]
    fn code_fences_keep_spacing() {
        assert_eq!(clean("```\n  if x:\n      y  \n```\n  z"), "```\n  if x:\n      y\n```\nz");
    }

    #[test]
    fn traditional_chinese_is_untouched() {
        let s = "臺灣「高鐵」退票規定：全票、半票；手續費１０％。";
        assert_eq!(clean(s), s);
    }
}
