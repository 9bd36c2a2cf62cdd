//! Every steno metric, defined once (catalogue: `docs/METRICS.md`).
//! Instruments are OpenTelemetry meters read by the Prometheus exporter,
//! which appends the unit (`_seconds`, `_bytes`) and `_total` to counters:
//! the constants below are the OpenTelemetry names, the docs give the
//! exported ones.

use std::sync::OnceLock;

use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter},
};

pub const BUILD_INFO: &str = "steno_build_info";
pub const NATS_CONNECTED: &str = "steno_nats_connected";
pub const STAGE_TASKS: &str = "steno_stage_tasks";
pub const STAGE_PROCESSING: &str = "steno_stage_processing";
pub const STAGE_IN_PROGRESS: &str = "steno_stage_in_progress";
pub const STAGE_REDELIVERIES: &str = "steno_stage_redeliveries";
pub const QUEUE_DEPTH: &str = "steno_stage_queue_depth";
pub const QUEUE_PENDING: &str = "steno_stage_queue_pending";
pub const QUEUE_ACK_PENDING: &str = "steno_stage_queue_ack_pending";
pub const STREAM_MESSAGES: &str = "steno_stage_stream_messages";
pub const STREAM_BYTES: &str = "steno_stage_stream";
pub const OLDEST_PENDING_AGE: &str = "steno_stage_oldest_pending_age";
pub const JOBS_CREATED: &str = "steno_jobs_created";
pub const DEAD_LETTERS: &str = "steno_dead_letters";
pub const JOBS_FINISHED: &str = "steno_jobs_finished";
pub const HTTP_REQUESTS: &str = "steno_http_requests";
pub const HTTP_DURATION: &str = "steno_http_request_duration";
pub const HTTP_IN_FLIGHT: &str = "steno_http_requests_in_flight";
pub const GRPC_REQUESTS: &str = "steno_grpc_requests";
pub const GRPC_DURATION: &str = "steno_grpc_request_duration";
pub const DB_QUERY_DURATION: &str = "steno_db_query_duration";
pub const DB_ERRORS: &str = "steno_db_errors";
pub const DOWNLOAD_BYTES: &str = "steno_download";
pub const DOWNLOAD_DURATION: &str = "steno_download_duration";
pub const TRANSCODE_RATIO: &str = "steno_transcode_seconds_per_audio_second";
pub const MODEL_LOAD: &str = "steno_model_load_duration";
pub const MODELS_LOADED: &str = "steno_models_loaded";
pub const TRANSCRIBE_WINDOW: &str = "steno_transcribe_window_duration";
pub const TRANSCRIBE_RTF: &str = "steno_transcribe_realtime_factor";
pub const DIARIZE_DURATION: &str = "steno_diarize_duration";
pub const DIARIZE_RATIO: &str = "steno_diarize_seconds_per_audio_second";
pub const DIARIZE_SPEAKERS: &str = "steno_diarize_speakers";
pub const EXPORTS: &str = "steno_exports";
pub const GPU_MEMORY_USED: &str = "steno_gpu_memory_used";
pub const GPU_MEMORY_TOTAL: &str = "steno_gpu_memory_total";
pub const GPU_UTILIZATION: &str = "steno_gpu_utilization_ratio";

const SECONDS: [f64; 14] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0];
const FAST_SECONDS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const SPEAKERS: [f64; 8] = [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0];
const RATIOS: [f64; 12] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0];

fn meter() -> Meter {
    global::meter("steno")
}

fn histogram(name: &'static str, unit: &'static str, description: &'static str, buckets: &[f64]) -> Histogram<f64> {
    let meter = meter();
    let builder = meter.f64_histogram(name).with_description(description).with_boundaries(buckets.to_vec());
    if unit.is_empty() { builder.build() } else { builder.with_unit(unit).build() }
}

fn counter(name: &'static str, unit: &'static str, description: &'static str) -> Counter<u64> {
    let meter = meter();
    let builder = meter.u64_counter(name).with_description(description);
    if unit.is_empty() { builder.build() } else { builder.with_unit(unit).build() }
}

