//! Diarization accuracy and speed on generated conversations with known
//! turns and words (2 to 6 speakers, two male voices, pitch- and
//! speed-changed voices, one speaker holding the floor, short interjections,
//! speech over another speaker's, 10-minute meetings; each clean and
//! through a telephone-like channel with noise): the speaker count found, diarization error rate with a 0.25 s
//! collar and its parts, the word-level speaker error (each word given the
//! speaker talking most during it, as the stage labels a transcript), and
//! wall time per audio minute, with the speaker count left to the engine.
//! Then long recordings (the first four sets' clean conversations back to
//! back, 12 minutes of six voices, repeated to 1, 10 and 60 minutes,
//! streamed to the diarizer a block at a time as the stage
//! reads the object store): wall time, real-time factor, the process's peak
//! memory during each, and DER. Prints markdown tables and writes them to
//! `<target dir>/bench/diarization.md`; asserts nothing about time.
//!
//! `scripts/fetch-speaker-model.sh && cargo bench -p integration-tests --bench diarization`
//! (`STENO_DIARIZE_MODEL` names another model file; `STENO_BENCH_SETS=5-speakers,unequal-channel`
//! only those sets; `STENO_BENCH_LONG_MINUTES=1,10` other lengths, `0` none).

use integration_tests::conversations;
use std::{
    collections::BTreeSet,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use conversations::{
    BASIC_SETS, CHANNEL_SUFFIX, Conversation, RefTurn,
    der::{COLLAR_MS, ErrorTimes, error_times, word_errors},
};
use steno_diarize::{AudioSource, Diarizer, SpeakerCount, Turn, segmentation::Segmenter};
use steno_runtime::transcript::{Segment, Transcript, Word};

/// One conversation's result.
struct Scored {
    set: String,
    conversation: Conversation,
    found: usize,
    errors: ErrorTimes,
    /// Words given the wrong speaker, and all words.
    word_errors: (usize, usize),
    overlap: OverlapTimes,
    wall_s: f64,
}

/// Overlapped speech (two or more speakers at once) in 10 ms frames: in the
/// reference, in the hypothesis, and in both.
#[derive(Debug, Clone, Copy, Default)]
struct OverlapTimes {
    reference: u64,
    hypothesis: u64,
    both: u64,
}

impl std::ops::AddAssign for OverlapTimes {
    fn add_assign(&mut self, other: Self) {
        self.reference += other.reference;
        self.hypothesis += other.hypothesis;
        self.both += other.both;
    }
}

impl OverlapTimes {
    fn of(reference: &[RefTurn], hypothesis: &[RefTurn]) -> Self {
        let frames = |turns: &[RefTurn]| {
            let len = turns.iter().map(|t| t.end_ms.div_ceil(10)).max().unwrap_or(0) as usize;
            let mut count = vec![0u8; len];
            for t in turns {
                count[(t.start_ms / 10) as usize..t.end_ms.div_ceil(10) as usize].iter_mut().for_each(|c| *c += 1);
            }
            count.into_iter().map(|c| c >= 2).collect::<Vec<bool>>()
        };
        let (r, h) = (frames(reference), frames(hypothesis));
        let both = r.iter().zip(&h).filter(|(a, b)| **a && **b).count();
        let count = |v: &[bool]| v.iter().filter(|x| **x).count() as u64;
        OverlapTimes { reference: count(&r), hypothesis: count(&h), both: both as u64 }
    }

    /// Precision and recall in percent, `-` where undefined.
    fn cells(self) -> String {
        let share = |part: u64, all: u64| {
            if all == 0 { "-".to_owned() } else { format!("{:.0}", part as f64 * 100.0 / all as f64) }
        };
        format!(
            "{} | {} | {:.1} / {:.1}",
            share(self.both, self.hypothesis),
            share(self.both, self.reference),
            self.reference as f64 / 100.0,
            self.hypothesis as f64 / 100.0
        )
    }
}

fn main() -> anyhow::Result<()> {
    let model = std::env::var_os("STENO_DIARIZE_MODEL")
        .map_or_else(|| steno_runtime::config::data_home().join("models/resemblyzer-ge2e.pt"), PathBuf::from);
    let diarizer = Diarizer::load(&model)
        .with_context(|| format!("load {} (run scripts/fetch-speaker-model.sh)", model.display()))?;
    // Overlapped speech is marked unless STENO_BENCH_OVERLAP=0.
    let diarizer = if std::env::var("STENO_BENCH_OVERLAP").is_ok_and(|v| v == "0") {
        diarizer
    } else {
        let path = steno_runtime::config::data_home().join("models/pyannote-segmentation-3.0.onnx");
        diarizer.with_segmenter(Segmenter::load(&path).context("run scripts/fetch-speaker-model.sh")?)
    };

    let clock = Instant::now();
    let only = std::env::var("STENO_BENCH_SETS").unwrap_or_default();
    let only: Vec<&str> = only.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let sets: Vec<(String, Vec<Conversation>)> = conversations::set_names()
        .into_iter()
        .filter(|set| only.is_empty() || only.contains(&set.as_str()))
        .map(|set| (set.clone(), conversations::conversation_set(&set)))
        .collect();
    let generation_s = clock.elapsed().as_secs_f64();

    let load_before = loadavg();
    let mut results = Vec::new();
    for (set, conversations) in sets {
        for conversation in conversations {
            let samples = conversation.samples();
            let clock = Instant::now();
            let diarization = diarizer.run(&samples.as_slice(), SpeakerCount::default(), &|| false)?;
            let wall_s = clock.elapsed().as_secs_f64();
            let turns = diarization.turns;
            let hypothesis: Vec<RefTurn> = turns
                .iter()
                .chain(&diarization.overlaps)
                .map(|t| RefTurn { start_ms: t.start_ms, end_ms: t.end_ms, speaker: t.speaker })
                .collect();
            let overlap = OverlapTimes::of(&conversation.turns, &hypothesis);
            let found = turns.iter().map(|t| t.speaker).collect::<BTreeSet<_>>().len();
            let errors = error_times(&conversation.turns, &hypothesis, COLLAR_MS);
            let reference: Vec<usize> = conversation.words.iter().map(|w| w.speaker).collect();
            let word_errors = word_errors(&reference, &word_speakers(&conversation, &turns));
            eprintln!(
                "{}: DER {:.1} %, words {:.1} %, {found}/{} speakers, overlap precision | recall | s {}, {wall_s:.2} s",
                conversation.name,
                errors.der().der * 100.0,
                percent(word_errors),
                conversation.speakers,
                overlap.cells(),
            );
            results.push(Scored { set: set.clone(), conversation, found, errors, word_errors, overlap, wall_s });
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
    report += &long_table(&diarizer)?;
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
         word speaker error % | overlap precision % | overlap recall % | overlap s true / found | s wall / audio min | RTF |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in results {
        let c = &r.conversation;
        let audio_s = c.duration_ms as f64 / 1000.0;
        let voices: Vec<String> = c.voices.iter().map(|v| v.label()).collect();
        let _ = writeln!(
            table,
            "| {} | {} | {} | {audio_s:.1} | {}/{} | {} | {:.1} | {} | {:.3} | {:.4} |",
            r.set,
            c.name,
            voices.join(", "),
            c.speakers,
            r.found,
            percentages(r.errors),
            percent(r.word_errors),
            r.overlap.cells(),
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
         word speaker error % | overlap precision % | overlap recall % | overlap s true / found | s wall / audio min | RTF |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
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
        let (mut audio_s, mut wall_s, mut words, mut overlap) = (0.0, 0.0, (0, 0), OverlapTimes::default());
        for r in &group {
            errors += r.errors;
            overlap += r.overlap;
            words = (words.0 + r.word_errors.0, words.1 + r.word_errors.1);
            audio_s += r.conversation.duration_ms as f64 / 1000.0;
            wall_s += r.wall_s;
        }
        let right = group.iter().filter(|r| r.found == r.conversation.speakers).count();
        let _ = writeln!(
            table,
            "| {name} | {} | {audio_s:.1} | {right}/{} ({:.0} %) | {} | {:.1} | {} | {:.3} | {:.4} |",
            group.len(),
            group.len(),
            right as f64 * 100.0 / group.len().max(1) as f64,
            percentages(errors),
            percent(words),
            overlap.cells(),
            wall_s / audio_s.max(1e-9) * 60.0,
            wall_s / audio_s.max(1e-9),
        );
    }
    table
}

/// Wrong of all, in percent.
fn percent((wrong, all): (usize, usize)) -> f64 {
    wrong as f64 * 100.0 / all.max(1) as f64
}

/// The speaker the stage gives each of the conversation's words when it
/// labels a transcript with `turns` (`assign::label`: the speaker talking
/// most during the word), as the number in its `S<n>` id.
fn word_speakers(conversation: &Conversation, turns: &[Turn]) -> Vec<Option<usize>> {
    let words = conversation
        .words
        .iter()
        .map(|w| Word { start_ms: w.start_ms, end_ms: w.end_ms, text: w.text.clone(), probability: 1.0, speaker: None })
        .collect();
    let segment = Segment { start_ms: 0, end_ms: conversation.duration_ms, words, ..Default::default() };
    let mut transcript =
        Transcript { duration_ms: conversation.duration_ms, segments: vec![segment], ..Default::default() };
    steno_diarize::assign::label(&mut transcript, turns);
    transcript
        .segments
        .iter()
        .flat_map(|s| &s.words)
        .map(|w| w.speaker.as_deref().and_then(|id| id.strip_prefix('S')).and_then(|n| n.parse().ok()))
        .collect()
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

/// Silence between the repeats of a long recording, in samples (3 s).
const REPEAT_GAP: usize = 48_000;

/// A conversation repeated with [`REPEAT_GAP`] between the copies, `samples`
/// long, made a block at a time: the bench holds one copy, as the stage
/// holds one block.
struct Repeated<'a> {
    conversation: &'a [f32],
    samples: usize,
}

impl AudioSource for Repeated<'_> {
    fn read(&self, each: &mut dyn FnMut(&[f32]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let period = self.conversation.len() + REPEAT_GAP;
        let mut block = Vec::with_capacity(16_000);
        for start in (0..self.samples).step_by(16_000) {
            block.clear();
            block.extend(
                (start..self.samples.min(start + 16_000))
                    .map(|i| self.conversation.get(i % period).copied().unwrap_or(0.0)),
            );
            each(&block)?;
        }
        Ok(())
    }
}

/// The [`BASIC_SETS`]' clean conversations back to back (with [`REPEAT_GAP`] between), as
/// one meeting of every voice they use: its samples and its turns, with
/// each voice one speaker. Repeated, the same
/// conversation recurs only every 12 minutes or so.
fn clean_meeting() -> (Vec<f32>, Vec<RefTurn>) {
    let mut voices: Vec<conversations::Voice> = Vec::new();
    let (mut samples, mut turns) = (Vec::new(), Vec::new());
    for set in BASIC_SETS {
        for conversation in conversations::conversation_set(set) {
            if !samples.is_empty() {
                samples.resize(samples.len() + REPEAT_GAP, 0.0);
            }
            let offset_ms = samples.len() as u64 / 16;
            samples.extend(conversation.samples());
            for t in &conversation.turns {
                let voice = conversation.voices[t.speaker];
                let speaker = voices.iter().position(|&v| v == voice).unwrap_or_else(|| {
                    voices.push(voice);
                    voices.len() - 1
                });
                turns.push(RefTurn { start_ms: t.start_ms + offset_ms, end_ms: t.end_ms + offset_ms, speaker });
            }
        }
    }
    (samples, turns)
}

/// The long recordings: each length diarized on its own, the process's
/// peak resident memory reset before each.
fn long_table(diarizer: &Diarizer) -> anyhow::Result<String> {
    let minutes: Vec<u64> = std::env::var("STENO_BENCH_LONG_MINUTES")
        .unwrap_or_else(|_| "1,10,60".into())
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .filter(|&m| m > 0)
        .collect();
    let mut table = String::from(
        "\n| long recording | wall s | × real time | peak RSS MiB | speakers true/found | DER % | miss % | FA % | confusion % |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    if minutes.is_empty() {
        return Ok(String::new());
    }
    let (meeting, turns) = clean_meeting();
    let period_ms = (meeting.len() + REPEAT_GAP) as u64 / 16;
    for m in minutes {
        let total_ms = m * 60_000;
        let audio = Repeated { conversation: &meeting, samples: total_ms as usize * 16 };
        // Writing 5 resets the peak resident set size (VmHWM) to the current one.
        std::fs::write("/proc/self/clear_refs", "5").context("reset the peak RSS")?;
        let clock = Instant::now();
        let diarization = diarizer.run(&audio, SpeakerCount::default(), &|| false)?;
        let wall_s = clock.elapsed().as_secs_f64();
        let peak_mib = peak_rss_kib()? as f64 / 1024.0;
        let reference: Vec<RefTurn> = (0..total_ms.div_ceil(period_ms))
            .flat_map(|k| {
                turns.iter().map(move |t| RefTurn {
                    start_ms: t.start_ms + k * period_ms,
                    end_ms: (t.end_ms + k * period_ms).min(total_ms),
                    speaker: t.speaker,
                })
            })
            .filter(|t| t.start_ms < t.end_ms)
            .collect();
        let hypothesis: Vec<RefTurn> = diarization
            .turns
            .iter()
            .chain(&diarization.overlaps)
            .map(|t| RefTurn { start_ms: t.start_ms, end_ms: t.end_ms, speaker: t.speaker })
            .collect();
        let found = diarization.turns.iter().map(|t| t.speaker).collect::<BTreeSet<_>>().len();
        let errors = error_times(&reference, &hypothesis, COLLAR_MS);
        eprintln!("{m} min: {wall_s:.1} s, {peak_mib:.0} MiB peak, {found} speakers");
        let _ = writeln!(
            table,
            "| {m} min | {wall_s:.1} | {:.0}× | {peak_mib:.0} | {}/{found} | {} |",
            total_ms as f64 / 1000.0 / wall_s,
            reference.iter().map(|t| t.speaker).collect::<BTreeSet<_>>().len(),
            percentages(errors),
        );
    }
    Ok(table)
}

/// The process's peak resident set size since it was last reset.
fn peak_rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}
