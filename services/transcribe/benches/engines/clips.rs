//! Speech clips at known text: sentences from a fixed vocabulary (seeded, so
//! the same every run) read by flite's `slt` voice, resampled by ffmpeg to
//! 16 kHz mono s16le, appended until the clip reaches its length. Cached in
//! the temp directory; the word error rate is measured against the text.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

pub const SAMPLE_RATE: usize = 16_000;

/// Bump when the text or the synthesis changes, so stale caches are ignored.
const CACHE_VERSION: &str = "v1-flite-slt";

pub struct Clip {
    pub name: &'static str,
    pub text: String,
    /// Raw 16 kHz mono s16le samples.
    pub pcm: PathBuf,
    pub seconds: f64,
}

/// `(name, seconds at least, seed)` of the clips the bench uses.
pub const CLIPS: [(&str, f64, u64); 3] = [("short", 10.0, 1), ("60s", 60.0, 2), ("10min", 600.0, 3)];

/// Makes (or reuses) the clip `name` of at least `min_seconds`.
pub fn clip(name: &'static str, min_seconds: f64, seed: u64) -> anyhow::Result<Clip> {
    let dir = std::env::temp_dir().join("steno-bench-media").join(CACHE_VERSION);
    std::fs::create_dir_all(&dir).context("create media cache")?;
    let (pcm, txt) = (dir.join(format!("{name}.pcm")), dir.join(format!("{name}.txt")));
    if !(pcm.exists() && txt.exists()) {
        synthesize(&dir, name, min_seconds, seed)?;
    }
    let text = std::fs::read_to_string(&txt).context("read clip text")?;
    let bytes = std::fs::metadata(&pcm).context("clip audio")?.len();
    Ok(Clip { name, text, pcm, seconds: bytes as f64 / 2.0 / SAMPLE_RATE as f64 })
}

fn synthesize(dir: &Path, name: &str, min_seconds: f64, seed: u64) -> anyhow::Result<()> {
    let wav = dir.join(format!("{name}-sentence.wav"));
    let mut sentences = Sentences(seed);
    let (mut audio, mut text) = (Vec::new(), Vec::new());
    while (audio.len() / 2) as f64 / (SAMPLE_RATE as f64) < min_seconds {
        let sentence = sentences.next_sentence();
        audio.extend(speak("flite", "slt", &sentence, &wav)?);
        text.push(sentence);
    }
    // Text last: its presence marks a complete clip.
    std::fs::write(dir.join(format!("{name}.pcm")), &audio).context("write clip audio")?;
    std::fs::write(dir.join(format!("{name}.txt")), text.join(" ")).context("write clip text")?;
    Ok(())
}

/// 16 kHz mono s16le of `text` read by `voice` of `synthesizer` (flite or
/// espeak-ng), through the scratch file `wav`.
pub fn speak(synthesizer: &str, voice: &str, text: &str, wav: &Path) -> anyhow::Result<Vec<u8>> {
    match synthesizer {
        "flite" => run(Command::new("flite").args(["-voice", voice, "-t", text, "-o"]).arg(wav))?,
        _ => run(Command::new("espeak-ng").args(["-v", voice, "-w"]).arg(wav).arg(text))?,
    };
    let audio = run(Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(wav)
        .args(["-ac", "1", "-ar", "16000", "-f", "s16le", "-"]))?;
    std::fs::remove_file(wav).ok();
    Ok(audio)
}

fn run(command: &mut Command) -> anyhow::Result<Vec<u8>> {
    let output = command.output().with_context(|| format!("run {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(output.stdout)
}

/// Plain sentences from common words with one spelling each (no numbers,
/// no British/American variants), so errors are the recognizer's.
pub struct Sentences(pub u64);

const SUBJECTS: &[&str] = &[
    "the billing team",
    "our support desk",
    "the new manager",
    "the design group",
    "my older sister",
    "the city council",
    "a small company",
    "the school board",
    "the sales team",
    "the young doctor",
    "our best teacher",
    "the night nurse",
];
const VERBS: &[&str] = &[
    "finished",
    "planned",
    "reviewed",
    "discussed",
    "changed",
    "opened",
    "started",
    "moved",
    "repaired",
    "approved",
    "painted",
    "cleaned",
];
const OBJECTS: &[&str] = &[
    "the annual report",
    "a new office",
    "the summer festival",
    "the weekly meeting",
    "the garden project",
    "the old bridge",
    "the train schedule",
    "the customer survey",
    "the public library",
    "the kitchen floor",
    "the main website",
    "the holiday plans",
];
const WHEN: &[&str] = &[
    "on Monday",
    "last week",
    "before lunch",
    "in the morning",
    "after the storm",
    "late at night",
    "during the winter",
    "on Friday afternoon",
];
const CLAUSES: &[&str] = &[
    "because the budget was too small",
    "and everyone was happy with the result",
    "so we will meet again next month",
    "but nobody told the other teams",
    "while the rest of us waited outside",
    "after a long talk with the owners",
];

impl Sentences {
    /// A 64-bit linear congruential step (Knuth's MMIX constants).
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        words[(self.0 >> 33) as usize % words.len()]
    }

    pub fn next_sentence(&mut self) -> String {
        let (who, did, what, when, why) =
            (self.pick(SUBJECTS), self.pick(VERBS), self.pick(OBJECTS), self.pick(WHEN), self.pick(CLAUSES));
        let mut sentence = format!("{who} {did} {what} {when} {why}.");
        sentence[..1].make_ascii_uppercase();
        sentence
    }
}
