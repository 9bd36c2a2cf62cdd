//! With `tracing.otlp_endpoint` set, spans leave every service over OTLP,
//! and one job is one trace: the gateway's submission span and a span per
//! stage, in four services, share the job's trace id. The receiver here is
//! a real OTLP/gRPC `TraceService` server.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};

use crate::{
    fixtures::serve_media,
    harness::{System, free_port, wait_until},
};

/// (service name, span name, trace id, parent span id) of every span received.
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>, Vec<u8>)>>>;

struct Collector(Received);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().expect("lock");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push((service.clone(), span.name, span.trace_id, span.parent_span_id));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_one_trace_exported_over_otlp() {
    let received: Received = Arc::default();
    let port = free_port();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(Collector(received.clone())))
        .serve(([127, 0, 0, 1], port).into());
    tokio::spawn(server);
    let endpoint = format!("http://127.0.0.1:{port}");
    let system = System::start_with(&[("STENO_TRACING__OTLP_ENDPOINT", &endpoint)]).await;
    let media = serve_media().await;
    let api = system.api();
    let id = api.submit_url(&format!("{media}/speech.wav"), &["txt"]).await;
    assert_eq!(api.finished(&id, Duration::from_secs(180)).await["status"], "completed");

    // The batch exporters flush every few seconds.
    let spans = wait_until("spans from the gateway and four stages", Duration::from_secs(30), || async {
        let received = received.lock().expect("lock").clone();
        let submit = received.iter().find(|(_, name, _, _)| name == "job.submit")?.clone();
        let in_trace: Vec<_> = received.iter().filter(|(_, _, trace, _)| *trace == submit.2).cloned().collect();
        let services: BTreeSet<&str> = in_trace.iter().map(|(service, _, _, _)| service.as_str()).collect();
        (services.len() >= 5).then_some(in_trace)
    })
    .await;
    let stage_spans = spans.iter().filter(|(_, name, _, _)| name == "stage").count();
    assert!(stage_spans >= 4, "a span per stage: {spans:?}");
    assert!(
        spans.iter().filter(|(_, name, _, _)| name == "stage").all(|(_, _, _, parent)| !parent.is_empty()),
        "every stage span has a parent from the message headers: {spans:?}"
    );
    system.stop().await;
}
