//! Mail: the messages we send, and the ones readers send back.

pub mod auth_results;
pub mod compose;
pub mod extract;
pub mod message;
pub mod token;
pub mod unsubscribe;
