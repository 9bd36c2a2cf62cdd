//! The gRPC `JobService` (tonic), over the same [`Jobs`] as REST. Every
//! call needs an API key in the `authorization` metadata (`Bearer <key>`).

use std::pin::Pin;

use futures::{Stream, StreamExt};
use steno_runtime::{
    metrics,
    proto::{
        self, Format, JobEvent,
        job_service_server::{JobService, JobServiceServer},
    },
};
use tonic::{Request, Response, Status};

use crate::{
    auth::Caller,
    error::ApiError,
    jobs::Jobs,
    submission::{SubmitJson, Via},
    views::{content_type, format_extension, to_proto_job},
};

/// The service; a request over `max_message_bytes` (a `Submit` carrying
/// large media) is refused with `OUT_OF_RANGE` naming the limit.
pub fn service(jobs: Jobs, max_message_bytes: usize) -> JobServiceServer<Grpc> {
    JobServiceServer::new(Grpc { jobs }).max_decoding_message_size(max_message_bytes)
}

pub struct Grpc {
    jobs: Jobs,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl JobService for Grpc {
    type WatchStream = EventStream;

    async fn submit(&self, request: Request<proto::SubmitRequest>) -> Result<Response<proto::Job>, Status> {
        observed("Submit", self.submit_call(request)).await
    }

    async fn get(&self, request: Request<proto::GetRequest>) -> Result<Response<proto::Job>, Status> {
        observed("Get", self.get_call(request)).await
    }

    async fn list(&self, request: Request<proto::ListRequest>) -> Result<Response<proto::ListResponse>, Status> {
        observed("List", self.list_call(request)).await
    }

    async fn watch(&self, request: Request<proto::WatchRequest>) -> Result<Response<EventStream>, Status> {
        observed("Watch", self.watch_call(request)).await
    }

    async fn cancel(&self, request: Request<proto::CancelRequest>) -> Result<Response<proto::Job>, Status> {
        observed("Cancel", self.cancel_call(request)).await
    }

    async fn retry(&self, request: Request<proto::RetryRequest>) -> Result<Response<proto::Job>, Status> {
        observed("Retry", async {
            let caller = self.caller(&request).await?;
            let row = self.jobs.retry(&caller, &ApiError::job_id(&request.into_inner().id)?).await?;
            Ok(Response::new(to_proto_job(&row)))
        })
        .await
    }

    async fn delete(&self, request: Request<proto::DeleteRequest>) -> Result<Response<proto::DeleteResponse>, Status> {
        observed("Delete", async {
            let caller = self.caller(&request).await?;
            self.jobs.delete(&caller, &ApiError::job_id(&request.into_inner().id)?).await?;
            Ok(Response::new(proto::DeleteResponse {}))
        })
        .await
    }

    async fn get_transcript(
        &self,
        request: Request<proto::GetTranscriptRequest>,
    ) -> Result<Response<proto::TranscriptFile>, Status> {
        observed("GetTranscript", self.get_transcript_call(request)).await
    }

    async fn rename_speakers(
        &self,
        request: Request<proto::RenameSpeakersRequest>,
    ) -> Result<Response<proto::SpeakersResponse>, Status> {
        observed("RenameSpeakers", async {
            let caller = self.caller(&request).await?;
            let request = request.into_inner();
            let names = request.names.into_iter().collect();
            let speakers = self.jobs.rename_speakers(&caller, &ApiError::job_id(&request.id)?, &names).await?;
            let speakers = speakers.into_iter().map(|s| proto::SpeakerName { id: s.id, name: s.name }).collect();
            Ok(Response::new(proto::SpeakersResponse { speakers }))
        })
        .await
    }
}

/// Records a call's latency and status code.
async fn observed<T>(
    method: &'static str,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Result<Response<T>, Status> {
    let clock = std::time::Instant::now();
    let result = call.await;
    let code = result.as_ref().map_or_else(|status| format!("{:?}", status.code()), |_| "Ok".to_owned());
    metrics::grpc_request(method, &code, clock.elapsed().as_secs_f64());
    result
}

impl Grpc {
    /// The caller the request's `authorization` metadata names.
    async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, ApiError> {
        let credential = request.metadata().get("authorization").and_then(|v| v.to_str().ok());
        self.jobs.authenticate(credential).await
    }

