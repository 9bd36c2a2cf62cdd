//! The gateway's REST API as the CLI uses it: submit, follow (a progress
//! bar on a terminal, plain lines otherwise), fetch, and the job commands.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use steno_export::render::ExportFormat;

/// How often a job is polled for progress.
const POLL: Duration = Duration::from_millis(500);
/// Each stage's share of a job's time, for one bar over the whole job
/// (transcription dominates; the stages a job skips are passed over).
const STAGE_WEIGHTS: [(&str, f64); 5] =
    [("download", 0.05), ("transcode", 0.05), ("transcribe", 0.70), ("diarize", 0.15), ("export", 0.05)];

/// A job that ended `failed` or `cancelled` (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JobEnded(pub String);

/// A gateway, with the API key sent on every request.
pub struct Api {
    http: reqwest::Client,
    pub server: String,
}

impl Api {
    pub fn new(server: &str, api_key: Option<&str>) -> anyhow::Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = api_key {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| anyhow::anyhow!("the API key holds characters a header cannot carry"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder().default_headers(headers).build()?;
        Ok(Self { http, server: server.trim_end_matches('/').to_owned() })
    }

    /// Whether anything answers HTTP at the server.
    pub async fn answers(&self) -> bool {
        self.http.get(format!("{}/v1/jobs?limit=1", self.server)).send().await.is_ok()
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.map_err(|e| {
            anyhow::anyhow!("cannot reach the gateway at {} ({e}); is `steno up` running?", self.server)
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::bail!("gateway answered {status}: {}", body["error"].as_str().unwrap_or("no detail"))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self.send(self.http.get(format!("{}{path}", self.server))).await?.json().await?)
    }

    pub async fn post(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self.send(self.http.post(format!("{}{path}", self.server))).await?.json().await?)
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(format!("{}{path}", self.server))).await.map(drop)
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        Ok(self.send(self.http.patch(format!("{}{path}", self.server)).json(body)).await?.json().await?)
    }

    pub async fn bytes(&self, path: &str) -> anyhow::Result<bytes::Bytes> {
        Ok(self.send(self.http.get(format!("{}{path}", self.server))).await?.bytes().await?)
    }

    /// Submits a file (multipart) or an http(s) URL with `options` (the
    /// submission's JSON fields); the job document.
    pub async fn submit(&self, input: &str, options: &Value) -> anyhow::Result<Value> {
        let url = format!("{}/v1/jobs", self.server);
        let request = if is_url(input) {
            let mut body = options.clone();
            body["source_url"] = json!(input);
            self.http.post(url).json(&body)
        } else {
            let path = Path::new(input);
            anyhow::ensure!(path.is_file(), "{input} is not a file or an http(s) URL");
            let form = form_fields(options)
                .into_iter()
                .fold(reqwest::multipart::Form::new(), |form, (name, value)| form.text(name, value));
            let form = form.file("file", path).await.map_err(|e| anyhow::anyhow!("read {input}: {e}"))?;
            self.http.post(url).multipart(form)
        };
        Ok(self.send(request).await?.json().await?)
    }

    /// Enrols the voice `name` from the clip at `path`; the voice document.
    pub async fn enrol(&self, name: &str, path: &Path) -> anyhow::Result<Value> {
        let form = reqwest::multipart::Form::new().text("name", name.to_owned());
        let form = form.file("file", path).await.map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
        Ok(self.send(self.http.post(format!("{}/v1/speakers", self.server)).multipart(form)).await?.json().await?)
    }

