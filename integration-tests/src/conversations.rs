//! Multi-speaker conversations with known turns, for the diarization tests
//! and bench: utterances read by flite (voices recorded from real speakers)
//! and espeak-ng, joined with short silences, clean or through a
//! telephone-like channel. Scored with [`der`].
//!
//! Generation is deterministic; results are cached under the target
//! directory, keyed by the recipe, and linked into [`media_dir`] so tests can
//! serve them.

pub use crate::der::{self, diarization_error_rate};

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use serde::{Deserialize, Serialize};

use crate::fixtures::{media_dir, run};

const RATE: usize = 16_000;
const SAMPLES_PER_MS: usize = RATE / 1000;
/// Bump when generation changes in a way the recipe key does not see.
const GENERATOR_VERSION: u64 = 4;
/// Appended to a set's name for its channel-variation version.
pub const CHANNEL_SUFFIX: &str = "-channel";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voice {
    /// A flite voice name: rms, slt, awb, kal16.
    Flite(&'static str),
    /// A flite voice with its pitch moved by this many percent and its
    /// tempo kept: another person of the same kind.
    FlitePitched(&'static str, i8),
    /// An espeak-ng voice with variant (`en-us+f3`), at this many words a
    /// minute.
    Espeak(&'static str, u16),
}

impl Voice {
    pub fn label(self) -> String {
        match self {
            Voice::Flite(v) => format!("flite {v}"),
            Voice::FlitePitched(v, pitch) => format!("flite {v} pitch {pitch:+}%"),
            Voice::Espeak(v, 160) => format!("espeak-ng {v}"),
            Voice::Espeak(v, speed) => format!("espeak-ng {v} {speed} wpm"),
        }
    }
}

/// US male.
pub const RMS: Voice = Voice::Flite("rms");
/// US female.
pub const SLT: Voice = Voice::Flite("slt");
/// Scottish male.
pub const AWB: Voice = Voice::Flite("awb");
/// US male (the 16 kHz build; `kal` is 8 kHz).
pub const KAL: Voice = Voice::Flite("kal16");
pub const ESPEAK_F: Voice = Voice::Espeak("en-us+f3", 160);
pub const ESPEAK_M: Voice = Voice::Espeak("en-gb+m3", 160);
/// Voices only the wider sets use: pitch- and speed-changed variants.
const RMS_HIGH: Voice = Voice::FlitePitched("rms", 15);
const SLT_LOW: Voice = Voice::FlitePitched("slt", -12);
const AWB_LOW: Voice = Voice::FlitePitched("awb", -10);
const ESPEAK_M_FAST: Voice = Voice::Espeak("en-us+m1", 190);
const ESPEAK_F_SLOW: Voice = Voice::Espeak("en-gb+f4", 135);
const ESPEAK_SCOTS: Voice = Voice::Espeak("en-gb-scotland+m2", 160);

/// How the talk is shared out in a set's conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Talk {
    /// Turns of 2–8 s, leaning towards whoever has said least.
    Even,
    /// The first speaker holds the floor (about two thirds of the talk).
    Dominant,
    /// As `Even`, and listeners often put in a word ("yes", "right") of
    /// under a second between two turns.
    Interjections,
    /// As `Interjections`, but said over the speaker (from 30–70 % into
    /// their turn, who goes on), and a third of the turns start 0.3–0.8 s
    /// before the last one ends: overlapped speech.
    Overlapping,
}

/// A set of conversations: each one's voices in speaker-label order, their
/// length range in seconds, and how the talk is shared.
struct SetSpec {
    name: &'static str,
    conversations: &'static [&'static [Voice]],
    seconds: (u64, u64),
    talk: Talk,
}

const fn even(name: &'static str, conversations: &'static [&'static [Voice]]) -> SetSpec {
    SetSpec { name, conversations, seconds: (60, 110), talk: Talk::Even }
}

/// The clean sets; each also has a channel-variation version.
const SETS: &[SetSpec] = &[
    even("2-speakers", &[&[SLT, RMS], &[KAL, ESPEAK_F]]),
    even("3-speakers", &[&[RMS, SLT, AWB], &[SLT, KAL, ESPEAK_M]]),
    even("4-speakers", &[&[RMS, SLT, AWB, KAL], &[AWB, SLT, KAL, ESPEAK_F]]),
    even("2-male", &[&[RMS, AWB], &[AWB, RMS]]),
    even("more-voices", &[&[ESPEAK_M_FAST, ESPEAK_F_SLOW], &[SLT_LOW, RMS_HIGH, ESPEAK_SCOTS], &[AWB_LOW, KAL, SLT]]),
    SetSpec {
        name: "5-speakers",
        conversations: &[&[RMS, SLT, AWB, KAL, ESPEAK_F], &[SLT, AWB, KAL, ESPEAK_M, RMS_HIGH]],
        seconds: (150, 200),
        talk: Talk::Even,
    },
    SetSpec {
        name: "6-speakers",
        conversations: &[
            &[RMS, SLT, AWB, KAL, ESPEAK_F, ESPEAK_M],
            &[SLT, RMS, AWB, KAL, ESPEAK_F_SLOW, ESPEAK_M_FAST],
        ],
        seconds: (180, 240),
        talk: Talk::Even,
    },
    SetSpec {
        name: "unequal",
        conversations: &[&[RMS, SLT, AWB], &[SLT, KAL], &[KAL, ESPEAK_F, AWB]],
        seconds: (90, 130),
        talk: Talk::Dominant,
    },
    SetSpec {
        name: "interjections",
        conversations: &[&[SLT, RMS], &[AWB, SLT, KAL], &[ESPEAK_M, SLT_LOW]],
        seconds: (60, 110),
        talk: Talk::Interjections,
    },
    SetSpec {
        name: "overlaps",
        conversations: &[&[SLT, RMS], &[AWB, SLT, KAL], &[ESPEAK_M, SLT_LOW]],
        seconds: (60, 110),
        talk: Talk::Overlapping,
    },
    SetSpec {
        name: "10-minutes",
        conversations: &[&[RMS, SLT, AWB, KAL], &[SLT, AWB, ESPEAK_M, RMS_HIGH, ESPEAK_F]],
        seconds: (600, 620),
        talk: Talk::Interjections,
    },
];
/// The first sets, all turns of 2–8 s, which the long recordings are made of.
pub const BASIC_SETS: [&str; 4] = ["2-speakers", "3-speakers", "4-speakers", "2-male"];

/// What listeners put in between turns.
const INTERJECTIONS: &[&str] =
    &["Yes.", "Right.", "Okay.", "Sure.", "Exactly.", "I see.", "Really?", "Mm-hmm.", "Yeah.", "No.", "Oh, wow."];

/// One reference speaker turn, in milliseconds from the start of the audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefTurn {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: usize,
}

/// One spoken word of a reference turn: its speaker is known, its times are
/// the turn's time shared out over the turn's words by their letters (with a
/// little more after punctuation, where the voices pause).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefWord {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: usize,
    pub text: String,
}

