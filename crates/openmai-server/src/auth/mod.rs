//! Who is calling. The API authenticates `Authorization: Api-Key KEY` (the MaiAgent scheme);
//! the console uses a session cookie, which the API also accepts for the console's own
//! scripts (with a CSRF header on writes). `auth/login/` issues JWTs for dj-rest-auth
//! clients. Keys and session tokens are stored only as SHA-256 digests; passwords as Argon2.

pub mod caller;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod session;
pub mod throttle;

pub use caller::Caller;
