//! GPUs through NVML (`nvml-wrapper`): logged once at start and exported as
//! `steno_gpu_memory_used_bytes`, `steno_gpu_memory_total_bytes` and
//! `steno_gpu_utilization_ratio` per GPU. Without a driver it says so once
//! and exports no GPU series.

use std::sync::Arc;

use nvml_wrapper::Nvml;
use opentelemetry::{KeyValue, global};
use steno_runtime::metrics;

/// Logs the GPUs NVML sees (or that there are none) and registers their gauges.
pub fn init() {
    let nvml = match Nvml::init() {
        Ok(nvml) => Arc::new(nvml),
        Err(e) => {
            tracing::info!(reason = %e, "no GPU found; whisper.cpp runs on the CPU");
            return;
        }
    };
    let count = nvml.device_count().unwrap_or(0);
    for index in 0..count {
        let Ok(device) = nvml.device_by_index(index) else { continue };
        let name = device.name().unwrap_or_default();
        let memory = device.memory_info().map(|m| m.total).unwrap_or(0);
        tracing::info!(index, name, memory_total_bytes = memory, "GPU found");
    }
    register_gauges(nvml, count);
}

/// Metric name, unit and how to read it from a device.
type Reading = (&'static str, &'static str, fn(&nvml_wrapper::Device) -> Option<f64>);

fn register_gauges(nvml: Arc<Nvml>, count: u32) {
    let meter = global::meter("steno");
    let readings: [Reading; 3] = [
        (metrics::GPU_MEMORY_USED, "By", |d| d.memory_info().ok().map(|m| m.used as f64)),
        (metrics::GPU_MEMORY_TOTAL, "By", |d| d.memory_info().ok().map(|m| m.total as f64)),
        (metrics::GPU_UTILIZATION, "", |d| d.utilization_rates().ok().map(|u| f64::from(u.gpu) / 100.0)),
    ];
    for (name, unit, read) in readings {
        let nvml = nvml.clone();
        let builder = meter.f64_observable_gauge(name).with_callback(move |observer| {
            for index in 0..count {
                let Ok(device) = nvml.device_by_index(index) else { continue };
                if let Some(value) = read(&device) {
                    observer.observe(value, &[KeyValue::new("gpu", i64::from(index))]);
                }
            }
        });
        let _gauge = if unit.is_empty() { builder.build() } else { builder.with_unit(unit).build() };
    }
}