/// A generated conversation and its known turns.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub name: String,
    /// 16 kHz mono 16-bit WAV in [`media_dir`].
    pub wav: PathBuf,
    /// Sorted by start; speakers numbered by first appearance. Only the
    /// `overlaps` set's overlap.
    pub turns: Vec<RefTurn>,
    /// Every word said, in order.
    pub words: Vec<RefWord>,
    pub speakers: usize,
    /// The voice of each speaker label.
    pub voices: Vec<Voice>,
    /// Everything said, in order.
    pub text: String,
    pub duration_ms: u64,
}

impl Conversation {
    /// The WAV's name in [`media_dir`], as served by `serve_media`.
    pub fn file_name(&self) -> &str {
        self.wav.file_name().and_then(|n| n.to_str()).expect("utf-8 name")
    }

    /// The audio as 16 kHz mono samples in [-1, 1].
    pub fn samples(&self) -> Vec<f32> {
        read_wav(&self.wav)
    }
}

/// Every set: the clean ones, then their channel-variation versions.
pub fn set_names() -> Vec<String> {
    let clean = SETS.iter().map(|set| set.name.to_owned());
    clean.clone().chain(clean.map(|name| format!("{name}{CHANNEL_SUFFIX}"))).collect()
}

/// The conversations of a set named by [`set_names`]. A channel version has
/// the same words and turns as its clean set, band-passed to 300–3400 Hz,
/// each utterance's gain changed by up to ±6 dB, with pink noise at 15–30 dB SNR.
pub fn conversation_set(name: &str) -> Vec<Conversation> {
    let (base, channel) = match name.strip_suffix(CHANNEL_SUFFIX) {
        Some(base) => (base, true),
        None => (name, false),
    };
    let set = SETS.iter().find(|set| set.name == base).unwrap_or_else(|| panic!("no conversation set {name:?}"));
    set.conversations
        .iter()
        .enumerate()
        .map(|(i, voices)| {
            build(&format!("{base}-{}", char::from(b'a' + i as u8)), voices, set.seconds, set.talk, channel)
        })
        .collect()
}

