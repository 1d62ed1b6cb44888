//! Bouncy Castle interop (see tests/java).
