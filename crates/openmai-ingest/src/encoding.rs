//! Text encodings: BOMs first, then BOM-less UTF-16, then strict UTF-8, then (for HTML) the
//! `<meta charset>`, then chardetng's guess with the `tw` hint, which settles Big5 against GBK
//! for Taiwanese files. Undecodable bytes become U+FFFD; decoding never fails.

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// Decoded text and the encoding's WHATWG name (`UTF-8`, `Big5`, `UTF-16LE`, …).
pub(crate) struct Decoded {
    pub text: String,
    pub encoding: &'static str,
}

/// How much of a file chardetng looks at: enough for a confident guess, bounded in time.
const DETECT_BYTES: usize = 256 * 1024;

pub(crate) fn decode(bytes: &[u8], html: bool) -> Decoded {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return with(enc, &bytes[bom_len..]);
    }
    if let Some(enc) = utf16_without_bom(&bytes[..bytes.len().min(4096)]) {
        return with(enc, bytes);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded { text: text.to_owned(), encoding: UTF_8.name() };
    }
    if html
        && let Some(enc) = meta_charset(&bytes[..bytes.len().min(4096)])
        && enc != UTF_8
    {
        return with(enc, bytes);
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    let sample = &bytes[..bytes.len().min(DETECT_BYTES)];
    detector.feed(sample, sample.len() == bytes.len());
    let enc = detector.guess(Some(b"tw"), Utf8Detection::Allow);
    with(enc, bytes)
}

fn with(enc: &'static Encoding, bytes: &[u8]) -> Decoded {
    let (text, _had_errors) = enc.decode_without_bom_handling(bytes);
    Decoded { text: text.into_owned(), encoding: enc.name() }
}

/// UTF-16 without a BOM shows as NUL bytes in every other position (for the ASCII range).
pub(crate) fn utf16_without_bom(head: &[u8]) -> Option<&'static Encoding> {
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even_zero, mut odd_zero) = (0usize, 0usize);
    for pair in head.chunks_exact(2) {
        even_zero += usize::from(pair[0] == 0);
        odd_zero += usize::from(pair[1] == 0);
    }
    if odd_zero * 10 >= pairs * 4 && even_zero * 10 < pairs {
        Some(UTF_16LE)
    } else if even_zero * 10 >= pairs * 4 && odd_zero * 10 < pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// `<meta charset="big5">` or `<meta http-equiv=… content="text/html; charset=big5">`.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(pos) = crate::detect::find(&lower[from..], b"charset") {
        let mut i = from + pos + b"charset".len();
        from = i;
        while i < lower.len() && matches!(lower[i], b' ' | b'=' | b'"' | b'\'') {
            i += 1;
        }
        let start = i;
        while i < lower.len()
            && (lower[i].is_ascii_alphanumeric() || matches!(lower[i], b'-' | b'_' | b':' | b'.'))
        {
            i += 1;
        }
        if i > start
            && let Some(enc) = Encoding::for_label(&lower[start..i])
        {
            return Some(enc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_and_utf16() {
        let mut le = vec![0xFF, 0xFE];
        le.extend("台灣 ok".encode_utf16().flat_map(|u| u.to_le_bytes()));
        let d = decode(&le, false);
        assert_eq!((d.text.as_str(), d.encoding), ("台灣 ok", "UTF-16LE"));
        let bomless: Vec<u8> =
            "plain ascii text".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(decode(&bomless, false).text, "plain ascii text");
        let d = decode(b"\xEF\xBB\xBFhello", false);
        assert_eq!((d.text.as_str(), d.encoding), ("hello", "UTF-8"));
    }

    #[test]
    fn big5_is_detected() {
        let (big5, _, _) = encoding_rs::BIG5
            .encode("台灣高鐵的退票規定是什麼？旅客可以在開車前線上退票，手續費為票價的百分之十。");
        let d = decode(&big5, false);
        assert_eq!(d.encoding, "Big5");
        assert!(d.text.starts_with("台灣高鐵的退票規定"), "{}", d.text);
    }

    #[test]
    fn html_meta_charset_wins() {
        let (body, _, _) = encoding_rs::BIG5
            .encode("<html><head><meta charset=\"big5\"></head><body>退票</body></html>");
        assert_eq!(decode(&body, true).encoding, "Big5");
    }
}
