//! Reading user-given text files with a size limit, and telling what a path is when it is
//! not a regular file.

use std::io::Read as _;
use std::path::Path;

/// The largest scenario file read, bytes (16 MiB).
pub const MAX_SCENARIO_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What `path` is when it is not a regular file (`a directory`, `a device, FIFO or
/// socket`), or `None` for a regular file or a path that does not exist.
pub fn not_a_regular_file(path: &Path) -> Option<&'static str> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        None
    } else if meta.is_dir() {
        Some("a directory")
    } else {
        Some("a device, FIFO or socket, not a regular file")
    }
}

/// Reads a regular UTF-8 text file of at most `limit` bytes. Anything else (a directory, a
/// device such as `/dev/zero`, a larger file, bytes that are not UTF-8) is an error whose
/// message says which, so a wrong path never reads until memory runs out.
pub fn read_text_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    if let Some(what) = not_a_regular_file(path) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{} is {what}; give a JSON file", path.display()),
        ));
    }
    let too_large = || {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} is larger than the {limit} bytes ({} MiB) allowed",
                path.display(),
                limit / (1024 * 1024)
            ),
        )
    };
    let file = std::fs::File::open(path)
        .map_err(|e| Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    // Refused by its size before reading a byte (a 1 GB sparse file is not read).
    if file.metadata().is_ok_and(|m| m.len() > limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} is not UTF-8 text (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_text_limited(dir.path(), 10).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        #[cfg(unix)]
        {
            let e = read_text_limited(Path::new("/dev/zero"), 1024)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/dev/zero") && e.contains("not a regular file"),
                "{e}"
            );
        }
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 11]).unwrap();
        let e = read_text_limited(&big, 10).unwrap_err().to_string();
        assert!(e.contains("big.json") && e.contains("10 bytes"), "{e}");
        std::fs::write(&big, vec![b' '; 10]).unwrap();
        assert_eq!(read_text_limited(&big, 10).unwrap().len(), 10);
        std::fs::write(&big, [0xff, 0xfe]).unwrap();
        let e = read_text_limited(&big, 10).unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
        let e = read_text_limited(&dir.path().join("nope.json"), 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.json"), "{e}");
    }
}
