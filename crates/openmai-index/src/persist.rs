//! Durability of the vector side, kept consistent with the full-text index.
//!
//! Layout of an index directory:
//! ```text
//! fulltext/                 tantivy's index
//! vectors/log-<G>           changes since snapshot G, appended at each commit
//! vectors/manifest-<G>      snapshot G: which graph files hold which knowledge base
//! vectors/<kb>-<n>.usearch  one knowledge base's HNSW graph and vectors (usearch format)
//! vectors/<kb>-<n>.slots    its chunk metadata (ids, files, labels)
//! ```
//!
//! A commit appends the batch's vector changes to the log and fsyncs it, then commits tantivy
//! with a payload recording the generation `G` and the log length. The tantivy commit is the
//! single atomic switch: on open, the log is replayed only up to the length that tantivy's
//! last commit recorded (a torn or uncommitted tail is cut off), so keyword and vector sides
//! always reflect the same commit. Rewriting the graphs at every commit would cost seconds at
//! a million vectors, hence the log; when it grows past a threshold (and when the index is
//! dropped), the changed graphs are written to a new snapshot `G+1`, and files no longer
//! referenced are deleted. The threshold is the larger of a fixed size and a quarter of the
//! last snapshot, so a growing index writes O(log n) snapshots rather than one per 64 MiB,
//! and a crash replays at most about a fifth of the vectors.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::IndexError;
use crate::vector::{MAX_DIMENSIONS, VectorOp};

/// The state a tantivy commit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Payload {
    pub analyzer: u32,
    pub generation: u64,
    pub log_len: u64,
}

const PAYLOAD_PREFIX: &str = "openmai-index/1";

impl Payload {
    pub fn encode(&self) -> String {
        format!(
            "{PAYLOAD_PREFIX} analyzer={} generation={} log={}",
            self.analyzer, self.generation, self.log_len
        )
    }

    pub fn decode(text: &str) -> Result<Self, IndexError> {
        let corrupt = || IndexError::Corrupt(format!("unknown commit payload {text:?}"));
        let mut parts = text.split(' ');
        if parts.next() != Some(PAYLOAD_PREFIX) {
            return Err(corrupt());
        }
        let mut payload = Payload { analyzer: 0, generation: 0, log_len: 0 };
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(corrupt)?;
            match key {
                "analyzer" => payload.analyzer = value.parse().map_err(|_| corrupt())?,
                "generation" => payload.generation = value.parse().map_err(|_| corrupt())?,
                "log" => payload.log_len = value.parse().map_err(|_| corrupt())?,
                _ => {} // written by a newer version; ignore.
            }
        }
        Ok(payload)
    }
}

pub(crate) fn log_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("log-{generation}"))
}

pub(crate) fn manifest_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("manifest-{generation}"))
}

/// Fsyncs a directory so that file creations, renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), IndexError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(IndexError::io(dir))
}

pub(crate) fn write_manifest(
    dir: &Path,
    generation: u64,
    entries: &[(Uuid, String)],
) -> Result<(), IndexError> {
    let path = manifest_path(dir, generation);
    let mut text = String::new();
    for (kb, stem) in entries {
        text.push_str(&format!("{kb} {stem}\n"));
    }
    let temp = dir.join(format!("manifest-{generation}.tmp"));
    let mut file = File::create(&temp).map_err(IndexError::io(&temp))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(IndexError::io(&temp))?;
    fs::rename(&temp, &path).map_err(IndexError::io(&path))?;
    sync_dir(dir)
}

pub(crate) fn read_manifest(
    dir: &Path,
    generation: u64,
) -> Result<Vec<(Uuid, String)>, IndexError> {
    let path = manifest_path(dir, generation);
    let text = fs::read_to_string(&path).map_err(IndexError::io(&path))?;
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (kb, stem) = line
                .split_once(' ')
                .ok_or_else(|| IndexError::Corrupt(format!("{}: bad line", path.display())))?;
            let kb = kb
                .parse()
                .map_err(|_| IndexError::Corrupt(format!("{}: bad id", path.display())))?;
            if stem.contains(['/', '\\']) || stem.starts_with('.') {
                return Err(IndexError::Corrupt(format!("{}: bad file name", path.display())));
            }
            Ok((kb, stem.to_owned()))
        })
        .collect()
}

/// Bytes on disk of the graph files a manifest references.
pub(crate) fn snapshot_size(dir: &Path, manifest: &[(Uuid, String)]) -> u64 {
    manifest
        .iter()
        .flat_map(|(_, stem)| [format!("{stem}.usearch"), format!("{stem}.slots")])
        .filter_map(|name| fs::metadata(dir.join(name)).ok())
        .map(|m| m.len())
        .sum()
}

