//! Moderating the pending replies one at a time (`dispatch replies review`): the queue in the
//! order the editor meets them, what each decision does to the store (at once, so that a run
//! cut short resumes at the next pending reply), the tally, and the reader's words made safe
//! and fitted for a terminal. The keys and the screen belong to the binary (`cmd/review.rs`).

use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

use crate::address::escape_controls;
use crate::issue::IssueId;
use crate::store::Store;
use crate::store::replies::{Approval, Filter, Reply, Status};

/// What the editor decided for one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Published under the sender's name (or the name the editor chose before).
    Approve,
    /// Published as "A reader".
    ApproveAnonymously,
    /// Kept, never published.
    Reject,
    /// Left pending: the next run shows it again.
    Skip,
}

/// What one run did, for the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub approved: usize,
    pub rejected: usize,
    pub skipped: usize,
    /// Replies of the queue not reached (the run was quit before them).
    pub left: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "approved {}, rejected {}, skipped {}, left {}",
            self.approved, self.rejected, self.skipped, self.left
        )
    }
}

/// The pending replies of one run and how far the editor got.
#[derive(Debug)]
pub struct Review {
    queue: Vec<Reply>,
    at: usize,
    tally: Tally,
    /// The decisions of this run, the last one last, for [`Review::undo`].
    done: Vec<Done>,
}

/// One decision of the run: where in the queue, which reply, its anonymity before and the
/// anonymity the decision set.
#[derive(Debug, Clone, Copy)]
struct Done {
    at: usize,
    id: i64,
    decision: Decision,
    anonymous: bool,
    set_anonymous: bool,
}

/// What [`Review::undo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// The reply is pending again; `decision` was taken back.
    Pending { id: i64, decision: Decision },
    /// Another command changed the reply since; it was left with `status`.
    ChangedMeanwhile { id: i64, status: Status },
}

impl Review {
    /// The pending replies (to `issue` alone when given) in the order [`order`] sets.
    pub fn load(store: &Store, issue: Option<IssueId>) -> anyhow::Result<Review> {
        let mut queue = store.replies(&Filter {
            issue,
            status: Some(Status::Pending),
        })?;
        order(&mut queue);
        Ok(Review {
            queue,
            at: 0,
            tally: Tally::default(),
            done: Vec::new(),
        })
    }

    /// How many replies the run started with.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next reply to decide and its place in the queue (from 1), read again from the
    /// store so that the editor sees its latest text and note; a reply decided meanwhile by
    /// another command is passed over. `None` at the end of the queue.
    pub fn current(&mut self, store: &Store) -> anyhow::Result<Option<(usize, Reply)>> {
        while let Some(queued) = self.queue.get(self.at) {
            let reply = store.reply(queued.id)?;
            if reply.status == Status::Pending {
                return Ok(Some((self.at + 1, reply)));
            }
            self.at += 1;
        }
        Ok(None)
    }

    /// Applies `decision` to `reply` (the one [`Review::current`] gave) and moves on. Approval
    /// keeps the note and the name the editor set on the reply.
    pub fn decide(
        &mut self,
        store: &mut Store,
        reply: &Reply,
        decision: Decision,
    ) -> anyhow::Result<()> {
        match decision {
            Decision::Approve | Decision::ApproveAnonymously => {
                let approval = Approval {
                    note: reply.note.clone(),
                    anonymous: decision == Decision::ApproveAnonymously,
                    name: reply.display_name.clone(),
                };
                store.approve_replies(&[reply.id], &approval)?;
                self.tally.approved += 1;
            }
            Decision::Reject => {
                store.reject_replies(&[reply.id])?;
                self.tally.rejected += 1;
            }
            Decision::Skip => self.tally.skipped += 1,
        }
        self.done.push(Done {
            at: self.at,
            id: reply.id,
            decision,
            anonymous: reply.anonymous,
            set_anonymous: match decision {
                Decision::Approve => false,
                Decision::ApproveAnonymously => true,
                Decision::Reject | Decision::Skip => reply.anonymous,
            },
        });
        self.at += 1;
        Ok(())
    }

    /// Whether this run decided something that [`Review::undo`] can take back.
    pub fn can_undo(&self) -> bool {
        !self.done.is_empty()
    }

