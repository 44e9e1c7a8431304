//! Reading a file named by configuration or kept in a folder others may
//! write: only a regular file, opened without blocking (a pipe does not
//! wait for a writer), and never past a size limit, should it grow while
//! it is read.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// It could not be opened or read, or is not a regular file.
    Io(std::io::Error),
    /// It holds this many bytes, more than the limit (at least this many,
    /// when it grew while read).
    TooLarge(u64),
}

/// The bytes of `path`, a regular file of at most `limit` bytes.
pub(super) fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    let metadata = file.metadata().map_err(ReadError::Io)?;
    if !metadata.is_file() {
        return Err(ReadError::Io(std::io::Error::other("not a regular file")));
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}
