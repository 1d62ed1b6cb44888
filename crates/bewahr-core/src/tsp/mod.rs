//! RFC 3161 time-stamps: tokens, requests and responses, trust in TSAs, the
//! verification of a TSA's answer (the HTTP client is `bewahr-net`'s, the development TSA `bewahr-devtsa`).

pub mod augment;
pub mod oid;
pub mod request;
pub mod sig;
pub mod signed_data;
pub mod token;
pub mod trust;
pub mod tstinfo;

pub use request::{check_response, Granted, ResponseError, TsaRequest};
pub use token::{check_token, CheckedToken, TokenError};
