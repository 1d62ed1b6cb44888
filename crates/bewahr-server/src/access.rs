//! Who may do what: tenants (Mandanten), API tokens and roles.
//!
//! A token is `bwr_<id>_<secret>`: 16 hex digits of id, 43 characters of
//! base64url secret (32 random bytes). It is shown once; the catalog keeps
//! its id and the SHA-256 of its secret, compared in constant time.
//!
//! Roles: per tenant `submitter` (submits and updates its tenant's objects,
//! reads their state and evidence), `auditor` (reads objects, content,
//! evidence; verifies), `admin` (the tenant's tokens; reads, never changes
//! content); across tenants the platform `operator` (tenants, renewals, the
//! service's metrics).

use serde::Serialize;
use sqlx::Row;

use crate::catalog::{Catalog, CatalogError};

/// A role a token carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Submitter,
    Auditor,
    Admin,
    Operator,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, AccessError> {
        Ok(match s {
            "submitter" => Role::Submitter,
            "auditor" => Role::Auditor,
            "admin" => Role::Admin,
            "operator" => Role::Operator,
            o => {
                return Err(AccessError::Invalid(format!(
                    "unknown role {o:?}: submitter, auditor, admin or operator"
                )))
            }
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }
}

/// Who is asking: from a valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (never its secret).
    pub token: String,
    pub tenant: Option<crate::ids::TenantId>,
    pub role: Role,
}

/// Why a request carries no valid credentials. The client is told only
/// "unauthorized"; the log has which of these it was.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no credentials")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("unknown token {0}")]
    Unknown(String),
    #[error("token {0}: wrong secret")]
    WrongSecret(String),
    #[error("token {0} expired")]
    Expired(String),
    #[error("token {0} was revoked")]
    Revoked(String),
    #[error("client certificate {0} is not for client authentication (no id-kp-clientAuth)")]
    NotForClients(String),
    #[error("client certificate {0} is revoked")]
    CertificateRevoked(String),
    #[error("client certificate {0}: no revocation status")]
    NoRevocationStatus(String),
    /// The catalog did not answer: the credentials could not be checked
    /// (503, not 401: the client's token may be fine).
    #[error("the credentials could not be checked: {0}")]
    Unavailable(String),
}

/// A token as admins see it (never its secret).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub role: String,
    pub label: String,
    pub created_at: String,
    /// `<role> token <id>` for tokens made over the API, else who made it.
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// Why a tenant or token was not created (nothing was).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Invalid(String),
    #[error("tenant {0} exists already")]
    TenantExists(String),
    #[error("no tenant {0}")]
    NoTenant(String),
    #[error("no token {0}")]
    NoToken(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<sqlx::Error> for AccessError {
    fn from(e: sqlx::Error) -> Self {
        AccessError::Catalog(e.into())
    }
}

/// Tenant names: lowercase letters, digits and dashes, 1 to 63, starting with a letter or digit.
pub fn check_tenant_name(name: &str) -> Result<(), AccessError> {
    crate::ids::TenantId::parse(name)
        .map(drop)
        .map_err(|e| AccessError::Invalid(e.to_string()))
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("randomness");
    b
}

/// Splits `bwr_<id>_<secret>`.
fn parse_token(s: &str) -> Option<(&str, Vec<u8>)> {
    use base64::Engine;
    let rest = s.strip_prefix("bwr_")?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() != 43 {
        return None;
    }
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret)
        .ok()?;
    (secret.len() == 32).then_some((id, secret))
}

/// Compares without an early exit (the inputs are hashes of secrets).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn sha256(b: &[u8]) -> Vec<u8> {
    bewahr_core::alg::DigestAlgorithm::Sha256.digest(b)
}

