//! W6: erasure. PERFORMANCE.md asks for the crypto-shred of one subject
//! "until no key bytes remain in the live files", with p99 ≤ 5 ms for the
//! commit.
//!
//! `Vault::erase_subject` records the erasure durably, deletes the row
//! holding the subject's wrapped data key and ciphertexts (with SQLite's
//! `secure_delete`, which overwrites deleted content with zeros), and then
//! empties the write-ahead log with a truncating checkpoint, because older
//! frames there may still hold the key. This module times that call, one
//! member after another as the local operator, and then checks the claim
//! rather than trusting it: it takes a sample of the members' wrapped keys
//! and ciphertexts straight from `store.sqlite` before erasing them, and
//! afterwards looks for those byte strings in the raw bytes of the store's
//! live files (the database, its WAL, its shared-memory index and any
//! rollback journal). It runs no checkpoint of its own: what it finds is
//! what the product leaves behind.
//!
//! The check can fail, and each run shows it: before erasing, the scan
//! must find every sampled byte string, and afterwards it must still find
//! those of one member that was not erased (the control); otherwise a
//! broken scan would pass as a clean erasure.
//!
//! The ledger (`ledger.sqlite`) is not scanned: it records that a subject
//! was erased but never holds keys or ciphertexts (ARCHITECTURE.md).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{ErrorKind, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use custos_engine::Vault;
use custos_model::SubjectId;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _};
use serde_json::{Value, json};

use crate::stats::Run;

/// W6's target: p99 of one erasure, durable, in milliseconds.
pub(crate) const TARGET_P99_MS: f64 = 5.0;
/// How many of the erased members have their bytes looked for by default:
/// each gives its wrapped key and about twenty ciphertexts, and the scan
/// costs the same for one byte string as for a thousand.
pub(crate) const DEFAULT_SAMPLE: usize = 32;

/// The store's database file in the vault directory; its WAL, shared
/// memory index and rollback journal add a suffix to this name.
const STORE_FILE: &str = "store.sqlite";
/// How many members, in id order, are considered for the control.
const CONTROL_CANDIDATES: usize = 64;
/// Byte strings shorter than this are not looked for: a short string can
/// occur by chance. Every wrapped key (72 bytes) and ciphertext (at least
/// a 24-byte nonce and a 16-byte tag) is longer.
const MIN_SECRET: usize = 16;
/// Secrets are looked for in pieces of this many bytes: a long value
/// spills onto SQLite's overflow pages, which split it with page headers,
/// so only pieces of it lie contiguous in a file. Any piece found counts
/// its secret as found; 32 random bytes do not occur by chance.
const PIECE: usize = 32;
/// The scan reads files in chunks of this size.
const CHUNK: usize = 8 << 20;
/// Bits of the prefix filter, a bitmap that lets the scan skip almost
/// every position with one lookup, in a table (128 KiB) that fits the L2
/// cache and stays sparse for tens of thousands of pieces.
const FILTER_BITS: u32 = 20;

/// W6's figures.
#[derive(Debug, Clone)]
pub(crate) struct EraseFigures {
    /// One sample per erasure, over the loop's wall time.
    pub(crate) run: Run,
    /// The first erasure alone: its checkpoint copies back whatever the
    /// WAL held before (after an import, possibly much).
    pub(crate) first: Duration,
    /// The WAL's size before the first erasure.
    pub(crate) wal_bytes_before: u64,
    /// Erasures after which the store could not empty its WAL because
    /// another connection held it; the key may stay there until later.
    pub(crate) log_kept: usize,
    pub(crate) check: ShredCheck,
}

