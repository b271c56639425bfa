# Shared by scripts/run-exporter and scripts/test: create .venv and install this project into
# it (editable) with the given extra, re-installing only when pyproject.toml has changed. Says
# what it is doing on stderr, so that a first run is not a silent minute or two.
ensure_venv() {
  local extra="$1"
  local stamp=".venv/.installed-${extra}"
  if [ ! -x .venv/bin/python ]; then
    echo "$(basename "$0"): creating the Python environment in .venv (first run)" >&2
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "$(basename "$0"): installing aws-backup-restore-exporter[${extra}] and its dependencies into .venv (a minute or two on a first run; later runs skip this)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    # setuptools' note that an editable install is one (a warning, though nothing is wrong) is
    # the only output left of a quiet install: silence that message alone.
    PYTHONWARNINGS="ignore:Editable installation" \
      .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extra}]"
    touch "$stamp"
    echo "$(basename "$0"): installed" >&2
  fi
}
