//! Test media made with real tools: espeak-ng speech at known text, turned
//! into WAV, MP3 and MP4 (with a video track) by ffmpeg, plus bad inputs;
//! served over real HTTP on loopback.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use axum::{
    Router,
    extract::Path as UrlPath,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use futures::StreamExt;

pub use crate::wer::word_error_rate;

/// What the speech fixture says.
pub const SPEECH_TEXT: &str = "Please remember to buy milk and bread on the way home. \
    We will meet again next week to talk about the new project.";

/// What the ~30 s meeting clip (flite, a real speaker's voice) says. Used
/// by the benches.
#[allow(dead_code)]
pub const MEETING_TEXT: &str = "Good morning, and welcome to the weekly project meeting. Today we will review the \
    progress of the new billing system, discuss the results of the customer survey, and plan the work \
    for the next two weeks. The billing team finished the invoice module on time, and testing starts \
    on Monday. The survey shows that most customers like the new design, but many of them asked for \
    faster support. We will hire two more people for the support desk before the end of the month. \
    Thank you all for coming today, and please send me your questions by email before Friday.";

/// `meeting-30s.wav` in [`media_dir`]: [`MEETING_TEXT`] read by flite.
#[allow(dead_code)]
pub fn meeting_clip() -> &'static str {
    static CLIP: OnceLock<()> = OnceLock::new();
    CLIP.get_or_init(|| {
        run(Command::new("flite")
            .args(["-voice", "slt", "-t", MEETING_TEXT, "-o"])
            .arg(media_dir().join("meeting-30s.wav")));
    });
    "meeting-30s.wav"
}

/// `minutes` of the meeting clip, each reading followed by 3 s of silence,
/// in [`media_dir`]. Used by the benches.
#[allow(dead_code)]
pub fn long_meeting(minutes: u32) -> String {
    let dir = media_dir();
    let name = format!("long-{minutes}min.wav");
    if !dir.join(&name).exists() {
        let with_pause = dir.join("meeting-pause.wav");
        run(Command::new("ffmpeg")
            .args(["-y", "-v", "error", "-i"])
            .arg(dir.join(meeting_clip()))
            .args(["-af", "apad=pad_dur=3", "-ar", "16000", "-ac", "1"])
            .arg(&with_pause));
        run(Command::new("ffmpeg")
            .args(["-y", "-v", "error", "-stream_loop", "-1", "-i"])
            .arg(&with_pause)
            .args(["-t", &(minutes * 60).to_string(), "-c", "copy"])
            .arg(dir.join(&name)));
    }
    name
}

pub fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Generates the media once per test binary.
pub fn media_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("steno-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fixture dir");
        let wav = dir.join("speech.wav");
        run(Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&wav).arg(SPEECH_TEXT));
        let ffmpeg = || {
            let mut c = Command::new("ffmpeg");
            c.args(["-nostdin", "-loglevel", "error", "-y"]);
            c
        };
        run(ffmpeg().arg("-i").arg(&wav).args(["-codec:a", "libmp3lame", "-b:a", "64k"]).arg(dir.join("speech.mp3")));
        run(ffmpeg()
            .args(["-f", "lavfi", "-i", "color=c=blue:s=160x120:r=10"])
            .arg("-i")
            .arg(&wav)
            .args(["-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])
            .arg(dir.join("speech.mp4")));
        run(ffmpeg()
            .args([
                "-f",
                "lavfi",
                "-i",
                "color=c=red:s=160x120:r=10",
                "-t",
                "2",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(dir.join("silent-video.mp4")));
        // About a minute of speech, for work that must still be running when
        // a test interrupts it.
        let list = dir.join("long.txt");
        std::fs::write(&list, "file 'speech.wav'\n".repeat(6)).expect("write");
        run(ffmpeg().args(["-f", "concat", "-safe", "0", "-i"]).arg(&list).arg(dir.join("long.wav")));
        std::fs::write(dir.join("not-media.mp3"), "this is a text file pretending to be audio\n".repeat(50))
            .expect("write");
        std::fs::write(dir.join("empty.wav"), b"").expect("write");
        dir
    })
}

/// Serves [`media_dir`] on a loopback port; `/page.html` is an HTML page,
/// `/unavailable.wav` always answers 503, `/slow/<name>` sends the file over
/// about 5 s (a download still running when a test interrupts it) and
/// anything missing is a 404. Returns the base URL.
pub async fn serve_media() -> String {
    let app = Router::new()
        .route("/page.html", get(page))
        .route("/unavailable.wav", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/slow/{name}", get(slow_file))
        .route("/{name}", get(file));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}")
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], "<!DOCTYPE html><html><body>Not media</body></html>")
}

async fn file(UrlPath(name): UrlPath<String>) -> impl IntoResponse {
    let path = media_dir().join(&name);
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("mp4") => "video/mp4",
        _ => "application/octet-stream",
    };
    match std::fs::read(&path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn slow_file(UrlPath(name): UrlPath<String>) -> impl IntoResponse {
    const PIECES: usize = 20;
    let Ok(bytes) = std::fs::read(media_dir().join(&name)) else { return StatusCode::NOT_FOUND.into_response() };
    let size = bytes.len().div_ceil(PIECES).max(1);
    let pieces: Vec<Vec<u8>> = bytes.chunks(size).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(pieces).then(|piece| async move {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        Ok::<_, std::convert::Infallible>(piece)
    });
    let length = bytes.len().to_string();
    ([(header::CONTENT_LENGTH, length)], axum::body::Body::from_stream(stream)).into_response()
}

/// The spoken text of an SRT file: cue lines without numbers or timings.
pub fn srt_text(srt: &str) -> String {
    srt.lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("-->") && l.trim().parse::<u32>().is_err())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn word_error_rate_counts_edits() {
    assert_eq!(word_error_rate("the quick brown fox", "The quick, brown fox."), 0.0);
    assert_eq!(word_error_rate("a b c d", "a x c"), 0.5);
}