/// What the scan of the store's files found.
#[derive(Debug, Clone)]
pub(crate) struct ShredCheck {
    /// Erased members whose bytes were looked for.
    pub(crate) sampled: usize,
    /// Their wrapped keys and ciphertexts looked for.
    pub(crate) keys: usize,
    pub(crate) ciphertexts: usize,
    /// How many of those the scan found before the erasure: all of them,
    /// or the check proves less than it says.
    pub(crate) found_before: usize,
    /// How many of those the scan still found after the erasure: 0 to pass.
    pub(crate) keys_left: usize,
    pub(crate) ciphertexts_left: usize,
    /// Occurrences of pieces of them in the files after the erasure (a
    /// piece can be left more than once): 0 to pass.
    pub(crate) key_hits: u64,
    pub(crate) ciphertext_hits: u64,
    /// Whether the wrapped key of a member that was not erased was found
    /// after the erasure; `None` when no member was left to check.
    pub(crate) control_found: Option<bool>,
    /// The files scanned after the erasure.
    pub(crate) files: Vec<ScannedFile>,
    /// The database's free pages after the erasure, which `secure_delete`
    /// has zeroed.
    pub(crate) freelist_pages: Option<u64>,
    /// Both scans' time, not part of the erasure.
    pub(crate) scan: Duration,
}

/// One live file of the store, after the erasure.
#[derive(Debug, Clone)]
pub(crate) struct ScannedFile {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    /// Occurrences of pieces of the erased members' secrets in it.
    pub(crate) hits: u64,
}

impl ShredCheck {
    /// No byte string of an erased member remains, and the scan is shown to
    /// work: it found them all before and the control member after.
    pub(crate) fn pass(&self) -> bool {
        self.keys_left == 0
            && self.ciphertexts_left == 0
            && self.key_hits == 0
            && self.ciphertext_hits == 0
            && self.found_before == self.keys + self.ciphertexts
            && self.control_found == Some(true)
    }
}

impl EraseFigures {
    pub(crate) fn p99_ms(&self) -> f64 {
        self.run.p99_us() / 1_000.0
    }

    pub(crate) fn pass_p99(&self) -> bool {
        self.run.ops > 0 && self.p99_ms() <= TARGET_P99_MS
    }

    pub(crate) fn pass(&self) -> bool {
        self.pass_p99() && self.check.pass()
    }

    /// The details of the text report's W6 row, such as "p99 <= 5 ms: met;
    /// first 3.1 ms (WAL 0 B before); bytes left of 32 erased members:
    /// 0/32 wrapped keys, 0/650 ciphertexts (all found before; control
    /// found) in store.sqlite 63.3 MB, -wal 0 B, -shm 98.3 kB: met".
    pub(crate) fn summary(&self) -> String {
        let c = &self.check;
        let files: Vec<String> = c
            .files
            .iter()
            .map(|f| {
                let name = f
                    .name
                    .strip_prefix(STORE_FILE)
                    .filter(|suffix| !suffix.is_empty())
                    .unwrap_or(&f.name);
                let hits = if f.hits > 0 {
                    format!(" ({} hits)", f.hits)
                } else {
                    String::new()
                };
                format!("{name} {}{hits}", size(f.bytes))
            })
            .collect();
        let before = if c.found_before == c.keys + c.ciphertexts {
            "all found before".to_owned()
        } else {
            format!(
                "only {}/{} found before",
                c.found_before,
                c.keys + c.ciphertexts
            )
        };
        let control = match c.control_found {
            Some(true) => "control found",
            Some(false) => "control NOT found: the scan is broken",
            None => "no control member left",
        };
        let kept = if self.log_kept > 0 {
            format!("; the WAL was left after {} erasures", self.log_kept)
        } else {
            String::new()
        };
        format!(
            "p99 <= {TARGET_P99_MS} ms: {}; \
             first {:.1} ms (WAL {} before); \
             bytes left of {} erased members: {}/{} wrapped keys, {}/{} ciphertexts ({before}; {control}) \
             in {}{kept}: {}",
            met(self.pass_p99()),
            self.first.as_secs_f64() * 1e3,
            size(self.wal_bytes_before),
            c.sampled,
            c.keys_left,
            c.keys,
            c.ciphertexts_left,
            c.ciphertexts,
            files.join(", "),
            met(c.pass()),
        )
    }

