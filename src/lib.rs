//! dispatch: a newsletter publishing pipeline. Markdown issues in; email, web archive and
//! readers' replies out.

pub mod address;
pub mod build;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod fsutil;
pub mod html;
pub mod issue;
pub mod links;
pub mod mail;
pub mod newsletter;
pub mod render;
pub mod replies;
pub mod send;
pub mod serve;
pub mod store;
pub mod subscriber_csv;
