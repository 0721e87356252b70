//! Object keys: how they are made ([`object_key`]) and which ones a store accepts
//! ([`validate_key`]).
//!
//! Keys are deliberately plain ASCII. object_store percent-encodes anything else *into the
//! stored key* (a file named `台灣.txt` is stored as `%E5%8F%B0…`), S3 and MinIO treat some
//! characters specially, and the local store maps keys straight onto paths. So the key only
//! has to be unique and safe; the real file name, in any script, lives in the database.

use uuid::Uuid;

use crate::BlobError;
use crate::policy::MAX_KEY_BYTES;

/// The longest path segment we create: 255 bytes is the file-name limit of ext4, XFS, APFS
/// and NTFS, and the local store maps segments onto file names.
const MAX_SEGMENT_BYTES: usize = 255;
/// Cap on the sanitised stem of a file name in [`object_key`]; keys stay short and readable.
const MAX_STEM_BYTES: usize = 100;
/// Cap on a kept extension (`.docx`, `.markdown`); anything longer is not an extension.
const MAX_EXTENSION_BYTES: usize = 16;
/// Cap on the sanitised model name segment.
const MAX_MODEL_BYTES: usize = 64;

/// The local store keeps in-progress uploads under this top-level directory, so no key may
/// start with it.
pub(crate) const TMP_DIR: &str = ".openmai-tmp";

/// A fresh, unique ASCII key for an upload:
/// `uploads/{organization_id}/{model_name}/{uuid}/{sanitised file name}`.
///
/// The random UUID (v4, so keys cannot be guessed from one another) makes the key unique; the
/// sanitised name is only there so a human browsing the bucket recognises the file. Sanitising
/// keeps `[A-Za-z0-9._-]`, maps every other character to `_` (runs collapsed, leading and
/// trailing `_`/`.` trimmed so there are no hidden files or `..`), keeps a short ASCII
/// extension, caps the length, and falls back to `file` when nothing is left, e.g.
/// `台灣高鐵 退票.pdf` → `file.pdf`, `Q3 報告 (final).docx` → `Q3_final.docx`.
///
/// **The real file name is not recoverable from the key**: store it in the database next to
/// the key (that is what `filename` in the API is for).
pub fn object_key(model_name: &str, organization_id: Uuid, filename: &str) -> String {
    let model = sanitise(model_name, MAX_MODEL_BYTES);
    let model = if model.is_empty() { "file".to_owned() } else { model };
    format!("uploads/{organization_id}/{model}/{}/{}", Uuid::new_v4(), sanitise_filename(filename))
}

fn sanitise_filename(filename: &str) -> String {
    // Browsers may send a full path (`C:\fakepath\x.pdf`): keep the last component only.
    let name = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && !ext.is_empty()
                && ext.len() <= MAX_EXTENSION_BYTES
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (stem, Some(ext))
        }
        _ => (name, None),
    };
    let stem = sanitise(stem, MAX_STEM_BYTES);
    let stem = if stem.is_empty() { "file" } else { stem.as_str() };
    match extension {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_owned(),
    }
}

/// Maps characters outside `[A-Za-z0-9._-]` to `_`, collapses runs of `_`, trims `_` and `.`
/// at both ends, and caps the length (the result is ASCII, so any byte is a char boundary).
fn sanitise(text: &str, max_bytes: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_bytes));
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches(['_', '.']);
    let capped = &trimmed[..trimmed.len().min(max_bytes)];
    capped.trim_end_matches(['_', '.']).to_owned()
}

/// Accepts only keys that are safe everywhere: S3's "safe characters" (ASCII letters, digits,
/// `/ ! - _ . * ' ( )`), at most 1024 bytes, relative (no leading `/`), no empty, `.` or `..`
/// segments, no segment over 255 bytes, and not inside the local store's temp directory. So a
/// key can never escape the local store's directory (no `..`, no absolute paths, no
/// backslashes or drive letters), and object_store stores it verbatim.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let invalid = |reason: &'static str| BlobError::InvalidKey { key: key.to_owned(), reason };
    if key.is_empty() {
        return Err(invalid("the key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid("the key is longer than 1024 bytes"));
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"/!-_.*'()".contains(&b)) {
        return Err(invalid(
            "the key may only contain ASCII letters, digits and / ! - _ . * ' ( )",
        ));
    }
    if key.starts_with('/') {
        return Err(invalid("the key must be relative"));
    }
    for (i, segment) in key.split('/').enumerate() {
        match segment {
            "" => return Err(invalid("the key has an empty path segment")),
            "." | ".." => return Err(invalid("the key has a `.` or `..` segment")),
            TMP_DIR if i == 0 => return Err(invalid("the key is in a reserved directory")),
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(invalid("a path segment of the key is longer than 255 bytes"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_file_names() {
        for (input, expected) in [
            ("report.pdf", "report.pdf"),
            ("台灣高鐵 退票.pdf", "file.pdf"),
            ("Q3 報告 (final).docx", "Q3_final.docx"),
            ("C:\\fakepath\\scan 01.PNG", "scan_01.PNG"),
            ("../../etc/passwd", "passwd"),
            ("..", "file"),
            (".bashrc", "bashrc"),
            ("", "file"),
            ("notes", "notes"),
            ("archive.tar.gz", "archive.tar.gz"),
            ("weird.名前", "weird"),
            ("trailing.", "trailing"),
            ("a\0b\nc.txt", "a_b_c.txt"),
        ] {
            assert_eq!(sanitise_filename(input), expected, "{input:?}");
        }
        let long = format!("{}.markdown", "x".repeat(500));
        let name = sanitise_filename(&long);
        assert_eq!(name, format!("{}.markdown", "x".repeat(MAX_STEM_BYTES)));
        // An overlong "extension" is part of the name.
        let name = sanitise_filename(&format!("a.{}", "e".repeat(40)));
        assert!(name.len() <= MAX_STEM_BYTES && name.starts_with("a."), "{name}");
    }

    #[test]
    fn object_keys_are_unique_valid_ascii() {
        let org = Uuid::from_u128(0x0190_a0b0_0000_7000_8000_0000_0000_0001);
        let a = object_key("chatbot-file", org, "台灣高鐵.pdf");
        let b = object_key("chatbot-file", org, "台灣高鐵.pdf");
        assert_ne!(a, b);
        for key in [&a, &b] {
            assert!(key.is_ascii());
            assert!(key.starts_with(&format!("uploads/{org}/chatbot-file/")));
            assert!(key.ends_with("/file.pdf"));
            validate_key(key).unwrap();
        }
        let key = object_key("../../x y", org, &"長".repeat(1000));
        validate_key(&key).unwrap();
        assert!(key.contains("/x_y/"), "{key}");
        let key = object_key("", org, "");
        validate_key(&key).unwrap();
    }

    #[test]
    fn refuses_unsafe_keys() {
        for key in [
            "",
            "/abs/path",
            "a/../b",
            "..",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "..\\..\\windows",
            "C:/x",
            "台灣.txt",
            "caf\u{e9}",
            "a b",
            "a\0b",
            "a%2e%2e",
            ".openmai-tmp/x",
        ] {
            assert!(matches!(validate_key(key), Err(BlobError::InvalidKey { .. })), "{key:?}");
        }
        assert!(validate_key(&"a".repeat(256)).is_err());
        assert!(validate_key(&format!("{}/x", "a/".repeat(600))).is_err());
        for key in ["a", "uploads/x/y.pdf", "a/.openmai-tmp", ".hidden", "a-b_c.d*e'f(g)!"] {
            validate_key(key).unwrap();
        }
    }
}