    /// The JSON object.
    pub(crate) fn json(&self) -> Value {
        let c = &self.check;
        let ms = |ns: u64| (ns as f64 / 1e4).round() / 100.0;
        json!({
            "erased": self.run.ops,
            "errors": self.run.errors,
            "median_ms": ms(self.run.median_ns),
            "p99_ms": ms(self.run.p99_ns),
            "max_ms": ms(self.run.max_ns),
            "throughput_per_s": self.run.throughput().round(),
            "first_ms": (self.first.as_secs_f64() * 1e5).round() / 100.0,
            "wal_bytes_before": self.wal_bytes_before,
            "target_p99_ms": TARGET_P99_MS,
            "pass_p99": self.pass_p99(),
            "log_kept": self.log_kept,
            "shred": {
                "sampled_members": c.sampled,
                "keys": c.keys,
                "ciphertexts": c.ciphertexts,
                "found_before": c.found_before,
                "keys_left": c.keys_left,
                "ciphertexts_left": c.ciphertexts_left,
                "key_hits": c.key_hits,
                "ciphertext_hits": c.ciphertext_hits,
                "control_found": c.control_found,
                "files": c.files.iter().map(|f| json!({
                    "name": f.name,
                    "bytes": f.bytes,
                    "hits": f.hits,
                })).collect::<Vec<_>>(),
                "freelist_pages": c.freelist_pages,
                "scan_s": (c.scan.as_secs_f64() * 100.0).round() / 100.0,
                "pass": c.pass(),
            },
            "pass": self.pass(),
        })
    }
}

