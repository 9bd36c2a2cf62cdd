//! The markdown report: every measurement, then the two comparisons the
//! bench is for (steno's overhead over bare whisper.cpp, and whisper.cpp
//! against faster-whisper int8).

use std::fmt::Write;

use crate::{DISTURBED_CORES, Setup, clips::Clip, run_one::Tweak};

pub struct Row {
    pub setup: Setup,
    pub beams: u32,
    pub clip: &'static str,
    pub audio_seconds: f64,
    pub load_seconds: f64,
    /// Best of the transcription calls.
    pub seconds: f64,
    pub peak_rss_mib: f64,
    pub wer: f64,
    /// CPU cores other processes used, on average, while the child ran.
    pub others_cores: f64,
    /// Which try this is (rows that others disturbed are tried again).
    pub tries: usize,
    pub load1: String,
}

impl Row {
    fn rtf(&self) -> f64 {
        self.audio_seconds / self.seconds
    }

    fn disturbed(&self) -> bool {
        self.others_cores >= DISTURBED_CORES
    }
}

/// A ratio, marked when other processes disturbed either side.
fn ratio_mark(a: &Row, b: &Row) -> &'static str {
    if a.disturbed() || b.disturbed() { " ⚠" } else { "" }
}

pub struct Context {
    pub threads: usize,
    pub cpu: String,
    pub faster_whisper: Option<String>,
    pub machine_at_start: String,
    pub machine_at_end: String,
    pub long_beam: bool,
    pub failures: Vec<String>,
}

fn decoding(beams: u32) -> String {
    if beams <= 1 { "greedy".to_owned() } else { format!("beam {beams}") }
}

/// One table row, also printed as progress.
pub fn row_line(r: &Row) -> String {
    let load = if r.load_seconds.is_nan() { "–".to_owned() } else { format!("{:.2}", r.load_seconds) };
    format!(
        "| {} | {} | {} | {} | {:.1} | {load} | {:.2} | {:.1} | {:.0} | {:.1} | {:.2} | {} | {} |",
        r.setup.label(),
        r.setup.weights(),
        decoding(r.beams),
        r.clip,
        r.audio_seconds,
        r.seconds,
        r.rtf(),
        r.peak_rss_mib,
        r.wer * 100.0,
        r.others_cores,
        r.tries,
        r.load1
    )
}

fn find<'a>(rows: &'a [Row], label: &str, model: &str, beams: u32, clip: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.setup.label() == label && r.setup.model == model && r.beams == beams && r.clip == clip)
}

