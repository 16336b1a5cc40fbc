//! mbox files (mboxrd and mboxo): messages separated by `From ` lines, with `>From ` lines in
//! the bodies unescaped.

use std::io::{self, BufRead};

/// The messages of an mbox file, one at a time.
pub struct Mbox<R> {
    input: R,
    line: Vec<u8>,
    message: Vec<u8>,
    in_message: bool,
    previous_blank: bool,
    line_number: u64,
}

impl<R: BufRead> Mbox<R> {
    pub fn new(input: R) -> Self {
        Mbox {
            input,
            line: Vec::new(),
            message: Vec::new(),
            in_message: false,
            previous_blank: true,
            line_number: 0,
        }
    }

    fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            self.line.clear();
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                let last = self.in_message.then(|| self.take_message());
                self.in_message = false;
                return Ok(last);
            }
            self.line_number += 1;
            let separator = self.previous_blank && is_separator(&self.line);
            self.previous_blank = matches!(self.line.as_slice(), b"\n" | b"\r\n");
            if separator {
                let finished = self.in_message.then(|| self.take_message());
                self.in_message = true;
                if finished.is_some() {
                    return Ok(finished);
                }
            } else if self.in_message {
                self.message.extend_from_slice(unescape(&self.line));
            } else if !self.previous_blank {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "line {}: not an mbox file: each message starts with a `From ` line that ends in a time, such as `From sender@example.org Mon Jan  1 00:00:00 2030`",
                        self.line_number
                    ),
                ));
            }
        }
    }

    /// The message collected so far, without the blank line that separates it from the next.
    fn take_message(&mut self) -> Vec<u8> {
        let mut message = std::mem::take(&mut self.message);
        if message.ends_with(b"\r\n\r\n") {
            message.truncate(message.len() - 2);
        } else if message.ends_with(b"\n\n") {
            message.truncate(message.len() - 1);
        }
        message
    }
}

/// `From sender Mon Jan  1 00:00:00 2030`: the time tells it from an unescaped body line that
/// happens to start with "From ".
fn is_separator(line: &[u8]) -> bool {
    line.starts_with(b"From ")
        && line.windows(5).any(|w| {
            w[0].is_ascii_digit()
                && w[1].is_ascii_digit()
                && w[2] == b':'
                && w[3].is_ascii_digit()
                && w[4].is_ascii_digit()
        })
}

/// `>From `, `>>From `…: one `>` less (mboxrd; in mboxo only `>From ` occurs).
fn unescape(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

impl<R: BufRead> Iterator for Mbox<R> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_message().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(input: &str) -> Vec<String> {
        Mbox::new(input.as_bytes())
            .map(|m| String::from_utf8(m.unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn splits_and_unescapes() {
        let mbox = "From a@example.org Mon Jan  1 00:00:00 2030\nSubject: one\n\nHello\n>From here\n>>From there\n\nFrom b@example.org Mon Jan  1 00:00:01 2030\nSubject: two\n\nFrom the start, a body line.\n";
        let got = messages(mbox);
        assert_eq!(
            got,
            vec![
                "Subject: one\n\nHello\nFrom here\n>From there\n".to_string(),
                "Subject: two\n\nFrom the start, a body line.\n".to_string(),
            ]
        );
    }

    #[test]
    fn keeps_crlf_and_empty_file() {
        assert!(messages("").is_empty());
        let got = messages("From x Mon Jan  1 00:00:00 2030\r\nSubject: a\r\n\r\nbody\r\n\r\n");
        assert_eq!(got, vec!["Subject: a\r\n\r\nbody\r\n".to_string()]);
    }

    #[test]
    fn refuses_what_is_not_an_mbox() {
        let err = Mbox::new("Subject: hi\n\nbody\n".as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        // A `From ` line without a time is a body line, and the message says what is missing.
        let err = Mbox::new("From x\nSubject: hi\n\nbody\n".as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("ends in a time"), "{err}");
    }
}
