//! PDF fonts: from character codes in a content stream to Unicode text and glyph widths.
//!
//! Covered: ToUnicode CMaps (authoritative when present), simple fonts with standard encodings
//! and `Differences` (glyph names), composite (Type0) fonts with `Identity-H/V`, with the
//! predefined Unicode CMaps (`UniCNS-UCS2-H`, …) and with the legacy CJK CMaps (`ETen-B5-H`,
//! `GBK-EUC-H`, `90ms-RKSJ-H`, `KSCms-UHC-H`, …) decoded with the matching legacy encoding,
//! which is how older Taiwanese PDFs (MingLiU in Big5) are written; Type3 font matrices; widths
//! from `Widths`, `W`/`DW`, or the standard 14 fonts' metrics. A font is parsed once per
//! document and cached by object id.

use std::collections::HashMap;

use encoding_rs::Encoding;
use lopdf::{Dictionary, Document, Object};

/// Largest ToUnicode or embedded CMap stream read (decompressed).
const MAX_CMAP_BYTES: usize = 8 * 1024 * 1024;
/// Most code → Unicode entries taken from one CMap (bfrange bombs).
const MAX_CMAP_ENTRIES: usize = 200_000;
/// Codes below this are looked up in dense tables.
const DENSE: u32 = 0x1_0000;

/// How a composite font's byte string splits into codes.
#[derive(Debug, Clone)]
enum CodeLayout {
    OneByte,
    TwoByte,
    /// Codespace ranges: (byte length, low, high).
    Ranges(Vec<(u8, u32, u32)>),
    /// A legacy double-byte encoding: bytes in the lead range start a two-byte code.
    Lead(u8, u8),
}

/// What to do with a code no ToUnicode entry covers.
#[derive(Debug, Clone, Copy)]
enum Fallback {
    None,
    /// The code is UTF-16BE (predefined `Uni…-UCS2` / `UTF16` CMaps).
    Utf16,
    /// The code's bytes are text in a legacy encoding (Big5, GBK, Shift_JIS, EUC-KR).
    Legacy(&'static Encoding),
}

/// The text a glyph stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GlyphText<'a> {
    Char(char),
    Str(&'a str),
    /// No Unicode known for this code.
    Unknown,
}

pub(crate) struct Glyph<'a> {
    pub text: GlyphText<'a>,
    /// Advance in text space units for a font size of 1.
    pub width: f64,
    /// A single-byte code 32, to which word spacing applies.
    pub is_space: bool,
}

#[derive(Debug)]
pub(crate) struct Font {
    layout: CodeLayout,
    /// Dense code → char ('\0' = none; '\u{1}' = see `multi`).
    chars: Vec<char>,
    /// Codes mapping to several characters (ligatures) or beyond the dense range.
    multi: HashMap<u32, Box<str>>,
    fallback: Fallback,
    /// Dense code (or CID) → width in text space units.
    widths: Vec<f32>,
    default_width: f32,
    /// For legacy layouts the code is not the CID: widths by byte length instead.
    legacy_widths: bool,
    /// Multiplies the font size to get the glyphs' real size (Type3 font matrices).
    pub size_scale: f64,
}

