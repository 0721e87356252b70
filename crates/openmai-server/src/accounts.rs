//! Account operations shared by the CLI, the first start, the API and the console: creating
//! users, organisations and API keys, and what members may do.

use openmai_store::models::{ApiKey, NewApiKey, NewUser, Organization, User};
use openmai_store::{Store, StoreError};
use openmai_types::messages;
use rand::RngExt;
use uuid::Uuid;

use crate::auth::{keys, password};
use crate::config::Config;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::wire::form::is_email;

/// Permissions only an organisation's owner holds.
const OWNER_ONLY: &[&str] = &["member.manage", "organization.manage"];

/// The permission names a member holds: all of them for the owner, all but member and
/// organisation management for everyone else.
pub fn permissions_for(is_owner: bool, all: &[String]) -> Vec<String> {
    all.iter().filter(|name| is_owner || !OWNER_ONLY.contains(&name.as_str())).cloned().collect()
}

/// A referral code as MaiAgent has them: upper-case letters and digits.
pub fn invitation_code() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .map(|b| char::from(b).to_ascii_uppercase())
        .take(8)
        .collect()
}

pub fn display_name(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_owned()
}

/// Creates a user (and, when `organization` names one, a new organisation they own).
/// Validation failures come back as DRF field errors.
pub async fn create_user(
    store: &Store,
    email: &str,
    new_password: &str,
    name: Option<&str>,
    organization: Option<&str>,
) -> ApiResult<(User, Option<Organization>)> {
    let email = email.trim().to_lowercase();
    let mut errors = FieldErrors::default();
    if !is_email(&email) {
        errors.add("email", messages::NOT_AN_EMAIL);
    }
    for problem in password::problems(new_password) {
        errors.add("password", problem);
    }
    if organization.is_some_and(|o| o.trim().is_empty()) {
        errors.add("organization", messages::BLANK);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new = NewUser {
        name: name.map_or_else(|| display_name(&email), str::to_owned),
        email,
        password_hash: password::hash(new_password.to_owned()).await?,
        company: String::new(),
        invitation_code: invitation_code(),
    };
    let organization = organization.map(|o| o.trim().to_owned());
    store
        .write(move |db| {
            db.transaction(|db| {
                let user = db.insert_user(&new)?;
                let org = match organization {
                    Some(name) => Some(db.insert_organization(&name, user.id)?),
                    None => None,
                };
                Ok((user, org))
            })
        })
        .await
        .map_err(|err| match err {
            e if e.is_conflict_on("email") => {
                ApiError::field("email", messages::unique("user", "email"))
            }
            other => other.into(),
        })
}

/// Creates an API key for a member of `organization_id` and returns it with the only copy
/// of the key itself.
pub async fn create_api_key(
    store: &Store,
    organization_id: Uuid,
    user_id: Uuid,
    name: &str,
) -> ApiResult<(ApiKey, String)> {
    let key = keys::generate();
    let new = NewApiKey {
        organization_id,
        user_id,
        name: name.to_owned(),
        prefix: keys::prefix(&key),
        key_hash: keys::digest(&key).to_vec(),
    };
    let stored = store
        .write(move |db| {
            db.find_membership(new.organization_id, new.user_id)?.ok_or(StoreError::NotFound)?;
            db.insert_api_key(&new)
        })
        .await?;
    Ok((stored, key))
}

/// What the first start created, to print once.
pub struct FirstStart {
    pub email: String,
    /// `None` when the operator chose it (never echo a password they typed).
    pub generated_password: Option<String>,
    pub organization: String,
    pub api_key: String,
}

/// On an empty store, creates the administrator, their organisation and one API key.
/// Replicas starting together race harmlessly: the loser sees the email taken and stops.
pub async fn bootstrap(store: &Store, config: &Config) -> anyhow::Result<Option<FirstStart>> {
    if store.read(|db| db.count_users()).await? > 0 {
        return Ok(None);
    }
    let email = config.admin_email.clone().unwrap_or_else(|| "admin@localhost".into());
    let (password, generated) = match &config.admin_password {
        Some(secret) => (secrecy::ExposeSecret::expose_secret(secret).to_owned(), false),
        None => (keys::generate()[..20].to_owned(), true),
    };
    let created = create_user(
        store,
        &email,
        &password,
        Some("Administrator"),
        Some(&config.organization_name),
    )
    .await;
    let (user, organization) = match created {
        Ok(created) => created,
        // Another replica created the first user in the meantime.
        Err(_) if store.read(|db| db.count_users()).await? > 0 => return Ok(None),
        Err(err) => anyhow::bail!("cannot create the first administrator {email}: {err}"),
    };
    let organization = organization.expect("an organisation was asked for");
    let (_, api_key) = create_api_key(store, organization.id, user.id, "default").await?;
    Ok(Some(FirstStart {
        email: user.email,
        generated_password: generated.then_some(password),
        organization: organization.name,
        api_key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_lack_owner_only_permissions() {
        let all: Vec<String> = ["chatbot.manage", "member.manage", "organization.manage"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(permissions_for(true, &all).len(), 3);
        assert_eq!(permissions_for(false, &all), ["chatbot.manage"]);
    }

    #[test]
    fn invitation_codes_match_the_spec_pattern() {
        let code = invitation_code();
        assert_eq!(code.len(), 8);
        assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
