//! Fan-out and join. A stage may split a task into parts (tasks for the same
//! stage that any replica takes); the route goes on once, from the delivery
//! that completes the set. Which parts are done is one KV entry per split
//! task, changed only by compare-and-set, so a redelivered part is neither
//! processed twice nor lost, and exactly one part joins.

use std::collections::BTreeSet;

use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize};
use steno_proto::v1::{Part, Stage as StageKind};

use crate::{JobId, subjects};

/// The parts of one split task: its KV entry and where this part stands.
pub struct Parts {
    flags: kv::Store,
    key: String,
    part: Part,
}

/// What the KV entry holds.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Record {
    count: u32,
    done: BTreeSet<u32>,
    /// The part whose completion finished the set: only it joins.
    joiner: Option<u32>,
}

/// Where a part stands before it is processed.
#[derive(Debug, PartialEq)]
pub enum Status {
    ToDo,
    /// Processed by an earlier delivery; nothing left for this one.
    Done,
    /// This part completed the set, but its join did not finish: join again.
    Join,
}

/// What recording a part as done found.
#[derive(Debug, PartialEq)]
pub enum Marked {
    /// Other parts are still to come.
    Waiting { done: u32, count: u32 },
    /// This was the last: the caller joins.
    Complete,
}

impl Parts {
    pub fn new(flags: kv::Store, job_id: &JobId, stage: StageKind, attempt: u32, part: Part) -> Self {
        Self { flags, key: subjects::parts_key(job_id, stage, attempt), part }
    }

    pub async fn status(&self) -> anyhow::Result<Status> {
        let (record, _) = self.load().await?;
        Ok(record.status_of(self.part.index))
    }

    /// Records this part as done (compare-and-set, retried on a race).
    pub async fn mark_done(&self) -> anyhow::Result<Marked> {
        loop {
            let (mut record, revision) = self.load().await?;
            let marked = record.mark(self.part);
            let value = serde_json::to_vec(&record)?.into();
            let written = match revision {
                None => self
                    .flags
                    .create(&self.key, value)
                    .await
                    .map_err(|e| (e.kind() == kv::CreateErrorKind::AlreadyExists, e.to_string())),
                Some(revision) => self
                    .flags
                    .update(&self.key, value, revision)
                    .await
                    .map_err(|e| (e.kind() == kv::UpdateErrorKind::WrongLastRevision, e.to_string())),
            };
            match written {
                Ok(_) => return Ok(marked),
                Err((true, _)) => continue, // another part wrote first: read again
                Err((false, e)) => anyhow::bail!("record part {} of {} as done: {e}", self.part.index, self.key),
            }
        }
    }

    async fn load(&self) -> anyhow::Result<(Record, Option<u64>)> {
        let entry = self.flags.entry(&self.key).await.map_err(|e| anyhow::anyhow!("read {}: {e}", self.key))?;
        match entry.filter(|e| e.operation == kv::Operation::Put) {
            None => Ok((Record::default(), None)),
            Some(entry) => {
                let record = serde_json::from_slice(&entry.value)
                    .map_err(|e| anyhow::anyhow!("{} is not a parts record: {e}", self.key))?;
                Ok((record, Some(entry.revision)))
            }
        }
    }
}

impl Record {
    fn status_of(&self, index: u32) -> Status {
        match (self.done.contains(&index), self.joiner) {
            (false, _) => Status::ToDo,
            (true, Some(joiner)) if joiner == index => Status::Join,
            (true, _) => Status::Done,
        }
    }

    fn mark(&mut self, part: Part) -> Marked {
        self.count = part.count;
        self.done.insert(part.index);
        let done = self.done.len() as u32;
        if done < self.count {
            return Marked::Waiting { done, count: self.count };
        }
        if self.joiner.is_none() {
            self.joiner = Some(part.index);
        }
        if self.joiner == Some(part.index) { Marked::Complete } else { Marked::Waiting { done, count: self.count } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: u32) -> Part {
        Part { index, count: 3, start_ms: 0 }
    }

    #[test]
    fn the_part_that_completes_the_set_joins_once() {
        let mut record = Record::default();
        assert_eq!(record.mark(part(2)), Marked::Waiting { done: 1, count: 3 });
        assert_eq!(record.mark(part(0)), Marked::Waiting { done: 2, count: 3 });
        assert_eq!(record.status_of(1), Status::ToDo);
        assert_eq!(record.mark(part(1)), Marked::Complete);
        assert_eq!(record.status_of(1), Status::Join, "a redelivered joiner joins again");
        assert_eq!(record.status_of(0), Status::Done, "a redelivered part does nothing");
        assert_eq!(record.mark(part(0)), Marked::Waiting { done: 3, count: 3 }, "marking twice never joins twice");
    }
}