impl Catalog {
    /// Creates a tenant.
    pub async fn create_tenant(
        &self,
        name: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), AccessError> {
        check_tenant_name(name)?;
        let done = sqlx::query(
            "INSERT INTO tenants (name, created_at, created_by) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now_ms)
        .bind(by)
        .execute(self.pool())
        .await?
        .rows_affected();
        if done == 0 {
            return Err(AccessError::TenantExists(name.to_string()));
        }
        Ok(())
    }

    /// The tenants, by name.
    pub async fn tenants(&self) -> Result<Vec<String>, AccessError> {
        Ok(sqlx::query("SELECT name FROM tenants ORDER BY name")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    /// Creates a token; returns it (`bwr_<id>_<secret>`, the only time the secret exists).
    pub async fn create_token(
        &self,
        tenant: Option<&str>,
        role: Role,
        label: &str,
        expires_ms: Option<i64>,
        by: &str,
        now_ms: i64,
    ) -> Result<(String, String), AccessError> {
        use base64::Engine;
        match (role, tenant) {
            (Role::Operator, Some(_)) => {
                return Err(AccessError::Invalid(
                    "an operator token belongs to no tenant: leave out the tenant".into(),
                ))
            }
            (Role::Operator, None) => {}
            (_, None) => {
                return Err(AccessError::Invalid(format!(
                    "a {} token needs a tenant",
                    role.as_str()
                )))
            }
            (_, Some(t)) => {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM tenants WHERE name = $1")
                    .bind(t)
                    .fetch_one(self.pool())
                    .await?
                    .try_get(0)?;
                if n == 0 {
                    return Err(AccessError::NoTenant(t.to_string()));
                }
            }
        }
        if expires_ms.is_some_and(|e| e <= now_ms) {
            return Err(AccessError::Invalid("the expiry is in the past".into()));
        }
        let id = hex::encode(random::<8>());
        let secret = random::<32>();
        sqlx::query(
            "INSERT INTO tokens (id, secret_sha256, tenant, role, label, created_at, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(sha256(&secret))
        .bind(tenant.map(str::to_string))
        .bind(role.as_str())
        .bind(label)
        .bind(now_ms)
        .bind(by)
        .bind(expires_ms)
        .execute(self.pool())
        .await?;
        let token = format!(
            "bwr_{id}_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        Ok((id, token))
    }

    /// Revokes a token (of `tenant`, when given); idempotent.
    pub async fn revoke_token(
        &self,
        id: &str,
        tenant: Option<&str>,
        now_ms: i64,
    ) -> Result<(), AccessError> {
        let row = sqlx::query("SELECT tenant FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let owner: Option<String> = match row {
            Some(r) => r.try_get(0)?,
            None => return Err(AccessError::NoToken(id.to_string())),
        };
        if tenant.is_some() && owner.as_deref() != tenant {
            return Err(AccessError::NoToken(id.to_string()));
        }
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The tokens (of `tenant`, when given), newest first, without secrets.
    pub async fn list_tokens(&self, tenant: Option<&str>) -> Result<Vec<TokenView>, AccessError> {
        let rows = match tenant {
            Some(t) => sqlx::query(
                "SELECT id, tenant, role, label, created_at, created_by, expires_at, revoked_at \
                 FROM tokens WHERE tenant = $1 ORDER BY created_at DESC, id",
            )
            .bind(t)
            .fetch_all(self.pool())
            .await?,
            None => sqlx::query(
                "SELECT id, tenant, role, label, created_at, created_by, expires_at, revoked_at \
                 FROM tokens ORDER BY created_at DESC, id",
            )
            .fetch_all(self.pool())
            .await?,
        };
        rows.iter()
            .map(|r| {
                let ms = |i: usize| -> Result<Option<String>, sqlx::Error> {
                    Ok(r.try_get::<Option<i64>, _>(i)?
                        .map(crate::catalog::rfc3339_ms))
                };
                Ok(TokenView {
                    id: r.try_get(0)?,
                    tenant: r.try_get(1)?,
                    role: r.try_get(2)?,
                    label: r.try_get(3)?,
                    created_at: crate::catalog::rfc3339_ms(r.try_get(4)?),
                    created_by: r.try_get(5)?,
                    expires_at: ms(6)?,
                    revoked_at: ms(7)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(AccessError::from)
    }

    /// The ids of the tokens `id` created, and those they created, and so on
    /// (not yet revoked). A token's creator is recorded as `<role> token <id>`.
    pub async fn tokens_created_by(&self, id: &str) -> Result<Vec<String>, AccessError> {
        let mut found: Vec<String> = Vec::new();
        let mut frontier = vec![id.to_string()];
        while let Some(parent) = frontier.pop() {
            let names: Vec<String> = ["submitter", "auditor", "admin", "operator"]
                .iter()
                .map(|r| format!("{r} token {parent}"))
                .collect();
            let rows = sqlx::query(
                "SELECT id FROM tokens WHERE created_by IN ($1, $2, $3, $4) AND revoked_at IS NULL",
            )
            .bind(&names[0])
            .bind(&names[1])
            .bind(&names[2])
            .bind(&names[3])
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                let child: String = r.try_get(0)?;
                if child != id && !found.contains(&child) {
                    found.push(child.clone());
                    frontier.push(child);
                }
            }
        }
        Ok(found)
    }

    /// How many tokens exist (none: a fresh installation).
    pub async fn token_count(&self) -> Result<i64, AccessError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM tokens")
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    /// Checks a bearer token; returns who it is and when the token expires.
    pub async fn authenticate(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<(Principal, Option<i64>), AuthError> {
        let (id, secret) = parse_token(token).ok_or(AuthError::Malformed)?;
        let row = sqlx::query(
            "SELECT secret_sha256, tenant, role, expires_at, revoked_at FROM tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?
        .ok_or_else(|| AuthError::Unknown(id.to_string()))?;
        let stored: Vec<u8> = row.try_get(0).map_err(|_| AuthError::Unknown(id.into()))?;
        if !constant_time_eq(&stored, &sha256(&secret)) {
            return Err(AuthError::WrongSecret(id.to_string()));
        }
        let revoked: Option<i64> = row.try_get(4).map_err(|_| AuthError::Unknown(id.into()))?;
        if revoked.is_some() {
            return Err(AuthError::Revoked(id.to_string()));
        }
        let expires: Option<i64> = row.try_get(3).map_err(|_| AuthError::Unknown(id.into()))?;
        if expires.is_some_and(|e| e <= now_ms) {
            return Err(AuthError::Expired(id.to_string()));
        }
        let role: String = row.try_get(2).map_err(|_| AuthError::Unknown(id.into()))?;
        Ok((
            Principal {
                token: id.to_string(),
                tenant: row
                    .try_get::<Option<String>, _>(1)
                    .map_err(|_| AuthError::Unknown(id.into()))?
                    .map(crate::ids::TenantId::from_catalog),
                role: Role::parse(&role).map_err(|_| AuthError::Unknown(id.into()))?,
            },
            expires,
        ))
    }

    /// The tenant of an object: `None` if there is no such object (or it
    /// was deleted, unless `deleted_too`).
    pub async fn object_tenant(
        &self,
        aoid: &str,
        deleted_too: bool,
    ) -> Result<Option<Option<String>>, CatalogError> {
        let r = sqlx::query("SELECT tenant, deleted_at FROM objects WHERE aoid = $1")
            .bind(aoid)
            .fetch_optional(self.pool())
            .await?;
        Ok(match r {
            Some(r) if deleted_too || r.try_get::<Option<i64>, _>(1)?.is_none() => {
                Some(r.try_get(0)?)
            }
            _ => None,
        })
    }

    /// Sets (`Some(reason)`) or lifts (`None`) the legal hold of a live object;
    /// false if there is no such object.
    pub async fn set_legal_hold(
        &self,
        aoid: &str,
        hold: Option<&str>,
    ) -> Result<bool, CatalogError> {
        Ok(
            sqlx::query(
                "UPDATE objects SET legal_hold = $1 WHERE aoid = $2 AND deleted_at IS NULL",
            )
            .bind(hold.map(str::to_string))
            .bind(aoid)
            .execute(self.pool())
            .await?
            .rows_affected()
                == 1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_in_their_one_shape() {
        let good = format!("bwr_{}_{}", "0123456789abcdef", "A".repeat(43));
        assert!(parse_token(&good).is_some());
        for bad in [
            "",
            "bwr_",
            "bearer",
            &format!("bwr_{}_{}", "0123456789abcde", "A".repeat(43)),
            &format!("bwr_{}_{}", "0123456789abcdeg", "A".repeat(43)),
            &format!("bwr_{}_{}", "0123456789abcdef", "A".repeat(42)),
            &format!("bwr_{}_{}", "0123456789abcdef", "*".repeat(43)),
            &format!("xyz_{}_{}", "0123456789abcdef", "A".repeat(43)),
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }
}
