//! Errors the grouping tests fail with: one callsite failing in two ways.

/// A lookup that fails in two ways (each with a number that folds).
#[derive(Debug)]
pub enum LoadError {
    NotFound(u64),
    Refused(u64),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NotFound(id) => write!(f, "row {id} not found"),
            LoadError::Refused(shard) => write!(f, "connection refused by shard {shard}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Even ids are missing; odd ones hit a shard that refuses.
pub fn lookup(id: u64) -> Result<(), LoadError> {
    if id.is_multiple_of(2) {
        Err(LoadError::NotFound(id))
    } else {
        Err(LoadError::Refused(id % 3))
    }
}

/// An error whose own message is always the same, with two root causes.
#[derive(Debug)]
pub struct SyncError(pub std::io::Error);

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sync with the warehouse failed")
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
