//! The audit trail and search.

use super::{ArchiveService, Authorized, Operation, ServiceError};
use crate::access::Role;
use crate::audit::EntryView;
use crate::catalog::search::{Cursor, Filter, Found};

/// Which part of the audit trail (the REST query parameters as they are).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TraceQuery {
    /// Only the entries about this archive object (also a deleted one).
    pub aoid: Option<String>,
    /// Entries after this sequence number (for paging).
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// What to search for (the REST query parameters as they are). Every
/// filter given must hold for one version.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The file reference (Aktenzeichen), exactly.
    pub file_ref: Option<String>,
    /// The submitting system, exactly.
    pub system: Option<String>,
    /// A part of the title (ASCII letters without case).
    pub title: Option<String>,
    /// Submitted on or after this day (YYYY-MM-DD, UTC).
    pub submitted_from: Option<String>,
    /// Submitted on or before this day (YYYY-MM-DD, UTC).
    pub submitted_to: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// One object found.
pub type SearchHit = Found;

/// A page of search results.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub objects: Vec<SearchHit>,
    /// Give this as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn day_ms(field: &'static str, s: &str) -> Result<i64, ServiceError> {
    let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| {
            ServiceError::invalid(
                "invalid_query",
                format!("{field}: {s:?} is not a date YYYY-MM-DD"),
            )
        })?;
    Ok((d.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000) as i64)
}

fn text(field: &'static str, v: &Option<String>) -> Result<Option<String>, ServiceError> {
    match v {
        Some(s) if s.is_empty() || s.len() > 1024 || s.chars().any(char::is_control) => {
            Err(ServiceError::invalid(
                "invalid_query",
                format!("{field}: 1 to 1024 bytes without control characters"),
            ))
        }
        v => Ok(v.clone()),
    }
}

const DAY_MS: i64 = 86_400_000;

impl ArchiveService {
    /// The audit trail of the caller's tenant (the operator's: all of it),
    /// oldest first; with `aoid`, only that object's entries (an object of
    /// another tenant is not found, for the operator every object is).
    pub async fn trace(
        &self,
        who: &Authorized,
        q: &TraceQuery,
    ) -> Result<Vec<EntryView>, ServiceError> {
        if who.op != Operation::Trace {
            return Err(ServiceError::Forbidden {
                role: who.principal.role,
                op: Operation::Trace,
            });
        }
        let aoid = match &q.aoid {
            Some(a) if who.principal.role == Role::Operator => Some(
                crate::ids::Aoid::parse(a)
                    .map_err(|_| ServiceError::not_found("no such archive object"))?,
            ),
            Some(a) => Some(
                self.authorize_object(&who.principal, Operation::Trace, a)
                    .await?
                    .aoid,
            ),
            None => None,
        };
        let tenant = match who.principal.role {
            Role::Operator => None,
            _ => who.principal.tenant.as_ref().map(|t| t.as_str()),
        };
        Ok(crate::audit::entries(
            &self.catalog,
            tenant,
            aoid.as_ref().map(|a| a.as_str()),
            q.after.unwrap_or(0),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?)
    }

    /// The caller's tenant's live objects that match, in the order they
    /// were created. Every filter given must hold for one version.
    pub async fn search(
        &self,
        who: &Authorized,
        q: &SearchQuery,
    ) -> Result<SearchPage, ServiceError> {
        if who.op != Operation::Search {
            return Err(ServiceError::Forbidden {
                role: who.principal.role,
                op: Operation::Search,
            });
        }
        let Some(tenant) = who.tenant() else {
            return Err(ServiceError::Forbidden {
                role: who.principal.role,
                op: Operation::Search,
            });
        };
        let filter = Filter {
            file_ref: text("file_ref", &q.file_ref)?,
            system: text("system", &q.system)?,
            title_contains: text("title", &q.title)?,
            submitted_from_ms: q
                .submitted_from
                .as_deref()
                .map(|d| day_ms("submitted_from", d))
                .transpose()?,
            submitted_before_ms: q
                .submitted_to
                .as_deref()
                .map(|d| day_ms("submitted_to", d).map(|ms| ms + DAY_MS))
                .transpose()?,
        };
        let after = match &q.after {
            Some(a) => Some(Cursor::decode(a).ok_or_else(|| {
                ServiceError::invalid(
                    "invalid_query",
                    "after: not a `next` value of a previous page",
                )
            })?),
            None => None,
        };
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        // one more than asked tells whether there is a next page
        let mut objects = self
            .catalog
            .search(tenant.as_str(), &filter, after.as_ref(), limit + 1)
            .await?;
        let next = if objects.len() as i64 > limit {
            objects.truncate(limit as usize);
            objects.last().map(|o| {
                Cursor {
                    created_ms: o.created_ms,
                    aoid: o.aoid.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(SearchPage { objects, next })
    }
}
