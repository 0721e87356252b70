//! HTML: the main content as Markdown.
//!
//! dom_smoothie (a port of Mozilla's Readability) finds the article and drops navigation,
//! footers and sidebars; dom_query, which it is built on, turns it into Markdown (headings,
//! lists, pipe tables), which then goes through the same block scanner as Markdown files.
//! Pages Readability cannot handle (too short, too many elements, no article) fall back to the
//! whole body minus the usual chrome (`nav`, `header`, `footer`, `aside`, forms, scripts).

use dom_smoothie::{Config, Readability, TextMode};

use crate::doc::{Block, Extracted};
use crate::{IngestError, Limits, clean, structure};

/// Pages with more elements than this skip Readability (its scoring is not linear) and use
/// the whole-body fallback.
const MAX_READABILITY_ELEMENTS: usize = 100_000;

/// An article shorter than this (characters) is probably a mis-detection: use the fallback.
const MIN_ARTICLE_CHARS: usize = 50;

pub(crate) fn extract(html: &str, _limits: &Limits) -> Result<Extracted, IngestError> {
    let (title, markdown) = match article(html) {
        Some(found) => found,
        None => (String::new(), whole_body(html)),
    };
    let markdown = clean::clean(&markdown);
    let mut blocks = structure::parse_markdown(&markdown, false);
    let title = clean::clean(&title).replace('\n', " ");
    let title_in_body = blocks.iter().take(3).any(|b| match b {
        Block::Heading { title: t, .. } => t.contains(title.as_str()) || title.contains(t.as_str()),
        _ => false,
    });
    if !title.is_empty() && !title_in_body {
        blocks.insert(0, Block::Heading { level: 1, raw: format!("# {title}"), title });
    }
    Ok(Extracted::new(blocks))
}

fn article(html: &str) -> Option<(String, String)> {
    let config = Config {
        text_mode: TextMode::Markdown,
        max_elements_to_parse: MAX_READABILITY_ELEMENTS,
        ..Config::default()
    };
    let mut readability = Readability::new(html, None, Some(config)).ok()?;
    let article = readability.parse().ok()?;
    let text = article.text_content.to_string();
    if text.chars().filter(|c| !c.is_whitespace()).count() < MIN_ARTICLE_CHARS {
        return None;
    }
    Some((article.title, text))
}

fn whole_body(html: &str) -> String {
    let doc = dom_query::Document::from(html);
    doc.select("script, style, noscript, template, nav, header, footer, aside, form, iframe, svg, button, select")
        .remove();
    doc.md(None).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_article_and_drops_chrome() {
        let html = r#"<html><head><title>退票規定 - 台灣高鐵</title></head><body>
            <nav><a href="/">首頁</a> <a href="/about">關於我們 NAVLINK</a></nav>
            <article><h1>退票規定</h1>
            <p>旅客可於列車開車前辦理退票，線上退票需支付手續費。Passengers may request a refund before departure, subject to a fee.</p>
            <h2>線上退票</h2><p>登入會員後，於訂票紀錄中選擇退票。The refund is credited to the original card within seven days.</p>
            <table><tr><th>票種</th><th>手續費</th></tr><tr><td>全票</td><td>10%</td></tr></table>
            </article>
            <footer>© 2025 FOOTERTEXT 版權所有</footer></body></html>"#;
        let ex = extract(html, &Limits::default()).unwrap();
        let text = crate::doc::render(&ex.blocks);
        assert!(text.contains("旅客可於列車開車前辦理退票"), "{text}");
        assert!(!text.contains("NAVLINK"), "{text}");
        assert!(!text.contains("FOOTERTEXT"), "{text}");
        assert!(
            ex.blocks
                .iter()
                .any(|b| matches!(b, Block::Heading { title, .. } if title == "線上退票")),
            "{:?}",
            ex.blocks
        );
    }

    #[test]
    fn short_pages_fall_back_to_the_body() {
        let html =
            "<html><body><nav>menu</nav><p>只有一句話。</p><footer>foot</footer></body></html>";
        let ex = extract(html, &Limits::default()).unwrap();
        assert_eq!(crate::doc::render(&ex.blocks), "只有一句話。");
    }
}
