//! DOCX: `word/document.xml` streamed once through quick-xml, straight into blocks.
//!
//! undoc (which still reads PPTX, see [`crate::office`]) builds a full document model, reads
//! `document.xml` three times and decodes every image; on text-heavy files it ran at about
//! 2–4 MB/s. This reader keeps what retrieval needs and streams: paragraphs, headings (from
//! paragraph styles, following `basedOn` and outline levels), numbered and bulleted lists (with
//! their numbers, including Chinese counting formats such as `一、`), tables (header rows
//! repeated in chunks), text boxes, hyperlinks, fields' results and tracked insertions. Deleted
//! text, field instructions, `mc:Fallback` duplicates and page headers/footers are left out.

use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read};

use quick_xml::events::{BytesStart, Event};

use crate::clean;
use crate::doc::{Block, Extracted, table_block, table_cell};
use crate::{Format, IngestError, Limits};

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, IngestError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| IngestError::corrupt(Format::Docx, e))?;
    let styles =
        read_part(&mut archive, "word/styles.xml").map(|x| parse_styles(&x)).unwrap_or_default();
    let numbering = read_part(&mut archive, "word/numbering.xml")
        .map(|x| parse_numbering(&x))
        .unwrap_or_default();
    let pages = read_part(&mut archive, "docProps/app.xml").and_then(|x| app_pages(&x));
    let file =
        archive.by_name("word/document.xml").map_err(|e| IngestError::corrupt(Format::Docx, e))?;
    let mut walker = Walker::new(&styles, numbering, limits.max_extracted_chars);
    walker.run(BufReader::with_capacity(64 * 1024, file))?;
    let images_only = walker.images > 0;
    Ok(Extracted { blocks: walker.blocks, pages, images_only })
}

fn xml_error(e: impl std::fmt::Display) -> IngestError {
    let message = e.to_string();
    if crate::archive::is_inflation_error(&message) {
        IngestError::ArchiveBomb {
            format: Format::Docx,
            member: "word/document.xml".into(),
            detail: "expands past its declared size".into(),
        }
    } else {
        IngestError::corrupt(Format::Docx, message)
    }
}

/// A small part (styles, numbering, properties) as a string; absent or unreadable is `None`.
fn read_part(archive: &mut Archive<'_>, name: &str) -> Option<String> {
    let mut file = archive.by_name(name).ok()?;
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    Some(s)
}

fn local(name: &str) -> &[u8] {
    name.rsplit(':').next().unwrap_or(name).as_bytes()
}

/// The value of the attribute whose local name is `key`.
fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| local(a.key.as_ref()) == key).and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned())
    })
}

