use crate::error::Result;
use crate::models::{PageRequest, Paged, Permission};
use crate::params;
use crate::sql::Db;

impl Db<'_> {
    pub fn list_permissions(&mut self, page: PageRequest) -> Result<Paged<Permission>> {
        self.paginate(
            "SELECT COUNT(*) FROM permissions",
            "SELECT id, name, description FROM permissions ORDER BY name LIMIT $1 OFFSET $2",
            params![],
            page,
            |mut row| {
                Ok(Permission { id: row.uuid(0)?, name: row.text(1)?, description: row.text(2)? })
            },
        )
    }

    pub fn permission_names(&mut self) -> Result<Vec<String>> {
        self.query("SELECT name FROM permissions ORDER BY name", params![])?
            .into_iter()
            .map(|mut r| r.text(0))
            .collect()
    }
}
