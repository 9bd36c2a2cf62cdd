//! The vocabulary section: reading `vocabulary.txt`/`.json` and turning
//! GPT-2 byte symbols back into the raw token bytes whisper.cpp expects.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};

/// First vocabulary size of a multilingual Whisper model (whisper.cpp's rule).
const MULTILINGUAL_N_VOCAB: u32 = 51_865;

pub(super) fn is_multilingual(n_vocab: u32) -> bool {
    n_vocab >= MULTILINGUAL_N_VOCAB
}

/// GPT-2's reversible byte -> unicode table (`bytes_to_unicode` in
/// openai/gpt-2 `encoder.py`), indexed by byte.
fn bytes_to_unicode() -> [char; 256] {
    let printable = |b: u32| {
        (u32::from(b'!')..=u32::from(b'~')).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut table = ['\0'; 256];
    let mut next_extra = 256u32;
    for b in 0..256u32 {
        let c = if printable(b) {
            b
        } else {
            next_extra += 1;
            next_extra - 1
        };
        // All code points involved are below U+0144, so always valid.
        table[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    table
}

/// Inverse of [`bytes_to_unicode`].
fn unicode_to_bytes() -> HashMap<char, u8> {
    bytes_to_unicode().iter().enumerate().map(|(b, &c)| (c, b as u8)).collect()
}

/// The tokens of `vocabulary.json` (a JSON list) or else `vocabulary.txt`
/// (one per line).
pub(super) fn read_vocabulary(dir: &Path) -> Result<Vec<String>> {
    let json = dir.join("vocabulary.json");
    if json.is_file() {
        let text = std::fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()));
    }
    let txt = dir.join("vocabulary.txt");
    let text = std::fs::read_to_string(&txt).with_context(|| format!("reading {}", txt.display()))?;
    let mut v: Vec<String> = text.split('\n').map(str::to_string).collect();
    if v.last().is_some_and(|s| s.is_empty()) {
        v.pop();
    }
    Ok(v)
}

/// The byte strings of the regular tokens (everything before
/// `<|endoftext|>`: 50256 for English-only models, 50257 for multilingual
/// ones), as whisper.cpp's own models carry them.
pub(super) fn ggml_tokens(vocab: &[String], n_vocab: u32) -> Result<Vec<Vec<u8>>> {
    let fallback = if is_multilingual(n_vocab) { 50_257 } else { 50_256 };
    let eot = vocab.iter().position(|t| t == "<|endoftext|>").unwrap_or(fallback);
    ensure!(
        eot <= vocab.len() && eot <= n_vocab as usize,
        "vocabulary has {} entries, end-of-text at {eot}, model n_vocab {n_vocab}",
        vocab.len()
    );
    let decoder = unicode_to_bytes();
    vocab[..eot]
        .iter()
        .enumerate()
        .map(|(i, tok)| {
            tok.chars()
                .map(|c| {
                    decoder.get(&c).copied().ok_or_else(|| anyhow!("token {i} {tok:?}: {c:?} is not a byte symbol"))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_matches_gpt2() {
        let t = bytes_to_unicode();
        assert_eq!(t[usize::from(b'!')], '!');
        assert_eq!(t[usize::from(b'a')], 'a');
        assert_eq!(t[0xFF], 'ÿ');
        assert_eq!(t[0], 'Ā'); // U+0100
        assert_eq!(t[usize::from(b' ')], 'Ġ'); // U+0120
        assert_eq!(t[usize::from(b'\n')], 'Ċ'); // U+010A
        assert_eq!(t[0xAD], '\u{143}'); // soft hyphen, the last remapped byte
    }

    #[test]
    fn byte_table_inverse_is_a_bijection() {
        let inv = unicode_to_bytes();
        assert_eq!(inv.len(), 256);
        for (b, c) in bytes_to_unicode().iter().enumerate() {
            assert_eq!(inv[c], b as u8);
        }
    }

    #[test]
    fn tokens_decode_to_bytes() {
        let vocab: Vec<String> =
            ["Hello", "Ġworld", "ĊĊ", "Ã©", "<|endoftext|>", "<|sot|>"].iter().map(|s| s.to_string()).collect();
        let toks = ggml_tokens(&vocab, 51_864).unwrap();
        assert_eq!(toks.len(), 4);
        assert_eq!(toks[0], b"Hello");
        assert_eq!(toks[1], b" world");
        assert_eq!(toks[2], b"\n\n");
        assert_eq!(toks[3], "é".as_bytes());
        let bad = vec!["<|x|>".to_string(), "<|endoftext|>".to_string()];
        assert!(ggml_tokens(&bad, 51_864).is_ok()); // '<', '|', 'x', '>' are byte symbols
        let bad = vec!["\u{2603}".to_string(), "<|endoftext|>".to_string()];
        assert!(ggml_tokens(&bad, 51_864).is_err());
    }
}
