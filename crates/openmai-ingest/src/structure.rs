//! Finds structure in clean text: Markdown headings, pipe tables, code fences and thematic
//! breaks, plus heading lines of plain text (`第二章 退票規定`, `2.1 線上退票`).
//!
//! A line scanner rather than a full CommonMark parser: blocks keep their exact source text, so
//! chunks stay slices of the display text, and it runs in one linear pass.

use crate::doc::Block;

/// Splits clean text (see [`crate::clean::clean`]) into blocks. With `front_matter`, a leading
/// YAML block (`---` … `---`) is dropped, as Markdown files carry metadata there.
pub(crate) fn parse_markdown(text: &str, front_matter: bool) -> Vec<Block> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut i = 0;
    if front_matter
        && lines.first() == Some(&"---")
        && let Some(end) = lines.iter().skip(1).take(200).position(|l| *l == "---" || *l == "...")
    {
        i = end + 2;
    }
    while i < lines.len() {
        let line = lines[i];
        if line.is_empty() {
            flush(&mut para, &mut blocks);
            i += 1;
            continue;
        }
        if let Some(fence) = fence_marker(line) {
            flush(&mut para, &mut blocks);
            let start = i;
            i += 1;
            while i < lines.len() && !lines[i].starts_with(fence) {
                i += 1;
            }
            let end = (i + 1).min(lines.len());
            blocks.push(Block::Prose(lines[start..end].join("\n")));
            i = end;
            continue;
        }
        if let Some((level, title)) = atx_heading(line) {
            flush(&mut para, &mut blocks);
            blocks.push(Block::Heading { level, title: title.to_string(), raw: line.to_string() });
            i += 1;
            continue;
        }
        if para.len() == 1 && is_setext_underline(line) {
            let title = para[0];
            let level = if line.starts_with('=') { 1 } else { 2 };
            blocks.push(Block::Heading {
                level,
                title: title.to_string(),
                raw: format!("{title}\n{line}"),
            });
            para.clear();
            i += 1;
            continue;
        }
        if is_thematic_break(line) {
            flush(&mut para, &mut blocks);
            blocks.push(Block::Break);
            i += 1;
            continue;
        }
        if line.contains('|') && lines.get(i + 1).is_some_and(|next| is_table_delimiter(next)) {
            flush(&mut para, &mut blocks);
            let header = format!("{line}\n{}", lines[i + 1]);
            i += 2;
            let mut rows = Vec::new();
            while i < lines.len()
                && !lines[i].is_empty()
                && lines[i].contains('|')
                && atx_heading(lines[i]).is_none()
            {
                rows.push(lines[i].to_string());
                i += 1;
            }
            blocks.push(Block::Table { header, rows });
            continue;
        }
        para.push(line);
        i += 1;
    }
    flush(&mut para, &mut blocks);
    blocks
}

/// Ends a paragraph: a single short line that reads like a heading becomes one.
fn flush(para: &mut Vec<&str>, blocks: &mut Vec<Block>) {
    if para.is_empty() {
        return;
    }
    if para.len() == 1
        && let Some(level) = plain_heading_level(para[0])
    {
        blocks.push(Block::Heading { level, title: para[0].to_string(), raw: para[0].to_string() });
        para.clear();
        return;
    }
    blocks.push(Block::Prose(para.join("\n")));
    para.clear();
}

fn fence_marker(line: &str) -> Option<&'static str> {
    if line.starts_with("```") {
        Some("```")
    } else if line.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

/// `## Title ##` → (2, "Title").
fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &line[hashes..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim_end();
    if title.is_empty() {
        return None;
    }
    Some((hashes as u8, title))
}

fn is_setext_underline(line: &str) -> bool {
    line.len() >= 3 && (line.bytes().all(|b| b == b'=') || line.bytes().all(|b| b == b'-'))
}

fn is_thematic_break(line: &str) -> bool {
    let mut chars = line.chars().filter(|c| *c != ' ');
    let Some(first) = chars.next() else { return false };
    matches!(first, '-' | '*' | '_') && {
        let rest: Vec<char> = chars.collect();
        rest.len() >= 2 && rest.iter().all(|&c| c == first)
    }
}

/// `| --- | :---: |` (pipes at the ends optional).
fn is_table_delimiter(line: &str) -> bool {
    let t = line.trim().trim_matches('|');
    !t.is_empty()
        && line.contains('-')
        && t.split('|').all(|cell| {
            let cell = cell.trim().trim_start_matches(':').trim_end_matches(':');
            !cell.is_empty() && cell.bytes().all(|b| b == b'-')
        })
}

