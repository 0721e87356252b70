//! Every query of the store, as methods on [`Db`], one module per resource.

mod api_keys;
mod chatbots;
mod files;
mod jobs;
mod knowledge_bases;
mod organizations;
mod permissions;
mod sessions;
mod settings;
mod users;

use crate::error::{Result, StoreError};
use crate::models::{PageNumber, PageRequest, Paged};
use crate::sql::{Db, Param, Row};

impl Db<'_> {
    /// DRF page-number pagination over any query: counts, resolves `last`, refuses a page past
    /// the end (page 1 of an empty list is fine), then reads the page. `list_sql` must end
    /// in `LIMIT $n OFFSET $n+1`, numbered right after `params`.
    pub(crate) fn paginate<T>(
        &mut self,
        count_sql: &str,
        list_sql: &str,
        params: &[Param<'_>],
        page: PageRequest,
        from_row: impl Fn(Row) -> Result<T>,
    ) -> Result<Paged<T>> {
        let (count, number, rows) = self.paginate_rows(count_sql, list_sql, params, page)?;
        let items = rows.into_iter().map(from_row).collect::<Result<_>>()?;
        Ok(Paged { count, number, size: page.size.max(1), items })
    }

    /// [`Db::paginate`]'s raw form, for pages whose rows need folding: the count, the page
    /// number actually read and its rows.
    pub(crate) fn paginate_rows(
        &mut self,
        count_sql: &str,
        list_sql: &str,
        params: &[Param<'_>],
        page: PageRequest,
    ) -> Result<(u64, u64, Vec<Row>)> {
        let count = self.count(count_sql, params)?;
        let size = page.size.max(1);
        let pages = count.div_ceil(size).max(1);
        let number = match page.number {
            PageNumber::Last => pages,
            PageNumber::Number(n) if n >= 1 && n <= pages => n,
            PageNumber::Number(_) => return Err(StoreError::InvalidPage),
        };
        if count == 0 {
            return Ok((0, number, Vec::new()));
        }
        let limit = i64::try_from(size).unwrap_or(i64::MAX);
        let offset = i64::try_from((number - 1) * size).unwrap_or(i64::MAX);
        let mut all: Vec<Param<'_>> = params.to_vec();
        all.push(Param::Int(limit));
        all.push(Param::Int(offset));
        Ok((count, number, self.query(list_sql, &all)?))
    }
}