pub fn render(context: &Context, clips: &[Clip], rows: &[Row]) -> String {
    let mut out = String::new();
    let clip_list: Vec<String> = clips.iter().map(|c| format!("{} ({:.1} s)", c.name, c.seconds)).collect();
    let fw = context.faster_whisper.as_deref().unwrap_or("faster-whisper not run (no STENO_BENCH_PYTHON)");
    let _ = writeln!(out, "# Transcription engines on {} threads\n", context.threads);
    let _ = writeln!(out, "- CPU: {}", context.cpu);
    let _ = writeln!(out, "- whisper.cpp 1.8.3 (whisper-rs 0.16, CPU build); {fw}");
    let _ = writeln!(out, "- Clips (flite `slt`, known text, 16 kHz mono): {}", clip_list.join(", "));
    if !context.long_beam {
        let _ = writeln!(out, "- Beam 5 only on clips under two minutes (STENO_BENCH_LONG_BEAM=0).");
    }
    let _ = writeln!(out, "- Machine at start: {}", context.machine_at_start);
    let _ = writeln!(out, "- Machine at end: {}", context.machine_at_end);
    let _ = writeln!(
        out,
        "\nRTF = audio seconds / wall seconds of the transcription call (model load excluded, shown as \
         `load s`); clips under 30 s: best of 3 calls. Peak RSS: the child process's VmHWM (one process per \
         row). WER against the known text, case and punctuation ignored. `others`: CPU cores that other \
         processes used on average during the row (the machine is shared; a row they disturbed by more \
         than a quarter core is tried again, up to 3 tries, keeping the fastest; `try` says which was kept); \
         `load1`: 1-minute load average after it. A try running longer than 60 s plus half the audio \
         length is stopped.\n"
    );
    let _ = writeln!(
        out,
        "| engine | weights | decoding | clip | audio s | load s | transcribe s | RTF | peak RSS MiB | WER % | \
         others | try | load1 |\n| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let _ = writeln!(out, "{}", row_line(row));
    }
    let _ = writeln!(
        out,
        "\n⚠ in the comparisons: other processes used at least {DISTURBED_CORES} cores during one side \
         (in all its tries), so that ratio is not to be trusted."
    );

    let _ = writeln!(out, "\n## steno vs bare whisper.cpp (target: steno within 5%)\n");
    let _ = writeln!(
        out,
        "| steno | weights | decoding | clip | steno s | whisper.cpp s | steno time | whisper.cpp +steno-params s | \
         steno / whisper.cpp RSS MiB |\n| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for steno in rows.iter().filter(|r| r.setup.engine == "steno") {
        let Some(bare) = find(rows, "whisper.cpp", steno.setup.model, steno.beams, steno.clip) else { continue };
        let params = find(rows, "whisper.cpp +steno-params", steno.setup.model, steno.beams, steno.clip)
            .map_or("–".to_owned(), |r| format!("{:.2}", r.seconds));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:+.1}%{} | {params} | {:.0} / {:.0} |",
            steno.setup.label(),
            steno.setup.weights(),
            decoding(steno.beams),
            steno.clip,
            steno.seconds,
            bare.seconds,
            (steno.seconds / bare.seconds - 1.0) * 100.0,
            ratio_mark(steno, bare),
            steno.peak_rss_mib,
            bare.peak_rss_mib
        );
    }

    let _ = writeln!(out, "\n## whisper.cpp vs faster-whisper int8 (time ratio; above 1: whisper.cpp slower)\n");
    let _ = writeln!(
        out,
        "| whisper.cpp | weights | decoding | clip | whisper.cpp s | faster-whisper int8 s | ratio |\n\
         | --- | --- | --- | --- | ---: | ---: | ---: |"
    );
    for cpp in rows.iter().filter(|r| r.setup.engine == "whisper.cpp" && r.setup.tweak != Tweak::StenoParams) {
        let Some(fw) = find(rows, "faster-whisper", "int8", cpp.beams, cpp.clip) else { continue };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2}×{} |",
            cpp.setup.label(),
            cpp.setup.weights(),
            decoding(cpp.beams),
            cpp.clip,
            cpp.seconds,
            fw.seconds,
            cpp.seconds / fw.seconds,
            ratio_mark(cpp, fw)
        );
    }
    let like_steno = format!("faster-whisper +{}", Tweak::LikeSteno.name());
    let _ = writeln!(
        out,
        "\n## steno vs faster-whisper int8, like for like (word times and VAD on both; speed ratio, target ≥ 1.0×)\n"
    );
    let _ = writeln!(
        out,
        "| steno | weights | decoding | clip | steno s | WER % | faster-whisper s | WER % | speed ratio |\n\
         | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    let steno_rows = rows.iter().filter(|r| {
        r.setup.model.starts_with("tiny.en")
            && matches!(r.setup.label().as_str(), "steno" | "steno +padded" | "steno end to end")
    });
    for steno in steno_rows {
        let Some(fw) = find(rows, &like_steno, "int8", steno.beams, steno.clip) else { continue };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.1} | {:.2} | {:.1} | {:.2}×{} |",
            steno.setup.label(),
            steno.setup.weights(),
            decoding(steno.beams),
            steno.clip,
            steno.seconds,
            steno.wer * 100.0,
            fw.seconds,
            fw.wer * 100.0,
            fw.seconds / steno.seconds,
            ratio_mark(steno, fw)
        );
    }
    let _ = writeln!(
        out,
        "\nSteno end to end: the clip as a job through a running system (download, transcode, transcribe, \
         export over NATS; no diarization), submission to `completed`, the model loaded by an earlier job; its peak \
         RSS is the transcribe process's.\n"
    );
    let _ = writeln!(
        out,
        "\nSettings: steno: the stage's own path (pieces of one whisper window cut at pauses, silence \
         skipped, one state), as for a job with default options \
         (token timestamps with DTW, non-speech tokens suppressed, greedy best_of 1; `+no-word-times`: a job \
         with `word_timestamps: false`, the model loaded without DTW; `+padded`: pieces over 10 s padded to 30 s, \
         `transcribe.fit_encoder = false`); bare whisper.cpp: whisper-rs defaults, language en, \
         greedy best_of 1 or beam 5 (`+steno-params`: with steno's token timestamps, DTW and non-speech \
         suppression; `+flash-attn`: flash attention on; `+1-thread`: one thread); faster-whisper: vad_filter off, condition_on_previous_text off (as \
         whisper.cpp's no_context default), no word timestamps, cpu_threads = threads, num_workers 1. All \
         use temperature 0 with fallback."
    );
    if !context.failures.is_empty() {
        let _ = writeln!(out, "\nFailed:\n");
        for failure in &context.failures {
            let _ = writeln!(out, "- {failure}");
        }
    }
    out
}
