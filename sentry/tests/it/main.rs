//! sentry's integration tests, one binary: each module is one story (what used to be a
//! test binary of its own), so the suite links once per crate.
// Test code: a panic is how a test (or its helper) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bounded;
mod daemon;
mod families;
mod files;
mod fleet;
mod hysteresis;
mod learning;
mod publish;
mod sizes;
mod support;
mod vantages;
