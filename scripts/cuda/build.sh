#!/usr/bin/env bash
# Build the CUDA transcriber where no CUDA toolkit is installed, and bundle
# it for a GPU machine that has a driver but no Rust (scripts/cuda/check.sh).
#
# - CUDA 13.0 compiler, runtime and cuBLAS come from NVIDIA's PyPI wheels,
#   arranged as a CUDA home in $CUDA_HOME (default /var/tmp/cuda13). No wheel
#   ships libcuda, so a link-time stub is generated (every cu* function of
#   cuda.h, returning an error; the driver's real one is loaded at run time).
# - cudart is linked statically; the binary needs libcublas.so.13 and the
#   driver's libcuda.so.1 where it runs.
# - Builds sm_90 (Hopper) code only: CMAKE_CUDA_ARCHITECTURES overrides it.
#   whisper.cpp's CPU code is built for AVX2/FMA/F16C, not for this host.
# - Its own target dir (whisper-rs-sys does not rebuild when CMAKE_*/GGML_*
#   change). About 30 minutes on 2 cores, cold.
#
# The bundle ($BUNDLE, default .gpu/bundle.tar.xz; .gpu is git-ignored):
# steno-transcribe, the engines bench (for `--one` runs), nats-server, the
# tiny.en q5_1 and Silero VAD models (scripts/fetch-test-model.sh) and the
# bench clips.
set -euo pipefail
cd "$(dirname "$0")/../.."

CUDA_HOME=${CUDA_HOME:-/var/tmp/cuda13}
TARGET=${CUDA_TARGET_DIR:-/var/tmp/steno-cuda-target}
BUNDLE=${BUNDLE:-.gpu/bundle.tar.xz}
MODELS=(models/ggml-tiny.en-q5_1.bin models/ggml-silero-vad.bin)
WHEELS=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
    nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.0.2.14 nvidia-cuda-cccl==13.0.85
    nvidia-cuda-culibos==13.0.85)

make_cuda_home() {
    local tmp
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps -d "$tmp/wheels" "${WHEELS[@]}"
    for wheel in "$tmp"/wheels/*.whl; do python3 -m zipfile -e "$wheel" "$tmp/unpacked"; done
    rm -rf "$CUDA_HOME"
    mv "$tmp/unpacked/nvidia/cu13" "$CUDA_HOME"
    rm -rf "$tmp"
    cd "$CUDA_HOME"
    chmod +x bin/* nvvm/bin/*
    # The layout CMake's FindCUDAToolkit and nvcc.profile expect.
    mv lib lib64 && ln -s lib64 lib
    mkdir -p nvvm/lib64 targets/x86_64-linux lib64/stubs static
    mv lib64/libnvvm.so.4 nvvm/lib64/ && ln -s libnvvm.so.4 nvvm/lib64/libnvvm.so
    ln -s ../../include targets/x86_64-linux/include
    ln -s ../../lib64 targets/x86_64-linux/lib
    for lib in lib64/*.so.13; do ln -s "$(basename "$lib")" "${lib%.13}"; done
    # A folder holding only the static cudart, searched first, links it statically.
    ln -s ../lib64/libcudart_static.a static/libcudart.a
    gcc -E -I include include/cuda.h | grep -oE '\bcu[A-Za-z0-9_]+ *\(' | sed 's/ *($//' | sort -u |
        sed 's/.*/int &(void) { return 999; }/' >lib64/stubs/libcuda.c
    gcc -shared -fPIC -w -Wl,-soname,libcuda.so.1 -o lib64/stubs/libcuda.so lib64/stubs/libcuda.c
    ln -s libcuda.so lib64/stubs/libcuda.so.1
    cd - >/dev/null
}

[[ -x "$CUDA_HOME/bin/nvcc" && -f "$CUDA_HOME/lib64/stubs/libcuda.so" ]] || make_cuda_home

export PATH="$CUDA_HOME/bin:$PATH" CUDAToolkit_ROOT="$CUDA_HOME"
export CUDACXX="$CUDA_HOME/bin/nvcc" CMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc"
export CMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES:-90-real}
export GGML_NATIVE=OFF GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON
export RUSTFLAGS="-L native=$CUDA_HOME/static -L native=$CUDA_HOME/lib64 -L native=$CUDA_HOME/lib64/stubs"
CARGO_TARGET_DIR="$TARGET" cargo build --release -p steno-transcribe --features cuda --bins --bench engines

for model in "${MODELS[@]}"; do
    [[ -f "$model" ]] || { echo "error: $model missing: run scripts/fetch-test-model.sh" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/models" "$stage/clips"
cp "$TARGET/release/steno-transcribe" "$stage/bin/"
cp "$(ls -t "$TARGET"/release/deps/engines-* | grep -v '\.d$' | head -1)" "$stage/bin/engines"
cp "$(command -v nats-server)" "$stage/bin/"
strip "$stage"/bin/*
cp "${MODELS[@]}" "$stage/models/"
# The bench's clips (flite and ffmpeg are not on the GPU machine): made here
# by the bench itself, with the stub standing in for the driver.
TMPDIR="$stage/tmp" LD_LIBRARY_PATH="$CUDA_HOME/lib64/stubs:$CUDA_HOME/lib64" \
    STENO_BENCH_CLIPS=short,60s "$stage/bin/engines" --make-clips "$stage/clips"
rm -rf "$stage/tmp"
mkdir -p "$(dirname "$BUNDLE")"
XZ_OPT=-9T2 tar -cJf "$BUNDLE" -C "$stage" .
ls -l "$BUNDLE"
