//! Extractors that do the archive service's checks once per request.
//!
//! `OwnedObject<op::Evidence>` in a handler's arguments means: the caller's
//! role may fetch evidence (else 403), the path's `{aoid}` is an archive
//! object id and names an object of the caller's tenant (else 404, the same
//! for "no such object" and "another tenant's"), and the path's `{n}`, if
//! the route has one, is a version number (else 404). The handler gets the
//! service's [`Owned`] proof and cannot forget a check.

use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::access::Principal;
use crate::ids::VersionNo;
use crate::service::{Authorized, Operation, Owned, ServiceError};

/// An operation as a type, for the extractors.
pub trait Op: Send + Sync + 'static {
    const OP: Operation;
}

/// The operations, as types (`OwnedObject<op::ReadObject>`).
pub mod op {
    use super::{Op, Operation};

    macro_rules! ops {
        ($($name:ident),*) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl Op for $name {
                const OP: Operation = Operation::$name;
            }
        )*};
    }
    ops!(
        Submit,
        AddVersion,
        ReadObject,
        ReadContent,
        Evidence,
        Validation,
        Delete,
        LegalHold,
        Trace,
        Search,
        Verify
    );
}

fn principal(parts: &Parts) -> Result<Principal, ApiError> {
    // `authenticate` puts it there for every route but the health checks
    parts
        .extensions
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::Unauthorized)
}

/// An archive object of the caller's tenant that the caller may do `O` to,
/// and the version the path names, if any.
pub struct OwnedObject<O: Op> {
    pub object: Owned,
    /// The path's `{n}`.
    pub version: Option<VersionNo>,
    _op: PhantomData<O>,
}

impl<O: Op> FromRequestParts<AppState> for OwnedObject<O> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = principal(parts)?;
        // the role first: a forbidden caller learns nothing about ids
        state.archive.authorize(&p, O::OP)?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such archive object".into()))?;
        let aoid = params.get("aoid").map(String::as_str).unwrap_or("");
        let object = state.archive.authorize_object(&p, O::OP, aoid).await?;
        let version =
            match params.get("n") {
                Some(n) => Some(VersionNo::parse(n).map_err(|_| {
                    ApiError::from(ServiceError::NotFound(format!("no version {n}")))
                })?),
                None => None,
            };
        Ok(OwnedObject {
            object,
            version,
            _op: PhantomData,
        })
    }
}

/// A caller allowed to do `O`, an operation that names no object.
pub struct Allowed<O: Op> {
    pub who: Authorized,
    _op: PhantomData<O>,
}

impl<O: Op> FromRequestParts<AppState> for Allowed<O> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = principal(parts)?;
        Ok(Allowed {
            who: state.archive.authorize(&p, O::OP)?,
            _op: PhantomData,
        })
    }
}
