//! bounce's integration tests, one binary: each module is one story (what used to be a
//! test binary of its own), so the suite links once per crate.
// Test code: a panic is how a test (or its helper) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod documents;
mod endpoints;
mod faults;
mod fleet;
mod networks;
mod outage;
mod redirect;
mod selection;
mod tiers;
mod vantages;
