//! A page's content streams, decoded and joined: lopdf's `get_page_content_with_limit`, with
//! one zlib inflater and one output buffer kept for the whole document.
//!
//! lopdf decodes each stream with a new `ZlibDecoder` into a new buffer, and a new inflater
//! allocates and zeroes its 32 KiB window: on a text-layer PDF (one small stream per page) that
//! was a tenth of the parser's instructions. Here a stream whose only filter is `FlateDecode`
//! (without `DecodeParms`: what nearly every writer produces) is inflated by the kept inflater
//! straight into the page's buffer. Anything else, and any stream that does not inflate
//! cleanly to its end within the limit, goes through lopdf's own decoding, so every outcome
//! (raw-deflate retries, truncated streams, predictors, other filters, the size limit) is
//! exactly lopdf's.

use flate2::{Decompress, FlushDecompress, Status};
use lopdf::{Document, Object, ObjectId, Stream};

/// Decodes page content streams, keeping its inflater between pages.
pub(crate) struct PageContent {
    inflater: Decompress,
}

impl PageContent {
    pub(crate) fn new() -> Self {
        PageContent { inflater: Decompress::new(true) }
    }

    /// Replaces `out` with the page's content streams, decoded, each followed by a newline.
    /// Fails, as lopdf does, when they hold more than `limit` bytes decoded.
    pub(crate) fn read(
        &mut self,
        doc: &Document,
        page_id: ObjectId,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        out.clear();
        let exceeded = || format!("the page's content is larger than {limit} bytes decoded");
        for id in doc.get_page_contents(page_id) {
            let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else { continue };
            let remaining = limit.saturating_sub(out.len());
            let start = out.len();
            if !(is_plain_flate(stream) && self.inflate(&stream.content, out, remaining)) {
                out.truncate(start);
                match stream.decompressed_content_with_limit(remaining) {
                    Ok(data) => out.extend_from_slice(&data),
                    Err(lopdf::Error::Decompress(
                        lopdf::DecompressError::MemoryLimitExceeded { .. },
                    )) => return Err(exceeded()),
                    Err(_) if stream.content.len() <= remaining => {
                        out.extend_from_slice(&stream.content);
                    }
                    Err(_) => return Err(exceeded()),
                }
            }
            out.push(b'\n');
        }
        Ok(())
    }

