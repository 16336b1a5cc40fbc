//! Helpers shared by the integration tests (`mod common;` in a test file).
#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod host;
pub mod http;
pub mod mailstack;
pub mod output;
pub mod watch;
pub mod web;
