# Sourced by scripts/tb-venv.sh and scripts/torch-venv.sh (bash): the pip arguments that
# name the package locations pip is configured with (`pip config`) explicitly.
# pip_config_args PYTHON [no-index]: sets the array pip_args to pip's quiet flags, the
# configured indexes only, the first as --index-url (pip's default index, pypi.org, is
# never asked, so an install works, and fails fast, without a network), and the configured
# find-links folders. With no-index, a configuration that names no index adds --no-index
# (the find-links folders alone) where pip would otherwise fall back to its default index.
pip_config_args() {
  local python=$1 no_index=${2:-} first=1 url dir
  pip_args=(-q --disable-pip-version-check)
  for url in $("$python" -m pip config get global.index-url 2>/dev/null || true) $("$python" -m pip config get global.extra-index-url 2>/dev/null || true); do
    if [ $first = 1 ]; then pip_args+=(--index-url "$url"); first=0; else pip_args+=(--extra-index-url "$url"); fi
  done
  [ $first = 0 ] || [ "$no_index" != no-index ] || pip_args+=(--no-index)
  for dir in $("$python" -m pip config get global.find-links 2>/dev/null || true); do pip_args+=(--find-links "$dir"); done
}
