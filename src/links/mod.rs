//! Links: the editor's feeds, and checking the links of an issue.

pub mod check;
pub mod feeds;