    /// Takes back the last decision of this run: the reply is pending again and comes next.
    /// A reply another command changed since (it is not as this run left it) is left as that
    /// command set it, and said so. An error when nothing was decided yet.
    pub fn undo(&mut self, store: &mut Store) -> anyhow::Result<Undone> {
        let Some(last) = self.done.pop() else {
            anyhow::bail!("nothing to undo in this run");
        };
        let (set, counter) = match last.decision {
            Decision::Approve | Decision::ApproveAnonymously => {
                (Some(Status::Approved), &mut self.tally.approved)
            }
            Decision::Reject => (Some(Status::Rejected), &mut self.tally.rejected),
            Decision::Skip => (None, &mut self.tally.skipped),
        };
        *counter -= 1;
        self.at = last.at;
        let now = store.reply(last.id)?;
        let as_left = match set {
            Some(status) => {
                now.status == status
                    && now.anonymous == last.set_anonymous
                    && store.return_to_pending(last.id, status, last.anonymous)?
            }
            None => now.status == Status::Pending,
        };
        if !as_left {
            return Ok(Undone::ChangedMeanwhile {
                id: last.id,
                status: store.reply(last.id)?.status,
            });
        }
        Ok(Undone::Pending {
            id: last.id,
            decision: last.decision,
        })
    }

    /// The tally so far; the replies not reached count as left.
    pub fn tally(&self) -> Tally {
        Tally {
            left: self.queue.len().saturating_sub(self.at),
            ..self.tally
        }
    }
}

