"""The official `openai` package against steno, unchanged but for base_url
and api_key: every response format, timestamp granularities, streaming,
translations, models and errors. Run by the system test `openai_api`, which
starts steno and reads the JSON this prints (texts, for word error rates).

Environment: STENO_URL (the gateway), STENO_KEY, SPEECH (a short clip),
LONG (a clip of several pieces, for streaming).
"""

import json
import os

import openai
from openai.types.audio import (
    Transcription,
    TranscriptionDiarized,
    TranscriptionTextDeltaEvent,
    TranscriptionTextDoneEvent,
    TranscriptionVerbose,
)

client = openai.OpenAI(base_url=os.environ["STENO_URL"] + "/v1", api_key=os.environ["STENO_KEY"], max_retries=0)
speech, long = os.environ["SPEECH"], os.environ["LONG"]
out = {}


def transcribe(path=speech, **kwargs):
    with open(path, "rb") as f:
        return client.audio.transcriptions.create(file=f, model=kwargs.pop("model", "whisper-1"), **kwargs)


def expect_error(kind, call, needle):
    try:
        call()
    except kind as e:
        assert needle in str(e), f"{kind.__name__} without {needle!r}: {e}"
        return str(e)
    raise AssertionError(f"expected {kind.__name__}")


# Models: the installed ones, and whisper-1 as the default's alias.
models = [m.id for m in client.models.list()]
assert "whisper-1" in models and "tiny.en" in models, models
assert client.models.retrieve("whisper-1").owned_by == "steno"
expect_error(openai.NotFoundError, lambda: client.models.retrieve("no-such-model"), "does not exist")

# json (the default): text and usage.
plain = transcribe()
assert isinstance(plain, Transcription), type(plain)
assert plain.usage is not None and plain.usage.type == "duration" and plain.usage.seconds > 0, plain.usage
out["json"] = plain.text

# text, srt, vtt: strings.
out["text"] = transcribe(response_format="text")
assert isinstance(out["text"], str) and out["text"].strip(), out["text"]
srt = transcribe(response_format="srt")
assert srt.startswith("1\n00:00:"), srt[:40]
out["srt"] = srt
vtt = transcribe(response_format="vtt")
assert vtt.startswith("WEBVTT"), vtt[:40]

# verbose_json with both granularities: segments with every OpenAI field,
# and words at the top level with times in seconds.
verbose = transcribe(response_format="verbose_json", timestamp_granularities=["word", "segment"], language="en")
assert isinstance(verbose, TranscriptionVerbose), type(verbose)
assert verbose.language == "english" and verbose.duration > 0, (verbose.language, verbose.duration)
assert verbose.words, "words present"
for word in verbose.words:
    assert word.word and 0 <= word.start <= word.end <= verbose.duration + 0.5, word
assert verbose.segments, "segments present"
for segment in verbose.segments:
    assert segment.tokens and segment.text and segment.start <= segment.end, segment
    assert 0 <= segment.no_speech_prob <= 1 and segment.compression_ratio > 0, segment
    assert segment.avg_logprob <= 0 and segment.temperature == 0, segment
out["verbose"] = verbose.text
out["words"] = [w.word for w in verbose.words]

# verbose_json, words only: no segments, as OpenAI answers.
words_only = transcribe(response_format="verbose_json", timestamp_granularities=["word"])
assert words_only.words and not words_only.segments, words_only

# verbose_json by default: segments, no words.
segments_only = transcribe(response_format="verbose_json")
assert segments_only.segments and not segments_only.words, segments_only

# diarized_json: segments by speaker.
diarized = transcribe(model="gpt-4o-transcribe-diarize", response_format="diarized_json")
assert isinstance(diarized, TranscriptionDiarized), type(diarized)
assert diarized.segments and all(s.type == "transcript.text.segment" and s.speaker for s in diarized.segments)
out["diarized"] = diarized.text

# Word timestamps with another format are refused, as OpenAI does.
expect_error(
    openai.BadRequestError,
    lambda: transcribe(response_format="json", timestamp_granularities=["word"]),
    "verbose_json",
)
expect_error(openai.BadRequestError, lambda: transcribe(response_format="docx"), "response_format")

# stream=true: deltas while it runs, then the whole text.
deltas, done = [], None
for event in transcribe(path=long, stream=True):
    if isinstance(event, TranscriptionTextDeltaEvent):
        deltas.append(event.delta)
    elif isinstance(event, TranscriptionTextDoneEvent):
        done = event.text
assert done is not None, "a transcript.text.done event"
assert len(deltas) >= 2, f"text arrives in pieces: {deltas}"
assert "".join(deltas) == done, (deltas, done)
out["stream"] = done
out["deltas"] = len(deltas)

# Translation into English needs a multilingual model: the English-only
# test model is refused with a reason.
with open(speech, "rb") as f:
    out["translation_error"] = expect_error(
        openai.BadRequestError,
        lambda: client.audio.translations.create(file=f, model="whisper-1"),
        "English-only",
    )

# A wrong key is an authentication error.
stranger = openai.OpenAI(base_url=os.environ["STENO_URL"] + "/v1", api_key="sk-not-a-key", max_retries=0)
with open(speech, "rb") as f:
    expect_error(
        openai.AuthenticationError,
        lambda: stranger.audio.transcriptions.create(file=f, model="whisper-1"),
        "API key",
    )

print(json.dumps(out))
