#!/usr/bin/env bash
# Installs what the benchmarks need and builds the trees (nothing by hand):
#   - Debian's Go corpora (golang-1.19-src and every golang-*-dev package) via scripts/install-corpora.sh
#   - the bench extra of gorules: ast-grep-cli, semgrep, matplotlib (PyPI)
#   - the benchmark trees under $GORULES_BENCH_DIR (default /var/tmp/gorules-bench), see benchmarks/corpus.py
# Usage: bash benchmarks/install.sh [--no-corpora] [--no-mono]
set -euo pipefail
cd "$(dirname "$0")/.."
# the Python to install into: $PYTHON, else the project's .venv (as scripts/test makes it), else python3
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi
corpora=1; mono=1
for a in "$@"; do
  case "$a" in
    --no-corpora) corpora=0 ;;
    --no-mono) mono=0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
if [ "$corpora" = 1 ]; then bash scripts/install-corpora.sh; fi
"$PY" -m pip install -q -e '.[bench]'
"$PY" benchmarks/corpus.py build
if [ "$mono" = 1 ]; then "$PY" benchmarks/corpus.py mono; fi
echo "ready: $PY benchmarks/run.py && $PY benchmarks/plot.py"