/// The push instruments, created once after the meter provider is set.
struct Instruments {
    jobs_created: Counter<u64>,
    jobs_finished: Counter<u64>,
    dead_letters: Counter<u64>,
    http_requests: Counter<u64>,
    http_duration: Histogram<f64>,
    http_in_flight: UpDownCounter<i64>,
    grpc_requests: Counter<u64>,
    grpc_duration: Histogram<f64>,
    db_duration: Histogram<f64>,
    db_errors: Counter<u64>,
    download_bytes: Counter<u64>,
    download_duration: Histogram<f64>,
    transcode_ratio: Histogram<f64>,
    model_load: Histogram<f64>,
    models_loaded: Gauge<u64>,
    transcribe_window: Histogram<f64>,
    transcribe_rtf: Histogram<f64>,
    diarize_duration: Histogram<f64>,
    diarize_ratio: Histogram<f64>,
    diarize_speakers: Histogram<f64>,
    exports: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| Instruments {
        jobs_created: counter(JOBS_CREATED, "", "Jobs accepted, by front door"),
        jobs_finished: counter(JOBS_FINISHED, "", "Jobs that reached a final status"),
        dead_letters: counter(
            DEAD_LETTERS,
            "",
            "Messages kept in STENO_DLQ, by source (stage, submit, ledger) and kind (failed, stranded)",
        ),
        http_requests: counter(HTTP_REQUESTS, "", "REST requests, by method, route and status"),
        http_duration: histogram(HTTP_DURATION, "s", "REST request latency", &FAST_SECONDS),
        http_in_flight: meter()
            .i64_up_down_counter(HTTP_IN_FLIGHT)
            .with_description("REST requests being served")
            .build(),
        grpc_requests: counter(GRPC_REQUESTS, "", "gRPC calls, by method and code"),
        grpc_duration: histogram(GRPC_DURATION, "s", "gRPC call latency (to response headers)", &FAST_SECONDS),
        db_duration: histogram(DB_QUERY_DURATION, "s", "Job ledger query latency", &FAST_SECONDS),
        db_errors: counter(DB_ERRORS, "", "Job ledger queries that failed"),
        download_bytes: counter(DOWNLOAD_BYTES, "By", "Source media bytes downloaded"),
        download_duration: histogram(DOWNLOAD_DURATION, "s", "Time to download one source", &SECONDS),
        transcode_ratio: histogram(TRANSCODE_RATIO, "", "Transcode seconds per second of audio", &RATIOS),
        model_load: histogram(MODEL_LOAD, "s", "Time to load a whisper model", &SECONDS),
        models_loaded: meter().u64_gauge(MODELS_LOADED).with_description("Whisper models held loaded").build(),
        transcribe_window: histogram(TRANSCRIBE_WINDOW, "s", "Transcription time per 30 s window of audio", &SECONDS),
        transcribe_rtf: histogram(
            TRANSCRIBE_RTF,
            "",
            "Audio seconds transcribed per second (above 1 is faster than real time)",
            &RATIOS,
        ),
        diarize_duration: histogram(DIARIZE_DURATION, "s", "Time to diarize one job's audio", &SECONDS),
        diarize_ratio: histogram(DIARIZE_RATIO, "", "Diarization seconds per second of audio", &RATIOS),
        diarize_speakers: histogram(DIARIZE_SPEAKERS, "", "Speakers found per diarized job", &SPEAKERS),
        exports: counter(EXPORTS, "", "Transcript files written, by format"),
    })
}

