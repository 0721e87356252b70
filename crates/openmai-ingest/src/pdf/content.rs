//! A content-stream interpreter that keeps only what text extraction needs: the graphics and
//! text state, text-showing operators and form XObjects. It lexes the decompressed stream in
//! place (no operation list, no per-operand allocation) and hands each glyph, positioned in
//! device space, to a [`GlyphSink`].
//!
//! Every malformed input degrades to skipping: unknown operators, missing operands, unknown
//! fonts and unbalanced `Q` are ignored; recursion through forms is bounded.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::font::{self, Font, GlyphText, deref, get, is_delimiter, is_white, number};

/// Form XObjects nested deeper than this are not entered (cycles, pathological files).
const MAX_FORM_DEPTH: u8 = 8;
/// Operands kept before an operator; more means garbage.
const MAX_OPERANDS: usize = 4096;
/// Largest decompressed form XObject stream.
const MAX_FORM_BYTES: usize = 64 * 1024 * 1024;

/// Receives glyphs in device space (y grows downwards).
pub(crate) trait GlyphSink {
    /// `advance` is the glyph's width in device space; `size` its rendered font size.
    fn glyph(&mut self, x: f64, y: f64, size: f64, advance: f64, text: GlyphText<'_>);
    /// An image was painted (for telling scans apart).
    fn image(&mut self) {}
    /// Stop interpreting (the sink has had enough).
    fn full(&self) -> bool {
        false
    }
}

type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a × b` for PDF's row-vector matrices.
fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

#[derive(Clone)]
struct GState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    font_size: f64,
    char_spacing: f64,
    word_spacing: f64,
    h_scale: f64,
    leading: f64,
    rise: f64,
}

impl Default for GState {
    fn default() -> Self {
        GState {
            ctm: IDENTITY,
            font: None,
            font_size: 1.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            h_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// A font's identity: its object id, or the address of a direct dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum FontKey {
    Id(ObjectId),
    Direct(usize),
}

/// What persists across the pages of a document: the fonts parsed so far and the work budget.
pub(crate) struct DocState {
    fonts: HashMap<FontKey, Rc<Font>>,
    /// Content bytes still allowed to be interpreted. A form drawn thousands of times on every
    /// page could otherwise make the work quadratic: past the budget, interpretation stops
    /// (what was extracted so far is kept).
    budget: usize,
}

impl DocState {
    pub(crate) fn new(budget: usize) -> DocState {
        DocState { fonts: HashMap::new(), budget }
    }

    /// Whether the budget ran out.
    pub(crate) fn exhausted(&self) -> bool {
        self.budget == 0
    }
}

/// The resource dictionaries in effect, nearest first.
#[derive(Clone, Default)]
pub(crate) struct Resources<'d> {
    dicts: Vec<&'d Dictionary>,
}

impl<'d> Resources<'d> {
    pub(crate) fn of_page(doc: &'d Document, page: ObjectId) -> Resources<'d> {
        let mut dicts = Vec::new();
        if let Ok((direct, ids)) = doc.get_page_resources(page) {
            dicts.extend(direct);
            for id in ids {
                if let Ok(d) = doc.get_dictionary(id) {
                    dicts.push(d);
                }
            }
        }
        Resources { dicts }
    }

    fn lookup(
        &self,
        doc: &'d Document,
        category: &[u8],
        name: &[u8],
    ) -> Option<(Option<ObjectId>, &'d Object)> {
        for dict in &self.dicts {
            if let Some(Object::Dictionary(cat)) = get(doc, dict, category)
                && let Ok(obj) = cat.get(name)
            {
                let id = if let Object::Reference(id) = obj { Some(*id) } else { None };
                let target = deref(doc, obj);
                if !matches!(target, Object::Null) {
                    return Some((id, target));
                }
            }
        }
        None
    }
}

/// Interprets `content` with `resources`, sending glyphs to `sink`. Generic over the sink, so
/// that its per-glyph call can be inlined into the glyph loop (with the collector's own
/// per-character step, a quarter of the instructions of a text-layer page).
pub(crate) fn run<S: GlyphSink>(
    doc: &Document,
    content: &[u8],
    resources: &Resources<'_>,
    state: &mut DocState,
    sink: &mut S,
) {
    let mut interp = Interp { doc, state, sink, depth: 0, forms_seen: Vec::new() };
    interp.stream(content, resources, GState::default());
}

struct Interp<'a, 'd, S> {
    doc: &'d Document,
    state: &'a mut DocState,
    sink: &'a mut S,
    depth: u8,
    forms_seen: Vec<ObjectId>,
}

#[derive(Debug, Clone, Copy)]
enum Operand {
    Num(f64),
    /// Byte range of a name in the content.
    Name(usize, usize),
    /// Byte range of a decoded string in the string buffer.
    Str(usize, usize),
    ArrayOpen,
    ArrayClose,
    Other,
}

impl<'a, 'd, S: GlyphSink> Interp<'a, 'd, S> {
    fn stream(&mut self, data: &[u8], resources: &Resources<'d>, initial: GState) {
        if self.state.budget < data.len() {
            self.state.budget = 0;
            return;
        }
        self.state.budget -= data.len();
        let mut gs = initial;
        let mut stack: Vec<GState> = Vec::new();
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;
        let mut ops: Vec<Operand> = Vec::with_capacity(16);
        let mut strings: Vec<u8> = Vec::with_capacity(256);
        let mut i = 0;
        while i < data.len() {
            if self.sink.full() {
                return;
            }
            let b = data[i];
            if is_white(b) {
                i += 1;
                continue;
            }
            if ops.len() > MAX_OPERANDS {
                ops.clear();
                strings.clear();
            }
            match b {
                b'%' => {
                    while i < data.len() && data[i] != b'\n' && data[i] != b'\r' {
                        i += 1;
                    }
                }
                b'/' => {
                    let start = i + 1;
                    i = start;
                    while i < data.len() && !is_delimiter(data[i]) {
                        i += 1;
                    }
                    ops.push(Operand::Name(start, i));
                }
                b'(' => {
                    let start = strings.len();
                    i = literal_string(data, i + 1, &mut strings);
                    ops.push(Operand::Str(start, strings.len()));
                }
                b'<' if data.get(i + 1) == Some(&b'<') => {
                    ops.push(Operand::Other);
                    i += 2;
                }
                b'>' if data.get(i + 1) == Some(&b'>') => {
                    i += 2;
                }
                b'<' => {
                    let start = strings.len();
                    i = hex_string(data, i + 1, &mut strings);
                    ops.push(Operand::Str(start, strings.len()));
                }
                b'[' => {
                    ops.push(Operand::ArrayOpen);
                    i += 1;
                }
                b']' => {
                    ops.push(Operand::ArrayClose);
                    i += 1;
                }
                b'{' | b'}' | b')' | b'>' => i += 1,
                _ => {
                    let start = i;
                    while i < data.len() && !is_delimiter(data[i]) {
                        i += 1;
                    }
                    let word = &data[start..i];
                    if let Some(n) = parse_number(word) {
                        ops.push(Operand::Num(n));
                        continue;
                    }
                    if matches!(word, b"true" | b"false" | b"null") {
                        ops.push(Operand::Other);
                        continue;
                    }
                    // An operator.
                    let nums = |k: usize| -> Option<f64> {
                        let n = ops.len().checked_sub(k)?;
                        match ops.get(n) {
                            Some(Operand::Num(v)) => Some(*v),
                            _ => None,
                        }
                    };
                    match word {
                        b"q" if stack.len() < 64 => {
                            stack.push(gs.clone());
                        }
                        b"Q" => {
                            if let Some(saved) = stack.pop() {
                                gs = saved;
                            }
                        }
                        b"cm" => {
                            if let Some(m) = matrix(&ops) {
                                gs.ctm = mul(&m, &gs.ctm);
                            }
                        }
                        b"BT" => {
                            tm = IDENTITY;
                            tlm = IDENTITY;
                        }
                        b"ET" => {}
                        b"Tf" => {
                            if let (Some(size), Some(Operand::Name(s, e))) =
                                (nums(1), ops.len().checked_sub(2).and_then(|k| ops.get(k)))
                            {
                                gs.font_size = size;
                                gs.font = self.font(resources, &data[*s..*e]);
                            }
                        }
                        b"Tc" => gs.char_spacing = nums(1).unwrap_or(gs.char_spacing),
                        b"Tw" => gs.word_spacing = nums(1).unwrap_or(gs.word_spacing),
                        b"Tz" => gs.h_scale = nums(1).map_or(gs.h_scale, |v| v / 100.0),
                        b"TL" => gs.leading = nums(1).unwrap_or(gs.leading),
                        b"Ts" => gs.rise = nums(1).unwrap_or(gs.rise),
                        b"Td" | b"TD" => {
                            if let (Some(tx), Some(ty)) = (nums(2), nums(1)) {
                                if word == b"TD" {
                                    gs.leading = -ty;
                                }
                                tlm = mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &tlm);
                                tm = tlm;
                            }
                        }
                        b"Tm" => {
                            if let Some(m) = matrix(&ops) {
                                tlm = m;
                                tm = m;
                            }
                        }
                        b"T*" => {
                            tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm);
                            tm = tlm;
                        }
                        b"Tj" => {
                            if let Some(Operand::Str(s, e)) = ops.last() {
                                self.show(&strings[*s..*e], &gs, &mut tm);
                            }
                        }
                        b"'" | b"\"" => {
                            if word == b"\""
                                && let (Some(aw), Some(ac)) = (nums(3), nums(2))
                            {
                                gs.word_spacing = aw;
                                gs.char_spacing = ac;
                            }
                            tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm);
                            tm = tlm;
                            if let Some(Operand::Str(s, e)) = ops.last() {
                                self.show(&strings[*s..*e], &gs, &mut tm);
                            }
                        }
                        b"TJ" => {
                            let open = ops
                                .iter()
                                .rposition(|o| matches!(o, Operand::ArrayOpen))
                                .unwrap_or(0);
                            for op in &ops[open..] {
                                match op {
                                    Operand::Str(s, e) => self.show(&strings[*s..*e], &gs, &mut tm),
                                    Operand::Num(n) => {
                                        let tx = -n / 1000.0 * gs.font_size * gs.h_scale;
                                        tm[4] += tx * tm[0];
                                        tm[5] += tx * tm[1];
                                    }
                                    _ => {}
                                }
                            }
                        }
                        b"Do" => {
                            if let Some(Operand::Name(s, e)) = ops.last() {
                                self.x_object(resources, &data[*s..*e], &gs);
                            }
                        }
                        b"BI" => {
                            self.sink.image();
                            i = skip_inline_image(data, i);
                        }
                        _ => {}
                    }
                    ops.clear();
                    strings.clear();
                }
            }
        }
    }

    fn font(&mut self, resources: &Resources<'d>, name: &[u8]) -> Option<Rc<Font>> {
        let (id, obj) = resources.lookup(self.doc, b"Font", name)?;
        let Object::Dictionary(dict) = obj else { return None };
        let key = match id {
            Some(id) => FontKey::Id(id),
            None => FontKey::Direct(dict as *const Dictionary as usize),
        };
        let doc = self.doc;
        Some(self.state.fonts.entry(key).or_insert_with(|| Rc::new(font::load(doc, dict))).clone())
    }

    fn show(&mut self, bytes: &[u8], gs: &GState, tm: &mut Matrix) {
        let Some(font) = gs.font.clone() else { return };
        let fs = gs.font_size;
        let th = gs.h_scale;
        let sink = &mut *self.sink;
        // Only the text matrix's translation moves from glyph to glyph, so the linear part of
        // the glyph-to-page matrix, and the size and advance scale it gives, hold for the
        // whole string: two square roots per string instead of per glyph. The translation is
        // computed as `mul` computes it, so every value is the same to the bit.
        let m = mul(tm, &gs.ctm);
        let scale = (m[0] * m[3] - m[1] * m[2]).abs().sqrt();
        let size = (fs * scale * font.size_scale).abs();
        let advance_scale = (m[0] * m[0] + m[1] * m[1]).sqrt();
        let ctm = &gs.ctm;
        font.glyphs(bytes, |g| {
            let e = tm[4] * ctm[0] + tm[5] * ctm[2] + ctm[4];
            let f = tm[4] * ctm[1] + tm[5] * ctm[3] + ctm[5];
            let x = gs.rise * m[2] + e;
            let y = gs.rise * m[3] + f;
            let tx =
                (g.width * fs + gs.char_spacing + if g.is_space { gs.word_spacing } else { 0.0 })
                    * th;
            let advance = tx * advance_scale;
            sink.glyph(x, -y, size, advance, g.text);
            tm[4] += tx * tm[0];
            tm[5] += tx * tm[1];
        });
    }

    fn x_object(&mut self, resources: &Resources<'d>, name: &[u8], gs: &GState) {
        let Some((id, Object::Stream(stream))) = resources.lookup(self.doc, b"XObject", name)
        else {
            return;
        };
        let subtype = match stream.dict.get(b"Subtype") {
            Ok(Object::Name(n)) => n.as_slice(),
            _ => b"",
        };
        if subtype == b"Image" {
            self.sink.image();
            return;
        }
        if subtype != b"Form" || self.depth >= MAX_FORM_DEPTH {
            return;
        }
        if let Some(id) = id {
            if self.forms_seen.contains(&id) {
                return;
            }
            self.forms_seen.push(id);
        }
        let Ok(content) = stream.decompressed_content_with_limit(MAX_FORM_BYTES).or_else(|_| {
            if stream.dict.get(b"Filter").is_err() { Ok(stream.content.clone()) } else { Err(()) }
        }) else {
            self.forms_seen.retain(|f| Some(*f) != id);
            return;
        };
        let form_matrix = match get(self.doc, &stream.dict, b"Matrix") {
            Some(Object::Array(a)) if a.len() == 6 => {
                let v: Vec<f64> =
                    a.iter().map(|o| number(deref(self.doc, o)).unwrap_or(0.0)).collect();
                [v[0], v[1], v[2], v[3], v[4], v[5]]
            }
            _ => IDENTITY,
        };
        let inner = match get(self.doc, &stream.dict, b"Resources") {
            Some(Object::Dictionary(d)) => {
                let mut r = resources.clone();
                r.dicts.insert(0, d);
                r
            }
            _ => resources.clone(),
        };
        let mut state = gs.clone();
        state.ctm = mul(&form_matrix, &gs.ctm);
        self.depth += 1;
        self.stream(&content, &inner, state);
        self.depth -= 1;
        self.forms_seen.retain(|f| Some(*f) != id);
    }
}

/// The six numbers before a `cm` or `Tm`.
fn matrix(ops: &[Operand]) -> Option<Matrix> {
    let n = ops.len().checked_sub(6)?;
    let mut m = [0.0; 6];
    for (k, op) in ops[n..].iter().enumerate() {
        match op {
            Operand::Num(v) => m[k] = *v,
            _ => return None,
        }
    }
    m.iter().all(|v| v.is_finite()).then_some(m)
}

/// 10^0 to 10^15, all exact in an f64.
const POWERS_OF_TEN: [f64; 16] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// Parses a PDF number (`12`, `-3.5`, `.5`, `+4.`).
fn parse_number(word: &[u8]) -> Option<f64> {
    let first = *word.first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    // Fast path for plain integers.
    let (neg, digits) = match first {
        b'-' => (true, &word[1..]),
        b'+' => (false, &word[1..]),
        _ => (false, word),
    };
    if !digits.is_empty() && digits.len() < 16 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits.iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0')) as f64;
        return Some(if neg { -v } else { v });
    }
    // Fast path for plain decimals (`56.69`, what PDF writers put before `Td` and `Tm`): the
    // digits as an integer, divided by a power of ten. With at most 15 digits both are exact
    // in an f64, so the one rounding of the division gives the correctly rounded value, the
    // one `str::parse` returns too (Clinger's fast path).
    if let Some(dot) = digits.iter().position(|&b| b == b'.') {
        let (whole, fraction) = (&digits[..dot], &digits[dot + 1..]);
        let count = whole.len() + fraction.len();
        if (1..=15).contains(&count) && whole.iter().chain(fraction).all(u8::is_ascii_digit) {
            let m =
                whole.iter().chain(fraction).fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
            let v = m as f64 / POWERS_OF_TEN[fraction.len()];
            return Some(if neg { -v } else { v });
        }
    }
    let s = std::str::from_utf8(word).ok()?;
    // Tolerate doubled signs ("--5") as some writers emit.
    let s = s.trim_start_matches(['-', '+']);
    let v: f64 = if s.is_empty() || s == "." { 0.0 } else { s.parse().ok()? };
    Some(if neg { -v } else { v })
}

/// Decodes a literal string starting after `(`; returns the index after its `)`.
fn literal_string(data: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    let mut depth = 1u32;
    while i < data.len() {
        // Copy up to the next byte that means something (most of a string is glyph codes).
        let plain = memchr::memchr3(b'\\', b'(', b')', &data[i..]).unwrap_or(data.len() - i);
        out.extend_from_slice(&data[i..i + plain]);
        i += plain;
        let Some(&b) = data.get(i) else { break };
        i += 1;
        match b {
            b'\\' => {
                let Some(&e) = data.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match data.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((v & 0xFF) as u8);
                    }
                    b'\r' => {
                        if data.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    i
}

/// Decodes a hex string starting after `<`; returns the index after its `>`.
fn hex_string(data: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    let mut high: Option<u8> = None;
    while i < data.len() {
        let b = data[i];
        i += 1;
        if b == b'>' {
            break;
        }
        let Some(v) = (b as char).to_digit(16) else { continue };
        let v = v as u8;
        match high.take() {
            Some(h) => out.push((h << 4) | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.push(h << 4);
    }
    i
}

/// Skips an inline image from just after `BI` to just after its `EI`.
fn skip_inline_image(data: &[u8], mut i: usize) -> usize {
    // The dictionary up to `ID`, then binary data up to whitespace + `EI` + delimiter.
    while i + 1 < data.len() {
        if data[i] == b'I'
            && data[i + 1] == b'D'
            && (i == 0 || is_white(data[i - 1]) || data[i - 1] == b'>')
        {
            i += 3;
            break;
        }
        i += 1;
    }
    while i + 2 < data.len() {
        if is_white(data[i])
            && data[i + 1] == b'E'
            && data[i + 2] == b'I'
            && data.get(i + 3).is_none_or(|&c| is_delimiter(c))
        {
            return i + 3;
        }
        i += 1;
    }
    data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The decimal fast path returns exactly what `str::parse` does.
        #[test]
        fn decimals_parse_as_std_parses_them(
            sign in proptest::sample::select(vec!["", "-", "+"]),
            whole in "[0-9]{0,9}",
            fraction in "[0-9]{0,9}",
        ) {
            let word = format!("{sign}{whole}.{fraction}");
            let digits = format!("{whole}.{fraction}");
            let expected: f64 = if digits == "." { 0.0 } else { digits.parse().unwrap() };
            let expected = if sign == "-" { -expected } else { expected };
            let parsed = parse_number(word.as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed.to_bits(), expected.to_bits(), "{}", word);
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"12"), Some(12.0));
        assert_eq!(parse_number(b"-3.5"), Some(-3.5));
        assert_eq!(parse_number(b".5"), Some(0.5));
        assert_eq!(parse_number(b"4."), Some(4.0));
        assert_eq!(parse_number(b"--2"), Some(-2.0));
        assert_eq!(parse_number(b"."), Some(0.0));
        assert_eq!(parse_number(b"-0.0").map(f64::is_sign_negative), Some(true));
        assert_eq!(parse_number(b"1.2.3"), None);
        assert_eq!(parse_number(b"Tj"), None);
    }

    #[test]
    fn strings() {
        let mut out = Vec::new();
        let end = literal_string(b"a\\(b\\)\\101(c)\\\nd) rest", 0, &mut out);
        assert_eq!(out, b"a(b)A(c)d");
        assert_eq!(end, 17);
        out.clear();
        hex_string(b"4E2D 6587 7>", 0, &mut out);
        assert_eq!(out, vec![0x4E, 0x2D, 0x65, 0x87, 0x70]);
    }

    #[test]
    fn inline_images_are_skipped() {
        let data = b"BI /W 1 /H 1 ID \x00EI\xff\n EI Q";
        assert_eq!(&data[skip_inline_image(data, 2)..], b" Q");
    }
}