/// A clean 40–60 s conversation of three flite voices (rms, slt, awb), for
/// pushing through the whole pipeline.
pub fn three_speaker_meeting() -> &'static Conversation {
    static MEETING: OnceLock<Conversation> = OnceLock::new();
    MEETING.get_or_init(|| build("meeting-3-speakers", &[RMS, SLT, AWB], (40, 50), Talk::Even, false))
}

/// A 40–50 s conversation of two flite voices (slt, rms) in which they
/// talk over each other (the `overlaps` set's way), for pushing through the
/// whole pipeline.
pub fn overlapping_conversation() -> &'static Conversation {
    static CONVERSATION: OnceLock<Conversation> = OnceLock::new();
    CONVERSATION.get_or_init(|| build("meeting-overlaps", &[SLT, RMS], (40, 50), Talk::Overlapping, false))
}

/// One voice reading for 12–16 s (sentences chosen by `name`), as a user
/// would record to enrol a known speaker.
pub fn voice_clip(name: &str, voice: Voice) -> Conversation {
    build(name, &[voice], (12, 16), Talk::Even, false)
}

#[derive(Serialize, Deserialize)]
struct Cached {
    turns: Vec<RefTurn>,
    words: Vec<RefWord>,
    text: String,
}

/// Builds (or loads from the cache) one conversation. Its words, turns and
/// gaps depend only on `name`, so a channel version matches its clean one.
fn build(name: &str, voices: &[Voice], seconds: (u64, u64), talk: Talk, channel: bool) -> Conversation {
    let suffix = if channel { CHANNEL_SUFFIX } else { "" };
    let recipe =
        format!("{GENERATOR_VERSION}|{name}|{voices:?}|{seconds:?}|{talk:?}|{channel}|{}", SENTENCES.join("|"));
    let stem = format!("conversation-{name}{suffix}-{:016x}", fnv1a(recipe.as_bytes()));
    let (wav, meta) = (cache_dir().join(format!("{stem}.wav")), cache_dir().join(format!("{stem}.json")));
    if !meta.exists() {
        let (samples, cached) = synthesize_conversation(name, voices, seconds, talk, channel);
        write_atomically(&wav, &wav_bytes(&samples));
        write_atomically(&meta, &serde_json::to_vec_pretty(&cached).expect("encode turns"));
    }
    let cached: Cached =
        serde_json::from_slice(&std::fs::read(&meta).expect("read cached turns")).expect("decode cached turns");
    let served = media_dir().join(format!("{stem}.wav"));
    if std::fs::hard_link(&wav, &served).is_err() && !served.exists() {
        write_atomically(&served, &std::fs::read(&wav).expect("read cached wav"));
    }
    let duration_ms = (std::fs::metadata(&served).expect("wav size").len().saturating_sub(44) / 2 / 16) as u64;
    Conversation {
        name: format!("{name}{suffix}"),
        wav: served,
        speakers: voices.len(),
        voices: voices.to_vec(),
        turns: cached.turns,
        words: cached.words,
        text: cached.text,
        duration_ms,
    }
}