/// Deletes every file in `dir` except `keep` (names), ignoring failures: leftovers are
/// harmless and retried at the next snapshot.
pub(crate) fn remove_unreferenced(dir: &Path, keep: &[String]) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !keep.iter().any(|k| *k == name)
            && let Err(e) = fs::remove_file(entry.path())
        {
            tracing::warn!(file = %entry.path().display(), error = %e, "could not remove an old index file");
        }
    }
}

/// The append-only log of vector changes of the current generation.
pub(crate) struct VectorLog {
    path: PathBuf,
    file: File,
    /// Committed length (what tantivy's last commit payload says).
    len: u64,
}

impl VectorLog {
    /// Opens the log, cuts it to `committed_len` and returns the operations it holds.
    pub fn open(path: PathBuf, committed_len: u64) -> Result<(Self, Vec<VectorOp>), IndexError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(IndexError::io(&path))?;
        let actual = file.metadata().map_err(IndexError::io(&path))?.len();
        if actual < committed_len {
            return Err(IndexError::Corrupt(format!(
                "{} is shorter ({actual} bytes) than its last commit ({committed_len} bytes)",
                path.display()
            )));
        }
        let mut bytes = Vec::with_capacity(committed_len as usize);
        (&mut file).take(committed_len).read_to_end(&mut bytes).map_err(IndexError::io(&path))?;
        if actual > committed_len {
            // A batch whose tantivy commit never happened: it never became visible, drop it.
            file.set_len(committed_len)
                .and_then(|()| file.sync_all())
                .map_err(IndexError::io(&path))?;
        }
        let ops = decode_all(&bytes)
            .map_err(|what| IndexError::Corrupt(format!("{}: {what}", path.display())))?;
        Ok((VectorLog { path, file, len: committed_len }, ops))
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends and fsyncs a batch; returns the new length. Not committed until
    /// [`VectorLog::committed`] is called with it (after tantivy's commit succeeds).
    pub fn append(&mut self, ops: &[VectorOp]) -> Result<u64, IndexError> {
        if ops.is_empty() {
            return Ok(self.len);
        }
        let mut bytes = Vec::new();
        for op in ops {
            encode(op, &mut bytes);
        }
        let result = (|| {
            self.file.seek(SeekFrom::Start(self.len))?;
            self.file.write_all(&bytes)?;
            self.file.sync_data()
        })();
        match result {
            Ok(()) => Ok(self.len + bytes.len() as u64),
            Err(e) => {
                self.rewind();
                Err(IndexError::Io { path: self.path.clone(), source: e })
            }
        }
    }

    pub fn committed(&mut self, len: u64) {
        self.len = len;
    }

    /// Forgets an appended batch whose commit failed.
    pub fn rewind(&mut self) {
        if let Err(e) = self.file.set_len(self.len) {
            tracing::warn!(file = %self.path.display(), error = %e, "could not cut the vector log back");
        }
    }
}

// --- Record encoding: [u32 body length][u32 CRC-32 of body][body], little-endian. ---

const UPSERT: u8 = 1;
const DELETE: u8 = 2;
const DELETE_SOURCE: u8 = 3;
const DELETE_KB: u8 = 4;
const SET_LABELS: u8 = 5;

fn encode(op: &VectorOp, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    let labels = |body: &mut Vec<u8>, labels: &[Uuid]| {
        body.extend_from_slice(&(labels.len() as u32).to_le_bytes());
        for label in labels {
            body.extend_from_slice(label.as_bytes());
        }
    };
    match op {
        VectorOp::Upsert { id, org, kb, source, labels: l, vector } => {
            body.push(UPSERT);
            body.extend_from_slice(id.as_bytes());
            body.extend_from_slice(org.as_bytes());
            body.extend_from_slice(kb.as_bytes());
            body.push(u8::from(source.is_some()));
            body.extend_from_slice(source.unwrap_or_default().as_bytes());
            labels(&mut body, l);
            body.extend_from_slice(&(vector.len() as u32).to_le_bytes());
            for x in vector {
                body.extend_from_slice(&x.to_le_bytes());
            }
        }
        VectorOp::Delete { id } => {
            body.push(DELETE);
            body.extend_from_slice(id.as_bytes());
        }
        VectorOp::DeleteSource { org, source } => {
            body.push(DELETE_SOURCE);
            body.extend_from_slice(org.as_bytes());
            body.extend_from_slice(source.as_bytes());
        }
        VectorOp::DeleteKb { org, kb } => {
            body.push(DELETE_KB);
            body.extend_from_slice(org.as_bytes());
            body.extend_from_slice(kb.as_bytes());
        }
        VectorOp::SetLabels { org, source, labels: l } => {
            body.push(SET_LABELS);
            body.extend_from_slice(org.as_bytes());
            body.extend_from_slice(source.as_bytes());
            labels(&mut body, l);
        }
    }
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated record");
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let mut array = [0u8; 4];
        array.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(array))
    }
    fn uuid(&mut self) -> Result<Uuid, &'static str> {
        Uuid::from_slice(self.take(16)?).map_err(|_| "bad id")
    }
    fn labels(&mut self) -> Result<Vec<Uuid>, &'static str> {
        let n = self.u32()? as usize;
        if n > self.0.len() / 16 {
            return Err("bad label count");
        }
        (0..n).map(|_| self.uuid()).collect()
    }
}

