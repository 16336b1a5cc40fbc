//! Readers' replies: reading them from the editor's mailbox (IMAP), an mbox file or a Maildir,
//! and storing what each message means.

pub mod imap;
pub mod maildir;
pub mod mbox;
pub mod tls;
