//! Counting what a reply costs: words (MaiAgent bills assistants in words, `totalWordsCount`)
//! and tokens.
//!
//! Token counts are estimates, used to fit a prompt into a model's context and for models that
//! report no usage (the offline responder, some local servers). Providers' own counts replace
//! them whenever a provider reports usage. A real BPE (tiktoken's o200k) was measured here and
//! rejected: loading it costs 160 ms and 46 MB of memory, three times the whole server's idle
//! footprint, for a count that is still wrong for Claude, Gemini, Qwen or Llama. Every
//! tokenizer in use codes a Chinese character as about one token and English as about four
//! bytes a token, which is what [`estimate_tokens`] counts, rounded up.

use unicode_segmentation::UnicodeSegmentation;

/// Words as Unicode segments them: an English word is one, and so is each Chinese character.
pub fn count_words(text: &str) -> i64 {
    i64::try_from(text.unicode_words().count()).unwrap_or(i64::MAX)
}

/// About how many tokens `text` is: one per character outside ASCII (Chinese, Japanese,
/// Korean, accented letters) and one per four ASCII bytes, plus one.
pub fn estimate_tokens(text: &str) -> usize {
    let (ascii, other) = text.chars().fold((0usize, 0usize), |(ascii, other), c| {
        if c.is_ascii() { (ascii + 1, other) } else { (ascii, other + 1) }
    });
    other + ascii.div_ceil(4) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_and_english_words_are_words() {
        assert_eq!(count_words("台灣高鐵"), 4);
        assert_eq!(count_words("Refunds are allowed."), 3);
        assert_eq!(count_words("退票 refund 規定。"), 5);
        assert_eq!(count_words(""), 0);
    }

    #[test]
    fn token_estimates_err_on_the_high_side() {
        // o200k codes these as 13 and 6 tokens.
        assert!(estimate_tokens("台灣高鐵的退票規定是什麼？") >= 13);
        assert!(estimate_tokens("Refunds are allowed before departure.") >= 6);
        assert_eq!(estimate_tokens(""), 1);
    }
}
