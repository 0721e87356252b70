//! jieba's character classes, shared by the segmenter and by the build script that builds its
//! trie (`build.rs`).

/// jieba's "Chinese" class (`RE_HAN_DEFAULT`): CJK ideographs, ASCII letters and digits, and
/// `+#&._%-`. jieba segments runs of these; any other character is a word of its own.
pub(crate) fn is_run_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-')
    } else {
        is_cjk(c)
    }
}

/// The CJK ideograph ranges jieba-rs counts as Chinese.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2B73F}'
        | '\u{2B740}'..='\u{2B81F}'
        | '\u{2B820}'..='\u{2CEAF}'
        | '\u{2CEB0}'..='\u{2EBEF}'
        | '\u{2F800}'..='\u{2FA1F}'
    )
}
