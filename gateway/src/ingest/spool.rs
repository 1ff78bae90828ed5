//! The disk spool: batches accepted while Postgres is unreachable, one fsync'd file per
//! batch, named by a sequence number so they replay in the order they were accepted.
//!
//! A file appears under its final name only after its bytes are on disk (write a
//! temporary file, fsync it, rename, fsync the directory), so a crash leaves either a
//! whole batch or none. A batch is acknowledged once its file is durable; the replayer
//! deletes the file only after the batch's COMMIT, and a replay of a batch that did
//! commit (crash between COMMIT and delete) is recognised by its batch id in Postgres.
//!
//! One gateway process owns a spool directory: an exclusive lock on `LOCK` refuses a
//! second one, whose replays would otherwise race the first's.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::encoded::{DecodeError, EncodedBatch};

const SUFFIX: &str = ".batch";
const TMP_PREFIX: &str = "tmp-";
/// Files that failed to decode, and the single rows of a batch Postgres refused for
/// their data, are moved here for an operator to inspect, instead of blocking the
/// replay of later batches. A row's file is a spool file of one row, named after its
/// batch's file and its row (`<seq>-<row>.batch`).
const FAILED_DIR: &str = "failed";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full ({bytes} bytes of at most {limit})")]
    Full { bytes: u64, limit: u64 },
    #[error("spool I/O: {0}")]
    Io(#[from] io::Error),
    #[error("spool file {path}: {source}")]
    Corrupt { path: PathBuf, source: DecodeError },
}

/// A spooled batch, by sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub bytes: u64,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    /// Held for the process's lifetime: the OS releases the lock when it exits, even on kill -9.
    _lock: File,
}

