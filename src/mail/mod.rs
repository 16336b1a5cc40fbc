//! Mail: the messages we send, and the ones readers send back.

pub mod auth_results;
pub mod extract;
pub mod message;
