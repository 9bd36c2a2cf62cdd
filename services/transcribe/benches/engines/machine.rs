//! What else the shared machine was doing: load average, the processes
//! busy in a one-second window, and the CPU time others used during a run.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// Clock ticks per second of `/proc` CPU times (USER_HZ; 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

pub fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

/// Busy CPU ticks of the whole machine since boot (`/proc/stat`, without
/// idle and iowait).
pub fn busy_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> =
        text.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is inside user)
    fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum()
}

/// `(pid, command, utime + stime)` of every process now.
fn process_ticks() -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        out.insert(pid, (stat[open + 1..close].to_owned(), ticks(11) + ticks(12)));
    }
    out
}

/// Other processes using at least a tenth of a core over one second, busiest
/// first, as `command (percent)`.
pub fn busy_others() -> Vec<String> {
    let before = process_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let me = std::process::id();
    let mut busy: Vec<(u64, String)> = process_ticks()
        .into_iter()
        .filter(|(pid, _)| *pid != me)
        .filter_map(|(pid, (name, ticks))| {
            let used = ticks.saturating_sub(before.get(&pid).map_or(ticks, |b| b.1));
            (used >= 10).then_some((used, name))
        })
        .collect();
    busy.sort_by(|a, b| b.cmp(a));
    busy.into_iter().map(|(used, name)| format!("{name} ({used}%)")).collect()
}

/// The machine's state at one moment, for the report.
pub fn snapshot() -> String {
    let busy = busy_others();
    format!("loadavg {}; {} other busy processes: {}", loadavg(), busy.len(), busy.join(", "))
}

/// Waits, up to `max`, for three seconds in a row in which everything else on
/// the machine used under a quarter of a core.
pub fn wait_for_quiet(max: Duration) {
    let (clock, mut quiet) = (Instant::now(), 0);
    while quiet < 3 && clock.elapsed() < max {
        let before = busy_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let busy = busy_ticks().saturating_sub(before) >= (TICKS_PER_SECOND / 4.0) as u64;
        quiet = if busy { 0 } else { quiet + 1 };
    }
}
