//! The state snapshot (`regledger-state-snapshot/v1`, schemas/FORMATS.md
//! "State snapshot", D15 §7): everything an incremental audit needs to
//! continue a log from size N without its first N entries.
//!
//! A snapshot is one self-contained, streamable file:
//! 1. the line `regledger-state-snapshot/v1`;
//! 2. one line of JSON, the [`SnapshotHeader`]: the log-signed checkpoint of
//!    size N, leaf N−1 (v2) with its inclusion proof (its state root is the
//!    state after N entries, its hash the previous leaf hash of entry N), the
//!    right edge of the tree at N (the RFC 9162 complete subtrees of the
//!    first N leaves, left to right: what later roots and hash tiles are
//!    computed from) and the number of records;
//! 3. the records, every key of the state map with its value, in strictly
//!    increasing key-hash order: `u16 key length ‖ key ‖ u32 value length ‖
//!    value` (big-endian); then the end of the file.
//!
//! [`verify_header`] checks the header against `log.json` (nothing in it is
//! taken on trust: the checkpoint's signature, the leaf's inclusion, the
//! right edge's root); [`SnapshotReader`] parses the records strictly (each
//! key canonical, each value the key's canonical record, the order, the
//! count, no trailing byte). The reader of the records must still rebuild
//! the map and compare its root with [`SnapshotStart::state_root`]: only
//! that proves the records are the committed state.

use std::io::{BufRead, Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::bundle::EntryProof;
use super::status::open_state_entry;
use crate::descriptor::{verify_log_signature, LogDescriptor};
use crate::entry::chain::ChainHead;
use crate::entry::leaf::Leaf;
use crate::registry::commit::{parse_record, MapKey, Record};
use crate::statemap::key_hash;
use crate::tlog::checkpoint::Checkpoint;
use crate::tlog::hash::{Hash, HashSuite};
use crate::tlog::tree::stored_hash_index;

/// SNAPSHOT_FORMAT is the first line of a snapshot.
pub const SNAPSHOT_FORMAT: &str = "regledger-state-snapshot/v1";
/// MAX_HEADER_BYTES bounds the JSON header line (a cosigned checkpoint,
/// a 113-byte leaf, at most 64 + 64 hashes: a few KiB in practice).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// MAX_KEY_BYTES bounds one key (identifiers are at most 128 characters).
pub const MAX_KEY_BYTES: usize = 1024;
/// MAX_VALUE_BYTES bounds one record (the largest, a product, is a few KiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// SnapshotHeader is the JSON line after the format line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotHeader {
    /// origin is the log's origin.
    pub origin: String,
    /// hash is the log's hash suite name.
    pub hash: String,
    /// size is N, the checkpoint's tree size.
    pub size: u64,
    /// checkpoint is the log-signed (and possibly cosigned) checkpoint of size N.
    pub checkpoint: String,
    /// state_entry is leaf N−1 (v2) with its inclusion proof at N.
    pub state_entry: EntryProof,
    /// frontier are the base64 hashes of the complete subtrees of the
    /// first N leaves, largest (leftmost) first: one per bit set in N.
    pub frontier: Vec<String>,
    /// records is how many records follow.
    pub records: u64,
}

/// SnapshotError says which part of a snapshot is wrong and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("state snapshot: {part}: {reason}")]
pub struct SnapshotError {
    /// part names the member or record.
    pub part: String,
    /// reason says what is wrong with it.
    pub reason: String,
}

fn fail(part: impl Into<String>, reason: impl Into<String>) -> SnapshotError {
    SnapshotError {
        part: part.into(),
        reason: reason.into(),
    }
}

/// SnapshotStart is what a verified header establishes: the log at size N
/// as the checkpoint signed it, and the state root its records must make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotStart {
    /// checkpoint is the verified checkpoint of size N.
    pub checkpoint: Checkpoint,
    /// state_root is leaf N−1's state root: the state after N entries.
    pub state_root: Hash,
    /// head is the leaf chain at N (leaf N−1's hash, time and version).
    pub head: ChainHead,
    /// frontier are the right edge's subtree hashes, leftmost first.
    pub frontier: Vec<Hash>,
}