fn decode_all(mut bytes: &[u8]) -> Result<Vec<VectorOp>, &'static str> {
    let mut ops = Vec::new();
    while !bytes.is_empty() {
        let mut header = Cursor(bytes);
        let len = header.u32()? as usize;
        let crc = header.u32()?;
        let body = header.take(len)?;
        if crc32fast::hash(body) != crc {
            return Err("checksum mismatch");
        }
        bytes = header.0;
        let mut c = Cursor(body);
        let op = match c.u8()? {
            UPSERT => {
                let id = c.uuid()?;
                let org = c.uuid()?;
                let kb = c.uuid()?;
                let has_source = c.u8()? != 0;
                let source = c.uuid()?;
                let labels = c.labels()?;
                let dim = c.u32()? as usize;
                if dim == 0 || dim > MAX_DIMENSIONS {
                    return Err("bad dimensions");
                }
                let raw = c.take(dim * 4)?;
                let vector = raw
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                VectorOp::Upsert {
                    id,
                    org,
                    kb,
                    source: has_source.then_some(source),
                    labels,
                    vector,
                }
            }
            DELETE => VectorOp::Delete { id: c.uuid()? },
            DELETE_SOURCE => VectorOp::DeleteSource { org: c.uuid()?, source: c.uuid()? },
            DELETE_KB => VectorOp::DeleteKb { org: c.uuid()?, kb: c.uuid()? },
            SET_LABELS => {
                VectorOp::SetLabels { org: c.uuid()?, source: c.uuid()?, labels: c.labels()? }
            }
            _ => return Err("unknown record type"),
        };
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<VectorOp> {
        let u = |n: u128| Uuid::from_u128(n);
        vec![
            VectorOp::Upsert {
                id: u(1),
                org: u(2),
                kb: u(3),
                source: Some(u(4)),
                labels: vec![u(5), u(6)],
                vector: vec![0.5, -0.25, 1.0],
            },
            VectorOp::Upsert {
                id: u(7),
                org: u(2),
                kb: u(3),
                source: None,
                labels: vec![],
                vector: vec![1.0],
            },
            VectorOp::Delete { id: u(1) },
            VectorOp::DeleteSource { org: u(2), source: u(4) },
            VectorOp::DeleteKb { org: u(2), kb: u(3) },
            VectorOp::SetLabels { org: u(2), source: u(4), labels: vec![u(9)] },
        ]
    }

    #[test]
    fn records_round_trip() {
        let mut bytes = Vec::new();
        for op in &sample() {
            encode(op, &mut bytes);
        }
        assert_eq!(decode_all(&bytes).unwrap(), sample());
    }

    #[test]
    fn damage_is_detected() {
        let mut bytes = Vec::new();
        encode(&sample()[0], &mut bytes);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(decode_all(&bytes).is_err());
        assert!(decode_all(&bytes[..5]).is_err());
    }

    #[test]
    fn payload_round_trips() {
        let payload = Payload { analyzer: 3, generation: 7, log_len: 12345 };
        assert_eq!(Payload::decode(&payload.encode()).unwrap(), payload);
        assert!(Payload::decode("something else").is_err());
    }

    #[test]
    fn uncommitted_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-0");
        let (mut log, ops) = VectorLog::open(path.clone(), 0).unwrap();
        assert!(ops.is_empty());
        let len = log.append(&sample()[..2]).unwrap();
        log.committed(len);
        log.append(&sample()[2..]).unwrap(); // never committed
        drop(log);
        let (log, ops) = VectorLog::open(path.clone(), len).unwrap();
        assert_eq!(ops, sample()[..2].to_vec());
        assert_eq!(log.len(), len);
        assert_eq!(fs::metadata(&path).unwrap().len(), len);
    }
}
