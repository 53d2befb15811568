//! tuxedo's integration tests, one binary: each module is one story (what used to be a
//! test binary of its own), so the suite links once per crate.
// Test code: a panic is how a test (or its helper) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod common;
mod endpoints;
mod flows;
mod history;
mod json_admin;
mod json_auth;
mod json_catalogue;
mod json_network;
mod name_space;
mod openapi;
mod publish;
mod read_your_writes;
mod shutdown;
mod stats;
mod stats_import;
mod topology;
mod ui_browser;
mod ui_http;
mod xml_api;
