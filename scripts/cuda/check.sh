#!/usr/bin/env bash
# On a GPU machine, with the bundle from scripts/cuda/build.sh: start the
# CUDA transcriber against a local nats-server and keep its backend log lines
# and GPU metrics; then run 1, 2, 4 and 8 jobs at once on the 10 min file:
# in one process sharing the model (as `worker.concurrency` runs them) and
# as separate processes, with word times and without (flash attention), the
# cores shared out among the jobs as the service does; then transcribe the
# bench clips and 10 and 60 min files (the 60 s clip repeated: the bundle
# must stay under the device tool's 64 MiB) with steno's transcribe
# function and with bare whisper.cpp (`engines --one`), recording the
# real-time factor, GPU memory and word error rate.
# Writes table.md, runs.jsonl and the logs to $OUT (default
# target/gpu-check).
#
# Needs nvidia-smi, python3 and libcublas.so.13 (from PyTorch's CUDA 13
# wheels, or LD_LIBRARY_PATH). Env: BUNDLE (.gpu/bundle.tar.xz),
# THREADS (4), MODEL (tiny.en-q5_1), ROWS (all; `at-once` runs only the
# jobs-at-once rows), AT_ONCE_CLIP (10min).
set -uo pipefail
cd "$(dirname "$0")/../.."

BUNDLE=${BUNDLE:-.gpu/bundle.tar.xz}
OUT=${OUT:-target/gpu-check}
THREADS=${THREADS:-4}
MODEL=${MODEL:-tiny.en-q5_1}
ROWS=${ROWS:-all}
AT_ONCE_CLIP=${AT_ONCE_CLIP:-10min}
B=$(mktemp -d)
mkdir -p "$OUT"
tar -xJf "$BUNDLE" -C "$B" || exit 1
cublas=$(python3 -c 'import os, nvidia; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null)
export LD_LIBRARY_PATH="${cublas:+$cublas:}${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
ldd "$B/bin/steno-transcribe" | grep -E 'cublas|libcuda' | tee -a "$OUT/gpu.txt"

gpu_mib() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }
idle_mib=$(gpu_mib)

echo "== the service: backend log lines and GPU metrics"
"$B/bin/nats-server" -js -a 127.0.0.1 -p 4322 -sd "$B/js" >"$OUT/nats.log" 2>&1 &
nats=$!
STENO_NATS__URL=nats://127.0.0.1:4322 STENO_TRANSCRIBE__OPS_ADDR=127.0.0.1:9403 \
    STENO_TRANSCRIBE__MODELS_DIR="$B/models" STENO_TRANSCRIBE__DEFAULT_MODEL="$MODEL" \
    STENO_LOG__LEVEL=info NO_COLOR=1 "$B/bin/steno-transcribe" >"$OUT/service.log" 2>&1 &
service=$!
for _ in $(seq 60); do
    python3 -c 'import urllib.request as u; u.urlopen("http://127.0.0.1:9403/readyz")' 2>/dev/null && break
    sleep 0.5
done
python3 -c 'import urllib.request as u; print(u.urlopen("http://127.0.0.1:9403/metrics").read().decode())' |
    grep -E '^steno_(gpu|model_load)' | tee "$OUT/service-metrics.txt"
kill "$service" "$nats"
wait "$service" "$nats" 2>/dev/null
grep -iE 'GPU|backend|CUDA|transcriber ready|model loaded' "$OUT/service.log" | cut -c1-240

echo "== transcriptions (idle GPU memory ${idle_mib} MiB)"
for minutes in 10 60; do
    for _ in $(seq $minutes); do cat "$B/clips/60s.pcm"; done >"$B/clips/${minutes}min.pcm"
    for _ in $(seq $minutes); do cat "$B/clips/60s.txt"; echo; done >"$B/clips/${minutes}min.txt"