/// frontier_indexes returns the stored-hash indexes (tlog layout) of the
/// complete subtrees that make up the first `size` leaves, leftmost first.
pub fn frontier_indexes(size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut lo = 0u64;
    for level in (0..64u8).rev() {
        let k = 1u64 << level;
        if size & k != 0 {
            out.push(stored_hash_index(level, lo >> level));
            lo += k;
        }
    }
    out
}

/// frontier_root folds the right edge's subtree hashes (leftmost first)
/// into the tree hash.
pub fn frontier_root(suite: HashSuite, frontier: &[Hash]) -> Hash {
    let Some((last, rest)) = frontier.split_last() else {
        return suite.empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |h, left| suite.node_hash(left, &h))
}

/// verify_header checks a snapshot's header against `log.json`: its
/// origin and suite, the checkpoint signed by the log key for its origin
/// (witnesses are the trusted checkpoint's business, not the snapshot's),
/// `size` = the checkpoint's, leaf N−1 a v2 leaf included at N, and the
/// right edge hashing to the checkpoint's root.
///
/// # Errors
///
/// A [`SnapshotError`] naming the first member that fails.
pub fn verify_header(
    h: &SnapshotHeader,
    log: &LogDescriptor,
) -> Result<SnapshotStart, SnapshotError> {
    if h.origin != log.origin {
        return Err(fail(
            "origin",
            format!("a snapshot of {:?}, not of {:?}", h.origin, log.origin),
        ));
    }
    if h.hash != log.suite.name() {
        return Err(fail(
            "hash",
            format!("{:?}, but the log hashes with {}", h.hash, log.suite.name()),
        ));
    }
    let v = verify_log_signature(h.checkpoint.as_bytes(), log)
        .map_err(|e| fail("checkpoint", e.to_string()))?;
    let cp = v.checkpoint;
    if cp.size != h.size {
        return Err(fail(
            "size",
            format!("{}, but the checkpoint is of size {}", h.size, cp.size),
        ));
    }
    if cp.size == 0 {
        return Err(fail("size", "a snapshot of the empty log"));
    }
    let (state_root, time) = open_state_entry("state_entry", &h.state_entry, log, &cp)
        .map_err(|e| fail(e.part.clone(), e.reason.clone()))?;
    let leaf_bytes = B64
        .decode(&h.state_entry.leaf)
        .map_err(|_| fail("state_entry.leaf", "not base64"))?;
    let leaf = Leaf::parse(&leaf_bytes).map_err(|e| fail("state_entry.leaf", e.to_string()))?;
    let frontier = h
        .frontier
        .iter()
        .map(|s| B64.decode(s).ok().and_then(|b| Hash::from_slice(&b)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| fail("frontier", "not base64 hashes"))?;
    if frontier.len() != cp.size.count_ones() as usize {
        return Err(fail(
            "frontier",
            format!(
                "{} hashes, but a tree of {} leaves has {} complete subtrees",
                frontier.len(),
                cp.size,
                cp.size.count_ones()
            ),
        ));
    }
    let root = frontier_root(log.suite, &frontier);
    if root != cp.root {
        return Err(fail(
            "frontier",
            format!(
                "hashes to {} but the checkpoint signed {}",
                root.to_hex(),
                cp.root.to_hex()
            ),
        ));
    }
    Ok(SnapshotStart {
        head: ChainHead {
            size: cp.size,
            last_leaf_hash: log.suite.leaf_hash(&leaf_bytes),
            last_time_ms: time,
            last_version: leaf.version,
        },
        checkpoint: cp,
        state_root,
        frontier,
    })
}

/// SnapRecord is one record of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapRecord {
    /// key is the parsed key.
    pub key: MapKey,
    /// key_bytes are its bytes in the map.
    pub key_bytes: Vec<u8>,
    /// value are the record's bytes.
    pub value: Vec<u8>,
    /// record is the parsed record.
    pub record: Record,
}

