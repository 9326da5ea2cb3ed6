//! The dump directory: safe names, files that never overwrite each other, listing, download.

use super::format::DumpFormat;
use ctx_store::Timestamp;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Dump records kept for `GET /ctx/dump/list`, as Framework0 did.
const REMEMBERED_DUMPS: usize = 10;
/// Longest file name most file systems accept.
const MAX_NAME_BYTES: usize = 255;

pub struct DumpDir {
    root: PathBuf,
    recent: Mutex<VecDeque<DumpInfo>>,
}

/// What `POST /ctx/dump` answers and `GET /ctx/dump/list` remembers.
#[derive(Clone, Debug, Serialize)]
pub struct DumpInfo {
    pub filename: String,
    pub format: DumpFormat,
    pub path: String,
    pub key_count: usize,
    pub file_size: u64,
    pub timestamp: Timestamp,
    pub who: String,
    pub revision: u64,
}

#[derive(Serialize)]
pub struct DumpFile {
    pub filename: String,
    pub path: String,
    pub size: u64,
    pub created: Option<String>,
    pub modified: Option<String>,
}

#[derive(Serialize)]
pub struct DumpListing {
    pub dump_directory: String,
    pub dump_count: usize,
    pub dump_files: Vec<DumpFile>,
    pub dump_history: Vec<DumpInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{0}")]
    BadName(String),
    #[error("no dump named {0}")]
    NotFound(String),
    #[error("dump I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Refuses anything that could name a file outside the dump directory or confuse a
/// terminal: separators, `..`, control characters.
pub fn check_name(name: &str) -> Result<(), DumpError> {
    let bad = |why: &str| {
        Err(DumpError::BadName(format!(
            "invalid dump file name {name:?}: {why}"
        )))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("it is longer than 255 bytes");
    }
    if name.contains(['/', '\\']) {
        return bad("it contains a path separator");
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    Ok(())
}

fn iso(time: std::io::Result<std::time::SystemTime>) -> Option<String> {
    time.ok().map(|t| {
        chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

impl DumpDir {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            recent: Mutex::new(VecDeque::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The name a dump gets: the one asked for (checked, extension appended unless
    /// present) or `context_dump_YYYYmmdd_HHMMSS.<format>`.
    pub fn choose_name(
        requested: Option<&str>,
        format: DumpFormat,
        now: Timestamp,
    ) -> Result<String, DumpError> {
        let ext = format!(".{}", format.extension());
        let name = match requested {
            Some(name) => {
                check_name(name)?;
                if name.ends_with(&ext) {
                    name.to_owned()
                } else {
                    format!("{name}{ext}")
                }
            }
            None => format!(
                "context_dump_{}{ext}",
                now.to_datetime().format("%Y%m%d_%H%M%S")
            ),
        };
        check_name(&name)?;
        Ok(name)
    }

    /// Creates a new file for `name`; when the name is taken, `stem_1.ext`, `stem_2.ext`, …
    /// (the answer carries the name used). `create_new` makes the claim atomic, so two
    /// dumps in the same second never overwrite each other.
    fn create_unique(&self, name: &str) -> Result<(String, File), DumpError> {
        std::fs::create_dir_all(&self.root)?;
        let (stem, ext) = match name.rfind('.') {
            Some(dot) if dot > 0 => name.split_at(dot),
            _ => (name, ""),
        };
        for n in 0u32.. {
            let candidate = if n == 0 {
                name.to_owned()
            } else {
                format!("{stem}_{n}{ext}")
            };
            // A taken name near the limit: the numbered variant would be refused by the
            // file system (ENAMETOOLONG, a 500) — say so as the bad name it is.
            if candidate.len() > MAX_NAME_BYTES {
                return Err(DumpError::BadName(format!(
                    "invalid dump file name {name:?}: it is taken, and a numbered variant \
                     would be longer than {MAX_NAME_BYTES} bytes"
                )));
            }
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.root.join(&candidate))
            {
                Ok(file) => return Ok((candidate, file)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && n < 10_000 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns or fails within 10 000 tries")
    }

    /// Writes `render(final_name)` to a fresh file and remembers the dump. Blocking I/O:
    /// call from a blocking task.
    pub fn write(
        &self,
        name: &str,
        render: impl FnOnce(&str) -> Vec<u8>,
        mut info: DumpInfo,
    ) -> Result<DumpInfo, DumpError> {
        let (filename, mut file) = self.create_unique(name)?;
        let bytes = render(&filename);
        let path = self.root.join(&filename);
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        info.file_size = bytes.len() as u64;
        info.path = path.display().to_string();
        info.filename = filename;
        let mut recent = self.recent.lock();
        recent.push_back(info.clone());
        if recent.len() > REMEMBERED_DUMPS {
            recent.pop_front();
        }
        Ok(info)
    }

    pub fn list(&self) -> Result<DumpListing, DumpError> {
        let mut files = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries.collect::<Result<Vec<_>, _>>()?,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().ok();
            files.push((
                modified,
                DumpFile {
                    filename: entry.file_name().to_string_lossy().into_owned(),
                    path: entry.path().display().to_string(),
                    size: meta.len(),
                    created: iso(meta.created()),
                    modified: iso(meta.modified()),
                },
            ));
        }
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.filename.cmp(&a.1.filename)));
        let dump_files: Vec<DumpFile> = files.into_iter().map(|(_, f)| f).collect();
        Ok(DumpListing {
            dump_directory: self.root.display().to_string(),
            dump_count: dump_files.len(),
            dump_files,
            dump_history: self.recent.lock().iter().cloned().collect(),
        })
    }

    /// The bytes of dump `name` and its content type.
    pub fn read(&self, name: &str) -> Result<(Vec<u8>, &'static str), DumpError> {
        check_name(name)?;
        let bytes = match std::fs::read(self.root.join(name)) {
            Ok(bytes) => bytes,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => {
                return Err(DumpError::NotFound(name.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        match name.rsplit('.').next() {
            // Framework0 served a CSV by reading it back in text mode, so its rows arrived
            // with `\n` line ends (universal newlines); old downloaders expect that.
            Some("csv") => Ok((universal_newlines(bytes), "text/csv; charset=utf-8")),
            Some("txt") | Some("pretty") => Ok((bytes, "text/plain; charset=utf-8")),
            _ => Ok((bytes, "application/json")),
        }
    }
}

/// Python's text-mode reading: `\r\n` and a lone `\r` both become `\n`.
fn universal_newlines(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut after_cr = false;
    for byte in bytes {
        match byte {
            b'\r' => out.push(b'\n'),
            b'\n' if after_cr => {}
            other => out.push(other),
        }
        after_cr = byte == b'\r';
    }
    out
}