impl Font {
    /// Calls `f` for every glyph of `bytes`.
    pub(crate) fn glyphs(&self, bytes: &[u8], mut f: impl FnMut(Glyph<'_>)) {
        let mut i = 0;
        let mut legacy_buf = String::new();
        while i < bytes.len() {
            // One- and two-byte codes (simple fonts, `Identity-H`: nearly every font) are read
            // directly; other layouts find each code's length first.
            let (code, end) = match self.layout {
                CodeLayout::OneByte => (u32::from(bytes[i]), i + 1),
                CodeLayout::TwoByte if i + 1 < bytes.len() => {
                    (u32::from(bytes[i]) << 8 | u32::from(bytes[i + 1]), i + 2)
                }
                _ => {
                    let end = (i + self.code_len(&bytes[i..])).min(bytes.len());
                    (bytes[i..end].iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)), end)
                }
            };
            let raw = &bytes[i..end];
            i = end;
            let width = self.width(code, raw.len());
            let is_space = raw.len() == 1 && code == 32;
            let mapped = if (code as usize) < self.chars.len() {
                self.chars[code as usize]
            } else {
                '\u{1}'
            };
            let text = match mapped {
                '\0' => GlyphText::Unknown,
                '\u{1}' => match self.multi.get(&code) {
                    Some(s) => GlyphText::Str(s),
                    None => GlyphText::Unknown,
                },
                c => GlyphText::Char(c),
            };
            let text = match (text, self.fallback) {
                (GlyphText::Unknown, Fallback::Utf16) => char::from_u32(code)
                    .filter(|_| !(0xD800..0xE000).contains(&code))
                    .map_or(GlyphText::Unknown, GlyphText::Char),
                (GlyphText::Unknown, Fallback::Legacy(enc)) => {
                    legacy_buf.clear();
                    let (decoded, had_errors) = enc.decode_without_bom_handling(raw);
                    if had_errors {
                        GlyphText::Unknown
                    } else {
                        legacy_buf.push_str(&decoded);
                        GlyphText::Str(&legacy_buf)
                    }
                }
                (t, _) => t,
            };
            f(Glyph { text, width, is_space });
        }
    }

    fn code_len(&self, rest: &[u8]) -> usize {
        match &self.layout {
            CodeLayout::OneByte => 1,
            CodeLayout::TwoByte => 2,
            CodeLayout::Lead(lo, hi) => {
                if (*lo..=*hi).contains(&rest[0]) && rest.len() > 1 {
                    2
                } else {
                    1
                }
            }
            CodeLayout::Ranges(ranges) => {
                for len in 1..=4usize {
                    if rest.len() < len {
                        break;
                    }
                    let code = rest[..len].iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
                    if ranges
                        .iter()
                        .any(|&(l, lo, hi)| usize::from(l) == len && code >= lo && code <= hi)
                    {
                        return len;
                    }
                }
                // Not in any range: use the shortest length declared.
                ranges.iter().map(|r| usize::from(r.0)).min().unwrap_or(1)
            }
        }
    }

    fn width(&self, code: u32, len: usize) -> f64 {
        if self.legacy_widths {
            return f64::from(if len >= 2 { self.default_width } else { self.default_width / 2.0 });
        }
        match self.widths.get(code as usize) {
            Some(&w) if w > 0.0 => f64::from(w),
            _ => f64::from(self.default_width),
        }
    }
}

/// Resolves references.
pub(crate) fn deref<'a>(doc: &'a Document, obj: &'a Object) -> &'a Object {
    let mut obj = obj;
    for _ in 0..16 {
        match obj {
            Object::Reference(id) => match doc.get_object(*id) {
                Ok(o) => obj = o,
                Err(_) => return &Object::Null,
            },
            _ => return obj,
        }
    }
    &Object::Null
}

pub(crate) fn get<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key).ok().map(|o| deref(doc, o)).filter(|o| !matches!(o, Object::Null))
}

