//! The deletion journal: before each deletion, one JSON line with the repository, tag,
//! digest and the manifest bytes, written and flushed to disk. `wharf cleanup restore`
//! reads it back and re-tags what is still restorable (the registry still holds the
//! manifest's blobs until its garbage collection runs).

use base64::Engine as _;
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::spec::digest::Digest;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub time: chrono::DateTime<chrono::Utc>,
    pub repository: String,
    pub tag: String,
    pub digest: Digest,
    pub media_type: String,
    /// The manifest, base64.
    pub manifest: String,
    /// The static root the repository is in (its path, or `s3://…`); none for a registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_root: Option<String>,
}

impl Line {
    pub fn manifest_bytes(&self) -> Result<Vec<u8>, String> {
        base64::engine::general_purpose::STANDARD.decode(&self.manifest).map_err(|e| e.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("journal {path}: {message}")]
pub struct JournalError {
    pub path: PathBuf,
    pub message: String,
}

/// An open journal, appended to and synced line by line.
pub struct Journal {
    path: PathBuf,
    file: std::sync::Mutex<fs::File>,
    static_root: Option<String>,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let err = |e: std::io::Error| JournalError { path: path.to_path_buf(), message: e.to_string() };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(err)?;
        }
        let file = fs::File::options().create(true).append(true).open(path).map_err(err)?;
        Ok(Journal { path: path.to_path_buf(), file: std::sync::Mutex::new(file), static_root: None })
    }

    /// Lines name `root` as the static root their repositories are in.
    pub fn in_static_root(mut self, root: Option<String>) -> Journal {
        self.static_root = root;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` and waits until it is on disk.
    pub fn record(
        &self,
        repository: &str,
        tag: &str,
        digest: &Digest,
        media_type: &str,
        manifest: &[u8],
    ) -> Result<(), JournalError> {
        let line = Line {
            time: chrono::Utc::now(),
            repository: repository.to_string(),
            tag: tag.to_string(),
            digest: digest.clone(),
            media_type: media_type.to_string(),
            manifest: base64::engine::general_purpose::STANDARD.encode(manifest),
            static_root: self.static_root.clone(),
        };
        let err = |e: std::io::Error| JournalError { path: self.path.clone(), message: e.to_string() };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| JournalError { path: self.path.clone(), message: e.to_string() })?;
        text.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_data().map_err(err)
    }
}

/// Every line of a journal; a torn last line (a run killed mid-write) is skipped.
pub fn read(path: &Path) -> Result<Vec<Line>, JournalError> {
    let err = |message: String| JournalError { path: path.to_path_buf(), message };
    let file = fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    let lines: Vec<String> =
        std::io::BufReader::new(file).lines().collect::<Result<_, _>>().map_err(|e| err(e.to_string()))?;
    let count = lines.len();
    for (n, text) in lines.into_iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&text) {
            Ok(l) => out.push(l),
            Err(_) if n + 1 == count => {}
            Err(e) => return Err(err(format!("line {}: {e}", n + 1))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/journal.jsonl");
        let j = Journal::open(&path).unwrap();
        j.record("r/a", "v1", &Digest::of(b"m"), "application/x", b"m").unwrap();
        j.record("r/a", "v2", &Digest::of(b"n"), "application/x", b"n").unwrap();
        let mut f = fs::File::options().append(true).open(&path).unwrap();
        f.write_all(b"{\"time\": \"20").unwrap();
        let lines = read(&path).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].tag, "v2");
        assert_eq!(lines[0].manifest_bytes().unwrap(), b"m");
    }
}
