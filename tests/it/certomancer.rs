//! certomancer interop.
