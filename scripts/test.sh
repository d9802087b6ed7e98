#!/usr/bin/env bash
# The project's test command: lint, types, then the test suite.
# Fixtures come from EVMKILN_FIXTURES, defaulting to ../shared/fixtures beside the checkout.
# Extra arguments go to pytest (e.g. `./kiln test --run-slow`, `./kiln test -k lowering`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${EVMKILN_FIXTURES:-}" ] && [ -d ../shared/fixtures ]; then
  export EVMKILN_FIXTURES="$(cd ../shared/fixtures && pwd)"
fi
echo "== ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "== mypy (strict)"
uv run --frozen mypy packages/builtins/src packages/codegen/src packages/context/src packages/forks/src \
  packages/backend-llvm/src packages/backend-wasm/src packages/integrations/src src
echo "== pytest (fixtures: ${EVMKILN_FIXTURES:-none})"
uv run --frozen pytest -n auto "$@"
if [ "${CI:-}" = "true" ] || [ -n "${EVMKILN_EXTERNAL_SUITES:-}" ]; then
  echo "== external suites: eth-tester's and web3.py's own tests, stock py-evm against evmkiln"
  uv run --frozen python scripts/external_suites.py --suite eth-tester --suite web3
fi
