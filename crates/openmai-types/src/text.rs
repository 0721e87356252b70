//! Text folding shared by everything that compares Chinese text (the search analyzer, the
//! offline responder): one definition, so a question and a passage fold the same everywhere.

use zhconv::{Variant, zhconv};

/// CJK unified ideographs (the basic block and extension A, plus compatibility ideographs).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Full-width forms to half-width, lower case, and Traditional to Simplified (OpenCC's
/// `zh-CN` tables, which also map Taiwan phrasing: 軟體 → 软件), so that text in either
/// script, typed either way, compares equal.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut has_han = false;
    // Runs of text that folding leaves as they are (lower-case ASCII, Chinese) are copied
    // whole: decoding and re-encoding every character was as much work as the conversion to
    // Simplified.
    let mut unchanged_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        if lead < 0x80 {
            if lead.is_ascii_uppercase() {
                out.push_str(&text[unchanged_from..i]);
                out.push(char::from(lead.to_ascii_lowercase()));
                unchanged_from = i + 1;
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("a character starts at a lead byte");
        // U+3001 to U+9FFF (CJK punctuation, kana, ideographs) have no case and no other
        // width, so they stay; U+3000, the ideographic space, becomes a space.
        if ('\u{3001}'..='\u{9FFF}').contains(&c) {
            has_han |= is_han(c);
            i += 3;
            continue;
        }
        out.push_str(&text[unchanged_from..i]);
        fold_char(c, &mut out, &mut has_han);
        i += c.len_utf8();
        unchanged_from = i;
    }
    out.push_str(&text[unchanged_from..]);
    if has_han { zhconv(&out, Variant::ZhCN) } else { out }
}

/// Folds one character (for [`fold`]) into `out`.
fn fold_char(c: char, out: &mut String, has_han: &mut bool) {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    };
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else if is_han(c) {
        // Caseless: skip the case tables.
        *has_han = true;
        out.push(c);
    } else {
        out.extend(c.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding character by character, as [`fold`] did before it copied unchanged runs.
    fn fold_each_char(text: &str) -> String {
        let mut out = String::new();
        let mut has_han = false;
        for c in text.chars() {
            fold_char(c, &mut out, &mut has_han);
        }
        if has_han { zhconv(&out, Variant::ZhCN) } else { out }
    }

    #[test]
    fn copying_unchanged_runs_folds_as_each_character_would() {
        for text in [
            "",
            "臺灣高鐵ＡＢＣ　Refund",
            "Ⅻ ΣΑΣ İstanbul ß ﬁ 𠀀𠮷 ㈠ 〇 「引號」、。！",
            "ｈｅｌｌｏ，ＷＯＲＬＤ１２３",
            "\u{2FFF}\u{3000}\u{3001}\u{9FFF}\u{A000}\u{FF01}\u{FF5E}\u{FF5F}",
            "軟體記憶體 software MEMORY 软件",
        ] {
            assert_eq!(fold(text), fold_each_char(text), "{text}");
        }
        // Every character from U+0000 to U+FFFF (but surrogates) between Chinese ones.
        let all: String =
            (0..=0xFFFF_u32).filter_map(char::from_u32).flat_map(|c| [c, '台']).collect();
        assert_eq!(fold(&all), fold_each_char(&all));
    }

    #[test]
    fn scripts_widths_and_cases_fold_together() {
        assert_eq!(fold("臺灣高鐵ＡＢＣ　Refund"), fold("台湾高铁abc refund"));
        assert_eq!(fold("軟體"), "软件");
        assert!(is_han('退') && !is_han('，') && !is_han('a'));
    }
}