pub(crate) fn number(obj: &Object) -> Option<f64> {
    match obj {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

fn name<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    match get(doc, dict, key)? {
        Object::Name(n) => Some(n),
        _ => None,
    }
}

fn stream_bytes(doc: &Document, obj: &Object) -> Option<Vec<u8>> {
    match deref(doc, obj) {
        Object::Stream(s) => s.decompressed_content_with_limit(MAX_CMAP_BYTES).ok().or_else(|| {
            (s.dict.get(b"Filter").is_err() && s.content.len() <= MAX_CMAP_BYTES)
                .then(|| s.content.clone())
        }),
        _ => None,
    }
}

/// Builds a font from its dictionary. Never fails: unknown parts degrade to "no text" for
/// those glyphs.
pub(crate) fn load(doc: &Document, dict: &Dictionary) -> Font {
    let subtype = name(doc, dict, b"Subtype").unwrap_or(b"Type1");
    let to_unicode =
        dict.get(b"ToUnicode").ok().and_then(|o| stream_bytes(doc, o)).map(|b| parse_cmap(&b));
    if subtype == b"Type0" {
        composite(doc, dict, to_unicode)
    } else {
        simple(doc, dict, subtype == b"Type3", to_unicode)
    }
}

fn simple(doc: &Document, dict: &Dictionary, type3: bool, to_unicode: Option<CMap>) -> Font {
    let base_font = name(doc, dict, b"BaseFont").unwrap_or(b"");
    let symbolic = contains(base_font, b"Symbol")
        || contains(base_font, b"Dingbat")
        || contains(base_font, b"Wingding")
        || contains(base_font, b"Webding");
    let mut chars = vec!['\0'; 256];
    let mut multi = HashMap::new();
    // The base encoding, then Differences, then ToUnicode.
    let (base, differences) = match get(doc, dict, b"Encoding") {
        Some(Object::Name(n)) => (Some(n.as_slice()), None),
        Some(Object::Dictionary(d)) => (name(doc, d, b"BaseEncoding"), get(doc, d, b"Differences")),
        _ => (None, None),
    };
    if !symbolic || base.is_some() {
        fill_base_encoding(&mut chars, base.unwrap_or(b"WinAnsiEncoding"));
    }
    if let Some(Object::Array(diffs)) = differences {
        let mut code: i64 = 0;
        for item in diffs {
            match deref(doc, item) {
                Object::Integer(i) => code = *i,
                Object::Name(glyph) => {
                    if (0..256).contains(&code) {
                        let slot = code as usize;
                        match glyph_text(glyph) {
                            Some(GlyphName::Char(c)) => chars[slot] = c,
                            Some(GlyphName::Str(s)) => {
                                chars[slot] = '\u{1}';
                                multi.insert(slot as u32, s.into_boxed_str());
                            }
                            None => chars[slot] = '\0',
                        }
                    }
                    code += 1;
                }
                _ => {}
            }
        }
    }
    if let Some(cmap) = to_unicode {
        apply_cmap(&cmap, &mut chars, &mut multi);
    }
    // Widths: Widths/FirstChar, else the standard 14 metrics, else the descriptor's MissingWidth.
    let font_matrix = match get(doc, dict, b"FontMatrix") {
        Some(Object::Array(m)) if type3 && m.len() == 6 => {
            m.iter().map(|o| number(deref(doc, o)).unwrap_or(0.0)).collect()
        }
        _ => vec![0.001, 0.0, 0.0, 0.001, 0.0, 0.0],
    };
    let scale = font_matrix[0];
    let mut widths = vec![0f32; 256];
    let mut default_width = get(doc, dict, b"FontDescriptor")
        .and_then(|d| {
            if let Object::Dictionary(d) = d {
                get(doc, d, b"MissingWidth").and_then(number)
            } else {
                None
            }
        })
        .filter(|w| *w > 0.0)
        .map_or(0.0, |w| (w * scale) as f32);
    match (get(doc, dict, b"Widths"), get(doc, dict, b"FirstChar").and_then(number)) {
        (Some(Object::Array(ws)), Some(first)) => {
            for (i, w) in ws.iter().enumerate() {
                let code = first as i64 + i as i64;
                if (0..256).contains(&code) {
                    widths[code as usize] = (number(deref(doc, w)).unwrap_or(0.0) * scale) as f32;
                }
            }
        }
        _ => {
            let metrics = standard_widths(base_font);
            for (i, w) in metrics.iter().enumerate() {
                widths[32 + i] = f32::from(*w) / 1000.0;
            }
            if default_width == 0.0 {
                default_width = if contains(base_font, b"Courier") { 0.6 } else { 0.5 };
            }
        }
    }
    if default_width == 0.0 {
        default_width = 0.5;
    }
    let size_scale = if type3 { (font_matrix[3] * 1000.0).abs().max(1e-6) } else { 1.0 };
    Font {
        layout: CodeLayout::OneByte,
        chars,
        multi,
        fallback: Fallback::None,
        widths,
        default_width,
        legacy_widths: false,
        size_scale,
    }
}

fn composite(doc: &Document, dict: &Dictionary, to_unicode: Option<CMap>) -> Font {
    let encoding = name(doc, dict, b"Encoding").unwrap_or(b"Identity-H");
    let (mut layout, fallback, legacy) = predefined_cmap(encoding);
    let mut chars = Vec::new();
    let mut multi = HashMap::new();
    if let Some(cmap) = to_unicode {
        if !cmap.codespace.is_empty() && matches!(layout, CodeLayout::TwoByte) {
            let all_two = cmap.codespace.iter().all(|r| r.0 == 2);
            if !all_two {
                layout = CodeLayout::Ranges(cmap.codespace.clone());
            }
        }
        apply_cmap(&cmap, &mut chars, &mut multi);
    }
    let descendant = match get(doc, dict, b"DescendantFonts") {
        Some(Object::Array(a)) => a.first().map(|o| deref(doc, o)),
        _ => None,
    };
    let mut widths = Vec::new();
    let mut default_width = 1.0f32;
    if let Some(Object::Dictionary(d)) = descendant {
        if let Some(dw) = get(doc, d, b"DW").and_then(number) {
            default_width = (dw / 1000.0) as f32;
        }
        if let Some(Object::Array(w)) = get(doc, d, b"W") {
            parse_cid_widths(doc, w, &mut widths);
        }
    }
    Font {
        layout,
        chars,
        multi,
        fallback,
        widths,
        default_width,
        legacy_widths: legacy,
        size_scale: 1.0,
    }
}

/// Layout, fallback decoding and whether widths are by byte length, for a predefined CMap name.
fn predefined_cmap(encoding: &[u8]) -> (CodeLayout, Fallback, bool) {
    let has = |s: &[u8]| contains(encoding, s);
    if encoding.starts_with(b"Identity") {
        (CodeLayout::TwoByte, Fallback::None, false)
    } else if has(b"UCS2") || has(b"UTF16") {
        (CodeLayout::TwoByte, Fallback::Utf16, false)
    } else if has(b"B5") || has(b"ETen") || has(b"HKscs") {
        (CodeLayout::Lead(0x81, 0xFE), Fallback::Legacy(encoding_rs::BIG5), true)
    } else if has(b"GBK") || has(b"GB-EUC") || has(b"GBpc-EUC") || has(b"GBT") {
        (CodeLayout::Lead(0x81, 0xFE), Fallback::Legacy(encoding_rs::GBK), true)
    } else if has(b"RKSJ") {
        (CodeLayout::Lead(0x81, 0xFC), Fallback::Legacy(encoding_rs::SHIFT_JIS), true)
    } else if has(b"KSC") || has(b"UHC") {
        (CodeLayout::Lead(0x81, 0xFE), Fallback::Legacy(encoding_rs::EUC_KR), true)
    } else if has(b"EUC") {
        (CodeLayout::Lead(0x8E, 0xFE), Fallback::Legacy(encoding_rs::EUC_JP), true)
    } else {
        (CodeLayout::TwoByte, Fallback::None, false)
    }
}

/// `W` array: `c [w1 w2 …]` or `c_first c_last w`.
fn parse_cid_widths(doc: &Document, w: &[Object], widths: &mut Vec<f32>) {
    let mut i = 0;
    let set = |cid: i64, width: f64, widths: &mut Vec<f32>| {
        if (0..i64::from(DENSE)).contains(&cid) {
            let cid = cid as usize;
            if widths.len() <= cid {
                widths.resize(cid + 1, 0.0);
            }
            widths[cid] = (width / 1000.0) as f32;
        }
    };
    while i < w.len() {
        let Some(first) = number(deref(doc, &w[i])) else { break };
        match w.get(i + 1).map(|o| deref(doc, o)) {
            Some(Object::Array(list)) => {
                for (k, wv) in list.iter().enumerate() {
                    set(first as i64 + k as i64, number(deref(doc, wv)).unwrap_or(0.0), widths);
                }
                i += 2;
            }
            Some(last) => {
                let (Some(last), Some(width)) =
                    (number(last), w.get(i + 2).and_then(|o| number(deref(doc, o))))
                else {
                    break;
                };
                let (first, last) =
                    (first as i64, (last as i64).min(first as i64 + i64::from(DENSE)));
                for cid in first..=last {
                    set(cid, width, widths);
                }
                i += 3;
            }
            None => break,
        }
    }
}

fn apply_cmap(cmap: &CMap, chars: &mut Vec<char>, multi: &mut HashMap<u32, Box<str>>) {
    for (&code, text) in &cmap.map {
        let mut it = text.chars();
        let single = match (it.next(), it.next()) {
            (Some(c), None) if c > '\u{1}' => Some(c),
            _ => None,
        };
        if code < DENSE {
            let slot = code as usize;
            if chars.len() <= slot {
                chars.resize(slot + 1, '\0');
            }
            match single {
                Some(c) => chars[slot] = c,
                None => {
                    chars[slot] = '\u{1}';
                    multi.insert(code, text.clone().into_boxed_str());
                }
            }
        } else {
            multi.insert(code, text.clone().into_boxed_str());
        }
    }
}

fn fill_base_encoding(chars: &mut [char], encoding: &[u8]) {
    let table: &'static Encoding = match encoding {
        b"MacRomanEncoding" => encoding_rs::MACINTOSH,
        _ => encoding_rs::WINDOWS_1252,
    };
    for b in 32u8..=255 {
        let byte = [b];
        let (s, _) = table.decode_without_bom_handling(&byte);
        if let Some(c) = s.chars().next().filter(|c| *c != '\u{FFFD}' && !c.is_control()) {
            chars[usize::from(b)] = c;
        }
    }
    if encoding == b"StandardEncoding" {
        chars[0x27] = '’';
        chars[0x60] = '‘';
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    crate::detect::find(haystack, needle).is_some()
}

// ---------------------------------------------------------------------------------------------
// CMaps

#[derive(Debug, Default)]
pub(crate) struct CMap {
    pub codespace: Vec<(u8, u32, u32)>,
    pub map: HashMap<u32, String>,
}

enum CTok<'a> {
    Hex(&'a [u8]),
    Word(&'a [u8]),
    Name(&'a [u8]),
    Int,
    Open,
    Close,
}

/// Parses the parts of a CMap that matter for text: codespace ranges, `bfchar` and `bfrange`.
pub(crate) fn parse_cmap(data: &[u8]) -> CMap {
    let toks = cmap_tokens(data);
    let mut cmap = CMap::default();
    let mut i = 0;
    while i < toks.len() {
        match toks[i] {
            CTok::Word(b"begincodespacerange") => {
                i += 1;
                while let (Some(CTok::Hex(lo)), Some(CTok::Hex(hi))) =
                    (toks.get(i), toks.get(i + 1))
                {
                    if let (Some(l), Some(h)) = (hex_code(lo), hex_code(hi)) {
                        cmap.codespace.push((hex_len(lo), l, h));
                    }
                    i += 2;
                }
            }
            CTok::Word(b"beginbfchar") => {
                i += 1;
                while let (Some(CTok::Hex(src)), Some(dst)) = (toks.get(i), toks.get(i + 1)) {
                    if let Some(code) = hex_code(src) {
                        let text = match dst {
                            CTok::Hex(h) => Some(utf16_hex(h, 0)),
                            CTok::Name(n) => glyph_text(n).map(|g| match g {
                                GlyphName::Char(c) => c.to_string(),
                                GlyphName::Str(s) => s,
                            }),
                            _ => None,
                        };
                        if let Some(text) = text.filter(|t| !t.is_empty())
                            && cmap.map.len() < MAX_CMAP_ENTRIES
                        {
                            cmap.map.insert(code, text);
                        }
                    }
                    i += 2;
                }
            }
            CTok::Word(b"beginbfrange") => {
                i += 1;
                while let (Some(CTok::Hex(lo)), Some(CTok::Hex(hi))) =
                    (toks.get(i), toks.get(i + 1))
                {
                    let (Some(lo), Some(hi)) = (hex_code(lo), hex_code(hi)) else {
                        i += 3;
                        continue;
                    };
                    let hi = hi.min(lo.saturating_add(DENSE));
                    match toks.get(i + 2) {
                        Some(CTok::Hex(dst)) => {
                            for (k, code) in (lo..=hi).enumerate() {
                                if cmap.map.len() >= MAX_CMAP_ENTRIES {
                                    break;
                                }
                                let text = utf16_hex(dst, k as u32);
                                if !text.is_empty() {
                                    cmap.map.insert(code, text);
                                }
                            }
                            i += 3;
                        }
                        Some(CTok::Open) => {
                            let mut j = i + 3;
                            let mut code = lo;
                            while let Some(CTok::Hex(dst)) = toks.get(j) {
                                if code <= hi && cmap.map.len() < MAX_CMAP_ENTRIES {
                                    let text = utf16_hex(dst, 0);
                                    if !text.is_empty() {
                                        cmap.map.insert(code, text);
                                    }
                                }
                                code = code.saturating_add(1);
                                j += 1;
                            }
                            i = j + 1;
                        }
                        _ => i += 3,
                    }
                }
            }
            _ => i += 1,
        }
    }
    cmap
}

fn cmap_tokens(data: &[u8]) -> Vec<CTok<'_>> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        match b {
            b'%' => {
                while i < data.len() && data[i] != b'\n' && data[i] != b'\r' {
                    i += 1;
                }
            }
            b'<' if data.get(i + 1) == Some(&b'<') => i += 2,
            b'>' if data.get(i + 1) == Some(&b'>') => i += 2,
            b'<' => {
                let start = i + 1;
                let end =
                    data[start..].iter().position(|&c| c == b'>').map_or(data.len(), |p| start + p);
                toks.push(CTok::Hex(&data[start..end]));
                i = end + 1;
            }
            b'[' => {
                toks.push(CTok::Open);
                i += 1;
            }
            b']' => {
                toks.push(CTok::Close);
                i += 1;
            }
            b'(' => {
                // Strings (CMapName, Registry) do not matter: skip, honouring nesting.
                let mut depth = 0;
                while i < data.len() {
                    match data[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            b'/' => {
                let start = i + 1;
                i = start;
                while i < data.len() && !is_delimiter(data[i]) {
                    i += 1;
                }
                toks.push(CTok::Name(&data[start..i]));
            }
            _ if is_white(b) => i += 1,
            _ => {
                let start = i;
                while i < data.len() && !is_delimiter(data[i]) {
                    i += 1;
                }
                if i == start {
                    i += 1;
                    continue;
                }
                let word = &data[start..i];
                if word.iter().all(|b| b.is_ascii_digit() || *b == b'-') {
                    toks.push(CTok::Int);
                } else {
                    toks.push(CTok::Word(word));
                }
            }
        }
    }
    toks
}

pub(crate) fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C' | b'\0')
}

pub(crate) fn is_delimiter(b: u8) -> bool {
    is_white(b) || matches!(b, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn hex_digits(h: &[u8]) -> impl Iterator<Item = u8> + '_ {
    h.iter().filter_map(|&c| (c as char).to_digit(16).map(|d| d as u8))
}

fn hex_len(h: &[u8]) -> u8 {
    (hex_digits(h).count().div_ceil(2)).clamp(1, 4) as u8
}

fn hex_code(h: &[u8]) -> Option<u32> {
    let digits: Vec<u8> = hex_digits(h).collect();
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    Some(digits.iter().fold(0u32, |acc, &d| (acc << 4) | u32::from(d)))
}

/// A UTF-16BE hex string, its last code unit increased by `add` (bfrange).
fn utf16_hex(h: &[u8], add: u32) -> String {
    let digits: Vec<u8> = hex_digits(h).collect();
    let mut units: Vec<u16> = digits
        .chunks(4)
        .map(|c| {
            let v = c.iter().fold(0u32, |acc, &d| (acc << 4) | u32::from(d));
            // A short final group is left-aligned hex: "4E" is 0x004E.
            v as u16
        })
        .collect();
    if let Some(last) = units.last_mut() {
        *last = last.wrapping_add(add as u16);
    }
    char::decode_utf16(units.iter().copied())
        .filter_map(Result::ok)
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Glyph names

enum GlyphName {
    Char(char),
    Str(String),
}

/// Unicode for an Adobe glyph name: `uniXXXX[YYYY…]`, `uXXXX[XX]`, letters, digits and the
/// common Latin names; `name.suffix` and `a_b` ligatures.
fn glyph_text(name: &[u8]) -> Option<GlyphName> {
    let name = std::str::from_utf8(name).ok()?;
    let base = name.split('.').next().unwrap_or(name);
    if base.contains('_') {
        let s: String = base.split('_').filter_map(glyph_text_str).collect();
        return (!s.is_empty()).then_some(GlyphName::Str(s));
    }
    let s = glyph_text_str(base)?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(GlyphName::Char(c)),
        _ => Some(GlyphName::Str(s)),
    }
}

fn glyph_text_str(name: &str) -> Option<String> {
    if let Some(hex) = name.strip_prefix("uni")
        && hex.len() >= 4
        && hex.len() % 4 == 0
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let units: Vec<u16> = hex
            .as_bytes()
            .chunks(4)
            .filter_map(|c| u16::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
            .collect();
        let s: String = char::decode_utf16(units).filter_map(Result::ok).collect();
        return (!s.is_empty()).then_some(s);
    }
    if let Some(hex) = name.strip_prefix('u')
        && (4..=6).contains(&hex.len())
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).map(String::from);
    }
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_alphabetic()
    {
        return Some(c.to_string());
    }
    let c = match name {
        "space" | "nbspace" | "nonbreakingspace" => ' ',
        "exclam" => '!',
        "quotedbl" => '"',
        "numbersign" => '#',
        "dollar" => '$',
        "percent" => '%',
        "ampersand" => '&',
        "quotesingle" => '\'',
        "quoteright" => '’',
        "quoteleft" => '‘',
        "parenleft" => '(',
        "parenright" => ')',
        "asterisk" => '*',
        "plus" => '+',
        "comma" => ',',
        "hyphen" | "minus" | "sfthyphen" => '-',
        "period" => '.',
        "slash" => '/',
        "zero" => '0',
        "one" => '1',
        "two" => '2',
        "three" => '3',
        "four" => '4',
        "five" => '5',
        "six" => '6',
        "seven" => '7',
        "eight" => '8',
        "nine" => '9',
        "colon" => ':',
        "semicolon" => ';',
        "less" => '<',
        "equal" => '=',
        "greater" => '>',
        "question" => '?',
        "at" => '@',
        "bracketleft" => '[',
        "backslash" => '\\',
        "bracketright" => ']',
        "asciicircum" => '^',
        "underscore" => '_',
        "grave" => '`',
        "braceleft" => '{',
        "bar" => '|',
        "braceright" => '}',
        "asciitilde" => '~',
        "bullet" => '•',
        "endash" => '–',
        "emdash" => '—',
        "quotedblleft" => '“',
        "quotedblright" => '”',
        "quotesinglbase" => '‚',
        "quotedblbase" => '„',
        "ellipsis" => '…',
        "dagger" => '†',
        "daggerdbl" => '‡',
        "perthousand" => '‰',
        "trademark" => '™',
        "copyright" => '©',
        "registered" => '®',
        "degree" => '°',
        "section" => '§',
        "paragraph" => '¶',
        "periodcentered" | "middot" => '·',
        "cent" => '¢',
        "sterling" => '£',
        "yen" => '¥',
        "Euro" | "euro" => '€',
        "florin" => 'ƒ',
        "plusminus" => '±',
        "multiply" => '×',
        "divide" => '÷',
        "mu" => 'µ',
        "germandbls" => 'ß',
        "AE" => 'Æ',
        "ae" => 'æ',
        "OE" => 'Œ',
        "oe" => 'œ',
        "Oslash" => 'Ø',
        "oslash" => 'ø',
        "dotlessi" => 'ı',
        "exclamdown" => '¡',
        "questiondown" => '¿',
        "guillemotleft" => '«',
        "guillemotright" => '»',
        "guilsinglleft" => '‹',
        "guilsinglright" => '›',
        "fi" => return Some("fi".into()),
        "fl" => return Some("fl".into()),
        "ff" => return Some("ff".into()),
        "ffi" => return Some("ffi".into()),
        "ffl" => return Some("ffl".into()),
        _ => return accented(name),
    };
    Some(c.to_string())
}

/// `eacute`, `Udieresis`, …: a Latin letter and an accent name.
fn accented(name: &str) -> Option<String> {
    const ACCENTS: &[(&str, char)] = &[
        ("acute", '\u{301}'),
        ("grave", '\u{300}'),
        ("circumflex", '\u{302}'),
        ("dieresis", '\u{308}'),
        ("tilde", '\u{303}'),
        ("ring", '\u{30A}'),
        ("cedilla", '\u{327}'),
        ("caron", '\u{30C}'),
        ("macron", '\u{304}'),
        ("breve", '\u{306}'),
        ("ogonek", '\u{328}'),
        ("dotaccent", '\u{307}'),
        ("hungarumlaut", '\u{30B}'),
    ];
    let mut chars = name.chars();
    let base = chars.next().filter(char::is_ascii_alphabetic)?;
    let rest = chars.as_str();
    let (_, mark) = ACCENTS.iter().find(|(a, _)| *a == rest)?;
    Some(compose(base, *mark).map_or_else(|| format!("{base}{mark}"), String::from))
}

/// Precomposed forms for the common Latin-1 letters.
fn compose(base: char, mark: char) -> Option<char> {
    const TABLE: &[(char, char, char)] = &[
        ('a', '\u{301}', 'á'),
        ('a', '\u{300}', 'à'),
        ('a', '\u{302}', 'â'),
        ('a', '\u{308}', 'ä'),
        ('a', '\u{303}', 'ã'),
        ('a', '\u{30A}', 'å'),
        ('e', '\u{301}', 'é'),
        ('e', '\u{300}', 'è'),
        ('e', '\u{302}', 'ê'),
        ('e', '\u{308}', 'ë'),
        ('i', '\u{301}', 'í'),
        ('i', '\u{300}', 'ì'),
        ('i', '\u{302}', 'î'),
        ('i', '\u{308}', 'ï'),
        ('o', '\u{301}', 'ó'),
        ('o', '\u{300}', 'ò'),
        ('o', '\u{302}', 'ô'),
        ('o', '\u{308}', 'ö'),
        ('o', '\u{303}', 'õ'),
        ('u', '\u{301}', 'ú'),
        ('u', '\u{300}', 'ù'),
        ('u', '\u{302}', 'û'),
        ('u', '\u{308}', 'ü'),
        ('y', '\u{301}', 'ý'),
        ('y', '\u{308}', 'ÿ'),
        ('n', '\u{303}', 'ñ'),
        ('c', '\u{327}', 'ç'),
        ('A', '\u{301}', 'Á'),
        ('A', '\u{300}', 'À'),
        ('A', '\u{302}', 'Â'),
        ('A', '\u{308}', 'Ä'),
        ('A', '\u{303}', 'Ã'),
        ('A', '\u{30A}', 'Å'),
        ('E', '\u{301}', 'É'),
        ('E', '\u{300}', 'È'),
        ('E', '\u{302}', 'Ê'),
        ('E', '\u{308}', 'Ë'),
        ('I', '\u{301}', 'Í'),
        ('I', '\u{300}', 'Ì'),
        ('I', '\u{302}', 'Î'),
        ('I', '\u{308}', 'Ï'),
        ('O', '\u{301}', 'Ó'),
        ('O', '\u{300}', 'Ò'),
        ('O', '\u{302}', 'Ô'),
        ('O', '\u{308}', 'Ö'),
        ('O', '\u{303}', 'Õ'),
        ('U', '\u{301}', 'Ú'),
        ('U', '\u{300}', 'Ù'),
        ('U', '\u{302}', 'Û'),
        ('U', '\u{308}', 'Ü'),
        ('Y', '\u{301}', 'Ý'),
        ('N', '\u{303}', 'Ñ'),
        ('C', '\u{327}', 'Ç'),
    ];
    TABLE.iter().find(|(b, m, _)| *b == base && *m == mark).map(|t| t.2)
}

// ---------------------------------------------------------------------------------------------
// Standard 14 font metrics (ASCII 32–126, in 1/1000 em), for fonts without `Widths`.

const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

const TIMES: [u16; 95] = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278, 500, 500, 500,
    500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921, 722, 667, 667, 722, 611,
    556, 722, 722, 333, 389, 722, 611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722,
    722, 611, 333, 278, 333, 469, 500, 333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500,
    278, 778, 500, 500, 500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
];