done
: >"$OUT/runs.jsonl"
# at_once clip engine tweak beams repeat: `at_once` processes share the GPU,
# each running IN_PROCESS jobs at once (1) with THREADS_EACH CPU threads
# ($THREADS).
# Runs are timed apart from the model load; the first of each process also
# pays CUDA's start-up, so short clips repeat and the table keeps the fastest.
run() {
    local at_once=$1 clip=$2 engine=$3 tweak=$4 beams=$5 repeat=$6 sampler peak i line pids=()
    nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits -lms 100 >"$B/smi" &
    sampler=$!
    for i in $(seq "$at_once"); do
        STENO_BENCH_AT_ONCE=${IN_PROCESS:-1} timeout 300 "$B/bin/engines" --one "$engine" "$MODEL" "$beams" \
            "$tweak" "$B/clips/$clip.pcm" "${THREADS_EACH:-$THREADS}" "$repeat" "$B/models" "$B/clips/$clip.txt" \
            >"$B/line.$i" 2>>"$OUT/runs.log" &
        pids+=($!)
    done
    wait "${pids[@]}"
    kill "$sampler"
    wait "$sampler" 2>/dev/null
    peak=$(awk -F', ' '{ if ($1 > m) m = $1; if ($2 > u) u = $2 } END { print m + 0, u + 0 }' "$B/smi")
    for i in $(seq "$at_once"); do
        line=$(cat "$B/line.$i")
        [[ -n $line ]] || line='{"error": "see runs.log"}'
        echo "{\"clip\": \"$clip\", \"engine\": \"$engine\", \"tweak\": \"$tweak\", \"beams\": $beams," \
            "\"at_once\": $at_once, \"in_process\": ${IN_PROCESS:-1}, \"gpu_used_mib\": ${peak% *}, \"gpu_util_pct\": ${peak#* }," \
            "\"idle_mib\": $idle_mib, \"run\": $line}" | tee -a "$OUT/runs.jsonl" | cut -c1-200
    done
}
cores=$(nproc)
for jobs in 1 2 4 8; do
    each=$((cores / jobs > 0 ? cores / jobs : 1))
    IN_PROCESS=$jobs THREADS_EACH=$each run 1 "$AT_ONCE_CLIP" steno - 1 1
    IN_PROCESS=$jobs THREADS_EACH=$each run 1 "$AT_ONCE_CLIP" steno no-word-times 1 1
    if ((jobs > 1)); then THREADS_EACH=$each run $jobs "$AT_ONCE_CLIP" steno - 1 1; fi
done
if [[ $ROWS != at-once ]]; then
    for clip in short 60s; do
        for beams in 1 5; do
            run 1 $clip steno - $beams 3
            run 1 $clip steno no-word-times $beams 3
            run 1 $clip whisper.cpp - $beams 3
            run 1 $clip whisper.cpp steno-params $beams 3
            run 1 $clip whisper.cpp flash-attn $beams 3
        done
    done
    run 1 10min steno - 1 2
    run 1 10min steno no-word-times 1 2
    run 1 10min steno - 5 2
    run 1 10min whisper.cpp - 1 2
    run 1 10min whisper.cpp steno-params 1 2
    run 1 10min whisper.cpp flash-attn 1 2
    run 1 60min steno - 1 1
fi

python3 - "$OUT/runs.jsonl" "$B/clips" "$THREADS" "$MODEL" >"$OUT/table.md" <<'EOF'
import json, os, sys
runs, clips, threads, model = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
print(f"{model}, {threads} CPU threads a process (the jobs-at-once rows: the cores shared out among the jobs).")
print("RTF = audio seconds / the fastest run's seconds (the first run of a process also pays CUDA's start-up).")
print("'at once': jobs sharing the GPU, as processes (the slowest shown) or in one process (timed until all end);")
print("aggregate = RTF × jobs. GPU MiB = the device's peak memory.used during the row, less idle.\n")
print("| clip | engine | beams | at once | RTF a job | aggregate | fastest s | first s | load s | peak RSS MiB "
      "| GPU MiB | GPU util % | WER |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
rows = {}
for line in open(runs):
    r = json.loads(line)
    key = (r["clip"], r["engine"], r["tweak"], r["beams"], r["at_once"], r.get("in_process", 1))
    fastest = lambda r: min(r["run"].get("seconds", [float("inf")]))
    if key not in rows or fastest(r) > fastest(rows[key]):
        rows[key] = r
for (clip, engine, tweak, beams, processes, in_process), r in rows.items():
    run = r["run"]
    engine += "" if tweak == "-" else " +" + tweak
    jobs = processes * in_process
    at_once = f"{processes} processes" if processes > 1 else f"{in_process} in one" if in_process > 1 else "1"
    if "seconds" not in run:
        print(f"| {clip} | {engine} | {beams} | {at_once} | failed: {run.get('error')} |||||||||")
        continue
    audio = os.path.getsize(os.path.join(clips, clip + ".pcm")) / 32000
    best = min(run["seconds"])
    print(f"| {clip} ({audio:.0f} s) | {engine} | {beams} | {at_once} | {audio / best:.0f}× | {jobs * audio / best:.0f}× "
          f"| {best:.2f} | {run['seconds'][0]:.2f} | {run['load_seconds']:.2f} | {run['peak_rss_kb'] / 1024:.0f} "
          f"| {r['gpu_used_mib'] - r['idle_mib']} | {r['gpu_util_pct']} | {run['wer']:.3f} |")
EOF
cat "$OUT/table.md"
rm -rf "$B"