fn met(pass: bool) -> &'static str {
    if pass { "met" } else { "missed" }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Erases `ids` (distinct members in the store, none of which the later
/// workloads use) one at a time as the local operator, timing each
/// erasure, then scans the store's files for the wrapped keys and
/// ciphertexts of `sample` of them, spread evenly over `ids`.
///
/// Each timed call is the whole `Vault::erase_subject`: admission, the
/// policy decision, the durable ledger event, the store's commit and its
/// truncating checkpoint. A p99 needs a few hundred erasures to mean
/// anything (500 is a good number). Run it with no server or other
/// connection reading the store: a reader's snapshot stops the
/// checkpoint from emptying the WAL, which `log_kept` then counts.
pub(crate) fn run(
    vault: &Vault,
    ids: &[SubjectId],
    sample: usize,
    log: &dyn Fn(&str),
) -> anyhow::Result<EraseFigures> {
    anyhow::ensure!(!ids.is_empty(), "W6 has no members to erase");
    let distinct: HashSet<&str> = ids.iter().map(SubjectId::as_str).collect();
    anyhow::ensure!(
        distinct.len() == ids.len(),
        "W6 was given {} ids of which only {} are distinct",
        ids.len(),
        distinct.len()
    );
    let dir = vault.dir();
    let sample = sample.clamp(1, ids.len());

    // The bytes to look for, read before erasing, on a connection of the
    // bench's own that is closed again before the first erasure.
    let (secrets, control) = {
        let conn = Connection::open_with_flags(
            dir.join(STORE_FILE),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut secrets = Vec::new();
        for k in 0..sample {
            let id = &ids[k * ids.len() / sample];
            secrets.extend(capture(&conn, id.as_str())?.ok_or_else(|| {
                anyhow::anyhow!("member `{}` to erase is not in the store", id.as_str())
            })?);
        }
        let control = control_member(&conn, &distinct)?;
        (secrets, control)
    };
    let keys = secrets.iter().filter(|n| n.kind == Kind::Key).count();
    let ciphertexts = secrets.len() - keys;
    let mut all = secrets;
    let control_index = control.map(|key| {
        all.push(key);
        all.len() - 1
    });
    let search = Search::new(&all);

    log(&format!(
        "W6: scanning the store for {keys} wrapped keys and {ciphertexts} ciphertexts of {sample} members before erasing them …"
    ));
    let scan_start = Instant::now();
    let before = search.scan(&store_files(dir)?)?;
    let mut scan = scan_start.elapsed();
    let found_before = before.total[..keys + ciphertexts]
        .iter()
        .filter(|&&n| n > 0)
        .count();

    log(&format!(
        "W6: erasing {} members one at a time …",
        ids.len()
    ));
    let mut samples = Vec::with_capacity(ids.len());
    let mut log_kept = 0;
    let start = Instant::now();
    for id in ids {
        let caller = vault.local_operator();
        let t0 = Instant::now();
        let erasure = vault
            .erase_subject(&caller, id)
            .map_err(|e| anyhow::anyhow!("the erasure of member `{}` failed: {e}", id.as_str()))?;
        samples.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if !erasure.log_purged {
            log_kept += 1;
        }
    }
    let first = Duration::from_nanos(samples.first().copied().unwrap_or(0));
    let run = Run::from_samples(samples, 0, None, start.elapsed());

    log("W6: scanning the store's files for the erased members' bytes …");
    let scan_start = Instant::now();
    let after = search.scan(&store_files(dir)?)?;
    scan += scan_start.elapsed();
    // The erased members' secrets are the first `keys + ciphertexts`; the
    // control's key, if any, comes after them.
    let erased = |kind: Kind| {
        all[..keys + ciphertexts]
            .iter()
            .zip(&after.total)
            .filter(move |(n, _)| n.kind == kind)
            .map(|(_, &hits)| hits)
    };
    let left = |kind: Kind| erased(kind).filter(|&n| n > 0).count();
    let hits = |kind: Kind| erased(kind).sum::<u64>();
    let files = after
        .files
        .iter()
        .map(|f| ScannedFile {
            name: f.name.clone(),
            bytes: f.bytes,
            hits: f.hits[..keys + ciphertexts].iter().sum(),
        })
        .collect();
    let check = ShredCheck {
        sampled: sample,
        keys,
        ciphertexts,
        found_before,
        keys_left: left(Kind::Key),
        ciphertexts_left: left(Kind::Ciphertext),
        key_hits: hits(Kind::Key),
        ciphertext_hits: hits(Kind::Ciphertext),
        control_found: control_index.map(|i| after.total[i] > 0),
        files,
        freelist_pages: freelist_pages(dir),
        scan,
    };
    let wal_bytes_before = before
        .files
        .iter()
        .filter(|f| f.name.ends_with("-wal"))
        .map(|f| f.bytes)
        .sum();
    Ok(EraseFigures {
        run,
        first,
        wal_bytes_before,
        log_kept,
        check,
    })
}

/// What a secret looked for is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A subject's wrapped data key: with it gone, every copy of the
    /// subject's ciphertexts anywhere is unreadable.
    Key,
    /// One of the subject's sealed field values.
    Ciphertext,
}

/// One byte string of a subject's to look for.
#[derive(Debug, Clone)]
struct Secret {
    kind: Kind,
    bytes: Vec<u8>,
}

/// The wrapped key and the ciphertexts of subject `id` as stored, or
/// `None` if it is not in the store.
fn capture(conn: &Connection, id: &str) -> anyhow::Result<Option<Vec<Secret>>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT wrapped_key, sealed FROM subjects WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((wrapped_key, sealed)) = row else {
        return Ok(None);
    };
    anyhow::ensure!(
        wrapped_key.len() >= MIN_SECRET,
        "the wrapped key of `{id}` is only {} bytes",
        wrapped_key.len()
    );
    let mut needles = vec![Secret {
        kind: Kind::Key,
        bytes: wrapped_key,
    }];
    needles.extend(
        field_values(&sealed)
            .map_err(|what| anyhow::anyhow!("the sealed fields of `{id}` are {what}"))?
            .into_iter()
            .filter(|v| v.len() >= MIN_SECRET)
            .map(|bytes| Secret {
                kind: Kind::Ciphertext,
                bytes,
            }),
    );
    Ok(Some(needles))
}

