//! Finding a tenant's archive objects by their metadata (TR-ESOR
//! ArchiveData, ETSI TS 119 512 Search, the REST `GET /v1/objects`).

use sqlx::Row;

use super::{rfc3339_ms, Catalog, CatalogError};

/// What to look for: every given filter must hold for one and the same
/// version of an object (any of its versions).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub file_ref: Option<String>,
    pub system: Option<String>,
    /// A part of the title (ASCII letters compared without case).
    pub title_contains: Option<String>,
    /// Submitted at or after (Unix ms).
    pub submitted_from_ms: Option<i64>,
    /// Submitted before (Unix ms).
    pub submitted_before_ms: Option<i64>,
}

/// Where a page of results continues: after this object (in the order of
/// creation, then id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_ms: i64,
    pub aoid: String,
}

impl Cursor {
    /// `<created_ms>.<aoid>`: opaque to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_ms, self.aoid)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (ms, aoid) = s.split_once('.')?;
        let aoid = crate::ids::Aoid::parse(aoid).ok()?;
        Some(Cursor {
            created_ms: ms.parse().ok()?,
            aoid: aoid.into_string(),
        })
    }
}

/// One object found, with its latest version's metadata.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Found {
    pub aoid: String,
    /// RFC 3339.
    pub created_at: String,
    pub latest_version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_until: Option<String>,
    #[serde(skip)]
    pub created_ms: i64,
}

/// `%` and `_` match themselves in a LIKE pattern with `ESCAPE '\'`.
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Catalog {
    /// The live objects of `tenant` that match `filter`, oldest first, at
    /// most `limit`, after `after`. The statement holds only the filters
    /// given (no `$n IS NULL` tricks, which PostgreSQL cannot type).
    pub async fn search(
        &self,
        tenant: &str,
        filter: &Filter,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Found>, CatalogError> {
        enum Arg {
            Text(String),
            Int(i64),
        }
        let mut args = vec![Arg::Text(tenant.to_string())];
        let mut version_conds = Vec::new();
        let push = |args: &mut Vec<Arg>, cond: &str, a: Arg| {
            args.push(a);
            cond.replace('?', &format!("${}", args.len()))
        };
        if let Some(f) = &filter.file_ref {
            version_conds.push(push(&mut args, "w.file_ref = ?", Arg::Text(f.clone())));
        }
        if let Some(s) = &filter.system {
            version_conds.push(push(&mut args, "w.system = ?", Arg::Text(s.clone())));
        }
        if let Some(t) = &filter.title_contains {
            version_conds.push(push(
                &mut args,
                "LOWER(w.title) LIKE LOWER(?) ESCAPE '\\'",
                Arg::Text(like_escaped(t)),
            ));
        }
        if let Some(ms) = filter.submitted_from_ms {
            version_conds.push(push(&mut args, "w.submitted_at >= ?", Arg::Int(ms)));
        }
        if let Some(ms) = filter.submitted_before_ms {
            version_conds.push(push(&mut args, "w.submitted_at < ?", Arg::Int(ms)));
        }
        let mut sql = String::from(
            "SELECT o.aoid, o.created_at, o.latest_version, v.file_ref, v.title, v.system, v.retention_until \
             FROM objects o JOIN versions v ON v.aoid = o.aoid AND v.version = o.latest_version \
             WHERE o.tenant = $1 AND o.deleted_at IS NULL",
        );
        if !version_conds.is_empty() {
            sql.push_str(" AND EXISTS (SELECT 1 FROM versions w WHERE w.aoid = o.aoid AND ");
            sql.push_str(&version_conds.join(" AND "));
            sql.push(')');
        }
        if let Some(c) = after {
            args.push(Arg::Int(c.created_ms));
            let k = args.len();
            args.push(Arg::Text(c.aoid.clone()));
            sql.push_str(&format!(
                " AND (o.created_at > ${k} OR (o.created_at = ${k} AND o.aoid > ${}))",
                k + 1
            ));
        }
        args.push(Arg::Int(limit));
        sql.push_str(&format!(
            " ORDER BY o.created_at, o.aoid LIMIT ${}",
            args.len()
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let created_ms: i64 = r.try_get(1)?;
                Ok(Found {
                    aoid: r.try_get(0)?,
                    created_at: rfc3339_ms(created_ms),
                    latest_version: r.try_get(2)?,
                    file_ref: r.try_get(3)?,
                    title: r.try_get(4)?,
                    system: r.try_get(5)?,
                    retention_until: r.try_get(6)?,
                    created_ms,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = Cursor {
            created_ms: 1_764_000_000_123,
            aoid: crate::ids::Aoid::random().into_string(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "1", "x.y", "12.not-an-aoid", ".5f0c"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_escaped("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
