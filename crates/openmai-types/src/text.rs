//! Text folding shared by everything that compares Chinese text (the search analyzer, the
//! offline responder): one definition, so a question and a passage fold the same everywhere.

mod simplified;

/// The character at byte `at` (a character boundary) of `text`, and its length in bytes, for
/// loops that walk text a character at a time and keep byte offsets: three-byte characters
/// (nearly all Chinese) are decoded by hand, which `str::chars` does in more steps.
#[inline(always)]
pub fn char_at(text: &str, at: usize) -> (char, usize) {
    let bytes = text.as_bytes();
    match bytes[at] {
        lead @ 0..0x80 => (char::from(lead), 1),
        lead @ 0xE0..0xF0 => {
            let code = u32::from(lead & 0x0F) << 12
                | u32::from(bytes[at + 1] & 0x3F) << 6
                | u32::from(bytes[at + 2] & 0x3F);
            (char::from_u32(code).expect("valid UTF-8 decodes to a character"), 3)
        }
        _ => {
            let c = text[at..].chars().next().expect("a character starts at a lead byte");
            (c, c.len_utf8())
        }
    }
}

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
        let (c, len) = char_at(text, i);
        // U+3001 to U+9FFF (CJK punctuation, kana, ideographs) have no case and no other
        // width, so they stay; U+3000, the ideographic space, becomes a space.
        if ('\u{3001}'..='\u{9FFF}').contains(&c) {
            has_han |= is_han(c);
            i += len;
            continue;
        }
        out.push_str(&text[unchanged_from..i]);
        fold_char(c, &mut out, &mut has_han);
        i += len;
        unchanged_from = i;
    }
    out.push_str(&text[unchanged_from..]);
    if has_han { to_simplified(&out) } else { out }
}

/// The shortest ASCII run copied past the conversion to Simplified: eight bytes, what one
/// word-sized test finds; shorter runs (a space, a number) go through with the Chinese.
const MIN_SKIPPED_ASCII_RUN: usize = 8;

/// zhconv's `zh-CN` conversion (its rules, applied by [`simplified`]), without feeding it the
/// long ASCII runs of mixed text (three fifths of the characters of the benchmark corpus). Its
/// rules hold ASCII only as upper case (never in folded text) or a short run between Chinese
/// characters (`林姆斯基-高沙可夫`), so no match reaches into a long run (a test checks) and
/// the parts between such runs convert as they would within the whole.
fn to_simplified(folded: &str) -> String {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let all_ascii = |at: usize| {
        folded.as_bytes().get(at..at + MIN_SKIPPED_ASCII_RUN).is_some_and(|word| {
            u64::from_le_bytes(word.try_into().expect("eight bytes")) & HIGH_BITS == 0
        })
    };
    let converter = simplified::shared();
    let bytes = folded.as_bytes();
    let mut out = String::with_capacity(folded.len());
    let mut converted_to = 0;
    let mut i = 0;
    // Eight bytes at a time: a run of 15 ASCII bytes or more always holds one such word.
    while i + MIN_SKIPPED_ASCII_RUN <= bytes.len() {
        if !all_ascii(i) {
            i += MIN_SKIPPED_ASCII_RUN;
            continue;
        }
        let mut run = i;
        while run > converted_to && bytes[run - 1].is_ascii() {
            run -= 1;
        }
        i += MIN_SKIPPED_ASCII_RUN;
        while all_ascii(i) {
            i += MIN_SKIPPED_ASCII_RUN;
        }
        while i < bytes.len() && bytes[i].is_ascii() {
            i += 1;
        }
        // ASCII bytes are whole characters, so both ends are character boundaries.
        converter.convert_to(&folded[converted_to..run], &mut out);
        out.push_str(&folded[run..i]);
        converted_to = i;
    }
    converter.convert_to(&folded[converted_to..], &mut out);
    out
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
    use zhconv::Variant;

    use super::*;

    /// Folding character by character and converting the whole text at once, as [`fold`]
    /// did before it copied unchanged runs and skipped ASCII ones.
    fn fold_each_char(text: &str) -> String {
        let mut out = String::new();
        let mut has_han = false;
        for c in text.chars() {
            fold_char(c, &mut out, &mut has_han);
        }
        if has_han { zhconv::zhconv(&out, Variant::ZhCN) } else { out }
    }

    /// What makes skipping long ASCII runs safe: a rule that could match folded text (which
    /// has no upper-case ASCII) holds ASCII only between Chinese characters, in runs too short
    /// to be skipped, so no match reaches into a skipped run.
    #[test]
    fn no_conversion_rule_reaches_into_a_long_ascii_run() {
        let (mut rules, mut taiwan_phrases) = (0, 0);
        for &table in zhconv::get_builtin_tables(Variant::ZhCN) {
            for (from, _) in zhconv::tables::expand_table(table) {
                rules += 1;
                taiwan_phrases += usize::from(from == "軟體" || from == "記憶體");
                if from.bytes().any(|b| b.is_ascii_uppercase()) {
                    continue; // "SQL隱碼攻擊": never in folded text
                }
                let bytes = from.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    let run = i;
                    while i < bytes.len() && bytes[i].is_ascii() {
                        i += 1;
                    }
                    if i > run {
                        let interior = run > 0 && i < bytes.len();
                        assert!(interior && i - run < MIN_SKIPPED_ASCII_RUN, "{from:?}");
                    }
                    i += usize::from(i == run);
                }
            }
        }
        assert!(rules > 5_000 && taiwan_phrases == 2, "{rules} rules: not the tables fold uses");
    }

    #[test]
    fn skipping_ascii_runs_converts_as_the_whole_text_would() {
        let traditional = "軟體記憶體臺北發票優惠";
        let mut text = String::new();
        for (i, ascii) in
            ["", " ", "abc", "1234567", "12345678", "refund policy 2024 ", "\n"].iter().enumerate()
        {
            text.push_str(ascii);
            text.push_str(&traditional[..3 * (1 + i % 4)]);
            text.push_str(ascii);
            text.push_str(traditional);
        }
        assert_eq!(fold(&text), fold_each_char(&text));
        let ends = "A LONG ASCII PREFIX 軟體記憶體 and a long ascii suffix";
        assert_eq!(fold(ends), fold_each_char(ends));
        assert_eq!(fold("軟體 refund policy 記憶體"), "软件 refund policy 内存");
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