/// SnapshotReader reads a snapshot from a byte stream: the header with
/// [`SnapshotReader::open`], then the records one by one.
pub struct SnapshotReader<R> {
    r: R,
    suite: HashSuite,
    left: u64,
    read: u64,
    last: Option<Hash>,
}

fn read_line<R: BufRead>(r: &mut R, max: usize, part: &str) -> Result<Vec<u8>, SnapshotError> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|e| fail(part, e.to_string()))?;
    if buf.last() != Some(&b'\n') {
        return Err(fail(
            part,
            if buf.len() > max {
                format!("longer than {max} bytes")
            } else {
                "truncated (no end of line)".to_string()
            },
        ));
    }
    buf.pop();
    Ok(buf)
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], part: &str) -> Result<(), SnapshotError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            fail(part, "truncated")
        } else {
            fail(part, e.to_string())
        }
    })
}

impl<R: BufRead> SnapshotReader<R> {
    /// open reads the format line and the header of a snapshot of a log in
    /// `suite` (the one `log.json` names: record order is by its key hash).
    /// The header is parsed, not verified: see [`verify_header`].
    ///
    /// # Errors
    ///
    /// A [`SnapshotError`]: another format, a header over
    /// [`MAX_HEADER_BYTES`] or not the header's JSON, a read error.
    pub fn open(
        mut r: R,
        suite: HashSuite,
    ) -> Result<(SnapshotHeader, SnapshotReader<R>), SnapshotError> {
        let magic = read_line(&mut r, SNAPSHOT_FORMAT.len() + 1, "format")?;
        if magic != SNAPSHOT_FORMAT.as_bytes() {
            return Err(fail("format", format!("not a {SNAPSHOT_FORMAT} file")));
        }
        let line = read_line(&mut r, MAX_HEADER_BYTES, "header")?;
        let h: SnapshotHeader =
            serde_json::from_slice(&line).map_err(|e| fail("header", e.to_string()))?;
        let left = h.records;
        Ok((
            h,
            SnapshotReader {
                r,
                suite,
                left,
                read: 0,
                last: None,
            },
        ))
    }

    /// next_record returns the next record, or None after the last one
    /// (once the file is seen to end there).
    ///
    /// # Errors
    ///
    /// A [`SnapshotError`] naming the record: truncated, a length out of
    /// bounds, a key that is not canonical, a value that is not the key's
    /// canonical record, keys out of order or repeated, bytes after the
    /// last record.
    pub fn next_record(&mut self) -> Result<Option<SnapRecord>, SnapshotError> {
        let part = format!("record {}", self.read);
        if self.left == 0 {
            let mut one = [0u8; 1];
            let n = self
                .r
                .read(&mut one)
                .map_err(|e| fail(&part, e.to_string()))?;
            if n != 0 {
                return Err(fail(
                    "records",
                    format!("bytes after the {} records the header counts", self.read),
                ));
            }
            return Ok(None);
        }
        let mut len2 = [0u8; 2];
        read_exact(&mut self.r, &mut len2, &part)?;
        let klen = usize::from(u16::from_be_bytes(len2));
        if klen == 0 || klen > MAX_KEY_BYTES {
            return Err(fail(
                &part,
                format!("key length {klen} (1..={MAX_KEY_BYTES})"),
            ));
        }
        let mut key_bytes = vec![0u8; klen];
        read_exact(&mut self.r, &mut key_bytes, &part)?;
        let mut len4 = [0u8; 4];
        read_exact(&mut self.r, &mut len4, &part)?;
        let vlen = u32::from_be_bytes(len4) as usize;
        if vlen == 0 || vlen > MAX_VALUE_BYTES {
            return Err(fail(
                &part,
                format!("value length {vlen} (1..={MAX_VALUE_BYTES})"),
            ));
        }
        let mut value = vec![0u8; vlen];
        read_exact(&mut self.r, &mut value, &part)?;
        let text = std::str::from_utf8(&key_bytes).map_err(|_| fail(&part, "key is not UTF-8"))?;
        let key: MapKey = text
            .parse()
            .map_err(|e| fail(&part, format!("key {text:?}: {e}")))?;
        let kh = key_hash(self.suite, &key_bytes);
        if self.last.is_some_and(|l| l.0 >= kh.0) {
            return Err(fail(
                &part,
                format!("key {text:?} is not after the previous one in key-hash order"),
            ));
        }
        let record =
            parse_record(&key, &value).map_err(|e| fail(&part, format!("key {text:?}: {e}")))?;
        self.last = Some(kh);
        self.left -= 1;
        self.read += 1;
        Ok(Some(SnapRecord {
            key,
            key_bytes,
            value,
            record,
        }))
    }
}

