use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{Member, Organization, PageRequest, Paged, new_id};
use crate::params;
use crate::sql::{Db, Row};

const ORG_COLUMNS: &str = "o.id, o.name, o.owner_id, owner.name, o.created_at, o.updated_at";
const ORG_FROM: &str = "organizations o JOIN users owner ON owner.id = o.owner_id";

fn org_from_row(mut row: Row) -> Result<Organization> {
    Ok(Organization {
        id: row.uuid(0)?,
        name: row.text(1)?,
        owner_id: row.uuid(2)?,
        owner_name: row.text(3)?,
        created_at: row.timestamp(4)?,
        updated_at: row.timestamp(5)?,
    })
}

const MEMBER_COLUMNS: &str =
    "m.id, m.organization_id, u.id, u.name, u.email, o.owner_id = u.id, m.created_at";
const MEMBER_FROM: &str = "memberships m JOIN users u ON u.id = m.user_id \
                           JOIN organizations o ON o.id = m.organization_id";

fn member_from_row(mut row: Row) -> Result<Member> {
    Ok(Member {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        user_id: row.uuid(2)?,
        name: row.text(3)?,
        email: row.text(4)?,
        is_owner: row.bool(5)?,
        created_at: row.timestamp(6)?,
    })
}

impl Db<'_> {
    /// Creates an organisation owned by `owner_id`, who becomes its first member.
    pub fn insert_organization(&mut self, name: &str, owner_id: Uuid) -> Result<Organization> {
        self.transaction(|db| {
            let id = new_id();
            let now = Timestamp::now();
            db.execute(
                "INSERT INTO organizations (id, name, owner_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                params![id, name, owner_id, now, now],
            )?;
            db.insert_membership(id, owner_id)?;
            db.get_organization(id)
        })
    }

    fn get_organization(&mut self, id: Uuid) -> Result<Organization> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM {ORG_FROM} WHERE o.id = $1");
        org_from_row(self.query_one(&sql, params![id])?)
    }

    /// The organisation, if `user_id` belongs to it; otherwise it does not exist for them.
    pub fn find_organization_for_user(
        &mut self,
        organization_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Organization>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM {ORG_FROM} JOIN memberships m ON m.organization_id = o.id \
             WHERE o.id = $1 AND m.user_id = $2"
        );
        self.query_opt(&sql, params![organization_id, user_id])?.map(org_from_row).transpose()
    }

    pub fn list_organizations_for_user(
        &mut self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<Organization>> {
        let list = format!(
            "SELECT {ORG_COLUMNS} FROM {ORG_FROM} JOIN memberships m ON m.organization_id = o.id \
             WHERE m.user_id = $1 ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3"
        );
        self.paginate(
            "SELECT COUNT(*) FROM memberships WHERE user_id = $1",
            &list,
            params![user_id],
            page,
            org_from_row,
        )
    }

    /// Every organisation the user belongs to, oldest first (for menus and defaults).
    pub fn organizations_of_user(&mut self, user_id: Uuid) -> Result<Vec<Organization>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM {ORG_FROM} JOIN memberships m ON m.organization_id = o.id \
             WHERE m.user_id = $1 ORDER BY o.created_at, o.id"
        );
        self.query(&sql, params![user_id])?.into_iter().map(org_from_row).collect()
    }

    pub fn organization_owner(&mut self, organization_id: Uuid) -> Result<Option<Uuid>> {
        self.query_opt(
            "SELECT owner_id FROM organizations WHERE id = $1",
            params![organization_id],
        )?
        .map(|mut row| row.uuid(0))
        .transpose()
    }

    pub fn rename_organization(&mut self, id: Uuid, name: &str) -> Result<Organization> {
        let changed = self.execute(
            "UPDATE organizations SET name = $2, updated_at = $3 WHERE id = $1",
            params![id, name, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_organization(id)
    }

    pub fn count_organizations(&mut self) -> Result<u64> {
        self.count("SELECT COUNT(*) FROM organizations", params![])
    }

    /// Adds a member; an existing membership fails with a conflict on
    /// `memberships_organization_user_key`.
    pub fn insert_membership(&mut self, organization_id: Uuid, user_id: Uuid) -> Result<Member> {
        let id = new_id();
        self.execute(
            "INSERT INTO memberships (id, organization_id, user_id, created_at) \
             VALUES ($1, $2, $3, $4)",
            params![id, organization_id, user_id, Timestamp::now()],
        )?;
        self.find_member(organization_id, id)?.ok_or(StoreError::NotFound)
    }

    pub fn find_member(
        &mut self,
        organization_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Member>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM {MEMBER_FROM} WHERE m.organization_id = $1 AND m.id = $2"
        );
        self.query_opt(&sql, params![organization_id, member_id])?.map(member_from_row).transpose()
    }

    pub fn find_membership(
        &mut self,
        organization_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Member>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM {MEMBER_FROM} \
             WHERE m.organization_id = $1 AND m.user_id = $2"
        );
        self.query_opt(&sql, params![organization_id, user_id])?.map(member_from_row).transpose()
    }

    pub fn count_members(&mut self, organization_id: Uuid) -> Result<u64> {
        self.count(
            "SELECT COUNT(*) FROM memberships WHERE organization_id = $1",
            params![organization_id],
        )
    }

    pub fn list_members(
        &mut self,
        organization_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<Member>> {
        let list = format!(
            "SELECT {MEMBER_COLUMNS} FROM {MEMBER_FROM} WHERE m.organization_id = $1 \
             ORDER BY m.created_at, m.id LIMIT $2 OFFSET $3"
        );
        self.paginate(
            "SELECT COUNT(*) FROM memberships WHERE organization_id = $1",
            &list,
            params![organization_id],
            page,
            member_from_row,
        )
    }

    /// Removes a member together with everything that let them act in the organisation:
    /// their API keys for it stop working and their console sessions leave it.
    pub fn delete_membership(&mut self, organization_id: Uuid, member_id: Uuid) -> Result<()> {
        self.transaction(|db| {
            let member = db.find_member(organization_id, member_id)?.ok_or(StoreError::NotFound)?;
            db.execute(
                "UPDATE api_keys SET revoked_at = $3 \
                 WHERE organization_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                params![organization_id, member.user_id, Timestamp::now()],
            )?;
            db.execute(
                "UPDATE sessions SET organization_id = NULL \
                 WHERE organization_id = $1 AND user_id = $2",
                params![organization_id, member.user_id],
            )?;
            db.execute(
                "DELETE FROM memberships WHERE organization_id = $1 AND id = $2",
                params![organization_id, member_id],
            )?;
            Ok(())
        })
    }
}