pub(crate) fn record_build_info(service: &str) {
    let attrs = [
        KeyValue::new("service", service.to_owned()),
        KeyValue::new("version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("git_sha", env!("STENO_GIT_SHA")),
    ];
    meter().u64_gauge(BUILD_INFO).with_description("Always 1; labels say what runs").build().record(1, &attrs);
}

/// `steno_nats_connected`: 1 while the NATS connection is up.
pub(crate) fn register_nats_connected(client: async_nats::Client) {
    let _gauge = meter()
        .u64_observable_gauge(NATS_CONNECTED)
        .with_description("1 while connected to NATS")
        .with_callback(move |observer| {
            let up = client.connection_state() == async_nats::connection::State::Connected;
            observer.observe(u64::from(up), &[]);
        })
        .build();
}

/// Instruments of one stage worker, labelled with its stage.
#[derive(Clone)]
pub struct StageMetrics {
    stage: KeyValue,
    tasks: Counter<u64>,
    processing: Histogram<f64>,
    in_progress: UpDownCounter<i64>,
    redeliveries: Counter<u64>,
}

impl StageMetrics {
    pub fn new(stage: &'static str) -> Self {
        Self {
            stage: KeyValue::new("stage", stage),
            tasks: counter(
                STAGE_TASKS,
                "",
                "Stage tasks handled, by outcome (ok, retried, failed, cancelled, panicked)",
            ),
            processing: histogram(STAGE_PROCESSING, "s", "Time spent processing one stage task", &SECONDS),
            in_progress: meter()
                .i64_up_down_counter(STAGE_IN_PROGRESS)
                .with_description("Stage tasks being processed now")
                .build(),
            redeliveries: counter(STAGE_REDELIVERIES, "", "Stage tasks received again after an earlier delivery"),
        }
    }

    fn labels(&self) -> &[KeyValue] {
        std::slice::from_ref(&self.stage)
    }

    pub fn outcome(&self, outcome: &'static str) {
        self.tasks.add(1, &[self.stage.clone(), KeyValue::new("outcome", outcome)]);
    }

    pub fn processed(&self, seconds: f64) {
        self.processing.record(seconds, self.labels());
    }

    pub fn started(&self) {
        self.in_progress.add(1, self.labels());
    }

    pub fn finished(&self) {
        self.in_progress.add(-1, self.labels());
    }

    pub fn redelivered(&self) {
        self.redeliveries.add(1, self.labels());
    }
}

pub fn job_created(source: &'static str) {
    instruments().jobs_created.add(1, &[KeyValue::new("source", source)]);
}

/// A job reached `status` (completed, failed, cancelled); `source` is how it
/// arrived (rest, grpc, nats).
pub fn job_finished(status: &str, source: &str) {
    let labels = [KeyValue::new("status", status.to_owned()), KeyValue::new("source", source.to_owned())];
    instruments().jobs_finished.add(1, &labels);
}

/// A message was dead-lettered; `source` is a stage, `submit` or `ledger`;
/// `stranded` when JetStream gave up on it rather than a consumer failing it.
pub fn dead_letter(source: &str, stranded: bool) {
    let kind = if stranded { "stranded" } else { "failed" };
    instruments().dead_letters.add(1, &[KeyValue::new("source", source.to_owned()), KeyValue::new("kind", kind)]);
}

/// One REST request; `in_flight` brackets it.
pub fn http_request(method: &str, route: &str, status: u16, seconds: f64) {
    let i = instruments();
    let labels = [KeyValue::new("method", method.to_owned()), KeyValue::new("route", route.to_owned())];
    i.http_duration.record(seconds, &labels);
    let [method, route] = labels;
    i.http_requests.add(1, &[method, route, KeyValue::new("status", i64::from(status))]);
}

pub fn http_in_flight(delta: i64) {
    instruments().http_in_flight.add(delta, &[]);
}

pub fn grpc_request(method: &str, code: &str, seconds: f64) {
    let i = instruments();
    i.grpc_duration.record(seconds, &[KeyValue::new("method", method.to_owned())]);
    i.grpc_requests.add(1, &[KeyValue::new("method", method.to_owned()), KeyValue::new("code", code.to_owned())]);
}

pub fn db_query(query: &'static str, seconds: f64, ok: bool) {
    let i = instruments();
    let labels = [KeyValue::new("query", query)];
    i.db_duration.record(seconds, &labels);
    if !ok {
        i.db_errors.add(1, &labels);
    }
}

pub fn downloaded(bytes: u64, seconds: f64) {
    instruments().download_bytes.add(bytes, &[]);
    instruments().download_duration.record(seconds, &[]);
}

pub fn transcoded(seconds: f64, audio_seconds: f64) {
    if audio_seconds > 0.0 {
        instruments().transcode_ratio.record(seconds / audio_seconds, &[]);
    }
}

pub fn model_loaded(model: &str, seconds: f64) {
    instruments().model_load.record(seconds, &[KeyValue::new("model", model.to_owned())]);
}

/// How many whisper models a transcriber holds loaded.
pub fn models_loaded(count: usize) {
    instruments().models_loaded.record(count as u64, &[]);
}

/// One transcription of `audio_seconds` that took `seconds`.
pub fn transcribed(model: &str, audio_seconds: f64, seconds: f64) {
    if audio_seconds <= 0.0 || seconds <= 0.0 {
        return;
    }
    let labels = [KeyValue::new("model", model.to_owned())];
    instruments().transcribe_rtf.record(audio_seconds / seconds, &labels);
    instruments().transcribe_window.record(seconds / (audio_seconds / 30.0).max(1.0), &labels);
}

/// One diarization of `audio_seconds` that took `seconds` and found `speakers`.
pub fn diarized(speakers: usize, audio_seconds: f64, seconds: f64) {
    instruments().diarize_duration.record(seconds, &[]);
    instruments().diarize_speakers.record(speakers as f64, &[]);
    if audio_seconds > 0.0 {
        instruments().diarize_ratio.record(seconds / audio_seconds, &[]);
    }
}

pub fn exported(format: &'static str) {
    instruments().exports.add(1, &[KeyValue::new("format", format)]);
}