fn synthesize_conversation(
    name: &str,
    voices: &[Voice],
    seconds: (u64, u64),
    talk: Talk,
    channel: bool,
) -> (Vec<f32>, Cached) {
    let mut rng = Rng(fnv1a(name.as_bytes()));
    let mut gains = Rng(fnv1a(name.as_bytes()) ^ 0x9e37_79b9);
    // What the wider sets add draws on its own stream, so the first sets'
    // conversations stay as they were.
    let mut extra = Rng(fnv1a(name.as_bytes()) ^ 0x5851_f42d);
    let mut sentences: Vec<&str> = SENTENCES.to_vec();
    rng.shuffle(&mut sentences);
    let mut sentences = Sentences { round: sentences, next: 0, rng: Rng(extra.next()) };
    let target = rng.between(seconds.0 * 1000, seconds.1 * 1000) as usize * SAMPLES_PER_MS;

    let mut samples = vec![0.0f32; 500 * SAMPLES_PER_MS];
    let (mut turns, mut words, mut said) = (Vec::new(), Vec::new(), Vec::new());
    let mut talk_time = vec![0usize; voices.len()];
    // The speaker an interjection cut in on.
    let mut cut_in_on: Option<usize> = None;
    let overlapping = talk == Talk::Overlapping;
    while samples.len() < target {
        let current = turns.last().map(|t: &RefTurn| t.speaker);
        let all_heard = talk_time.iter().all(|&t| t > 0);
        let interject = matches!(talk, Talk::Interjections | Talk::Overlapping)
            && cut_in_on.is_none()
            && all_heard
            && turns.last().is_some_and(|t| t.end_ms - t.start_ms >= 3000)
            && extra.between(0, 1) == 0;
        let speaker = if interject {
            let others: Vec<usize> = (0..voices.len()).filter(|&s| Some(s) != current).collect();
            others[extra.between(0, others.len() as u64 - 1) as usize]
        } else if let Some(resumed) = cut_in_on.take().filter(|_| extra.between(0, 1) == 0) {
            resumed
        } else if talk == Talk::Dominant && current.is_some_and(|s| s != 0) && all_heard {
            if extra.between(0, 3) == 0 { next_speaker(&mut rng, current, &talk_time) } else { 0 }
        } else {
            next_speaker(&mut rng, current, &talk_time)
        };
        let (text, mut utterance) = if interject {
            let text = INTERJECTIONS[extra.between(0, INTERJECTIONS.len() as u64 - 1) as usize];
            (text.to_owned(), speak(voices[speaker], text))
        } else {
            let want_s = match talk {
                // The one who holds the floor talks 5–8 s, the others a sentence.
                Talk::Dominant if speaker == 0 => extra.between(50, 80) as f64 / 10.0,
                Talk::Dominant => 0.0,
                // Half the turns one sentence (2–5 s), half as long as 4–7 s asks.
                _ if rng.between(0, 1) == 0 => 0.0,
                _ => rng.between(40, 70) as f64 / 10.0,
            };
            let Some(spoken) = utterance(voices[speaker], want_s, &mut sentences) else { break };
            spoken
        };
        if channel {
            let gain = 10f32.powf(gains.between(0, 1200) as f32 / 100.0 / 20.0 - 6.0 / 20.0);
            utterance.iter_mut().for_each(|s| *s *= gain);
        }
        let start = match turns.last() {
            // Said over the speaker, who goes on.
            Some(last) if overlapping && interject => {
                let into = (last.end_ms - last.start_ms) * extra.between(30, 70) / 100;
                (last.start_ms + into) as usize * SAMPLES_PER_MS
            }
            // Started before the last speaker finished.
            Some(_) if overlapping && extra.between(0, 2) == 0 => {
                samples.len() - extra.between(300, 800) as usize * SAMPLES_PER_MS
            }
            Some(_) => {
                let gap_ms = if interject { extra.between(150, 400) } else { rng.between(200, 800) };
                samples.resize(samples.len() + gap_ms as usize * SAMPLES_PER_MS, 0.0);
                samples.len()
            }
            None => samples.len(),
        };
        if samples.len() < start + utterance.len() {
            samples.resize(start + utterance.len(), 0.0);
        }
        samples[start..].iter_mut().zip(&utterance).for_each(|(s, u)| *s += u);
        talk_time[speaker] += utterance.len();
        let turn = RefTurn { start_ms: ms(start), end_ms: ms(start + utterance.len()), speaker };
        words.extend(word_times(&text, turn));
        turns.push(turn);
        said.push(text);
        if interject && !overlapping {
            cut_in_on = current;
        }
    }
    turns.sort_by_key(|t| t.start_ms);
    words.sort_by_key(|w| w.start_ms);
    samples.resize(samples.len() + 500 * SAMPLES_PER_MS, 0.0);
    if channel {
        let snr_db = gains.between(15, 30) as f32;
        samples = through_channel(&samples, &turns, snr_db, fnv1a(name.as_bytes()) % 1_000_000);
    }
    (samples, Cached { turns, words, text: said.join(" ") })
}

