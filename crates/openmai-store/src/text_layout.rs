//! A file's parsed text, stored without the copy its chunks already hold.
//!
//! Nearly every chunk is a slice of its file's text, and together they cover nearly all of
//! it, so storing both wrote the text twice: about 280 MB of a 200 MB corpus's 700 MB
//! database, which SQLite writes once more when it checkpoints its log. So when a file is
//! stored, its text is kept as the parts no chunk covers (the gaps, concatenated) and a
//! [`Layout`] that says how to put it together again from those and the chunks.
//!
//! A layout refers to chunks by ordinal and to byte ranges of their text, so it is only good
//! while those chunks stay as they were stored: every change to a file's chunks (editing or
//! deleting one, re-chunking an edited text) first writes the whole text back
//! (`Db::materialize_file_text`).

use serde::{Deserialize, Serialize};

/// How a file's text is put together, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Layout {
    /// The text's length in bytes.
    len: usize,
    pieces: Vec<Piece>,
}

/// Bytes `from..to` (the second and third fields) of a source: the text of the chunk with the
/// ordinal in the first field, or (`None`) the stored gaps. A tuple, so that it is stored as a
/// short JSON array (`[3,0,2400]`): a corpus's files have hundreds of thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Piece(Option<i64>, usize, usize);

/// A chunk as [`split`] sees it: its ordinal, where its text starts in the file's text (when
/// it is a slice of it), and the text.
pub(crate) struct Placed<'a> {
    pub ordinal: i64,
    pub start: Option<u64>,
    pub text: &'a str,
}

/// Less than this much of a text held by chunks is not worth a layout: the text is stored
/// whole.
const MIN_SAVED_BYTES: usize = 1024;

/// The gaps of `text` and how to rebuild it from them and `chunks`, or `None` when the chunks
/// hold too little of it. A chunk whose claimed place does not hold its text, or whose
/// ordinal repeats, is not used; chunks may come in any order and overlap.
pub(crate) fn split<'a>(
    text: &str,
    chunks: impl IntoIterator<Item = Placed<'a>>,
) -> Option<(String, Layout)> {
    let mut ordinals = Vec::new();
    let mut placed: Vec<(usize, i64, usize)> = chunks
        .into_iter()
        .filter_map(|chunk| {
            ordinals.push(chunk.ordinal);
            let start = usize::try_from(chunk.start?).ok()?;
            let end = start.checked_add(chunk.text.len())?;
            let holds = text.as_bytes().get(start..end) == Some(chunk.text.as_bytes());
            (holds && !chunk.text.is_empty()).then_some((start, chunk.ordinal, end))
        })
        .collect();
    placed.sort_unstable();
    ordinals.sort_unstable();
    if ordinals.windows(2).any(|pair| pair[0] == pair[1]) {
        // Which chunk a piece names would be ambiguous.
        return None;
    }

    let (mut gaps, mut pieces, mut covered, mut saved) = (String::new(), Vec::new(), 0, 0);
    let gap = |gaps: &mut String, pieces: &mut Vec<Piece>, part: &str| {
        let from = gaps.len();
        gaps.push_str(part);
        pieces.push(Piece(None, from, gaps.len()));
    };
    for (start, ordinal, end) in placed {
        if end <= covered {
            continue; // inside what earlier chunks hold
        }
        if start > covered {
            gap(&mut gaps, &mut pieces, &text[covered..start]);
        }
        // Both are character boundaries: `start` and `end` bound a `str` equal to the text's
        // bytes there, and `covered` is an earlier chunk's end.
        let from = covered.saturating_sub(start);
        pieces.push(Piece(Some(ordinal), from, end - start));
        saved += end - start.max(covered);
        covered = end;
    }
    if covered < text.len() {
        gap(&mut gaps, &mut pieces, &text[covered..]);
    }
    (saved >= MIN_SAVED_BYTES).then_some((gaps, Layout { len: text.len(), pieces }))
}

/// The text that `layout` describes, from the stored gaps and the file's chunks (by ordinal),
/// or `None` when they no longer fit it.
pub(crate) fn assemble(gaps: &str, layout: &Layout, chunks: &[(i64, String)]) -> Option<String> {
    // No more than the sources hold, whatever length a damaged layout claims.
    let most = gaps.len() + chunks.iter().map(|(_, text)| text.len()).sum::<usize>();
    let mut text = String::with_capacity(layout.len.min(most));
    for &Piece(chunk, from, to) in &layout.pieces {
        let source = match chunk {
            None => gaps,
            Some(ordinal) => {
                let at = chunks.binary_search_by_key(&ordinal, |(o, _)| *o).ok()?;
                chunks[at].1.as_str()
            }
        };
        text.push_str(source.get(from..to)?);
    }
    (text.len() == layout.len).then_some(text)
}

