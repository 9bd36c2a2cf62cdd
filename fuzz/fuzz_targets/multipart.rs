//! The upload form reader: any body under a fixed boundary gives options
//! and a file part, or an error naming the problem; never a panic.
#![no_main]

use std::sync::LazyLock;

use axum::extract::{FromRequest, Multipart, Request};
use libfuzzer_sys::fuzz_target;
use steno_gateway::{rest::read_form, submission::SubmitJson};

/// One runtime for every input, not one each.
static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"));

fuzz_target!(|data: &[u8]| {
    RUNTIME.block_on(async {
        let request = Request::builder()
            .method("POST")
            .header("content-type", "multipart/form-data; boundary=X")
            .body(axum::body::Body::from(data.to_vec()))
            .expect("request");
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else { return };
        let _ = read_form(&mut multipart, async |spec: SubmitJson, mut file: axum::extract::multipart::Field<'_>| {
            while let Ok(Some(_)) = file.chunk().await {}
            spec.validate().map(|_| ())
        })
        .await;
    });
});
