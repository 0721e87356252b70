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
    let mut has_han = false;
    for c in text.chars() {
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        };
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if is_han(c) {
            // Most of a Chinese text, and caseless: skip the case tables.
            has_han = true;
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    if has_han { zhconv(&out, Variant::ZhCN) } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_widths_and_cases_fold_together() {
        assert_eq!(fold("臺灣高鐵ＡＢＣ　Refund"), fold("台湾高铁abc refund"));
        assert_eq!(fold("軟體"), "软件");
        assert!(is_han('退') && !is_han('，') && !is_han('a'));
    }
}
