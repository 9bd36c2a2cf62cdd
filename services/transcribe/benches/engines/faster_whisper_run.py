"""One faster-whisper (CTranslate2) transcription for the `engines` bench.

Prints one JSON line: {"text", "seconds" (one per repeat), "load_seconds",
"peak_rss_kb", "cpu_ticks"}. Settings match bare whisper.cpp's call:
no VAD, no conditioning on the previous window (whisper.cpp's `no_context`
default), English, temperature 0 with the usual fallback; with
`--word-timestamps --vad-filter`, word times and Silero VAD as the steno
rows have.
"""

import argparse
import json
import os
import time

import numpy as np
from faster_whisper import WhisperModel


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_ticks():
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="CTranslate2 model directory")
    parser.add_argument("--audio", required=True, help="16 kHz mono s16le raw PCM")
    parser.add_argument("--compute-type", required=True)
    parser.add_argument("--beam-size", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--word-timestamps", action="store_true")
    parser.add_argument("--vad-filter", action="store_true")
    args = parser.parse_args()

    with open(args.audio, "rb") as f:
        samples = np.frombuffer(f.read(), dtype="<i2").astype(np.float32) / 32768.0

    clock = time.perf_counter()
    model = WhisperModel(
        args.model, device="cpu", compute_type=args.compute_type, cpu_threads=args.threads, num_workers=1
    )
    load_seconds = time.perf_counter() - clock

    seconds, text = [], ""
    for _ in range(args.repeat):
        clock = time.perf_counter()
        segments, _ = model.transcribe(
            samples,
            language="en",
            beam_size=args.beam_size,
            vad_filter=args.vad_filter,
            word_timestamps=args.word_timestamps,
            condition_on_previous_text=False,
        )
        text = " ".join(s.text.strip() for s in segments)  # decoding happens here
        seconds.append(time.perf_counter() - clock)

    print(
        json.dumps(
            {
                "text": text,
                "seconds": seconds,
                "load_seconds": load_seconds,
                "peak_rss_kb": status_kb("VmHWM"),
                "cpu_ticks": cpu_ticks(),
            }
        )
    )


if __name__ == "__main__":
    main()
