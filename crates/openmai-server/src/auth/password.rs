//! Passwords: Argon2id hashes, computed on the blocking pool (they are deliberately slow),
//! and Django's default password rules with its texts.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

pub const MIN_LENGTH: usize = 8;
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "qwertyuiop",
    "11111111",
    "iloveyou",
    "admin123",
    "welcome1",
    "letmein1",
    "abc12345",
    "00000000",
    "88888888",
    "a1234567",
    "passw0rd",
];

pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(ApiError::internal)?
}

pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

/// Checks `password` against `stored`. With no stored hash (unknown email) a dummy check
/// runs anyway and fails, so unknown and known emails take the same time.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = match stored {
            Some(hash) => hash,
            None => hash_blocking("timing equaliser").unwrap_or_default(),
        };
        let Ok(parsed) = PasswordHash::new(&stored) else { return false };
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// Django's `AUTH_PASSWORD_VALIDATORS` defaults (length, common, numeric), in its words.
pub fn problems(password: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if password.chars().count() < MIN_LENGTH {
        problems.push(format!(
            "This password is too short. It must contain at least {MIN_LENGTH} characters."
        ));
    }
    if COMMON.contains(&password.to_lowercase().as_str()) {
        problems.push("This password is too common.".into());
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(stored.clone())).await);
        assert!(!verify("wrong".into(), Some(stored)).await);
        assert!(!verify("anything".into(), None).await);
    }

    #[test]
    fn weak_passwords_are_explained() {
        assert_eq!(
            problems("12345678"),
            ["This password is too common.", "This password is entirely numeric."]
        );
        assert_eq!(
            problems("abc"),
            ["This password is too short. It must contain at least 8 characters."]
        );
        assert!(problems("a sound passphrase").is_empty());
    }
}
