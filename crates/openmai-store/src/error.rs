use openmai_types::{Code, ErrorCode};

/// What can go wrong in the store. Handlers see `NotFound` and `Conflict`; everything else is
/// an internal error whose cause goes to the log, never to the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The requested page lies beyond the last one.
    #[error("invalid page")]
    InvalidPage,
    /// A uniqueness or foreign-key constraint refused the write; `constraint` names it so the
    /// caller can turn it into a field error.
    #[error("constraint violated: {constraint}")]
    Conflict { constraint: String },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
    #[error("column {column}: {message}")]
    Decode { column: usize, message: String },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
}

impl StoreError {
    pub fn is_conflict_on(&self, needle: &str) -> bool {
        matches!(self, StoreError::Conflict { constraint } if constraint.contains(needle))
    }
}

impl ErrorCode for StoreError {
    fn error_code(&self) -> Code {
        match self {
            StoreError::NotFound => Code::NotFound,
            StoreError::InvalidPage => Code::InvalidPage,
            StoreError::Conflict { .. } => Code::Conflict,
            StoreError::Unavailable(_) => Code::ServiceUnavailable,
            StoreError::Backend(_)
            | StoreError::Decode { .. }
            | StoreError::Migration(_)
            | StoreError::InvalidUrl(_) => Code::Internal,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
