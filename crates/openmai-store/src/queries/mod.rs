//! Every query of the store, as methods on [`Db`], one module per resource.

mod api_keys;
mod attachments;
mod channels;
mod chatbots;
mod conversations;
mod files;
mod jobs;
mod knowledge_bases;
mod organizations;
mod permissions;
mod sessions;
mod settings;
mod users;
mod webhooks;

use crate::error::{Result, StoreError};
use crate::models::{CursorRequest, PageNumber, PageRequest, Paged};
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

    /// Cursor pagination, newest first, over rows of table alias `alias` (which must have
    /// `created_at` and `id`): `select` is the `SELECT … FROM …` part, `filter` the `WHERE …`
    /// part using `params` as `$1…`. Returns the rows newest first, and whether older and
    /// newer rows exist beyond them.
    pub(crate) fn cursor_rows(
        &mut self,
        select: &str,
        filter: &str,
        alias: &str,
        params: &[Param<'_>],
        cursor: CursorRequest,
    ) -> Result<(Vec<Row>, bool, bool)> {
        let size = cursor.size.max(1);
        let n = params.len();
        let mut all: Vec<Param<'_>> = params.to_vec();
        let (comparison, order) = if cursor.reverse { (">", "ASC") } else { ("<", "DESC") };
        let mut sql = format!("{select} {filter}");
        if let Some((created_at, id)) = cursor.position {
            sql.push_str(&format!(
                " AND ({alias}.created_at {comparison} ${a} OR ({alias}.created_at = ${a} \
                 AND {alias}.id {comparison} ${b}))",
                a = n + 1,
                b = n + 2
            ));
            all.push(Param::from(created_at));
            all.push(Param::Uuid(id));
        }
        sql.push_str(&format!(
            " ORDER BY {alias}.created_at {order}, {alias}.id {order} LIMIT ${}",
            all.len() + 1
        ));
        all.push(Param::Int(i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1)));
        let mut rows = self.query(&sql, &all)?;
        let more = rows.len() as u64 > size;
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        let came_from_somewhere = cursor.position.is_some();
        Ok(if cursor.reverse {
            rows.reverse();
            (rows, came_from_somewhere, more)
        } else {
            (rows, more, came_from_somewhere)
        })
    }
}
