//! Atomic file writes: a reader never sees a half-written file, even after
//! a crash.

use std::io;
use std::path::Path;

/// Writes `bytes` to a temporary file beside `path` and renames it into
/// place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for content produced piece by piece: `fill` writes into
/// a buffered temporary file beside `path`, which is synced and renamed into
/// place only if `fill` succeeds (and removed otherwise). Large outputs such
/// as WAV files then never need the whole file in memory.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    remove_stale_temps(dir);
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        fill(&mut f)?;
        f.flush()?;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The process id in one of our temporary names (`.NAME.tmp-PID`).
fn temp_owner(name: &str) -> Option<u32> {
    let (stem, pid) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    if stem.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Removes temporary files of our own naming in `dir` whose process is
/// gone: a write killed midway (`kill -9` during a render or training
/// checkpoint) leaves one behind, up to tens of MB, and nothing else would
/// ever remove it. Only where `/proc` tells which processes live (Linux);
/// a live process's, or our own, are never touched. (Writers in another PID
/// namespace sharing the folder would look dead: lofi does not share output
/// folders across containers.)
fn remove_stale_temps(dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid != me && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_neither_file_nor_temp() {
        let dir = std::env::temp_dir().join(format!("lofi-core-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.bin");
        let err = write_atomic_with(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        write_atomic(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_killed_writers_temp_file_goes_at_the_next_write_and_live_ones_stay() {
        let dir = std::env::temp_dir().join(format!("lofi-core-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // PIDs above the kernel's limit (2^22) never belong to a process.
        let stale = dir.join(".track.wav.tmp-4194999");
        let ours = dir.join(format!(".other.wav.tmp-{}", std::process::id()));
        let foreign = dir.join("notes.tmp-4194999");
        for f in [&stale, &ours, &foreign] {
            std::fs::write(f, b"x").unwrap();
        }
        write_atomic(&dir.join("a.json"), b"{}").unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists(), "a dead writer's temp file is removed");
        }
        assert!(ours.exists(), "this process's other writes are left alone");
        assert!(foreign.exists(), "files of other naming are left alone");
        assert_eq!(temp_owner(".x.tmp-12"), Some(12));
        assert_eq!(temp_owner(".tmp-12"), None);
        assert_eq!(temp_owner(".x.tmp-abc"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
