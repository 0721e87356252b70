use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::Result;
use crate::models::{NewUser, PageRequest, Paged, User, UserProfile, new_id};
use crate::params;
use crate::sql::{Db, Row};

const COLUMNS: &str = "u.id, u.email, u.name, u.password_hash, u.avatar, u.company, \
                       u.invitation_code, u.is_active, u.created_at, u.updated_at";

fn from_row(mut row: Row) -> Result<User> {
    Ok(User {
        id: row.uuid(0)?,
        email: row.text(1)?,
        name: row.text(2)?,
        password_hash: row.text(3)?,
        avatar: row.opt_text(4)?,
        company: row.text(5)?,
        invitation_code: row.text(6)?,
        is_active: row.bool(7)?,
        created_at: row.timestamp(8)?,
        updated_at: row.timestamp(9)?,
    })
}

impl Db<'_> {
    /// Inserts a user; a taken email fails with a conflict on `users_email_key`.
    pub fn insert_user(&mut self, new: &NewUser) -> Result<User> {
        let now = Timestamp::now();
        let user = User {
            id: new_id(),
            email: new.email.to_lowercase(),
            name: new.name.clone(),
            password_hash: new.password_hash.clone(),
            avatar: None,
            company: new.company.clone(),
            invitation_code: new.invitation_code.clone(),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        self.execute(
            "INSERT INTO users (id, email, name, password_hash, avatar, company, invitation_code, \
             is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            params![
                user.id,
                &user.email,
                &user.name,
                &user.password_hash,
                &user.avatar,
                &user.company,
                &user.invitation_code,
                user.is_active,
                user.created_at,
                user.updated_at
            ],
        )?;
        Ok(user)
    }

    pub fn get_user(&mut self, id: Uuid) -> Result<User> {
        let sql = format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1");
        from_row(self.query_one(&sql, params![id])?)
    }

    pub fn find_user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users u WHERE u.email = $1");
        self.query_opt(&sql, params![email.to_lowercase().as_str()])?.map(from_row).transpose()
    }

    /// A user who belongs to `organization_id`; anyone else is invisible from there.
    pub fn find_user_in_organization(
        &mut self,
        organization_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.organization_id = $1 AND u.id = $2"
        );
        self.query_opt(&sql, params![organization_id, user_id])?.map(from_row).transpose()
    }

    pub fn list_users_in_organization(
        &mut self,
        organization_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<User>> {
        let list = format!(
            "SELECT {COLUMNS} FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.organization_id = $1 ORDER BY m.created_at, u.id LIMIT $2 OFFSET $3"
        );
        self.paginate(
            "SELECT COUNT(*) FROM memberships WHERE organization_id = $1",
            &list,
            params![organization_id],
            page,
            from_row,
        )
    }

    /// Replaces the editable profile; a taken email fails with a conflict on `users_email_key`.
    pub fn update_user_profile(&mut self, id: Uuid, profile: &UserProfile) -> Result<User> {
        let changed = self.execute(
            "UPDATE users SET name = $2, email = $3, avatar = $4, company = $5, \
             invitation_code = $6, updated_at = $7 WHERE id = $1",
            params![
                id,
                &profile.name,
                profile.email.to_lowercase().as_str(),
                &profile.avatar,
                &profile.company,
                &profile.invitation_code,
                Timestamp::now()
            ],
        )?;
        if changed == 0 {
            return Err(crate::StoreError::NotFound);
        }
        self.get_user(id)
    }

    pub fn set_user_password(&mut self, id: Uuid, password_hash: &str) -> Result<()> {
        let changed = self.execute(
            "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            params![id, password_hash, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(crate::StoreError::NotFound);
        }
        Ok(())
    }

    pub fn count_users(&mut self) -> Result<u64> {
        self.count("SELECT COUNT(*) FROM users", params![])
    }
}