    async fn submit_call(&self, request: Request<proto::SubmitRequest>) -> Result<Response<proto::Job>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let options = request.options.unwrap_or_default();
        let spec = SubmitJson {
            source_url: Some(request.source_url.clone()).filter(|u| !u.is_empty()),
            language: Some(options.language.clone()),
            diarize: options.diarize,
            formats: Some(
                options.formats().map(|f| format_extension(f).to_owned()).filter(|f| !f.is_empty()).collect(),
            ),
            model: Some(options.model.clone()),
            beam_size: Some(options.beam_size),
            temperature: Some(options.temperature),
            initial_prompt: Some(options.initial_prompt.clone()),
            hotwords: Some(options.hotwords.clone()),
            translate: Some(options.translate),
            word_timestamps: options.word_timestamps,
            num_speakers: Some(options.num_speakers).filter(|&n| n > 0),
            min_speakers: Some(options.min_speakers).filter(|&n| n > 0),
            max_speakers: Some(options.max_speakers).filter(|&n| n > 0),
            webhook_url: Some(options.webhook_url.clone()).filter(|u| !u.is_empty()),
            job_id: Some(request.job_id.clone()).filter(|i| !i.is_empty()),
            idempotency_key: Some(request.idempotency_key.clone()).filter(|k| !k.is_empty()),
        };
        let (row, _) = if request.upload.is_empty() {
            self.jobs.submit_url(&caller, &spec, Via::Grpc).await?
        } else {
            let mut media = request.upload.as_slice();
            self.jobs.submit_upload(&caller, &spec, &request.filename, &mut media, Via::Grpc).await?
        };
        Ok(Response::new(to_proto_job(&row)))
    }

    async fn get_call(&self, request: Request<proto::GetRequest>) -> Result<Response<proto::Job>, Status> {
        let caller = self.caller(&request).await?;
        let row = self.jobs.get(&caller, &ApiError::job_id(&request.into_inner().id)?).await?;
        Ok(Response::new(to_proto_job(&row)))
    }

    async fn list_call(&self, request: Request<proto::ListRequest>) -> Result<Response<proto::ListResponse>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let status = Some(request.status()).filter(|s| *s != proto::JobStatus::Unspecified);
        let limit = Some(request.limit).filter(|l| *l > 0);
        let page = self.jobs.list(&caller, status, limit, Some(request.cursor.as_str())).await?;
        Ok(Response::new(proto::ListResponse {
            jobs: page.jobs.iter().map(to_proto_job).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn watch_call(&self, request: Request<proto::WatchRequest>) -> Result<Response<EventStream>, Status> {
        let caller = self.caller(&request).await?;
        let events = self.jobs.events(&caller, &ApiError::job_id(&request.into_inner().id)?, None).await?;
        Ok(Response::new(Box::pin(events.map(|event| event.map(|(_, event)| event).map_err(Status::from)))))
    }

    async fn cancel_call(&self, request: Request<proto::CancelRequest>) -> Result<Response<proto::Job>, Status> {
        let caller = self.caller(&request).await?;
        let row = self.jobs.cancel(&caller, &ApiError::job_id(&request.into_inner().id)?).await?;
        Ok(Response::new(to_proto_job(&row)))
    }

    async fn get_transcript_call(
        &self,
        request: Request<proto::GetTranscriptRequest>,
    ) -> Result<Response<proto::TranscriptFile>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let format = match request.format() {
            Format::Unspecified => Format::Txt,
            format => format,
        };
        let body = self.jobs.transcript(&caller, &ApiError::job_id(&request.id)?, format).await?;
        // Text formats in `content`, binary ones (PDF) in `data`.
        let (content, data) = if steno_export::export_format(format).is_some_and(|f| !f.is_text()) {
            (String::new(), body)
        } else {
            (String::from_utf8_lossy(&body).into_owned(), Vec::new())
        };
        Ok(Response::new(proto::TranscriptFile {
            format: format as i32,
            content_type: content_type(format).to_owned(),
            content,
            data,
        }))
    }
}
