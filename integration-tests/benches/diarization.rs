//! Diarization accuracy and speed on generated conversations with known
//! turns (2, 3 and 4 speakers, two male voices; each clean and through a
//! telephone-like channel): diarization error rate with a 0.25 s collar, its
//! parts, and wall time per audio minute, with the speaker count left to the
//! engine. Prints markdown tables and writes them to
//! `<target dir>/bench/diarization.md`; asserts nothing about time.
//!
//! `scripts/fetch-speaker-model.sh && cargo bench -p integration-tests --bench diarization`
//! (`STENO_DIARIZE_MODEL` names another model file).

use integration_tests::conversations;
use std::{
    collections::BTreeSet,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use conversations::{
    CHANNEL_SUFFIX, Conversation, RefTurn,
    der::{COLLAR_MS, ErrorTimes, error_times},
};
use steno_diarize::{Diarizer, SpeakerCount};

/// One conversation's result.
struct Scored {
    set: String,
    conversation: Conversation,
    found: usize,
    errors: ErrorTimes,
    wall_s: f64,
}

fn main() -> anyhow::Result<()> {
    let model = std::env::var_os("STENO_DIARIZE_MODEL")
        .map_or_else(|| steno_runtime::config::data_home().join("models/resemblyzer-ge2e.pt"), PathBuf::from);
    let diarizer = Diarizer::load(&model)
        .with_context(|| format!("load {} (run scripts/fetch-speaker-model.sh)", model.display()))?;

    let clock = Instant::now();
    let sets: Vec<(String, Vec<Conversation>)> = conversations::set_names()
        .into_iter()
        .map(|set| (set.clone(), conversations::conversation_set(&set)))
        .collect();
    let generation_s = clock.elapsed().as_secs_f64();

    let load_before = loadavg();
    let mut results = Vec::new();
    for (set, conversations) in sets {
        for conversation in conversations {
            let samples = conversation.samples();
            let clock = Instant::now();
            let turns = diarizer.diarize(&samples, SpeakerCount::default())?;
            let wall_s = clock.elapsed().as_secs_f64();
            let hypothesis: Vec<RefTurn> =
                turns.iter().map(|t| RefTurn { start_ms: t.start_ms, end_ms: t.end_ms, speaker: t.speaker }).collect();
            let found = turns.iter().map(|t| t.speaker).collect::<BTreeSet<_>>().len();
            let errors = error_times(&conversation.turns, &hypothesis, COLLAR_MS);
            eprintln!("{}: DER {:.1} %, {found} speakers, {wall_s:.2} s", conversation.name, errors.der().der * 100.0);
            results.push(Scored { set: set.clone(), conversation, found, errors, wall_s });
        }
    }
    let load_after = loadavg();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut report = format!(
        "# Diarization bench\n\n{} conversations (generated or loaded from the cache in {generation_s:.1} s), \
         speaker count not given, collar {COLLAR_MS} ms, {cores} cores\n\n\
         load average before: {}  after: {}\n",
        results.len(),
        load_before.trim(),
        load_after.trim(),
    );
    report += &file_table(&results);
    report += &totals_table(&results);
    println!("\n{report}");

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap_or(Path::new(".")).join("bench");
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let out = out.join("diarization.md");
    std::fs::write(&out, &report).with_context(|| format!("write {}", out.display()))?;
    println!("written to {}", out.display());
    Ok(())
}

fn file_table(results: &[Scored]) -> String {
    let mut table = String::from(
        "\n| set | file | voices | audio s | speakers true/found | DER % | miss % | FA % | confusion % | \
         s wall / audio min | RTF |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in results {
        let c = &r.conversation;
        let audio_s = c.duration_ms as f64 / 1000.0;
        let voices: Vec<String> = c.voices.iter().map(|v| v.label()).collect();
        let _ = writeln!(
            table,
            "| {} | {} | {} | {audio_s:.1} | {}/{} | {} | {:.3} | {:.4} |",
            r.set,
            c.name,
            voices.join(", "),
            c.speakers,
            r.found,
            percentages(r.errors),
            r.wall_s / audio_s * 60.0,
            r.wall_s / audio_s,
        );
    }
    table
}

/// Time-weighted totals per set, then per family: clean, channel variation, all.
fn totals_table(results: &[Scored]) -> String {
    let mut table = String::from(
        "\n| totals | files | audio s | speaker count right | DER % | miss % | FA % | confusion % | \
         s wall / audio min | RTF |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut sets: Vec<&str> = results.iter().map(|r| r.set.as_str()).collect();
    sets.dedup();
    type Keep = fn(&Scored) -> bool;
    let families: [(&str, Keep); 3] = [
        ("**clean**", |r| !r.set.ends_with(CHANNEL_SUFFIX)),
        ("**channel variation**", |r| r.set.ends_with(CHANNEL_SUFFIX)),
        ("**all**", |_| true),
    ];
    let rows = sets
        .iter()
        .map(|&set| (set.to_owned(), results.iter().filter(|r| r.set == set).collect::<Vec<_>>()))
        .chain(families.iter().map(|(name, keep)| ((*name).to_owned(), results.iter().filter(|r| keep(r)).collect())));
    for (name, group) in rows {
        let mut errors = ErrorTimes::default();
        let (mut audio_s, mut wall_s) = (0.0, 0.0);
        for r in &group {
            errors += r.errors;
            audio_s += r.conversation.duration_ms as f64 / 1000.0;
            wall_s += r.wall_s;
        }
        let right = group.iter().filter(|r| r.found == r.conversation.speakers).count();
        let _ = writeln!(
            table,
            "| {name} | {} | {audio_s:.1} | {right}/{} | {} | {:.3} | {:.4} |",
            group.len(),
            group.len(),
            percentages(errors),
            wall_s / audio_s.max(1e-9) * 60.0,
            wall_s / audio_s.max(1e-9),
        );
    }
    table
}

fn percentages(errors: ErrorTimes) -> String {
    let der = errors.der();
    format!(
        "{:.1} | {:.1} | {:.1} | {:.1}",
        der.der * 100.0,
        der.missed * 100.0,
        der.false_alarm * 100.0,
        der.confusion * 100.0
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}
