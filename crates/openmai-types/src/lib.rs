//! Types every OpenMai crate shares and that carry no I/O: the error [`Code`] table that maps
//! each user-visible failure to its HTTP status and Django REST Framework text, epoch-millisecond
//! [`Timestamp`]s, and the DRF validation [`messages`].

mod error;
pub mod messages;
pub mod text;
mod time;

pub use error::{Code, ErrorCode};
pub use time::Timestamp;
