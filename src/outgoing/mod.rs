//! Outgoing mail: the message an issue becomes and its headers, the personal parts, the
//! unsubscribe tokens and every form of the link, and the SMTP connection that carries it.
//! `build` asks this room for the `.eml`; `send`, `serve` and `replies import` use the same
//! functions.

pub mod compose;
pub mod headers;
pub mod message;
pub mod smtp;
pub mod token;
pub mod unsubscribe;
