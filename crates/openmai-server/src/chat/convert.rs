//! `enableChineseConversion`: an assistant's answer in Taiwan Traditional Chinese, phrases
//! included (软件 → 軟體, 内存 → 記憶體, 出租车 → 計程車), also while it streams.
//!
//! Conversion is by phrase, so a stream cannot be converted piece by piece as it arrives:
//! "内" then "存" would give 內存, not 記憶體. [`StreamConverter`] holds back the text after the
//! last place no phrase can span (punctuation, spaces, anything not Chinese) and converts up to
//! there; a long unpunctuated run is cut only where converting the two sides apart gives the
//! same text as converting them together.

use zhconv::{Variant, zhconv};

/// Chinese characters held back at most before a cut is forced inside a run.
const LONGEST_RUN: usize = 32;
/// How many characters a forced cut leaves held back: more than the longest phrase.
const HELD_AFTER_FORCED_CUT: usize = 16;

/// Converts a whole text to Taiwan Traditional with Taiwan phrasing.
pub fn to_taiwan(text: &str) -> String {
    zhconv(text, Variant::ZhTW)
}

/// Converts an answer as it streams; see the module documentation.
#[derive(Debug, Default)]
pub struct StreamConverter {
    pending: String,
}

impl StreamConverter {
    /// Adds the next piece of the answer; returns what can be sent now (maybe nothing).
    pub fn push(&mut self, delta: &str) -> String {
        self.pending.push_str(delta);
        let cut = match self.pending.rfind(is_boundary) {
            Some(at) => at + self.pending[at..].chars().next().map_or(0, char::len_utf8),
            None => self.forced_cut().unwrap_or(0),
        };
        if cut == 0 {
            return String::new();
        }
        let rest = self.pending.split_off(cut);
        let ready = std::mem::replace(&mut self.pending, rest);
        to_taiwan(&ready)
    }

    /// Everything still held back, converted: call once the answer is complete.
    pub fn finish(&mut self) -> String {
        to_taiwan(&std::mem::take(&mut self.pending))
    }

    /// Where a long run without boundaries may be cut without changing the outcome.
    fn forced_cut(&self) -> Option<usize> {
        let chars: Vec<(usize, char)> = self.pending.char_indices().collect();
        if chars.len() <= LONGEST_RUN {
            return None;
        }
        let whole = to_taiwan(&self.pending);
        (1..=chars.len() - HELD_AFTER_FORCED_CUT).rev().map(|n| chars[n].0).find(|&at| {
            let (head, tail) = self.pending.split_at(at);
            let head = to_taiwan(head);
            whole.starts_with(&head) && whole[head.len()..] == to_taiwan(tail)
        })
    }
}

/// Characters no conversion phrase contains: whitespace, punctuation (Chinese or not) and
/// everything but Chinese characters (and the iteration marks 々 and 〇).
fn is_boundary(c: char) -> bool {
    !(openmai_types::text::is_han(c) || matches!(c, '\u{3005}' | '\u{3007}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(pieces: &[&str]) -> (Vec<String>, String) {
        let mut converter = StreamConverter::default();
        let mut sent: Vec<String> = pieces.iter().map(|p| converter.push(p)).collect();
        sent.push(converter.finish());
        let whole = sent.concat();
        (sent, whole)
    }

    #[test]
    fn phrases_split_across_pieces_convert_as_a_whole() {
        let text = "我们的软件需要内存和鼠标，出租车在台北。这个程序的源代码";
        let expected = to_taiwan(text);
        assert_eq!(expected, "我們的軟體需要記憶體和滑鼠，計程車在臺北。這個程式的原始碼");
        // Every way of cutting the text into two pieces gives the same result…
        let chars: Vec<char> = text.chars().collect();
        for cut in 0..=chars.len() {
            let head: String = chars[..cut].iter().collect();
            let tail: String = chars[cut..].iter().collect();
            assert_eq!(stream(&[&head, &tail]).1, expected, "cut at {cut}");
        }
        // …and so does one character at a time.
        let singles: Vec<String> = chars.iter().map(char::to_string).collect();
        let singles: Vec<&str> = singles.iter().map(String::as_str).collect();
        assert_eq!(stream(&singles).1, expected);
    }

    #[test]
    fn text_is_sent_as_soon_as_a_boundary_makes_it_safe() {
        let (sent, _) = stream(&["软件很好，", "内", "存", "不够。"]);
        assert_eq!(sent, ["軟體很好，", "", "", "記憶體不夠。", ""]);
        // Latin text is never part of a phrase: it goes at once.
        let (sent, _) = stream(&["Hello ", "world"]);
        assert_eq!(sent, ["Hello ", "world", ""]);
    }

    #[test]
    fn a_long_unpunctuated_run_is_cut_without_changing_it() {
        let run = "软件内存鼠标出租车打印机信息技术源代码".repeat(4);
        let expected = to_taiwan(&run);
        let mut converter = StreamConverter::default();
        let mut sent = Vec::new();
        for c in run.chars() {
            sent.push(converter.push(&c.to_string()));
        }
        assert!(sent.iter().any(|s| !s.is_empty()), "nothing is held back for ever");
        sent.push(converter.finish());
        assert_eq!(sent.concat(), expected);
    }
}
