//! Mail: the messages we send.

pub mod compose;
pub mod token;
pub mod unsubscribe;