/// The wrapped key of a member that is not among `erased`, if there is one.
fn control_member(conn: &Connection, erased: &HashSet<&str>) -> anyhow::Result<Option<Secret>> {
    let mut stmt = conn.prepare("SELECT id, wrapped_key FROM subjects ORDER BY id LIMIT ?1")?;
    let rows = stmt.query_map([CONTROL_CANDIDATES as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    for row in rows {
        let (id, wrapped_key) = row?;
        if !erased.contains(id.as_str()) && wrapped_key.len() >= MIN_SECRET {
            return Ok(Some(Secret {
                kind: Kind::Key,
                bytes: wrapped_key,
            }));
        }
    }
    Ok(None)
}

/// The values of a stored field map: a version byte (1), then per field a
/// 1-byte name length, the name, a 4-byte little-endian value length and
/// the value. Read here rather than through the store, whose codec is
/// private, so that the check depends only on the bytes on disk.
fn field_values(bytes: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let Some((&1, mut rest)) = bytes.split_first() else {
        return Err("not a field map of version 1");
    };
    let mut values = Vec::new();
    while let Some((&name_len, tail)) = rest.split_first() {
        let tail = tail.get(usize::from(name_len)..).ok_or("truncated")?;
        let (len, tail) = tail.split_first_chunk::<4>().ok_or("truncated")?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| "too long")?;
        let value = tail.get(..len).ok_or("truncated")?;
        values.push(value.to_vec());
        rest = &tail[len..];
    }
    Ok(values)
}

/// The store's live files in `dir`: the database and whichever of its
/// WAL, shared-memory index and rollback journal exist.
fn store_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(STORE_FILE) && entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The database's free pages, from a connection of the bench's own.
fn freelist_pages(dir: &Path) -> Option<u64> {
    let conn =
        Connection::open_with_flags(dir.join(STORE_FILE), OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))
        .ok()
        .and_then(|n| u64::try_from(n).ok())
}

/// The secrets cut into pieces for the scanner, with the secret each
/// piece is of.
#[derive(Debug)]
struct Search<'a> {
    scanner: Scanner<'a>,
    owner: Vec<usize>,
    secrets: usize,
}

/// Occurrences of the pieces of each secret, in all files and in each.
#[derive(Debug)]
struct Found {
    total: Vec<u64>,
    files: Vec<FileFound>,
}

#[derive(Debug)]
struct FileFound {
    name: String,
    bytes: u64,
    /// Occurrences of the pieces of secret `i` at index `i`.
    hits: Vec<u64>,
}

impl<'a> Search<'a> {
    fn new(secrets: &'a [Secret]) -> Self {
        let mut owner = Vec::new();
        let mut all = Vec::new();
        for (i, secret) in secrets.iter().enumerate() {
            for piece in pieces(&secret.bytes) {
                owner.push(i);
                all.push(piece);
            }
        }
        Self {
            scanner: Scanner::new(all.into_iter(), CHUNK),
            owner,
            secrets: secrets.len(),
        }
    }

    fn scan(&self, paths: &[PathBuf]) -> anyhow::Result<Found> {
        let files: Vec<FileFound> = self
            .scanner
            .scan_files(paths)?
            .files
            .into_iter()
            .map(|f| FileFound {
                hits: self.by_secret(&f.counts),
                name: f.name,
                bytes: f.bytes,
            })
            .collect();
        let total = (0..self.secrets)
            .map(|i| files.iter().map(|f| f.hits[i]).sum())
            .collect();
        Ok(Found { total, files })
    }

    fn by_secret(&self, counts: &[u64]) -> Vec<u64> {
        let mut hits = vec![0; self.secrets];
        for (&owner, &n) in self.owner.iter().zip(counts) {
            hits[owner] += n;
        }
        hits
    }
}

/// `bytes` in pieces of `PIECE` bytes, the last one ending where `bytes`
/// does (overlapping the one before); shorter bytes are one piece.
fn pieces(bytes: &[u8]) -> Vec<&[u8]> {
    let n = bytes.len();
    if n <= PIECE {
        return vec![bytes];
    }
    (0..n - PIECE)
        .step_by(PIECE)
        .chain(std::iter::once(n - PIECE))
        .map(|start| &bytes[start..start + PIECE])
        .collect()
}

