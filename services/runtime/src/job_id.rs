//! `JobId`: the one identifier of a job, safe in subjects, object names and URLs.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("job_id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_' (got {0:?})")]
pub struct InvalidJobId(pub String);

impl JobId {
    /// A fresh, time-ordered id (UUID v7).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn parse(s: &str) -> Result<Self, InvalidJobId> {
        let ok =
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidJobId(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = InvalidJobId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_subject_breaking_ids() {
        for bad in ["", "a.b", "a b", "a>", "*", &"x".repeat(65)] {
            assert!(JobId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(JobId::parse(&JobId::generate().to_string()).is_ok());
    }
}
