#!/usr/bin/env bash
# Screenshots of the built documentation in headless Chromium, to check the
# layout (clipped titles, sidebars) and that maths renders with no network.
#
#   bash tools/docs.sh -D plot_gallery=0      # build first
#   bash tools/docs_screenshots.sh /tmp/docs_shots [WIDTH ...]
#
# Writes OUT/<page>-<width>.png for the landing page, the API page, the class
# page with the longest name, a maths-heavy guide page and the pages that
# include BENCHMARKS.md and CHANGELOG.md, at 1440, 1280 and 1024 px unless
# widths are given (HEIGHT, default 900, sets the window's height; the shots
# show the top of each page), and prints how many formulas MathJax rendered on
# each page and how many it left as TeX (then it fails). Needs chromium
# (Debian: `apt-get install chromium`; CHROMIUM names another binary). Every
# host name resolves to nothing and every request goes to a dead proxy, so a
# page that still needed a CDN would show its maths as raw TeX here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
html=$root/docs/_build/html
out=${1:?usage: $0 OUT_DIR [WIDTH ...]}
shift
widths=("$@")
[ ${#widths[@]} -gt 0 ] || widths=(1440 1280 1024)
height=${HEIGHT:-900}
chromium=${CHROMIUM:-chromium}
pages=(
    index.html
    api.html
    generated/skae.AdversarialAutoencoderTransformer.html  # the longest name
    user_guide/vae.html
    benchmarks.html
    changelog.html
)

[ -f "$html/index.html" ] || { echo "no $html/index.html: run tools/docs.sh" >&2; exit 1; }
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

browse() {
    # --virtual-time-budget lets MathJax typeset before the capture.
    "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --hide-scrollbars --user-data-dir="$profile" \
        --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://127.0.0.1:9" \
        --virtual-time-budget=10000 "$@" 2>/dev/null
}

for page in "${pages[@]}"; do
    name=$(basename "$page" .html)
    url="file://$html/$page"
    for width in "${widths[@]}"; do
        browse --window-size="$width,$height" --screenshot="$out/$name-$width.png" "$url" >/dev/null
    done
    # An unrendered formula stays as \( ... \) or \[ ... \] text in a span.math.
    dom=$(browse --window-size="${widths[0]},$height" --dump-dom "$url")
    rendered=$(grep -o '<mjx-container' <<<"$dom" | wc -l || true)
    raw=$(grep -oE 'class="math[^"]*">\\[[(]' <<<"$dom" | wc -l || true)
    echo "$page: $rendered formulas rendered, $raw left as TeX"
    [ "$raw" -eq 0 ] || failed=1
done
ls "$out"/*.png
# Fails when maths was left unrendered (e.g. MathJax from a CDN).
exit "${failed:-0}"