/// The sentences in a shuffled order, shuffled again each time they run out.
struct Sentences {
    round: Vec<&'static str>,
    next: usize,
    rng: Rng,
}

impl Iterator for Sentences {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.next == self.round.len() {
            self.rng.shuffle(&mut self.round);
            self.next = 0;
        }
        self.next += 1;
        self.round.get(self.next - 1).copied()
    }
}

/// The words of `text`, spoken in `turn`: each as long as its letters, with
/// two letters' worth of pause after a comma and four after a sentence.
fn word_times(text: &str, turn: RefTurn) -> Vec<RefWord> {
    let spoken: Vec<&str> = text.split_whitespace().collect();
    let letters = |w: &str| w.chars().filter(|c| c.is_alphanumeric()).count().max(1) as u64;
    let pause = |w: &str| match w.chars().last() {
        Some(',' | ';' | ':') => 2,
        Some('.' | '?' | '!') => 4,
        _ => 0,
    };
    let total: u64 = spoken.iter().map(|w| letters(w) + pause(w)).sum::<u64>() - spoken.last().map_or(0, |w| pause(w));
    let at = |units: u64| turn.start_ms + (turn.end_ms - turn.start_ms) * units / total.max(1);
    let mut units = 0;
    spoken
        .iter()
        .map(|w| {
            let start_ms = at(units);
            units += letters(w);
            let end_ms = at(units);
            units += pause(w);
            RefWord { start_ms, end_ms, speaker: turn.speaker, text: (*w).to_owned() }
        })
        .collect()
}

/// The first turns introduce the speakers in label order; after that anyone
/// but the current speaker, leaning towards whoever has said least.
fn next_speaker(rng: &mut Rng, current: Option<usize>, talk: &[usize]) -> usize {
    if talk.len() == 1 {
        return 0;
    }
    if let Some(unheard) = talk.iter().position(|&t| t == 0) {
        return unheard;
    }
    let others: Vec<usize> = (0..talk.len()).filter(|&s| Some(s) != current).collect();
    if rng.between(0, 1) == 0 {
        return *others.iter().min_by_key(|&&s| talk[s]).expect("two or more speakers");
    }
    others[rng.between(0, others.len() as u64 - 1) as usize]
}

/// One utterance of the next unused sentences, trimmed of silence: at least
/// `want_s` (and 2 s) long where 8 s allows, never longer than 8 s.
fn utterance<'a>(
    voice: Voice,
    want_s: f64,
    sentences: &mut impl Iterator<Item = &'a str>,
) -> Option<(String, Vec<f32>)> {
    let seconds = |samples: &[f32]| samples.len() as f64 / RATE as f64;
    let mut text = sentences.next()?.to_owned();
    let mut shorter: Option<(String, Vec<f32>)> = None;
    loop {
        let samples = speak(voice, &text);
        if seconds(&samples) > 8.0 {
            match shorter.take() {
                Some(done) if seconds(&done.1) >= 2.0 => return Some(done),
                _ => text = sentences.next()?.to_owned(),
            }
        } else if seconds(&samples) < want_s.max(2.0) {
            let longer = format!("{text} {}", sentences.next()?);
            shorter = Some((std::mem::replace(&mut text, longer), samples));
        } else {
            return Some((text, samples));
        }
    }
}

