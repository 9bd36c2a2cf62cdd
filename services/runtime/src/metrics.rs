//! Metric definitions, in one place. Instruments are created from the global
//! meter under their OpenTelemetry names; the Prometheus exporter appends the
//! unit and `_total`, giving the exported names listed on each constant.

use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram, UpDownCounter},
};

/// `steno_build_info{service,version}` (gauge, always 1).
pub const BUILD_INFO: &str = "steno_build_info";
/// `steno_stage_tasks_total{stage,outcome}`; outcome: ok, retried, failed, cancelled.
pub const STAGE_TASKS: &str = "steno_stage_tasks";
/// `steno_stage_processing_seconds{stage}` (histogram).
pub const STAGE_PROCESSING: &str = "steno_stage_processing";
/// `steno_stage_in_progress{stage}` (gauge).
pub const STAGE_IN_PROGRESS: &str = "steno_stage_in_progress";
/// `steno_stage_queue_depth{stage}`: consumer `num_pending + num_ack_pending`,
/// read from JetStream.
pub const STAGE_QUEUE_DEPTH: &str = "steno_stage_queue_depth";
/// `steno_jobs_created_total{source}`; source: rest, grpc, nats.
pub const JOBS_CREATED: &str = "steno_jobs_created";
/// `steno_jobs_finished_total{status}`; status: completed, failed, cancelled.
pub const JOBS_FINISHED: &str = "steno_jobs_finished";

const SECONDS_BUCKETS: [f64; 14] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0];

pub(crate) fn record_build_info(service: &str) {
    let attrs = [KeyValue::new("service", service.to_owned()), KeyValue::new("version", env!("CARGO_PKG_VERSION"))];
    global::meter("steno").u64_gauge(BUILD_INFO).build().record(1, &attrs);
}

/// Instruments of one stage worker, labelled with its stage.
#[derive(Clone)]
pub struct StageMetrics {
    stage: KeyValue,
    tasks: Counter<u64>,
    processing: Histogram<f64>,
    in_progress: UpDownCounter<i64>,
}

impl StageMetrics {
    pub fn new(stage: &'static str) -> Self {
        let meter = global::meter("steno");
        Self {
            stage: KeyValue::new("stage", stage),
            tasks: meter.u64_counter(STAGE_TASKS).with_description("Stage tasks handled, by outcome").build(),
            processing: meter
                .f64_histogram(STAGE_PROCESSING)
                .with_unit("s")
                .with_description("Time spent processing one stage task")
                .with_boundaries(SECONDS_BUCKETS.to_vec())
                .build(),
            in_progress: meter
                .i64_up_down_counter(STAGE_IN_PROGRESS)
                .with_description("Stage tasks being processed now")
                .build(),
        }
    }

    pub fn outcome(&self, outcome: &'static str) {
        self.tasks.add(1, &[self.stage.clone(), KeyValue::new("outcome", outcome)]);
    }

    pub fn processed(&self, seconds: f64) {
        self.processing.record(seconds, std::slice::from_ref(&self.stage));
    }

    pub fn started(&self) {
        self.in_progress.add(1, std::slice::from_ref(&self.stage));
    }

    pub fn finished(&self) {
        self.in_progress.add(-1, std::slice::from_ref(&self.stage));
    }
}

/// Exposes a stage's queue depth as a gauge read from a shared cell that
/// the worker refreshes from JetStream consumer info.
pub fn register_queue_depth(stage: &'static str, depth: std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let meter = global::meter("steno");
    // The callback stays registered with the meter provider after the
    // handle is dropped.
    let _gauge = meter
        .u64_observable_gauge(STAGE_QUEUE_DEPTH)
        .with_description("Tasks waiting or in flight for a stage (JetStream num_pending + num_ack_pending)")
        .with_callback(move |observer| {
            observer.observe(depth.load(std::sync::atomic::Ordering::Relaxed), &[KeyValue::new("stage", stage)]);
        })
        .build();
}

/// Job counters the gateway records.
pub fn job_created(source: &'static str) {
    global::meter("steno").u64_counter(JOBS_CREATED).build().add(1, &[KeyValue::new("source", source)]);
}

pub fn job_finished(status: &'static str) {
    global::meter("steno").u64_counter(JOBS_FINISHED).build().add(1, &[KeyValue::new("status", status)]);
}
