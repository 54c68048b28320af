#!/usr/bin/env bash
# Builds the certificate check the public site runs in visitors' browsers:
# this crate (the ledger crate's verify_bundle, check by check) for
# wasm32-unknown-unknown, into dist/regledger_web_verify.wasm, which the
# node embeds (node/src/site/assets.rs). Decision D16 says why the .wasm is
# committed and checked rather than built by the node's build.
#
#   web/verify-wasm/build.sh          rebuild dist/ (run after changing ledger/ or this crate)
#   web/verify-wasm/build.sh --check  rebuild into a temp dir and compare with dist/ (CI)
#
# The build is reproducible: paths are remapped, symbols stripped, one
# codegen unit, the versions pinned by Cargo.lock. The bytes still depend
# on the compiler, so dist/BUILD-INFO records the rustc that made them;
# --check fails on a difference made by the same rustc and only warns when
# the compiler differs (rebuild and commit on a toolchain change).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:-build}"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
target_dir="$root/target/wasm-build"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustc_v="$(rustc -V)"
# With --target given, RUSTFLAGS reach only the wasm artifacts, not build scripts.
RUSTFLAGS="--remap-path-prefix=$root=/regledger --remap-path-prefix=$cargo_home=/cargo -C strip=symbols" \
  cargo build --quiet --locked --release -p regledger-web-verify --target wasm32-unknown-unknown \
  --target-dir "$target_dir" \
  --config 'profile.release.opt-level="s"' --config profile.release.lto=true \
  --config profile.release.codegen-units=1 --config 'profile.release.panic="abort"' \
  --config profile.release.debug=0
built="$target_dir/wasm32-unknown-unknown/release/regledger_web_verify.wasm"
dist="$here/dist/regledger_web_verify.wasm"
case "$mode" in
  build)
    mkdir -p "$here/dist"
    cp "$built" "$dist"
    printf '%s\n' "$rustc_v" > "$here/dist/BUILD-INFO"
    echo "wrote $dist ($(wc -c < "$dist") bytes, sha256 $(sha256sum "$dist" | cut -c1-16)…, $rustc_v)"
    ;;
  --check)
    if cmp -s "$built" "$dist"; then
      echo "ok: dist/regledger_web_verify.wasm is what this source builds ($rustc_v)"
      exit 0
    fi
    recorded="$(cat "$here/dist/BUILD-INFO" 2>/dev/null || echo unknown)"
    if [ "$recorded" = "$rustc_v" ]; then
      echo "FAIL: dist/regledger_web_verify.wasm is stale: run web/verify-wasm/build.sh and commit dist/"
      exit 1
    fi
    echo "warning: dist/ was built by $recorded, this is $rustc_v: bytes cannot be compared across compilers; the source builds for wasm32 (run build.sh and commit dist/ after a toolchain change)"
    ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