    /// Polls job `id` until it ends, moving `bar`; the final document.
    pub async fn follow(&self, id: &str, bar: &Progress) -> anyhow::Result<Value> {
        loop {
            let job = self.get(&format!("/v1/jobs/{id}")).await?;
            let status = job["status"].as_str().unwrap_or("unknown");
            bar.update(status, job["stage"].as_str(), job["progress"].as_f64().unwrap_or(0.0));
            if matches!(status, "completed" | "failed" | "cancelled") {
                return Ok(job);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

pub fn is_url(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://")
}

/// The submission's fields as multipart text fields (lists comma-joined).
fn form_fields(options: &Value) -> Vec<(String, String)> {
    let Some(fields) = options.as_object() else { return Vec::new() };
    fields
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => {
                    items.iter().map(|i| i.as_str().map_or(i.to_string(), str::to_owned)).collect::<Vec<_>>().join(",")
                }
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect()
}

/// One job's progress: a bar on a terminal (stage, percent, time left),
/// else a line whenever the stage or the tenth of progress changes.
pub struct Progress {
    name: String,
    bar: Option<ProgressBar>,
    last: std::sync::Mutex<String>,
}

impl Progress {
    /// `bars` is `None` when stderr is not a terminal (or with `--json`).
    pub fn new(bars: Option<&MultiProgress>, name: &str) -> Self {
        let bar = bars.map(|bars| {
            let style = ProgressStyle::with_template("{prefix:>20} [{bar:30}] {percent:>3}% {msg:<22} {eta:>4} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = bars.add(ProgressBar::new(1000).with_style(style).with_prefix(short(name, 20)));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { name: name.to_owned(), bar, last: std::sync::Mutex::new(String::new()) }
    }

    fn update(&self, status: &str, stage: Option<&str>, progress: f64) {
        let stage = stage.unwrap_or("queued");
        match &self.bar {
            Some(bar) => {
                bar.set_position((overall(stage, progress) * 1000.0) as u64);
                bar.set_message(format!("{status}: {stage}"));
            }
            None => {
                let line = match status {
                    "running" => format!("{}: {stage} {:.0}%", self.name, (progress * 10.0).floor() * 10.0),
                    status => format!("{}: {status}", self.name),
                };
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                if *last != line {
                    eprintln!("{line}");
                    *last = line;
                }
            }
        }
    }

    /// Ends the bar with `message` (plain lines have said it already).
    pub fn finish(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(message.to_owned());
        }
    }
}

/// A job's overall fraction done from its stage and that stage's progress.
fn overall(stage: &str, progress: f64) -> f64 {
    let Some(index) = STAGE_WEIGHTS.iter().position(|(name, _)| *name == stage) else { return 0.0 };
    let before: f64 = STAGE_WEIGHTS[..index].iter().map(|(_, w)| w).sum();
    (before + STAGE_WEIGHTS[index].1 * progress.clamp(0.0, 1.0)).min(1.0)
}

fn short(name: &str, width: usize) -> String {
    match name.chars().count() > width {
        true => {
            format!("…{}", name.chars().rev().take(width - 1).collect::<Vec<_>>().into_iter().rev().collect::<String>())
        }
        false => name.to_owned(),
    }
}

/// Progress bars when stderr is a terminal and the output is for people.
pub fn bars(json: bool) -> Option<MultiProgress> {
    (!json && std::io::stderr().is_terminal()).then(MultiProgress::new)
}

/// A name for an input's output files: a file's stem, a URL's last path
/// segment's stem; `-2`, `-3`… when taken by an earlier input.
pub fn output_names(inputs: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for input in inputs {
        let path = match is_url(input) {
            true => input.split(['?', '#']).next().unwrap_or_default().rsplit('/').next().unwrap_or_default(),
            false => input.as_str(),
        };
        let stem = Path::new(path).file_stem().and_then(|s| s.to_str()).filter(|s| !s.is_empty()).unwrap_or("media");
        let mut name = stem.to_owned();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{stem}-{n}");
        }
        names.push(name);
    }
    names
}

/// Refuses to print a binary format (PDF) on a terminal: it needs a file.
pub fn check_printable(format: &str, path: Option<&PathBuf>) -> anyhow::Result<()> {
    let binary = format.parse::<ExportFormat>().is_ok_and(|f| !f.is_text());
    anyhow::ensure!(
        !binary || path.is_some() || !std::io::stdout().is_terminal(),
        "{format} is a binary file: give -o (or redirect stdout)"
    );
    Ok(())
}

/// Writes `bytes` to `path`, or to stdout when `path` is `None`.
pub fn write_out(path: Option<&PathBuf>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("write {}: {e}", path.display())),
        None => Ok(std::io::stdout().write_all(bytes)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_are_stems_made_unique() {
        let inputs =
            ["talk.mp3", "dir/talk.wav", "https://x.org/a/b/meeting.mp4?sig=1", "https://x.org/"].map(str::to_owned);
        assert_eq!(output_names(&inputs), ["talk", "talk-2", "meeting", "media"]);
    }

    #[test]
    fn the_bar_moves_through_the_stages_in_order() {
        let points = [("download", 0.0), ("transcode", 1.0), ("transcribe", 0.5), ("diarize", 1.0), ("export", 1.0)];
        let fractions: Vec<f64> = points.iter().map(|(s, p)| overall(s, *p)).collect();
        assert!(fractions.windows(2).all(|w| w[0] < w[1]), "{fractions:?}");
        assert!((fractions[4] - 1.0).abs() < 1e-9);
        assert_eq!(overall("queued", 0.7), 0.0);
    }

    #[test]
    fn options_become_form_fields() {
        let fields = form_fields(&json!({"formats": ["srt", "txt"], "diarize": false, "beam_size": 5, "model": null}));
        assert_eq!(
            fields,
            [("beam_size", "5"), ("diarize", "false"), ("formats", "srt,txt")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
