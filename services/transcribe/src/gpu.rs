//! GPU discovery through NVML (`nvml-wrapper`). Without a driver it says so
//! once; nothing about GPUs is exported then.

/// Logs the GPUs NVML sees, or that there are none.
pub fn log_devices() {
    let nvml = match nvml_wrapper::Nvml::init() {
        Ok(nvml) => nvml,
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
}
