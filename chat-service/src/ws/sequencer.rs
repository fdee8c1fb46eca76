//! Per-socket ordering of `message` frames.
//!
//! Fan-out through Redis may reorder two messages of one conversation sent through
//! different replicas, deliver a message twice (a `resume` racing the live copy) or lose one
//! (a Redis blip). Message ids are dense per conversation and id n+1 is never committed
//! before id n, so a socket that remembers what it has sent per conversation can tell: an id
//! it has sent is a duplicate, the next id is in order, anything further means the messages
//! in between are stored but not (yet) received — the socket reads them from the database
//! and sends them first.
//!
//! Per conversation the socket has sent exactly the ids in (`floor`, `last`]: both start at
//! the conversation's newest id when the socket opens (older messages are the client's to
//! `resume`), `last` grows with every message sent, and a `resume` lowers `floor`.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The next message: send it.
    InOrder,
    /// Already sent on this socket: drop it.
    Duplicate,
    /// Messages with ids in (`after`, `before`) are missing: fetch and send them first.
    Gap { after: i64, before: i64 },
}

/// What a `resume {after}` still has to send: ids in (`after`, `below`] when `below` is
/// above `after`, then every id above `above`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePlan {
    pub after: i64,
    pub below: i64,
    pub above: i64,
}

#[derive(Debug, Default)]
pub struct Sequencer {
    /// conversation → (floor, last).
    sent: HashMap<i64, (i64, i64)>,
}

impl Sequencer {
    /// Starts from each conversation's newest id when the socket opened. A conversation not
    /// listed is newer than the socket and starts from 0.
    pub fn new(cursors: impl IntoIterator<Item = (i64, i64)>) -> Self {
        Self {
            sent: cursors
                .into_iter()
                .map(|(c, last)| (c, (last, last)))
                .collect(),
        }
    }

    pub fn last_sent(&self, conversation: i64) -> i64 {
        self.range(conversation).1
    }

    pub fn check(&self, conversation: i64, id: i64) -> Verdict {
        let last = self.last_sent(conversation);
        if id <= last {
            Verdict::Duplicate
        } else if id == last + 1 {
            Verdict::InOrder
        } else {
            Verdict::Gap {
                after: last,
                before: id,
            }
        }
    }

    /// Records that every id up to `id` above the floor has been sent.
    pub fn sent(&mut self, conversation: i64, id: i64) {
        let entry = self.sent.entry(conversation).or_insert((0, 0));
        entry.1 = entry.1.max(id);
    }

    /// Everything after `after` this socket has not sent yet.
    pub fn plan_resume(&self, conversation: i64, after: i64) -> ResumePlan {
        let (floor, last) = self.range(conversation);
        ResumePlan {
            after,
            below: floor,
            above: last.max(after),
        }
    }

    /// Records that a resume from `after` has been sent in full.
    pub fn resumed(&mut self, conversation: i64, after: i64) {
        let entry = self.sent.entry(conversation).or_insert((0, 0));
        entry.0 = entry.0.min(after.max(0));
        entry.1 = entry.1.max(after);
    }

    fn range(&self, conversation: i64) -> (i64, i64) {
        self.sent.get(&conversation).copied().unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_id_is_sent_older_ones_dropped_and_jumps_reported_as_gaps() {
        let mut seq = Sequencer::new([(1, 10)]);
        assert_eq!(seq.check(1, 10), Verdict::Duplicate);
        assert_eq!(seq.check(1, 11), Verdict::InOrder);
        assert_eq!(
            seq.check(1, 14),
            Verdict::Gap {
                after: 10,
                before: 14
            }
        );
        seq.sent(1, 14);
        assert_eq!(seq.check(1, 12), Verdict::Duplicate);
        seq.sent(1, 3);
        assert_eq!(seq.last_sent(1), 14);
    }

    #[test]
    fn conversations_newer_than_the_socket_start_from_zero() {
        let seq = Sequencer::new([(1, 10)]);
        assert_eq!(seq.check(2, 1), Verdict::InOrder);
        assert_eq!(
            seq.check(2, 3),
            Verdict::Gap {
                after: 0,
                before: 3
            }
        );
    }

    #[test]
    fn a_resume_skips_what_the_socket_already_pushed() {
        // Opened at 10, pushed 11 and 12 live; the client last saw 7.
        let mut seq = Sequencer::new([(1, 10)]);
        seq.sent(1, 12);
        assert_eq!(
            seq.plan_resume(1, 7),
            ResumePlan {
                after: 7,
                below: 10,
                above: 12
            }
        );
        seq.resumed(1, 7);
        // Now everything after 7 has been sent: a second resume sends only newer ones.
        assert_eq!(
            seq.plan_resume(1, 7),
            ResumePlan {
                after: 7,
                below: 7,
                above: 12
            }
        );
        // A client ahead of the socket asks for nothing it has.
        assert_eq!(
            seq.plan_resume(1, 20),
            ResumePlan {
                after: 20,
                below: 7,
                above: 20
            }
        );
    }
}