impl Layout {
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a layout serialises")
    }

    pub(crate) fn from_json(json: &str) -> Option<Layout> {
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks of `text` at about the given byte ranges (moved to character boundaries),
    /// numbered in order, with their starts.
    fn cut(text: &str, ranges: &[(usize, usize)]) -> Vec<(i64, Option<u64>, String)> {
        let boundary = |n: usize| (n..).find(|&i| text.is_char_boundary(i)).unwrap();
        ranges
            .iter()
            .enumerate()
            .map(|(i, &(s, e))| {
                let (s, e) = (boundary(s), boundary(e));
                (i as i64, Some(s as u64), text[s..e].to_owned())
            })
            .collect()
    }

    fn round_trip(text: &str, chunks: &[(i64, Option<u64>, String)]) -> Option<(String, Layout)> {
        let placed = chunks.iter().map(|(ordinal, start, text)| Placed {
            ordinal: *ordinal,
            start: *start,
            text,
        });
        let (gaps, layout) = split(text, placed)?;
        let json = layout.to_json();
        assert!(json.starts_with(r#"{"len":"#) && json.contains(",0,"), "{json}");
        let layout = Layout::from_json(&json).unwrap();
        let mut by_ordinal: Vec<(i64, String)> =
            chunks.iter().map(|(o, _, t)| (*o, t.clone())).collect();
        by_ordinal.sort();
        assert_eq!(assemble(&gaps, &layout, &by_ordinal).as_deref(), Some(text));
        Some((gaps, layout))
    }

    fn long_text() -> String {
        let mut text = String::from("# 退票規定\n\n");
        for i in 0..200 {
            text.push_str(&format!(
                "第{i}條：旅客於出發前申請退票者，應扣手續費。Refunds take 7 days.\n\n"
            ));
        }
        text
    }

    #[test]
    fn chunks_with_overlaps_and_gaps_rebuild_the_text_and_only_the_gaps_are_kept() {
        let text = long_text();
        let third = text.len() / 3;
        let at = |n: usize| (n..).find(|&i| text.is_char_boundary(i)).unwrap();
        // A heading left out, overlaps, and a gap between chunks.
        let ranges = [
            (at(16), at(third)),
            (at(third - 90), at(2 * third)),
            (at(2 * third + 6), text.len() - 2),
        ];
        let (gaps, _) = round_trip(&text, &cut(&text, &ranges)).unwrap();
        assert_eq!(
            gaps,
            format!("{}{}{}", &text[..at(16)], &text[at(2 * third)..at(2 * third + 6)], "\n\n")
        );
    }

    #[test]
    fn chunks_out_of_order_inside_others_or_unplaced_still_rebuild_the_text() {
        let text = long_text();
        let mut chunks = cut(&text, &[(0, 3000), (2000, 2600), (2500, 6000)]);
        chunks.swap(0, 2);
        // A table chunk that repeats its header is its own text; a wrong claim is ignored.
        chunks.push((7, None, "| 欄 |\n| 值 |".into()));
        chunks.push((8, Some(9), "not there".into()));
        round_trip(&text, &chunks).unwrap();
    }

    #[test]
    fn a_text_its_chunks_hold_little_of_or_with_repeated_ordinals_is_kept_whole() {
        let text = long_text();
        assert!(round_trip(&text, &cut(&text, &[(0, 500)])).is_none());
        assert!(round_trip(&text, &[]).is_none());
        let mut twice = cut(&text, &[(0, 3000), (3000, 6000)]);
        twice[1].0 = 0;
        assert!(round_trip(&text, &twice).is_none());
    }

    #[test]
    fn a_changed_chunk_does_not_rebuild_a_wrong_text() {
        let text = long_text();
        let chunks = cut(&text, &[(0, 3000), (3000, text.len())]);
        let placed = chunks.iter().map(|(ordinal, start, text)| Placed {
            ordinal: *ordinal,
            start: *start,
            text,
        });
        let (gaps, layout) = split(&text, placed).unwrap();
        let shorter = vec![(0, chunks[0].2[..2000].to_owned()), (1, chunks[1].2.clone())];
        assert_eq!(assemble(&gaps, &layout, &shorter), None);
        assert_eq!(assemble(&gaps, &layout, &[(1, chunks[1].2.clone())]), None);
        // A damaged layout: refused, without reserving what it claims.
        let damaged =
            Layout::from_json(&format!(r#"{{"len":{},"pieces":[[null,0,2]]}}"#, usize::MAX));
        assert_eq!(assemble("ab", &damaged.unwrap(), &[]), None);
        assert!(Layout::from_json(r#"{"len":2,"pieces":[{"chunk":null}]}"#).is_none());
    }
}