struct State {
    entries: VecDeque<Entry>,
    next_seq: u64,
    bytes: u64,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, locks it, drops half-written temporary files
    /// and lists the batches waiting for replay.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir.join(FAILED_DIR))?;
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(io::ErrorKind::WouldBlock, format!("spool directory {} is in use by another gateway", dir.display()))
        })?;
        let mut entries = Vec::new();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                fs::remove_file(item.path())?;
            } else if let Some(seq) = name.strip_suffix(SUFFIX).and_then(|s| s.parse::<u64>().ok()) {
                entries.push(Entry { seq, bytes: item.metadata()?.len() });
            }
        }
        entries.sort_by_key(|e| e.seq);
        let next_seq = entries.last().map_or(0, |e| e.seq + 1);
        let bytes = entries.iter().map(|e| e.bytes).sum();
        let state = State { entries: entries.into(), next_seq, bytes };
        Ok(Spool { dir: dir.to_path_buf(), max_bytes, state: Mutex::new(state), _lock: lock })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("spool state poisoned")
    }

    pub fn is_empty(&self) -> bool {
        self.state().entries.is_empty()
    }

    /// Batches and bytes waiting for replay.
    pub fn size(&self) -> (usize, u64) {
        let s = self.state();
        (s.entries.len(), s.bytes)
    }

    /// Writes `batch` durably behind every batch already spooled. Blocking I/O.
    pub fn append(&self, batch: &EncodedBatch) -> Result<Entry, SpoolError> {
        let bytes = batch.to_file();
        let seq = {
            let mut s = self.state();
            if s.bytes + bytes.len() as u64 > self.max_bytes {
                return Err(SpoolError::Full { bytes: s.bytes, limit: self.max_bytes });
            }
            s.next_seq += 1;
            s.next_seq - 1
        };
        let tmp = self.dir.join(format!("{TMP_PREFIX}{seq:020}"));
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, self.path(seq))?;
        File::open(&self.dir)?.sync_all()?;
        let entry = Entry { seq, bytes: bytes.len() as u64 };
        let mut s = self.state();
        // The writer is the only appender, so sequence order is append order.
        s.entries.push_back(entry);
        s.bytes += entry.bytes;
        Ok(entry)
    }

    /// How long the oldest batch has been in the spool, from its file's modification
    /// time (the spool keeps no clock of its own, and a restart keeps the files).
    pub fn oldest_age(&self) -> Option<std::time::Duration> {
        let entry = self.oldest()?;
        fs::metadata(self.path(entry.seq)).and_then(|m| m.modified()).ok()?.elapsed().ok()
    }

    /// The oldest spooled batch, if any.
    pub fn oldest(&self) -> Option<Entry> {
        self.state().entries.front().copied()
    }

    /// Reads a spooled batch. Blocking I/O.
    pub fn read(&self, entry: Entry) -> Result<EncodedBatch, SpoolError> {
        let path = self.path(entry.seq);
        let bytes = fs::read(&path)?;
        EncodedBatch::from_file(&bytes).map_err(|source| SpoolError::Corrupt { path, source })
    }

    /// Deletes the oldest batch once it is committed. Blocking I/O.
    pub fn remove(&self, entry: Entry) -> Result<(), SpoolError> {
        fs::remove_file(self.path(entry.seq))?;
        self.forget(entry);
        Ok(())
    }

    /// Moves a batch that cannot be stored aside, so later batches replay. Blocking I/O.
    pub fn quarantine(&self, entry: Entry) -> Result<PathBuf, SpoolError> {
        let to = self.dir.join(FAILED_DIR).join(format!("{:020}{SUFFIX}", entry.seq));
        fs::rename(self.path(entry.seq), &to)?;
        self.forget(entry);
        Ok(to)
    }

    /// Writes `row`, the rows of `entry` starting at row `first` that Postgres refused,
    /// durably into the failed directory; the batch itself stays for the replayer to
    /// remove once its other rows are stored. Blocking I/O.
    pub fn set_aside(&self, entry: Entry, first: usize, row: &EncodedBatch) -> Result<PathBuf, SpoolError> {
        let failed = self.dir.join(FAILED_DIR);
        let name = format!("{:020}-{first}{SUFFIX}", entry.seq);
        let tmp = failed.join(format!("{TMP_PREFIX}{name}"));
        let mut file = File::create(&tmp)?;
        file.write_all(&row.to_file())?;
        file.sync_all()?;
        let to = failed.join(name);
        fs::rename(&tmp, &to)?;
        File::open(&failed)?.sync_all()?;
        Ok(to)
    }

    fn forget(&self, entry: Entry) {
        let mut s = self.state();
        if s.entries.front() == Some(&entry) {
            s.entries.pop_front();
            s.bytes -= entry.bytes;
        }
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}{SUFFIX}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::encoded::Pending;
    use tally_core::event::Event;

    fn batch(n: usize) -> EncodedBatch {
        let events: Vec<Pending> = (0..n)
            .map(|i| Pending { event: Event { site_id: 1, ts: i as i64, name: "x".into(), ..Event::default() }, event_id: None })
            .collect();
        EncodedBatch::encode(events.iter().map(|p| (&p.event, None)))
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tally-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn batches_survive_a_reopen_in_order() {
        let dir = temp_dir("order");
        let (a, b) = (batch(2), batch(3));
        {
            let spool = Spool::open(&dir, u64::MAX).unwrap();
            spool.append(&a).unwrap();
            spool.append(&b).unwrap();
            File::create(dir.join(format!("{TMP_PREFIX}00000000000000000009"))).unwrap();
        }
        let spool = Spool::open(&dir, u64::MAX).unwrap();
        assert_eq!(spool.size().0, 2);
        let first = spool.oldest().unwrap();
        assert_eq!(spool.read(first).unwrap(), a);
        spool.remove(first).unwrap();
        let second = spool.oldest().unwrap();
        assert_eq!(spool.read(second).unwrap(), b);
        spool.set_aside(second, 1, &b.rows_in(1..2)).unwrap();
        let aside = fs::read(dir.join(FAILED_DIR).join(format!("{:020}-1{SUFFIX}", second.seq))).unwrap();
        assert_eq!(EncodedBatch::from_file(&aside).unwrap(), b.rows_in(1..2));
        assert_eq!(spool.oldest(), Some(second), "the batch stays until the replayer removes it");
        spool.quarantine(second).unwrap();
        assert!(spool.is_empty());
        assert!(!dir.join(format!("{TMP_PREFIX}00000000000000000009")).exists(), "half-written files are dropped");
        // New batches continue the sequence.
        assert!(spool.append(&a).unwrap().seq > second.seq);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_process_per_directory_and_bounded_size() {
        let dir = temp_dir("lock");
        let spool = Spool::open(&dir, 1).unwrap();
        assert!(Spool::open(&dir, 1).is_err(), "a second owner is refused");
        assert!(matches!(spool.append(&batch(1)), Err(SpoolError::Full { .. })));
        drop(spool);
        fs::remove_dir_all(&dir).unwrap();
    }
}