/// Iterates a small XML part's start (and empty) elements with their names.
fn for_each_element(xml: &str, mut f: impl FnMut(&BytesStart<'_>, bool)) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => f(&e, true),
            Ok(Event::Empty(e)) => f(&e, false),
            Ok(Event::End(e))
                if matches!(
                    local(e.name().as_ref()),
                    b"style" | b"abstractNum" | b"num" | b"lvl"
                ) =>
            {
                f(&BytesStart::new("/end"), false);
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Styles: style id → heading level

#[derive(Default)]
struct StyleInfo {
    name: String,
    based_on: Option<String>,
    outline: Option<u8>,
}

fn parse_styles(xml: &str) -> HashMap<String, u8> {
    let mut styles: HashMap<String, StyleInfo> = HashMap::new();
    let mut current: Option<(String, StyleInfo)> = None;
    for_each_element(xml, |e, _| match local(e.name().as_ref()) {
        b"style" => {
            if let Some((id, info)) = current.take() {
                styles.insert(id, info);
            }
            if let Some(id) = attr(e, b"styleId") {
                current = Some((id, StyleInfo::default()));
            }
        }
        b"name" => {
            if let (Some((_, info)), Some(v)) = (current.as_mut(), attr(e, b"val")) {
                info.name = v;
            }
        }
        b"basedOn" => {
            if let Some((_, info)) = current.as_mut() {
                info.based_on = attr(e, b"val");
            }
        }
        b"outlineLvl" => {
            if let (Some((_, info)), Some(v)) =
                (current.as_mut(), attr(e, b"val").and_then(|v| v.parse::<u8>().ok()))
            {
                info.outline = Some(v);
            }
        }
        b"/end" => {
            if let Some((id, info)) = current.take() {
                styles.insert(id, info);
            }
        }
        _ => {}
    });
    if let Some((id, info)) = current.take() {
        styles.insert(id, info);
    }
    let own_level = |info: &StyleInfo| -> Option<u8> {
        if let Some(o) = info.outline.filter(|o| *o < 9) {
            return Some(o + 1);
        }
        let name = info.name.to_ascii_lowercase();
        if name == "title" {
            return Some(1);
        }
        let digits = name
            .strip_prefix("heading")
            .or_else(|| name.strip_prefix("標題"))
            .or_else(|| name.strip_prefix("标题"))?;
        digits.trim().parse::<u8>().ok().filter(|l| (1..=9).contains(l))
    };
    let mut levels = HashMap::new();
    for (id, info) in &styles {
        // Follow basedOn a few steps: "MyHeading" based on "Heading2" is a level-2 heading.
        let mut cur = Some(info);
        for _ in 0..8 {
            let Some(s) = cur else { break };
            if let Some(level) = own_level(s) {
                levels.insert(id.clone(), level.min(6));
                break;
            }
            cur = s.based_on.as_ref().and_then(|b| styles.get(b));
        }
    }
    levels
}

// ---------------------------------------------------------------------------------------------
// Numbering: list markers with their numbers

#[derive(Clone, Default)]
struct Level {
    format: String,
    text: String,
    start: u32,
}

#[derive(Default)]
struct Numbering {
    /// numId → abstract levels.
    nums: HashMap<String, Vec<Level>>,
    /// Counters per numId and level.
    counters: HashMap<String, [u32; 9]>,
}

fn parse_numbering(xml: &str) -> Numbering {
    let mut abstracts: HashMap<String, Vec<Level>> = HashMap::new();
    let mut num_to_abstract: Vec<(String, String)> = Vec::new();
    let mut cur_abstract: Option<(String, Vec<Level>)> = None;
    let mut cur_level: Option<(usize, Level)> = None;
    let mut cur_num: Option<String> = None;
    for_each_element(xml, |e, _| match local(e.name().as_ref()) {
        b"abstractNum" => {
            cur_abstract = attr(e, b"abstractNumId").map(|id| (id, vec![Level::default(); 9]));
        }
        b"lvl" => {
            let ilvl = attr(e, b"ilvl").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0).min(8);
            cur_level = Some((ilvl, Level { start: 1, ..Level::default() }));
        }
        b"start" => {
            if let (Some((_, l)), Some(v)) =
                (cur_level.as_mut(), attr(e, b"val").and_then(|v| v.parse().ok()))
            {
                l.start = v;
            }
        }
        b"numFmt" => {
            if let (Some((_, l)), Some(v)) = (cur_level.as_mut(), attr(e, b"val")) {
                l.format = v;
            }
        }
        b"lvlText" => {
            if let (Some((_, l)), Some(v)) = (cur_level.as_mut(), attr(e, b"val")) {
                l.text = v;
            }
        }
        b"num" => cur_num = attr(e, b"numId"),
        b"abstractNumId" => {
            if let (Some(num), Some(v)) = (cur_num.as_ref(), attr(e, b"val")) {
                num_to_abstract.push((num.clone(), v));
            }
        }
        b"/end" => {
            if let Some((ilvl, level)) = cur_level.take() {
                if let Some((_, levels)) = cur_abstract.as_mut() {
                    levels[ilvl] = level;
                }
            } else if let Some((id, levels)) = cur_abstract.take() {
                abstracts.insert(id, levels);
            }
        }
        _ => {}
    });
    let nums = num_to_abstract
        .into_iter()
        .filter_map(|(num, abs)| abstracts.get(&abs).map(|l| (num, l.clone())))
        .collect();
    Numbering { nums, counters: HashMap::new() }
}

impl Numbering {
    /// The marker for the next item of list `num_id` at `ilvl` ("1. ", "一、", "- ").
    fn marker(&mut self, num_id: &str, ilvl: usize) -> String {
        let ilvl = ilvl.min(8);
        let Some(levels) = self.nums.get(num_id) else { return "- ".into() };
        let counters = self.counters.entry(num_id.to_string()).or_insert([0; 9]);
        for (l, c) in counters.iter_mut().enumerate() {
            if l == ilvl {
                *c = if *c == 0 { levels[l].start.max(1) } else { *c + 1 };
            } else if l > ilvl {
                *c = 0;
            }
        }
        let level = &levels[ilvl];
        if level.format == "bullet" || level.format.is_empty() || level.format == "none" {
            return "- ".into();
        }
        let mut text = level.text.clone();
        for l in 0..=ilvl {
            let value = if counters[l] == 0 { levels[l].start.max(1) } else { counters[l] };
            text = text.replace(&format!("%{}", l + 1), &format_number(value, &levels[l].format));
        }
        if text.trim().is_empty() {
            return "- ".into();
        }
        let ends_cjk = text.chars().last().is_some_and(clean::is_cjk);
        if ends_cjk { text } else { format!("{text} ") }
    }
}

fn format_number(n: u32, format: &str) -> String {
    match format {
        "lowerLetter" => letters(n, b'a'),
        "upperLetter" => letters(n, b'A'),
        "lowerRoman" => roman(n).to_lowercase(),
        "upperRoman" => roman(n),
        "taiwaneseCountingThousand"
        | "taiwaneseCounting"
        | "chineseCounting"
        | "chineseCountingThousand"
        | "ideographDigital"
        | "japaneseCounting" => chinese(n),
        "ideographTraditional" => heavenly_stem(n),
        "decimalFullWidth" => n
            .to_string()
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c))
            .collect(),
        "decimalEnclosedCircle" if (1..=20).contains(&n) => {
            char::from_u32(0x2460 + n - 1).map_or_else(|| n.to_string(), String::from)
        }
        _ => n.to_string(),
    }
}