/// Looks for many byte strings at once in files read chunk by chunk.
///
/// At each position the 8 bytes there are hashed into a bitmap of the
/// needles' first 8 bytes; only on a hit are the needles with that prefix
/// compared. A chunk keeps the last `longest - 1` bytes of the one before,
/// so that a string straddling two chunks is found, and each position is
/// looked at exactly once.
#[derive(Debug)]
struct Scanner<'a> {
    needles: Vec<&'a [u8]>,
    by_prefix: HashMap<u64, Vec<usize>>,
    filter: Vec<u64>,
    longest: usize,
    chunk: usize,
}

/// Occurrences of each needle in each file.
#[derive(Debug)]
struct Scan {
    files: Vec<FileScan>,
}

#[derive(Debug)]
struct FileScan {
    name: String,
    bytes: u64,
    /// Occurrences of needle `i` at index `i`.
    counts: Vec<u64>,
}

impl<'a> Scanner<'a> {
    /// A scanner for `needles`, each at least 8 bytes long (shorter ones
    /// are never found), reading `chunk` bytes at a time.
    fn new(needles: impl Iterator<Item = &'a [u8]>, chunk: usize) -> Self {
        let needles: Vec<&[u8]> = needles.collect();
        let mut by_prefix: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut filter = vec![0u64; (1usize << FILTER_BITS) / 64];
        for (i, needle) in needles.iter().enumerate() {
            if let Some(prefix) = prefix(needle) {
                by_prefix.entry(prefix).or_default().push(i);
                let bit = filter_bit(prefix);
                filter[bit / 64] |= 1 << (bit % 64);
            }
        }
        let longest = needles.iter().map(|n| n.len()).max().unwrap_or(8).max(8);
        Self {
            needles,
            by_prefix,
            filter,
            longest,
            chunk: chunk.max(longest),
        }
    }

    fn scan_files(&self, paths: &[PathBuf]) -> anyhow::Result<Scan> {
        let files = paths
            .iter()
            .map(|path| {
                let mut counts = vec![0; self.needles.len()];
                let bytes = self
                    .scan_file(path, &mut counts)
                    .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", path.display()))?;
                let name = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                Ok(FileScan {
                    name,
                    bytes,
                    counts,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Scan { files })
    }

    /// Adds the occurrences of each needle in the file at `path` to
    /// `counts`, and returns the bytes read. A file that has gone away
    /// (a journal, between listing and reading) has none.
    fn scan_file(&self, path: &Path, counts: &mut [u64]) -> std::io::Result<u64> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; self.chunk + self.longest];
        let mut carried = 0;
        let mut total = 0u64;
        loop {
            let read = fill(&mut file, &mut buf[carried..carried + self.chunk])?;
            total += read as u64;
            let len = carried + read;
            let end = read < self.chunk;
            // Positions with the longest needle's length still ahead, or
            // every position at the end of the file.
            let scan_to = if end { len } else { len - (self.longest - 1) };
            self.scan(&buf[..len], scan_to, counts);
            if end {
                return Ok(total);
            }
            buf.copy_within(scan_to..len, 0);
            carried = len - scan_to;
        }
    }

    /// Counts the needles starting at positions `0..scan_to` of `data`.
    fn scan(&self, data: &[u8], scan_to: usize, counts: &mut [u64]) {
        for (at, window) in data.windows(8).take(scan_to).enumerate() {
            let Some(prefix) = prefix(window) else {
                continue;
            };
            let bit = filter_bit(prefix);
            if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
                continue;
            }
            for &i in self.by_prefix.get(&prefix).map_or(&[][..], Vec::as_slice) {
                if data[at..].starts_with(self.needles[i]) {
                    counts[i] += 1;
                }
            }
        }
    }
}

fn prefix(bytes: &[u8]) -> Option<u64> {
    bytes.first_chunk::<8>().map(|b| u64::from_le_bytes(*b))
}