fn speak(voice: Voice, text: &str) -> Vec<f32> {
    let out = scratch_path("wav");
    match voice {
        Voice::Flite(v) | Voice::FlitePitched(v, _) => {
            run(Command::new("flite").args(["-voice", v, "-t", text, "-o"]).arg(&out))
        }
        Voice::Espeak(v, speed) => {
            run(Command::new("espeak-ng").args(["-v", v, "-s", &speed.to_string(), "-w"]).arg(&out).arg(text))
        }
    }
    // A pitched voice is played faster (higher), then stretched back to its tempo.
    let filter = match voice {
        Voice::FlitePitched(_, percent) => {
            let ratio = 1.0 + f64::from(percent) / 100.0;
            Some(format!("aresample=16000,asetrate={:.0},aresample=16000,atempo={:.4}", 16_000.0 * ratio, 1.0 / ratio))
        }
        _ => None,
    };
    let samples = decode(&[std::ffi::OsStr::new("-i"), out.as_os_str()], filter.as_deref());
    std::fs::remove_file(&out).expect("remove scratch wav");
    trim_silence(samples)
}

/// Drops leading and trailing 10 ms frames more than 35 dB below the loudest.
fn trim_silence(samples: Vec<f32>) -> Vec<f32> {
    let frame = 10 * SAMPLES_PER_MS;
    let rms: Vec<f32> =
        samples.chunks(frame).map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt()).collect();
    let floor = rms.iter().copied().fold(0.0, f32::max) * 10f32.powf(-35.0 / 20.0);
    let first = rms.iter().position(|&r| r > floor).unwrap_or(0);
    let last = rms.iter().rposition(|&r| r > floor).map_or(0, |i| i + 1);
    samples[first * frame..(last * frame).min(samples.len())].to_vec()
}

/// Band-pass 300–3400 Hz, then pink noise at `snr_db` below the mean power of
/// the speech in `turns`; scaled down if it would clip.
fn through_channel(samples: &[f32], turns: &[RefTurn], snr_db: f32, seed: u64) -> Vec<f32> {
    let raw = scratch_path("f32");
    std::fs::write(&raw, samples.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>()).expect("write raw");
    let input = ["-f", "f32le", "-ar", "16000", "-ac", "1", "-i"].map(std::ffi::OsStr::new);
    let mut speech = decode(&[&input[..], &[raw.as_os_str()]].concat(), Some("highpass=f=300,lowpass=f=3400"));
    std::fs::remove_file(&raw).expect("remove scratch raw");
    let seconds = samples.len() as f64 / RATE as f64 + 1.0;
    let source = format!("anoisesrc=c=pink:r=16000:a=0.5:s={seed}:d={seconds:.2}");
    let noise = decode(&["-f", "lavfi", "-i", source.as_str()].map(std::ffi::OsStr::new), None);
    assert!(noise.len() >= speech.len(), "noise shorter than speech");

    let power = |s: &[f32]| s.iter().map(|x| f64::from(x * x)).sum::<f64>() / s.len().max(1) as f64;
    let in_turns: Vec<f32> = turns
        .iter()
        .flat_map(|t| speech[t.start_ms as usize * SAMPLES_PER_MS..t.end_ms as usize * SAMPLES_PER_MS].iter().copied())
        .collect();
    let scale = (power(&in_turns) / (power(&noise) * 10f64.powf(f64::from(snr_db) / 10.0))).sqrt() as f32;
    speech.iter_mut().zip(&noise).for_each(|(s, n)| *s += n * scale);
    let peak = speech.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 0.99 {
        speech.iter_mut().for_each(|s| *s *= 0.99 / peak);
    }
    speech
}