/// SnapshotWriter writes a snapshot: the header, then records in
/// increasing key-hash order (checked), exactly as many as the header says.
pub struct SnapshotWriter<W> {
    w: W,
    suite: HashSuite,
    left: u64,
    last: Option<Hash>,
}

impl<W: Write> SnapshotWriter<W> {
    /// new writes the format line and `header` to `w`.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn new(
        mut w: W,
        suite: HashSuite,
        header: &SnapshotHeader,
    ) -> std::io::Result<SnapshotWriter<W>> {
        w.write_all(SNAPSHOT_FORMAT.as_bytes())?;
        w.write_all(b"\n")?;
        w.write_all(&serde_json::to_vec(header).map_err(std::io::Error::other)?)?;
        w.write_all(b"\n")?;
        Ok(SnapshotWriter {
            w,
            suite,
            left: header.records,
            last: None,
        })
    }

    /// push writes one record.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a key or value out of bounds, out of order, or
    /// past the count; else the writer's error.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
        if key.is_empty()
            || key.len() > MAX_KEY_BYTES
            || value.is_empty()
            || value.len() > MAX_VALUE_BYTES
        {
            return Err(bad("snapshot record out of bounds"));
        }
        let kh = key_hash(self.suite, key);
        if self.last.is_some_and(|l| l.0 >= kh.0) {
            return Err(bad("snapshot records out of key-hash order"));
        }
        if self.left == 0 {
            return Err(bad("more snapshot records than the header counts"));
        }
        self.w.write_all(&(key.len() as u16).to_be_bytes())?;
        self.w.write_all(key)?;
        self.w.write_all(&(value.len() as u32).to_be_bytes())?;
        self.w.write_all(value)?;
        self.last = Some(kh);
        self.left -= 1;
        Ok(())
    }

    /// finish returns the writer once every record counted was written.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if records are missing.
    pub fn finish(self) -> std::io::Result<W> {
        if self.left != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "fewer snapshot records than the header counts",
            ));
        }
        Ok(self.w)
    }
}

/// build_snapshot writes a whole snapshot into memory from its parts:
/// `records` in any order (they are sorted by key hash here).
///
/// # Errors
///
/// `InvalidInput` for a record out of bounds or a key given twice.
#[allow(clippy::too_many_arguments)]
pub fn build_snapshot(
    suite: HashSuite,
    origin: &str,
    checkpoint: &str,
    size: u64,
    last_leaf: &[u8],
    inclusion_proof: &[Hash],
    frontier: &[Hash],
    records: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> std::io::Result<Vec<u8>> {
    let mut recs: Vec<(Hash, Vec<u8>, Vec<u8>)> = records
        .into_iter()
        .map(|(k, v)| (key_hash(suite, &k), k, v))
        .collect();
    recs.sort_by_key(|r| r.0 .0);
    let header = SnapshotHeader {
        origin: origin.into(),
        hash: suite.name().into(),
        size,
        checkpoint: checkpoint.into(),
        state_entry: EntryProof {
            index: size.saturating_sub(1),
            leaf: B64.encode(last_leaf),
            inclusion_proof: inclusion_proof.iter().map(|h| B64.encode(h.0)).collect(),
            envelope: None,
        },
        frontier: frontier.iter().map(|h| B64.encode(h.0)).collect(),
        records: recs.len() as u64,
    };
    let mut w = SnapshotWriter::new(Vec::new(), suite, &header)?;
    for (_, k, v) in &recs {
        w.push(k, v)?;
    }
    w.finish()
}