fn filter_bit(prefix: u64) -> usize {
    (prefix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
}

/// Reads into `buf` until it is full or the file ends; the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use custos_synth::Generator;

    use super::*;

    fn member_ids(range: std::ops::Range<u64>) -> Vec<SubjectId> {
        let generator = Generator::new(1);
        range
            .map(|i| SubjectId::parse(generator.member(i).id()).unwrap())
            .collect()
    }

    fn counts_in(scanner: &Scanner<'_>, data: &[u8]) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, data).unwrap();
        let mut counts = vec![0; scanner.needles.len()];
        let read = scanner.scan_file(&path, &mut counts).unwrap();
        assert_eq!(read, data.len() as u64);
        counts
    }

    /// Occurrences of `needle` in `data`, overlapping ones included.
    fn naive(data: &[u8], needle: &[u8]) -> u64 {
        data.windows(needle.len()).filter(|w| *w == needle).count() as u64
    }

    #[test]
    fn the_scan_counts_like_a_naive_search_across_chunks() {
        // Pseudo-random bytes with the needles planted, some across the
        // boundaries of the 64-byte chunks and one overlapping itself.
        let mut state = 7u64;
        let mut data: Vec<u8> = (0..5_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        let a: Vec<u8> = (0..40).map(|i| i * 3).collect();
        let b: Vec<u8> = b"abcdefghabcdefghabcdefgh".to_vec();
        let c: Vec<u8> = b"abcdefghabcdefgh".to_vec();
        let absent: Vec<u8> = (0..20).map(|i| 200 - i).collect();
        for at in [0, 60, 127, 190, 1_000, 4_960] {
            data[at..at + a.len()].copy_from_slice(&a);
        }
        data[3_000..3_000 + b.len()].copy_from_slice(&b);
        let needles = [a.as_slice(), b.as_slice(), c.as_slice(), absent.as_slice()];
        let scanner = Scanner::new(needles.iter().copied(), 64);
        let counts = counts_in(&scanner, &data);
        let expected: Vec<u64> = needles.iter().map(|n| naive(&data, n)).collect();
        assert_eq!(counts, expected);
        assert_eq!(counts[0], 6);
        assert_eq!(counts[2], 2, "overlapping occurrences");
        assert_eq!(counts[3], 0);
        // A needle at the very end of a file, and a file shorter than it.
        assert_eq!(counts_in(&scanner, &a), [1, 0, 0, 0]);
        assert_eq!(counts_in(&scanner, &a[..10]), [0, 0, 0, 0]);
    }

    #[test]
    fn secrets_are_cut_into_overlapping_pieces_that_cover_them() {
        let bytes: Vec<u8> = (0..72).collect();
        let cut = pieces(&bytes);
        let starts: Vec<u8> = cut.iter().map(|p| p[0]).collect();
        assert_eq!(starts, [0, 32, 40]);
        assert!(cut.iter().all(|p| p.len() == PIECE));
        assert_eq!(pieces(&bytes[..64]).len(), 2);
        assert_eq!(pieces(&bytes[..20]), [&bytes[..20]]);
        // A secret split by a page header is still found by its pieces.
        let mut file = bytes[..50].to_vec();
        file.extend_from_slice(&[0, 0, 0, 7]);
        file.extend_from_slice(&bytes[50..]);
        let secret = [Secret {
            kind: Kind::Ciphertext,
            bytes: bytes.clone(),
        }];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split");
        std::fs::write(&path, &file).unwrap();
        let found = Search::new(&secret).scan(&[path]).unwrap();
        assert_eq!(found.total, [1]);
    }

    #[test]
    fn field_maps_are_read_and_bad_ones_refused() {
        let mut map = vec![1u8];
        for (name, value) in [("email", &b"0123456789abcdefXYZ"[..]), ("town", b"")] {
            map.push(name.len() as u8);
            map.extend_from_slice(name.as_bytes());
            map.extend_from_slice(&(value.len() as u32).to_le_bytes());
            map.extend_from_slice(value);
        }
        assert_eq!(
            field_values(&map).unwrap(),
            [b"0123456789abcdefXYZ".to_vec(), Vec::new()]
        );
        assert!(field_values(&map[..map.len() - 3]).is_err());
        assert!(field_values(&[2]).is_err());
        assert!(field_values(&[]).is_err());
    }

    #[test]
    fn erased_members_leave_no_key_bytes_and_a_kept_member_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let (_, init) = crate::import::run(dir.path(), 300, 1, &|_| {}).unwrap();
        let vault = &init.vault;
        let ids = member_ids(100..140);

        // Negative control, by hand: the bytes of a member that is not
        // erased are found after the erasure, so the check can fail.
        let kept = {
            let conn = Connection::open(vault.dir().join(STORE_FILE)).unwrap();
            capture(&conn, member_ids(0..1)[0].as_str())
                .unwrap()
                .unwrap()
        };
        assert!(kept.len() > 5, "a wrapped key and its ciphertexts");

        let figures = run(vault, &ids, DEFAULT_SAMPLE, &|_| {}).unwrap();
        let c = &figures.check;
        assert_eq!(figures.run.ops, 40);
        assert_eq!(figures.log_kept, 0);
        assert_eq!((c.sampled, c.keys), (DEFAULT_SAMPLE, DEFAULT_SAMPLE));
        assert!(
            c.ciphertexts >= DEFAULT_SAMPLE * 10,
            "{} ciphertexts",
            c.ciphertexts
        );
        assert_eq!(c.found_before, c.keys + c.ciphertexts);
        assert_eq!((c.keys_left, c.ciphertexts_left), (0, 0));
        assert_eq!((c.key_hits, c.ciphertext_hits), (0, 0));
        assert_eq!(c.control_found, Some(true));
        assert!(c.pass(), "{}", figures.summary());
        assert!(
            c.files
                .iter()
                .any(|f| f.name == "store.sqlite" && f.bytes > 0)
        );
        assert_eq!(figures.json()["shred"]["key_hits"], 0);
        let summary = figures.summary();
        assert!(summary.contains("0/32 wrapped keys"), "{summary}");
        assert!(
            summary.contains("all found before; control found"),
            "{summary}"
        );

        let found = Search::new(&kept)
            .scan(&store_files(vault.dir()).unwrap())
            .unwrap();
        for (i, &n) in found.total.iter().enumerate() {
            assert!(n > 0, "secret {i} of the kept member not found");
        }

        // Erasing them again fails: they are gone.
        let err = run(vault, &ids[..1], 1, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("is not in the store"), "{err}");
    }

    #[test]
    fn a_delete_without_secure_delete_and_checkpoint_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let (_, init) = crate::import::run(dir.path(), 200, 1, &|_| {}).unwrap();
        let vault = &init.vault;
        let id = &member_ids(50..51)[0];
        let conn = Connection::open(vault.dir().join(STORE_FILE)).unwrap();
        let needles = capture(&conn, id.as_str()).unwrap().unwrap();
        // A plain delete: SQLite leaves the cell in the page's free space.
        conn.execute_batch("PRAGMA secure_delete = OFF").unwrap();
        conn.execute("DELETE FROM subjects WHERE id = ?1", [id.as_str()])
            .unwrap();
        assert!(capture(&conn, id.as_str()).unwrap().is_none());
        let found = Search::new(&needles)
            .scan(&store_files(vault.dir()).unwrap())
            .unwrap();
        assert_eq!(needles[0].kind, Kind::Key);
        assert!(
            found.total[0] > 0,
            "the wrapped key of a plainly deleted row"
        );
    }

    #[test]
    fn repeated_or_unknown_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, init) = crate::import::run(dir.path(), 20, 1, &|_| {}).unwrap();
        let twice = [member_ids(3..4), member_ids(3..4)].concat();
        let err = run(&init.vault, &twice, 1, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("distinct"), "{err}");
        let err = run(&init.vault, &[], 1, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("no members"), "{err}");
        let unknown = member_ids(1_000..1_001);
        let err = run(&init.vault, &unknown, 1, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("is not in the store"), "{err}");
    }
}
