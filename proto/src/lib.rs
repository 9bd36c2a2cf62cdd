//! steno's wire types: the `steno.v1` protobuf package (stage tasks, job
//! events, job options) and the gateway's gRPC `JobService`, generated at
//! build time from `proto/steno/v1/steno.proto`.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("steno.v1");
}

impl v1::JobStatus {
    /// Every status a job can be in, in order.
    pub const ALL: [Self; 5] = [Self::Queued, Self::Running, Self::Completed, Self::Failed, Self::Cancelled];

    /// The name the ledger and the REST API use: `queued`, `running`,
    /// `completed`, `failed`, `cancelled` (`unspecified` for the zero value).
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Completed, failed or cancelled: the job never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// Reads a status stored by name (the ledger's `status` column).
impl TryFrom<String> for v1::JobStatus {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::from_name(&name).ok_or_else(|| format!("unknown job status {name:?}"))
    }
}

impl std::fmt::Display for v1::JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
