//! JSON Web Tokens as djangorestframework-simplejwt issues them for dj-rest-auth:
//! HS256 with `token_type`, `exp`, `iat`, `jti` and `user_id` claims. A refresh token handed
//! back at logout is recorded as revoked until it expires.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use openmai_types::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: Uuid,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_seconds: i64,
    refresh_seconds: i64,
}

impl Jwt {
    pub fn new(secret: &[u8], config: &Config) -> Jwt {
        Jwt {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_seconds: config.access_token_minutes * 60,
            refresh_seconds: config.refresh_token_days * 86_400,
        }
    }

    pub fn issue(&self, user_id: Uuid, token_type: TokenType) -> String {
        let now = Timestamp::now().millis() / 1000;
        let ttl = match token_type {
            TokenType::Access => self.access_seconds,
            TokenType::Refresh => self.refresh_seconds,
        };
        let claims = Claims {
            token_type,
            exp: now + ttl,
            iat: now,
            jti: Uuid::new_v4().simple().to_string(),
            user_id,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// The claims of a valid, unexpired token of any type.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat"]);
        decode::<Claims>(token, &self.decoding, &validation).ok().map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_tampering_fails() {
        let jwt = Jwt::new(b"secret", &Config::default());
        let user = Uuid::new_v4();
        let access = jwt.issue(user, TokenType::Access);
        let claims = jwt.verify(&access).unwrap();
        assert_eq!((claims.user_id, claims.token_type), (user, TokenType::Access));
        let refresh = jwt.issue(user, TokenType::Refresh);
        assert_eq!(jwt.verify(&refresh).unwrap().token_type, TokenType::Refresh);
        assert!(jwt.verify(&format!("{access}x")).is_none());
        assert!(Jwt::new(b"other", &Config::default()).verify(&access).is_none());
        assert!(jwt.verify("not a token").is_none());
    }
}