/// Runs ffmpeg on `input` arguments and returns 16 kHz mono f32 samples.
fn decode(input: &[&std::ffi::OsStr], filter: Option<&str>) -> Vec<f32> {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-loglevel", "error"]).args(input);
    if let Some(filter) = filter {
        command.args(["-af", filter]);
    }
    command.args(["-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"]);
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn wav_bytes(samples: &[f32]) -> Vec<u8> {
    let data = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&(RATE as u32).to_le_bytes());
    out.extend_from_slice(&(RATE as u32 * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    out
}

/// Reads a WAV written by [`wav_bytes`].
fn read_wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(bytes.len() >= 44 && &bytes[..4] == b"RIFF" && &bytes[36..40] == b"data", "{} is not ours", path.display());
    bytes[44..].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

fn ms(samples: usize) -> u64 {
    (samples / SAMPLES_PER_MS) as u64
}

/// Survives between runs, so repeated test and bench runs skip synthesis.
fn cache_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // `target/tmp`, as CARGO_TARGET_TMPDIR is for tests and benches.
        let target = crate::harness::bin_dir().parent().map(Path::to_owned).unwrap_or_else(std::env::temp_dir);
        let dir = target.join("tmp/conversations");
        std::fs::create_dir_all(&dir).expect("conversation cache dir");
        dir
    })
}

/// A file name no other thread or process is using.
fn scratch_path(extension: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    cache_dir().join(format!("scratch-{}-{n}.{extension}", std::process::id()))
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let scratch = scratch_path("part");
    std::fs::write(&scratch, bytes).unwrap_or_else(|e| panic!("write {}: {e}", scratch.display()));
    std::fs::rename(&scratch, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// splitmix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.between(0, i as u64) as usize);
        }
    }
}

/// What the speakers say: natural sentences of about 2–6 s each.
const SENTENCES: &[&str] = &[
    "Good morning everyone, thanks for joining the call so early.",
    "Could you send me the figures before lunch, please?",
    "I think we should move the release to the second week of March.",
    "The new office on the fourth floor finally has working heating.",
    "Has anyone heard back from the supplier about the delayed shipment?",
    "I spoke to the customer yesterday and they seemed quite happy.",
    "Let's keep this short, because I have another meeting at ten.",
    "The test results came back this morning, and most of them passed.",
    "We still need somebody to write the documentation for the new feature.",
    "My train was cancelled again, so I worked from home on Tuesday.",
    "I am not sure the budget will stretch that far this year.",
    "Maybe we could ask the design team for a second opinion.",
    "The server went down twice last night, but nobody lost any data.",
    "That sounds like a good plan to me.",
    "Honestly, I would rather fix the old bugs before adding anything new.",
    "The conference in Lisbon was much bigger than I expected.",
    "We hired two new engineers, and they both start on Monday.",
    "Can we talk about the holiday schedule before the end of the month?",
    "I left the printed reports on the table in the kitchen.",
    "The weather forecast says it will rain for the rest of the week.",
    "I have a question about the invoice we received from the agency.",
    "Sales in the northern region went up by almost twelve percent.",
    "Please remember to lock the back door when you leave tonight.",
    "I will book the meeting room for Thursday afternoon.",
    "The children's school is closed on Friday, so I will be away.",
    "Nobody told me the deadline had been moved forward.",
    "We could save a lot of money by switching to a different provider.",
    "I tried the new coffee machine, and it is surprisingly good.",
    "Let me share my screen so everyone can see the chart.",
    "The numbers on this slide are from the last quarter, not this one.",
    "I agree with most of that, but the timeline looks too optimistic.",
    "Somebody parked in my space again this morning.",
    "We should probably write this decision down somewhere.",
    "The library downtown has a great collection of old maps.",
    "My sister is visiting next weekend, so I will not be checking email.",
    "Our biggest customer wants a discount if they renew for three years.",
    "The training course was useful, although the first day was rather slow.",
    "I would like to hear what the support team thinks about this.",
    "The bridge on the main road is closed for repairs until June.",
    "Could you repeat that last part, the line is a bit noisy.",
    "I finished reading the proposal, and I have a few small comments.",
    "We ran out of paper in the printer again.",
    "The garden behind the building looks lovely in the spring.",
    "If we start tomorrow, we can still finish by the end of the month.",
    "I am afraid the warehouse cannot take any more orders this week.",
    "Let's meet again on Wednesday and see how far we have come.",
    "The hotel was nice, but the breakfast was very expensive.",
    "Our website was slow yesterday because of a problem with the database.",
    "I think the second option is cheaper in the long run.",
    "Did you get a chance to look at the contract I sent over?",
    "The marketing campaign brought in more visitors than we hoped.",
    "I need another day to check the calculations.",
    "There is cake in the kitchen for Maria's birthday.",
    "The old laptops will be collected and recycled next Tuesday.",
    "We should invite the people from the Edinburgh office to the workshop.",
    "I missed the beginning of the meeting, could someone summarise it for me?",
    "The customer survey closes on Friday at midnight.",
    "Traffic was terrible this morning because of the football match.",
    "I'm happy to take that task if nobody else wants it.",
    "The river flooded the car park last winter, so we moved the generators.",
    "My feeling is that we are trying to do too many things at once.",
    "The auditors will arrive on the first of next month.",
    "I can send you the recording of the presentation later today.",
    "Every new member of staff gets a mentor for the first three months.",
    "The lift is out of order, so please use the stairs.",
    "We need a better way to track the requests that come in by phone.",
    "Thank you, that was really helpful.",
    "I would suggest we try it with a small group of customers first.",
    "The price of steel has gone up again since January.",
    "Let's not make a decision until we have seen the final report.",
    "My team has been working late every evening this week.",
    "The museum is free on the first Sunday of every month.",
    "We are still waiting for the permits from the city council.",
    "I really enjoyed the talk about renewable energy last night.",
    "Can we move on to the next item on the agenda?",
    "The van broke down on the motorway, but the driver is fine.",
    "I will write up the notes and send them round this afternoon.",
    "Apparently the new software update fixes the login problem.",
    "It might be worth asking the lawyers before we sign anything.",
    "That's all from me, unless anyone has further questions.",
];

