#!/usr/bin/env bash
# The test command: builds the service binaries the whole-system tests start,
# then runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace "$@"
