//! A small REST client for the tests.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::wait_until;

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    /// A client that sends `key` as `Authorization: Bearer` on every request.
    pub fn new(base: &str, key: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).expect("key as a header");
        headers.insert(reqwest::header::AUTHORIZATION, bearer);
        let http = reqwest::Client::builder().default_headers(headers).build().expect("http client");
        Self { base: base.to_owned(), http }
    }

    pub async fn submit(&self, body: Value) -> (u16, Value) {
        let response = self.http.post(format!("{}/v1/jobs", self.base)).json(&body).send().await.expect("submit");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Submits `body`, which must be accepted as a new job; its id.
    pub async fn submit_new(&self, body: Value) -> String {
        let (status, job) = self.submit(body).await;
        assert_eq!(status, 201, "submit: {job}");
        job["id"].as_str().expect("job id").to_owned()
    }

    /// A job of `url` transcribed into plain text only, without speakers:
    /// the quickest whole job; its id.
    pub async fn submit_plain(&self, url: &str) -> String {
        self.submit_new(json!({ "source_url": url, "formats": ["txt"], "diarize": false })).await
    }

    pub async fn submit_url(&self, url: &str, formats: &[&str]) -> String {
        let (status, job) = self.submit(json!({ "source_url": url, "formats": formats })).await;
        assert_eq!(status, 201, "submit {url}: {job}");
        job["id"].as_str().expect("job id").to_owned()
    }

    pub async fn upload(&self, file: &std::path::Path, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let form = form.file("file", file).await.expect("read upload");
        let response = self.http.post(format!("{}/v1/jobs", self.base)).multipart(form).send().await.expect("upload");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.expect("get");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    pub async fn job(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/jobs/{id}")).await;
        assert_eq!(status, 200, "get job {id}: {body}");
        serde_json::from_str(&body).expect("job json")
    }

    /// Waits for the job to finish (any terminal status) and returns it.
    pub async fn finished(&self, id: &str, timeout: Duration) -> Value {
        wait_until(&format!("job {id} to finish"), timeout, || async {
            let job = self.job(id).await;
            matches!(job["status"].as_str(), Some("completed" | "failed" | "cancelled")).then_some(job)
        })
        .await
    }

    pub async fn transcript(&self, id: &str, format: &str) -> String {
        let (status, body) = self.get(&format!("/v1/jobs/{id}/transcript.{format}")).await;
        assert_eq!(status, 200, "transcript.{format} of {id}: {body}");
        body
    }
}
