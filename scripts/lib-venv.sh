# Shared by scripts/run-exporter and scripts/test: create .venv and install this project into
# it (editable) with the given extra, re-installing only when pyproject.toml has changed.
ensure_venv() {
  local extra="$1"
  local stamp=".venv/.installed-${extra}"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extra}]"
    touch "$stamp"
  fi
}