    /// Inflates the zlib stream `input` onto the end of `out`. True when it ended cleanly with
    /// at most `max` bytes; otherwise `out` holds some partial output the caller drops.
    fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, max: usize) -> bool {
        self.inflater.reset(true);
        let start = out.len();
        // One byte past the limit is enough to know a stream is over it.
        let cap = start.saturating_add(max).saturating_add(1);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    return false;
                }
                let grow = (out.len() - start).max(input.len().saturating_mul(4)).max(4096);
                out.reserve_exact(grow.min(cap - out.len()));
            }
            let (read, written) = (self.inflater.total_in(), out.len());
            let Some(rest) = usize::try_from(read).ok().and_then(|read| input.get(read..)) else {
                return false;
            };
            match self.inflater.decompress_vec(rest, out, FlushDecompress::Finish) {
                Ok(Status::StreamEnd) => return out.len() - start <= max,
                Ok(Status::Ok | Status::BufError) => {
                    let stuck = self.inflater.total_in() == read && out.len() == written;
                    // No progress with room to write: the input ended before the stream did.
                    if stuck && out.len() < out.capacity() {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }
}

/// Whether `stream`'s only filter is `FlateDecode`, with no parameters (no predictor).
fn is_plain_flate(stream: &Stream) -> bool {
    let filter = match stream.dict.get(b"Filter") {
        Ok(Object::Name(name)) => name.as_slice(),
        Ok(Object::Array(filters)) => match filters.as_slice() {
            [Object::Name(name)] => name.as_slice(),
            _ => return false,
        },
        _ => return false,
    };
    filter == b"FlateDecode" && stream.dict.get(b"DecodeParms").is_err()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use lopdf::{Dictionary, Stream, dictionary};

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("compress");
        encoder.finish().expect("compress")
    }

    /// A one-page document whose page has these content streams.
    fn page_with(streams: Vec<Stream>) -> (Document, ObjectId) {
        let mut doc = Document::with_version("1.5");
        let ids: Vec<Object> =
            streams.into_iter().map(|s| Object::Reference(doc.add_object(s))).collect();
        let page = doc.add_object(dictionary! { "Type" => "Page", "Contents" => ids });
        (doc, page)
    }

    fn flate(data: &[u8], extra: Dictionary) -> Stream {
        let mut dict = dictionary! { "Filter" => "FlateDecode" };
        dict.extend(&extra);
        Stream::new(dict, zlib(data))
    }

    /// What lopdf itself returns for the page, for comparison.
    fn lopdf_reads(doc: &Document, page: ObjectId, limit: usize) -> Result<Vec<u8>, ()> {
        doc.get_page_content_with_limit(page, limit).map_err(|_| ())
    }

    fn reads(doc: &Document, page: ObjectId, limit: usize) -> Result<Vec<u8>, ()> {
        let mut out = b"left over from the last page".to_vec();
        PageContent::new().read(doc, page, limit, &mut out).map(|()| out).map_err(|_| ())
    }

    #[test]
    fn reads_what_lopdf_reads() {
        let text: Vec<u8> = (0..50_000u32).flat_map(|i| format!("{i} Tj ").into_bytes()).collect();
        let mut truncated = zlib(&text);
        truncated.truncate(truncated.len() / 2);
        let mut bad_checksum = zlib(b"BT (a) Tj ET");
        *bad_checksum.last_mut().expect("a checksum") ^= 0xFF;
        let cases: Vec<Vec<Stream>> = vec![
            vec![flate(b"BT (a) Tj ET", Dictionary::new())],
            vec![flate(&text, Dictionary::new()), flate(b"", Dictionary::new())],
            vec![Stream::new(dictionary! {}, b"BT (raw) Tj ET".to_vec())],
            vec![Stream::new(dictionary! { "Filter" => "FlateDecode" }, truncated)],
            vec![Stream::new(dictionary! { "Filter" => "FlateDecode" }, bad_checksum)],
            vec![Stream::new(dictionary! { "Filter" => "FlateDecode" }, b"not zlib".to_vec())],
            vec![flate(b"BT (b) Tj ET", dictionary! { "DecodeParms" => dictionary! {} })],
            vec![Stream::new(
                dictionary! { "Filter" => vec![Object::Name(b"FlateDecode".to_vec())] },
                zlib(b"in an array"),
            )],
        ];
        for (n, streams) in cases.into_iter().enumerate() {
            let (doc, page) = page_with(streams);
            for limit in [usize::MAX, 1 << 20, 1000, 12, 0] {
                assert_eq!(
                    reads(&doc, page, limit),
                    lopdf_reads(&doc, page, limit),
                    "case {n}, limit {limit}"
                );
            }
        }
    }

    #[test]
    fn one_reader_serves_page_after_page() {
        let pages: Vec<Vec<u8>> =
            (0..20).map(|i| format!("BT ({i}) Tj ET").repeat(i * 100 + 1).into_bytes()).collect();
        let mut reader = PageContent::new();
        let mut out = Vec::new();
        for text in pages {
            let (doc, page) = page_with(vec![flate(&text, Dictionary::new())]);
            reader.read(&doc, page, usize::MAX, &mut out).expect("a page");
            assert_eq!(out, [text.as_slice(), b"\n"].concat());
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let bomb = zlib(&vec![b' '; 8 << 20]);
        let (doc, page) =
            page_with(vec![Stream::new(dictionary! { "Filter" => "FlateDecode" }, bomb)]);
        let mut out = Vec::new();
        assert!(PageContent::new().read(&doc, page, 64 << 10, &mut out).is_err());
        assert!(out.capacity() <= (64 << 10) + 1, "it held {} bytes", out.capacity());
    }
}
