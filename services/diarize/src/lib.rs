//! steno-diarize: the speaker diarization stage. Diarization is not built
//! yet; the gateway refuses `diarize: true`, so the route never reaches this
//! stage. A task that arrives anyway fails its job with a clear reason
//! instead of pretending to label speakers.

use steno_runtime::{
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Stage, StageError},
};

pub struct Diarize;

impl Stage for Diarize {
    const KIND: StageKind = StageKind::Diarize;

    async fn process(&self, _task: StageTask, _ctx: &JobContext) -> Result<StageTask, StageError> {
        Err(StageError::permanent("diarization is not available on this deployment"))
    }
}