#[test]
fn three_speaker_meeting_has_known_turns() {
    let meeting = three_speaker_meeting();
    assert!((40_000..=60_000).contains(&meeting.duration_ms), "{} ms", meeting.duration_ms);
    assert_eq!(meeting.speakers, 3);
    let first_appearance: Vec<usize> = meeting.turns.iter().map(|t| t.speaker).take(3).collect();
    assert_eq!(first_appearance, [0, 1, 2]);
    for pair in meeting.turns.windows(2) {
        let gap = pair[1].start_ms - pair[0].end_ms;
        assert!((199..=801).contains(&gap), "gap {gap} ms in {:?}", meeting.turns);
        assert_ne!(pair[0].speaker, pair[1].speaker);
    }
    for turn in &meeting.turns {
        assert!((2_000..=8_000).contains(&(turn.end_ms - turn.start_ms)), "turn {turn:?}");
    }
    let samples = meeting.samples();
    assert_eq!(samples.len() as u64 / 16, meeting.duration_ms);
    assert!(meeting.text.starts_with(char::is_uppercase));
}

#[test]
fn words_lie_in_their_turns_and_interjections_are_short() {
    let conversation = &conversation_set("interjections")[0];
    assert_eq!(conversation.words.len(), conversation.text.split_whitespace().count());
    for word in &conversation.words {
        let turn = conversation.turns.iter().find(|t| t.start_ms <= word.start_ms && word.end_ms <= t.end_ms);
        assert_eq!(turn.map(|t| t.speaker), Some(word.speaker), "word {word:?}");
        assert!(word.start_ms < word.end_ms, "word {word:?}");
    }
    let short = conversation.turns.iter().filter(|t| t.end_ms - t.start_ms < 1000).count();
    assert!(short >= 3, "{short} interjections in {:?}", conversation.turns);
}

#[test]
fn one_speaker_holds_the_floor_in_unequal_talk() {
    let conversation = &conversation_set("unequal")[0];
    let mut talk = vec![0u64; conversation.speakers];
    for turn in &conversation.turns {
        talk[turn.speaker] += turn.end_ms - turn.start_ms;
    }
    let share = talk[0] as f64 / talk.iter().sum::<u64>() as f64;
    assert!(share > 0.5, "the first speaker's share {share:.2} of {talk:?}");
}
