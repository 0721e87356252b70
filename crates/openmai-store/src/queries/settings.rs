use crate::error::Result;
use crate::params;
use crate::sql::Db;

impl Db<'_> {
    pub fn find_setting(&mut self, key: &str) -> Result<Option<String>> {
        self.query_opt("SELECT value FROM instance_settings WHERE key = $1", params![key])?
            .map(|mut row| row.text(0))
            .transpose()
    }

    /// Stores `value` unless the key already has one, and returns whichever is stored, so
    /// replicas starting together agree on one value.
    pub fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> Result<String> {
        self.execute(
            "INSERT INTO instance_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            params![key, value],
        )?;
        self.query_one("SELECT value FROM instance_settings WHERE key = $1", params![key])?.text(0)
    }
}
