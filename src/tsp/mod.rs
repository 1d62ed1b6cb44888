//! RFC 3161 time-stamps: tokens, requests and responses, trust in TSAs, the
//! HTTP client and the built-in development TSA.

pub mod augment;
pub mod client;
pub mod devtsa;
pub mod oid;
pub mod request;
pub mod sig;
pub mod signed_data;
pub mod token;
pub mod trust;
pub mod tstinfo;

pub use request::{check_response, Granted, ResponseError, TsaRequest};
pub use token::{check_token, CheckedToken, TokenError};
