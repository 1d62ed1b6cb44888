//! The one integration-test binary: conformance data, real peers (Bouncy
//! Castle, `openssl ts`, certomancer) and the `bewahr` command line.

mod support;

mod access;
mod api;
mod asic_export;
mod audit;
mod bouncycastle;
mod c2;
mod certomancer;
mod cli;
mod cluster;
mod connections;
mod devtsa;
mod faults;
mod field;
mod fuzzing;
mod hardening;
mod kill;
mod openssl;
mod pres;
mod renewal;
mod s3;
mod s4;
mod s4_lxaip;
mod s4_update;
mod s4_verify;
mod s4_xaip;
mod seals;
mod service;
mod signatures;
mod sweeper;
mod tls;
mod ui;
mod ui_browser;
mod xades;
mod xaip;
mod xmlers;
