//! Download official whisper.cpp ggml models from Hugging Face, verifying the
//! SHA-1 published in whisper.cpp's `models/README.md`, and quantize them
//! here on request.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use sha1::{Digest, Sha1};
use tokio::io::AsyncWriteExt;

use super::ct2::{Encoding, quantize_ggml};

const BASE_URL: &str = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";

/// `(name, sha1)` for every model in the "Available models" table of
/// whisper.cpp's `models/README.md` (ggml-org/whisper.cpp) that is hosted in
/// `ggerganov/whisper.cpp` on Hugging Face. `small.en-tdrz` is left out: it
/// lives in another repository (akashmjn/tinydiarize-whisper.cpp). The q5_1 /
/// q8_0 variants have no published checksum there, so they are not offered.
pub const KNOWN_MODELS: &[(&str, &str)] = &[
    ("tiny", "bd577a113a864445d4c299885e0cb97d4ba92b5f"),
    ("tiny.en", "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
    ("base", "465707469ff3a37a2b9b8d8f89f2f99de7299dac"),
    ("base.en", "137c40403d78fd54d454da0f9bd998f78703390c"),
    ("small", "55356645c2b361a969dfd0ef2c5a50d530afd8d5"),
    ("small.en", "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"),
    ("medium", "fd9727b6e1217c2f614f9b698455c4ffd82463b4"),
    ("medium.en", "8c30f0e44ce9560643ebd10bbe50cd20eafd3723"),
    ("large-v1", "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299"),
    ("large-v2", "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6"),
    ("large-v2-q5_0", "00e39f2196344e901b3a2bd5814807a769bd1630"),
    ("large-v3", "ad82bf6a9043ceed055076d0fd39f5f186ff8062"),
    ("large-v3-q5_0", "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de"),
    ("large-v3-turbo", "4af2b29d7ec73d781377bfd1758ca957a807e941"),
    ("large-v3-turbo-q5_0", "e050f7970618a659205450ad97eb95a18d69c9ee"),
];

/// The expected SHA-1 (lower-case hex) of model `name`.
pub fn model_sha1(name: &str) -> Result<&'static str> {
    KNOWN_MODELS.iter().find(|(n, _)| *n == name).map(|(_, sha)| *sha).ok_or_else(|| {
        let names: Vec<&str> = KNOWN_MODELS.iter().map(|(n, _)| *n).collect();
        anyhow!(
            "unknown model {name:?}; known models: {} (and each of them quantized here, as NAME-q8_0, -q5_1, -q4_0 or -iq4_nl)",
            names.join(", ")
        )
    })
}

/// File name of model `name` (`ggml-<name>.bin`).
pub fn model_file_name(name: &str) -> String {
    format!("ggml-{name}.bin")
}

