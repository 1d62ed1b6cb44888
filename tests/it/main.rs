//! The one integration-test binary: conformance data, real peers (Bouncy
//! Castle, `openssl ts`, certomancer) and the `bewahr` command line.

mod support;

mod access;
mod api;
mod bouncycastle;
mod c2;
mod certomancer;
mod cli;
mod devtsa;
mod faults;
mod field;
mod fuzzing;
mod hardening;
mod kill;
mod openssl;
mod renewal;
mod seals;
mod signatures;
mod sweeper;
mod tls;