/// The order of review: the newest issue first (its replies are the ones the next issue
/// publishes), replies tied to no issue last; within an issue the oldest reply first, as
/// they came in.
pub fn order(replies: &mut [Reply]) {
    replies.sort_by(|a, b| {
        b.issue
            .is_some()
            .cmp(&a.issue.is_some())
            .then_with(|| b.issue.cmp(&a.issue))
            .then_with(|| a.received_at.cmp(&b.received_at))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Sets the text of a reply to what the editor saved; `false` (and nothing changed) when
/// the saved text is empty or the same.
pub fn save_text(store: &mut Store, reply: &Reply, edited: &str) -> anyhow::Result<bool> {
    let edited = edited.trim_end();
    if edited.trim().is_empty() || edited == reply.text.trim_end() {
        return Ok(false);
    }
    store.set_reply_text(reply.id, edited)?;
    Ok(true)
}

/// A single line a reader wrote (a name, an address, a subject), safe to print on a
/// terminal: line breaks, escape sequences and every other control character shown as
/// escapes, so that nothing in it can move the cursor, change colours or retitle the window.
pub fn terminal_line(text: &str) -> String {
    escape_controls(text).into_owned()
}

/// A text a reader wrote, as lines safe to print on a terminal: tabs become spaces, and
/// every other control character (the escape of an escape sequence, a lone carriage return,
/// C1 controls) is shown escaped, as in [`terminal_line`].
pub fn terminal_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| terminal_line(&line.replace('\t', "    ")))
        .collect()
}

/// `lines` (already safe, see [`terminal_lines`]) wrapped to `width` columns: at spaces where
/// there are some, inside a word longer than the line otherwise. Wide characters (CJK,
/// emoji) count two columns.
pub fn wrap(lines: &[String], width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for line in lines {
        if line.width() <= width {
            out.push(line.clone());
            continue;
        }
        let mut current = String::new();
        let mut current_width = 0;
        for word in line.split_inclusive(' ') {
            let word_width = word.trim_end().width();
            if current_width > 0 && current_width + word_width > width {
                out.push(current.trim_end().to_string());
                current.clear();
                current_width = 0;
            }
            for c in word.chars() {
                let w = c.width().unwrap_or(0);
                if current_width + w > width && c != ' ' {
                    out.push(std::mem::take(&mut current));
                    current_width = 0;
                }
                current.push(c);
                current_width += w;
            }
        }
        out.push(current.trim_end().to_string());
    }
    out
}

/// The sender as the editor should see it: name and address.
pub fn sender(reply: &Reply) -> String {
    match &reply.from_name {
        Some(name) => terminal_line(&format!("{name} <{}>", reply.from_address)),
        None => terminal_line(&reply.from_address),
    }
}

/// When the reply was received, in UTC to the minute; the stored text when it is not a
/// date dispatch wrote.
pub fn received(reply: &Reply) -> String {
    match reply.received_at.as_deref() {
        None => "unknown".to_string(),
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .map(|d| {
                d.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string()
            })
            .unwrap_or_else(|_| terminal_line(at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::replies::{NewReply, insert_reply};

    fn add(store: &mut Store, id: &str, issue: Option<(u32, u32)>, at: &str) {
        let reply = NewReply {
            message_id: id,
            issue: issue.map(|(v, n)| IssueId::new(v, n)),
            subscriber_id: None,
            from_address: "ann@example.org",
            from_name: Some("Ann"),
            subject: "Re: hi",
            received_at: Some(at.to_string()),
            text: id,
            original: None,
        };
        store.batch(|b| Ok(insert_reply(b, &reply)?)).unwrap();
    }

    fn texts(review: &Review) -> Vec<&str> {
        review.queue.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn newest_issue_first_then_oldest_reply_first_then_no_issue() {
        let mut store = Store::open_in_memory().unwrap();
        add(
            &mut store,
            "v1n1-late",
            Some((1, 1)),
            "2030-01-05T00:00:00Z",
        );
        add(&mut store, "none", None, "2030-01-01T00:00:00Z");
        add(
            &mut store,
            "v1n2-late",
            Some((1, 2)),
            "2030-02-05T00:00:00Z",
        );
        add(
            &mut store,
            "v1n1-early",
            Some((1, 1)),
            "2030-01-02T00:00:00Z",
        );
        add(&mut store, "v2n1", Some((2, 1)), "2030-03-01T00:00:00Z");
        add(
            &mut store,
            "v1n2-early",
            Some((1, 2)),
            "2030-02-01T00:00:00Z",
        );
        let review = Review::load(&store, None).unwrap();
        assert_eq!(
            texts(&review),
            [
                "v2n1",
                "v1n2-early",
                "v1n2-late",
                "v1n1-early",
                "v1n1-late",
                "none"
            ]
        );
        let only = Review::load(&store, Some(IssueId::new(1, 1))).unwrap();
        assert_eq!(texts(&only), ["v1n1-early", "v1n1-late"]);
    }

    #[test]
    fn decisions_are_stored_at_once_and_a_new_run_resumes() {
        let mut store = Store::open_in_memory().unwrap();
        for (i, id) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            add(
                &mut store,
                id,
                Some((1, 1)),
                &format!("2030-01-0{}T00:00:00Z", i + 1),
            );
        }
        store.set_reply_note(2, Some("Thanks, B.")).unwrap();
        let mut review = Review::load(&store, None).unwrap();
        let decisions = [
            Decision::Approve,
            Decision::ApproveAnonymously,
            Decision::Skip,
            Decision::Reject,
        ];
        for (place, decision) in decisions.into_iter().enumerate() {
            let (at, reply) = review.current(&store).unwrap().unwrap();
            assert_eq!(at, place + 1);
            review.decide(&mut store, &reply, decision).unwrap();
        }
        let tally = review.tally();
        assert_eq!(
            tally.to_string(),
            "approved 2, rejected 1, skipped 1, left 1"
        );

        let status = |id| store.reply(id).unwrap();
        assert_eq!(status(1).status, Status::Approved);
        assert_eq!(status(1).shown_name(), "Ann");
        assert_eq!(status(2).status, Status::Approved);
        assert_eq!(status(2).shown_name(), "A reader");
        assert_eq!(status(2).note.as_deref(), Some("Thanks, B."), "note kept");
        assert_eq!(status(3).status, Status::Pending, "skipped");
        assert_eq!(status(4).status, Status::Rejected);

        let mut again = Review::load(&store, None).unwrap();
        assert_eq!(texts(&again), ["c", "e"], "the skipped and the unreached");
        // A reply decided by another command meanwhile is passed over.
        store.reject_replies(&[3]).unwrap();
        let (at, reply) = again.current(&store).unwrap().unwrap();
        assert_eq!((at, reply.text.as_str()), (2, "e"));
        again.decide(&mut store, &reply, Decision::Skip).unwrap();
        assert!(again.current(&store).unwrap().is_none());
        assert_eq!(again.tally().left, 0);
    }

    #[test]
    fn undo_takes_back_the_last_decisions_in_turn() {
        let mut store = Store::open_in_memory().unwrap();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            add(
                &mut store,
                id,
                Some((1, 1)),
                &format!("2030-01-0{}T00:00:00Z", i + 1),
            );
        }
        let mut review = Review::load(&store, None).unwrap();
        assert!(!review.can_undo());
        assert!(review.undo(&mut store).is_err(), "nothing to undo");
        for decision in [
            Decision::ApproveAnonymously,
            Decision::Skip,
            Decision::Reject,
        ] {
            let (_, reply) = review.current(&store).unwrap().unwrap();
            review.decide(&mut store, &reply, decision).unwrap();
        }
        assert!(review.current(&store).unwrap().is_none());

        let pending = |id, decision| Undone::Pending { id, decision };
        assert_eq!(
            review.undo(&mut store).unwrap(),
            pending(3, Decision::Reject)
        );
        assert_eq!(store.reply(3).unwrap().status, Status::Pending);
        let (at, reply) = review.current(&store).unwrap().unwrap();
        assert_eq!((at, reply.id), (3, 3), "the undone reply comes next");
        assert_eq!(review.undo(&mut store).unwrap(), pending(2, Decision::Skip));
        assert_eq!(
            review.undo(&mut store).unwrap(),
            pending(1, Decision::ApproveAnonymously)
        );
        let first = store.reply(1).unwrap();
        assert_eq!(first.status, Status::Pending);
        assert_eq!(first.shown_name(), "Ann", "anonymity taken back too");
        assert_eq!(
            review.tally().to_string(),
            "approved 0, rejected 0, skipped 0, left 3"
        );
        let (_, reply) = review.current(&store).unwrap().unwrap();
        review
            .decide(&mut store, &reply, Decision::Approve)
            .unwrap();
        // Decided again by another command before the undo: left as that command set it.
        store.reject_replies(&[1]).unwrap();
        assert_eq!(
            review.undo(&mut store).unwrap(),
            Undone::ChangedMeanwhile {
                id: 1,
                status: Status::Rejected
            }
        );
        assert_eq!(store.reply(1).unwrap().status, Status::Rejected);
        // Approved anonymously by another command after this run approved it by name.
        let (_, reply) = review.current(&store).unwrap().unwrap();
        assert_eq!(reply.id, 2);
        review
            .decide(&mut store, &reply, Decision::Approve)
            .unwrap();
        let anonymously = Approval {
            anonymous: true,
            ..Approval::default()
        };
        store.approve_replies(&[2], &anonymously).unwrap();
        assert!(matches!(
            review.undo(&mut store).unwrap(),
            Undone::ChangedMeanwhile { id: 2, .. }
        ));
        assert_eq!(store.reply(2).unwrap().status, Status::Approved);
    }

    #[test]
    fn an_edit_saves_only_a_changed_non_empty_text() {
        let mut store = Store::open_in_memory().unwrap();
        add(&mut store, "a", Some((1, 1)), "2030-01-01T00:00:00Z");
        let reply = store.reply(1).unwrap();
        assert!(!save_text(&mut store, &reply, "  \n").unwrap());
        assert!(!save_text(&mut store, &reply, "a\n").unwrap());
        assert!(save_text(&mut store, &reply, "Better words.\n").unwrap());
        assert_eq!(store.reply(1).unwrap().text, "Better words.");
    }

    #[test]
    fn nothing_a_reader_wrote_reaches_the_terminal_as_a_control_character() {
        let hostile = "Hi\u{1b}]0;owned\u{7}\tthere\r\n\u{9b}31mred\u{1b}[2J\rover";
        let lines = terminal_lines(hostile);
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
        assert_eq!(lines[0], "Hi\\u{1b}]0;owned\\u{7}    there");
        assert!(lines[1].starts_with("\\u{9b}31mred\\u{1b}[2J\\rover"));
        assert_eq!(terminal_line("Ann\nBcc: x"), "Ann\\nBcc: x");
    }

    #[test]
    fn wraps_at_spaces_and_inside_long_words_by_display_width() {
        let lines = vec!["one two three four".to_string(), "abcdefghij".to_string()];
        assert_eq!(
            wrap(&lines, 9),
            ["one two", "three", "four", "abcdefghi", "j"]
        );
        let wide = vec!["日本語のテキスト".to_string()];
        let wrapped = wrap(&wide, 6);
        assert_eq!(wrapped, ["日本語", "のテキ", "スト"]);
        assert!(wrapped.iter().all(|l| l.width() <= 6));
        assert_eq!(wrap(&[String::new()], 5), [""]);
    }
}
