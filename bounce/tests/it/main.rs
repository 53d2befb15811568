//! bounce's integration tests, one binary: each module is one story (what used to be a
//! test binary of its own), so the suite links once per crate.

mod common;
mod endpoints;
mod faults;
mod outage;
mod redirect;
mod selection;
mod tiers;