fn letters(n: u32, base: u8) -> String {
    let n = n.max(1) - 1;
    let c = char::from(base + (n % 26) as u8);
    std::iter::repeat_n(c, (n / 26 + 1) as usize).collect()
}

fn roman(mut n: u32) -> String {
    const TABLE: [(u32, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut s = String::new();
    for (v, r) in TABLE {
        while n >= v && s.len() < 32 {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

/// 1 → 一, 10 → 十, 12 → 十二, 21 → 二十一, 105 → 一百零五.
fn chinese(n: u32) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    if n == 0 || n >= 10_000 {
        return n.to_string();
    }
    let (th, h, t, u) = (n / 1000, (n / 100) % 10, (n / 10) % 10, n % 10);
    let mut s = String::new();
    let mut zero = false;
    for (d, unit) in [(th, "千"), (h, "百"), (t, "十")] {
        if d > 0 {
            if zero {
                s.push('零');
                zero = false;
            }
            if !(unit == "十" && d == 1 && s.is_empty()) {
                s.push(DIGITS[d as usize]);
            }
            s.push_str(unit);
        } else if !s.is_empty() {
            zero = true;
        }
    }
    if u > 0 {
        if zero {
            s.push('零');
        }
        s.push(DIGITS[u as usize]);
    }
    s
}

fn heavenly_stem(n: u32) -> String {
    const STEMS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];
    STEMS.get((n.max(1) - 1) as usize).map_or_else(|| n.to_string(), |c| c.to_string())
}

fn app_pages(xml: &str) -> Option<u32> {
    let start = xml.find("<Pages>")? + "<Pages>".len();
    let end = xml[start..].find('<')? + start;
    xml[start..end].trim().parse().ok().filter(|&n| n > 0)
}

// ---------------------------------------------------------------------------------------------
// document.xml

#[derive(Default)]
struct Para {
    text: String,
    style: Option<String>,
    num_id: Option<String>,
    ilvl: usize,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
    header_rows: usize,
    row: Option<Vec<String>>,
    row_is_header: bool,
    cell: Option<String>,
    span: u32,
}

struct Walker<'s> {
    styles: &'s HashMap<String, u8>,
    numbering: Numbering,
    blocks: Vec<Block>,
    paras: Vec<Para>,
    tables: Vec<Table>,
    /// Inside `w:t` (text to keep).
    in_text: bool,
    /// Depth inside elements whose content is skipped (`w:delText`, `w:instrText`, `mc:Fallback`).
    skip: u32,
    /// Inside `w:tabs` (tab stop definitions, not tab characters).
    in_tabs: bool,
    /// The previous block is a list being built.
    in_list: bool,
    chars: usize,
    limit: usize,
    images: usize,
}

impl<'s> Walker<'s> {
    fn new(styles: &'s HashMap<String, u8>, numbering: Numbering, limit: usize) -> Self {
        Walker {
            styles,
            numbering,
            blocks: Vec::new(),
            paras: Vec::new(),
            tables: Vec::new(),
            in_text: false,
            skip: 0,
            in_tabs: false,
            in_list: false,
            chars: 0,
            limit,
            images: 0,
        }
    }

    fn run<R: std::io::BufRead>(&mut self, source: R) -> Result<(), IngestError> {
        let mut reader = quick_xml::Reader::from_reader(source);
        reader.config_mut().check_end_names = false;
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf).map_err(xml_error)? {
                Event::Start(e) => self.start(&e, false),
                Event::Empty(e) if self.skip == 0 => {
                    self.start(&e, true);
                    self.end(local(e.name().as_ref()));
                }
                Event::End(e) => self.end(local(e.name().as_ref())),
                Event::Text(t) if self.in_text && self.skip == 0 => {
                    self.text(&t);
                }
                Event::GeneralRef(r) if self.in_text && self.skip == 0 => {
                    let c = match &*r {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => r.resolve_char_ref().ok().flatten(),
                    };
                    if let Some(c) = c {
                        self.text(c.encode_utf8(&mut [0; 4]));
                    }
                }
                Event::CData(t) if self.in_text && self.skip == 0 => {
                    self.text(&t);
                }
                Event::Eof => break,
                _ => {}
            }
            if self.chars > self.limit {
                return Err(IngestError::TooMuchText { limit: self.limit });
            }
        }
        // An unterminated document: keep what was read.
        while let Some(p) = self.paras.pop() {
            self.finish_para(p);
        }
        Ok(())
    }

    fn text(&mut self, s: &str) {
        if let Some(p) = self.paras.last_mut() {
            self.chars += s.len();
            p.text.push_str(s);
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        let name = e.name();
        let name = local(name.as_ref());
        if self.skip > 0 {
            if !empty {
                self.skip += 1;
            }
            return;
        }
        match name {
            b"p" => self.paras.push(Para::default()),
            b"pStyle" => {
                if let Some(p) = self.paras.last_mut() {
                    p.style = attr(e, b"val");
                }
            }
            b"numId" => {
                if let Some(p) = self.paras.last_mut() {
                    p.num_id = attr(e, b"val").filter(|v| v != "0");
                }
            }
            b"ilvl" => {
                if let Some(p) = self.paras.last_mut() {
                    p.ilvl = attr(e, b"val").and_then(|v| v.parse().ok()).unwrap_or(0);
                }
            }
            b"t" => self.in_text = !empty,
            b"tabs" => self.in_tabs = !empty,
            b"tab" | b"ptab" if !self.in_tabs => self.text_raw(" "),
            b"br" | b"cr" => self.text_raw("\n"),
            b"delText" | b"instrText" | b"Fallback" | b"del" if !empty => self.skip = 1,
            b"drawing" | b"pict" => self.images += 1,
            b"tbl" => self.tables.push(Table::default()),
            b"tr" => {
                if let Some(t) = self.tables.last_mut() {
                    t.row = Some(Vec::new());
                    t.row_is_header = false;
                }
            }
            b"tblHeader" => {
                if let Some(t) = self.tables.last_mut() {
                    t.row_is_header = attr(e, b"val").is_none_or(|v| v != "0" && v != "false");
                }
            }
            b"tc" => {
                if let Some(t) = self.tables.last_mut() {
                    t.cell = Some(String::new());
                    t.span = 1;
                }
            }
            b"gridSpan" => {
                if let Some(t) = self.tables.last_mut() {
                    t.span = attr(e, b"val").and_then(|v| v.parse().ok()).unwrap_or(1).clamp(1, 64);
                }
            }
            _ => {}
        }
    }

    /// Text that is not inside `w:t` (tabs, breaks).
    fn text_raw(&mut self, s: &str) {
        if self.skip == 0
            && let Some(p) = self.paras.last_mut()
        {
            p.text.push_str(s);
        }
    }

    fn end(&mut self, name: &[u8]) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        match name {
            b"t" => self.in_text = false,
            b"tabs" => self.in_tabs = false,
            b"p" => {
                if let Some(p) = self.paras.pop() {
                    self.finish_para(p);
                }
            }
            b"tc" => {
                if let Some(t) = self.tables.last_mut()
                    && let (Some(cell), Some(row)) = (t.cell.take(), t.row.as_mut())
                {
                    row.push(table_cell(&cell));
                    for _ in 1..t.span {
                        row.push(String::new());
                    }
                }
            }
            b"tr" => {
                if let Some(t) = self.tables.last_mut()
                    && let Some(row) = t.row.take()
                    && !row.iter().all(String::is_empty)
                {
                    if t.row_is_header && t.header_rows == t.rows.len() {
                        t.header_rows += 1;
                    }
                    t.rows.push(row);
                }
            }
            b"tbl" => {
                if let Some(t) = self.tables.pop() {
                    self.finish_table(t);
                }
            }
            _ => {}
        }
    }

    fn finish_para(&mut self, p: Para) {
        // Inside a table cell: the paragraph is part of the cell.
        if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
            if !p.text.trim().is_empty() {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(&p.text);
            }
            return;
        }
        let text = clean::clean_owned(p.text);
        if text.is_empty() {
            return;
        }
        if let Some(&level) = p.style.as_ref().and_then(|s| self.styles.get(s)) {
            let title = text.replace('\n', " ");
            let raw = format!("{} {title}", "#".repeat(usize::from(level)));
            self.push(Block::Heading { level, title, raw });
            return;
        }
        if let Some(num_id) = &p.num_id {
            let item =
                format!("{}{}", self.numbering.marker(num_id, p.ilvl), text.replace('\n', " "));
            if self.in_list
                && let Some(Block::Prose(list)) = self.blocks.last_mut()
            {
                list.push('\n');
                list.push_str(&item);
                return;
            }
            self.push(Block::Prose(item));
            self.in_list = true;
            return;
        }
        self.push(Block::Prose(text));
    }

    fn finish_table(&mut self, t: Table) {
        // A nested table: its text joins the enclosing cell.
        if let Some(cell) = self.tables.last_mut().and_then(|outer| outer.cell.as_mut()) {
            for row in &t.rows {
                for c in row.iter().filter(|c| !c.is_empty()) {
                    if !cell.is_empty() {
                        cell.push(' ');
                    }
                    cell.push_str(c);
                }
            }
            return;
        }
        if t.rows.is_empty() {
            return;
        }
        let header_count = t.header_rows.max(1).min(t.rows.len());
        let width = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        let header: Vec<String> = (0..width)
            .map(|c| {
                let parts: Vec<&str> = t.rows[..header_count]
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect();
                parts.join(" / ")
            })
            .collect();
        self.push(table_block(&header, &t.rows[header_count..]));
    }

    fn push(&mut self, block: Block) {
        self.in_list = false;
        self.blocks.push(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_formats() {
        assert_eq!(chinese(1), "一");
        assert_eq!(chinese(10), "十");
        assert_eq!(chinese(12), "十二");
        assert_eq!(chinese(21), "二十一");
        assert_eq!(chinese(105), "一百零五");
        assert_eq!(roman(14), "XIV");
        assert_eq!(letters(28, b'a'), "bb");
        assert_eq!(format_number(3, "ideographTraditional"), "丙");
    }

    #[test]
    fn styles_resolve_headings() {
        let xml = r#"<w:styles xmlns:w="w"><w:style w:styleId="Heading1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
            <w:style w:styleId="Custom"><w:name w:val="My Heading"/><w:basedOn w:val="Heading2"/></w:style>
            <w:style w:styleId="Heading2"><w:name w:val="heading 2"/></w:style>
            <w:style w:styleId="Normal"><w:name w:val="Normal"/></w:style></w:styles>"#;
        let levels = parse_styles(xml);
        assert_eq!(levels.get("Heading1"), Some(&1));
        assert_eq!(levels.get("Custom"), Some(&2));
        assert_eq!(levels.get("Normal"), None);
    }

    #[test]
    fn list_markers_count() {
        let xml = r#"<w:numbering xmlns:w="w"><w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="taiwaneseCountingThousand"/><w:lvlText w:val="%1、"/></w:lvl>
            <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="(%2)"/></w:lvl></w:abstractNum>
            <w:num w:numId="5"><w:abstractNumId w:val="0"/></w:num></w:numbering>"#;
        let mut n = parse_numbering(xml);
        assert_eq!(n.marker("5", 0), "一、");
        assert_eq!(n.marker("5", 1), "(1) ");
        assert_eq!(n.marker("5", 1), "(2) ");
        assert_eq!(n.marker("5", 0), "二、");
        assert_eq!(n.marker("5", 1), "(1) ");
        assert_eq!(n.marker("9", 0), "- ");
    }
}