const COURIER: [u16; 95] = [600; 95];

fn standard_widths(base_font: &[u8]) -> &'static [u16; 95] {
    if contains(base_font, b"Courier") {
        &COURIER
    } else if contains(base_font, b"Times")
        || contains(base_font, b"Roman")
        || contains(base_font, b"Serif")
    {
        &TIMES
    } else {
        &HELVETICA
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_bfchar_and_bfrange() {
        let cmap = parse_cmap(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
              1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
              2 beginbfchar <0003> <0020> <0010> <53F0> endbfchar\n\
              2 beginbfrange <0020> <0022> <7063> <0030> <0031> [<0066 0069> <D83D DE00>] endbfrange\n\
              endcmap",
        );
        assert_eq!(cmap.codespace, vec![(2, 0, 0xFFFF)]);
        assert_eq!(cmap.map[&3], " ");
        assert_eq!(cmap.map[&0x10], "台");
        assert_eq!(cmap.map[&0x21], "\u{7064}");
        assert_eq!(cmap.map[&0x30], "fi");
        assert_eq!(cmap.map[&0x31], "😀");
    }

    #[test]
    fn glyph_names() {
        let t = |n: &str| match glyph_text(n.as_bytes()) {
            Some(GlyphName::Char(c)) => c.to_string(),
            Some(GlyphName::Str(s)) => s,
            None => String::new(),
        };
        assert_eq!(t("A"), "A");
        assert_eq!(t("uni53F0"), "台");
        assert_eq!(t("uni00660069"), "fi");
        assert_eq!(t("u1F600"), "😀");
        assert_eq!(t("eacute"), "é");
        assert_eq!(t("f_i"), "fi");
        assert_eq!(t("one.oldstyle"), "1");
        assert_eq!(t("g123"), "");
    }

    #[test]
    fn legacy_big5_cmaps_decode() {
        let (layout, fallback, _) = predefined_cmap(b"ETen-B5-H");
        let font = Font {
            layout,
            chars: Vec::new(),
            multi: HashMap::new(),
            fallback,
            widths: Vec::new(),
            default_width: 1.0,
            legacy_widths: true,
            size_scale: 1.0,
        };
        let (big5, _, _) = encoding_rs::BIG5.encode("台灣A");
        let mut out = String::new();
        font.glyphs(&big5, |g| match g.text {
            GlyphText::Char(c) => out.push(c),
            GlyphText::Str(s) => out.push_str(s),
            GlyphText::Unknown => out.push('?'),
        });
        assert_eq!(out, "台灣A");
    }
}