/// Heading level of a plain-text heading line: `第二章 退票規定` (1), `第一節 …` (2),
/// `2.1 線上退票` (number of components), `Chapter 3 …` (1). Only short lines without
/// sentence punctuation at the end qualify.
pub(crate) fn plain_heading_level(line: &str) -> Option<u8> {
    let line = line.trim();
    let chars = line.chars().count();
    if !(2..=50).contains(&chars) {
        return None;
    }
    let last = line.chars().last()?;
    if matches!(
        last,
        '。' | '.' | '！' | '!' | '？' | '?' | '；' | ';' | '：' | ':' | '，' | ',' | '、'
    ) {
        return None;
    }
    if let Some(rest) = line.strip_prefix('第') {
        let numeral_len: usize =
            rest.chars().take_while(|c| is_numeral(*c) || *c == ' ').map(char::len_utf8).sum();
        if numeral_len > 0 && rest[..numeral_len].trim().chars().count() > 0 {
            let mut after = rest[numeral_len..].chars();
            return match after.next() {
                Some('章' | '篇' | '部' | '編' | '编' | '卷') => Some(1),
                Some('節' | '节') => Some(2),
                _ => None,
            };
        }
        return None;
    }
    if let Some(rest) = line.strip_prefix("Chapter ").or_else(|| line.strip_prefix("CHAPTER ")) {
        return rest
            .chars()
            .next()
            .filter(|c| c.is_ascii_digit() || matches!(c, 'I' | 'V' | 'X'))
            .map(|_| 1);
    }
    // 2.1 線上退票 / 3.2.1 Refunds: at least two numeric components, each below 100 (so dates
    // like 2024.01.05 are not headings), then a title with a letter or ideograph.
    let number_len = line.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let number = line[..number_len].trim_end_matches('.');
    let components: Vec<&str> = number.split('.').collect();
    if components.len() >= 2
        && components.iter().all(|c| !c.is_empty() && c.len() <= 2)
        && line[number_len..].starts_with([' ', '\u{3000}'])
        && line[number_len..].chars().any(|c| c.is_alphabetic())
    {
        return Some(components.len().min(6) as u8);
    }
    None
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit()
        || ('０'..='９').contains(&c)
        || "一二三四五六七八九十百千零〇兩两壹貳贰參叁肆伍陸陆柒捌玖拾佰".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks() {
        let md = "# 第二章 退票規定\n\n旅客可退票。\n第二行\n\n## 2.1 線上退票\n\n| 票種 | 費用 |\n| --- | ---: |\n| 全票 | 10% |\n| 半票 | 5% |\n\n---\n\nTitle\n=====\n\n```\n# not a heading\n```";
        let blocks = parse_markdown(md, false);
        assert_eq!(
            blocks,
            vec![
                Block::Heading {
                    level: 1,
                    title: "第二章 退票規定".into(),
                    raw: "# 第二章 退票規定".into()
                },
                Block::Prose("旅客可退票。\n第二行".into()),
                Block::Heading {
                    level: 2,
                    title: "2.1 線上退票".into(),
                    raw: "## 2.1 線上退票".into()
                },
                Block::Table {
                    header: "| 票種 | 費用 |\n| --- | ---: |".into(),
                    rows: vec!["| 全票 | 10% |".into(), "| 半票 | 5% |".into()]
                },
                Block::Break,
                Block::Heading { level: 1, title: "Title".into(), raw: "Title\n=====".into() },
                Block::Prose("```\n# not a heading\n```".into()),
            ]
        );
    }

    #[test]
    fn plain_text_headings() {
        assert_eq!(plain_heading_level("第二章 退票規定"), Some(1));
        assert_eq!(plain_heading_level("第十二節　團體票"), Some(2));
        assert_eq!(plain_heading_level("2.1 線上退票"), Some(2));
        assert_eq!(plain_heading_level("3.2.1 Refund fees"), Some(3));
        assert_eq!(plain_heading_level("2024.01.05 公告"), None);
        assert_eq!(plain_heading_level("第二章規定如下："), None);
        assert_eq!(plain_heading_level("第二次退票"), None);
        assert_eq!(plain_heading_level("Chapter 3 Refunds"), Some(1));
        assert_eq!(plain_heading_level("3.14"), None);
        let blocks = parse_markdown("第一章 總則\n\n本規定適用於所有旅客。", false);
        assert!(matches!(blocks[0], Block::Heading { level: 1, .. }));
    }

    #[test]
    fn front_matter_is_dropped_only_when_asked() {
        assert_eq!(
            parse_markdown("---\ntitle: x\n---\nbody", true),
            vec![Block::Prose("body".into())]
        );
        assert_eq!(parse_markdown("---\ntitle: x\n---\nbody", false).len(), 3);
    }
}