/// Download URL of model `name`.
pub fn model_url(name: &str) -> String {
    format!("{BASE_URL}/{}", model_file_name(name))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Download model `name` into `models_dir/ggml-<name>.bin` and return that
/// path. An existing file with the right checksum is kept as is.
pub async fn fetch_model(name: &str, models_dir: &Path) -> Result<PathBuf> {
    fetch_model_with_progress(name, models_dir, |_, _| {}).await
}

/// Like [`fetch_model`], calling `progress(bytes_done, total_bytes)` after
/// every received chunk. A quantized name (`tiny.en-q8_0`) fetches the official f16 model and
/// quantizes it here, keeping both files.
pub async fn fetch_model_with_progress(
    name: &str,
    models_dir: &Path,
    progress: impl FnMut(u64, Option<u64>),
) -> Result<PathBuf> {
    let Some((official, encoding)) = quantized_of(name) else {
        return fetch_official(name, models_dir, progress).await;
    };
    let dest = models_dir.join(model_file_name(name));
    if dest.is_file() {
        return Ok(dest);
    }
    let source = fetch_official(official, models_dir, progress).await?;
    let out = dest.clone();
    tokio::task::spawn_blocking(move || quantize_ggml(&source, &out, encoding)).await??;
    Ok(dest)
}

/// The official model and the encoding of a name such as `tiny.en-q8_0`
/// (any type `import-ct2 --quantize` takes), when it is one.
fn quantized_of(name: &str) -> Option<(&str, Encoding)> {
    let (official, kind) = name.rsplit_once('-')?;
    let encoding = Encoding::quantized(kind)?;
    model_sha1(official).ok().map(|_| (official, encoding))
}

/// Downloads an official model unless it is already there, checksum and all.
async fn fetch_official(name: &str, models_dir: &Path, mut progress: impl FnMut(u64, Option<u64>)) -> Result<PathBuf> {
    let expected = model_sha1(name)?;
    let dest = models_dir.join(model_file_name(name));

    if dest.is_file() {
        let path = dest.clone();
        let actual = tokio::task::spawn_blocking(move || sha1_file(&path)).await??;
        if actual == expected {
            return Ok(dest);
        }
        // Corrupt or outdated: download again and replace it.
    }

    tokio::fs::create_dir_all(models_dir).await.with_context(|| format!("creating {}", models_dir.display()))?;
    let tmp = models_dir.join(format!(".{}.part-{}", model_file_name(name), std::process::id()));
    let url = model_url(name);
    match download(&url, &tmp, expected, &mut progress).await {
        Ok(()) => {
            tokio::fs::rename(&tmp, &dest)
                .await
                .with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))?;
            Ok(dest)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e.context(format!("downloading {url}")))
        }
    }
}

async fn download(
    url: &str,
    tmp: &Path,
    expected_sha1: &str,
    progress: &mut impl FnMut(u64, Option<u64>),
) -> Result<()> {
    let client = reqwest::Client::builder().user_agent(concat!("steno/", env!("CARGO_PKG_VERSION"))).build()?;
    let resp = client.get(url).send().await?.error_for_status()?;
    let total = resp.content_length();
    let mut file = tokio::fs::File::create(tmp).await.with_context(|| format!("creating {}", tmp.display()))?;
    let mut hasher = Sha1::new();
    let mut done = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    file.flush().await?;
    file.sync_all().await?;
    drop(file);

    if let Some(total) = total
        && done != total
    {
        bail!("truncated download: got {done} of {total} bytes");
    }
    let actual = hex(&hasher.finalize());
    if actual != expected_sha1 {
        bail!("SHA-1 mismatch: expected {expected_sha1}, got {actual}");
    }
    Ok(())
}

fn sha1_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_known_models() {
        assert_eq!(model_sha1("tiny.en").unwrap(), "c78c86eb1a8faa21b369bcd33207cc90d64ae9df");
        assert_eq!(model_sha1("large-v3-turbo").unwrap(), "4af2b29d7ec73d781377bfd1758ca957a807e941");
        assert_eq!(model_url("base.en"), "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.en.bin");
    }

    #[test]
    fn quantized_names_of_official_models_are_made_here() {
        assert!(matches!(quantized_of("tiny.en-q8_0"), Some(("tiny.en", Encoding::Q8_0))));
        assert!(matches!(quantized_of("large-v3-turbo-iq4_nl"), Some(("large-v3-turbo", Encoding::Iq4Nl))));
        assert!(quantized_of("large-v3-q5_0").is_none(), "an official quantized model is downloaded as is");
        assert!(quantized_of("huge-q8_0").is_none());
        assert!(quantized_of("tiny.en").is_none());
    }

    #[test]
    fn unknown_model_lists_known_names() {
        let err = model_sha1("huge").unwrap_err().to_string();
        assert!(err.contains("huge"));
        assert!(err.contains("tiny.en") && err.contains("large-v3-turbo-q5_0"));
    }

    #[test]
    fn table_is_well_formed() {
        let mut names: Vec<&str> = KNOWN_MODELS.iter().map(|(n, _)| *n).collect();
        for (_, sha) in KNOWN_MODELS {
            assert_eq!(sha.len(), 40);
            assert!(sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KNOWN_MODELS.len());
    }

    #[test]
    fn hashes_files() {
        let dir = std::env::temp_dir().join(format!("steno-fetch-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha1_file(&p).unwrap(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
