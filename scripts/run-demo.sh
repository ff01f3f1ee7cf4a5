#!/usr/bin/env bash
# Serve the dashboard over the local lake, with whatever local processes the demo needs.
set -euo pipefail
lake=${1:-data/lake}
port=${2:-8501}
cd "$(dirname "$0")/.."
export VERTICALS_LAKE="$lake"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The live demo: the demo's HTTP consumers (with their outages), the bus API, and the
# simulated enterprise publishing the current minutes through it.
.venv/bin/python -m app bus consumer --lake "$lake" --port 4020 & pids+=($!)
.venv/bin/python -m app bus serve --lake "$lake" --port 4010 & pids+=($!)
for _ in $(seq 100); do  # wait for the bus to listen before publishing to it
  (exec 3<>/dev/tcp/127.0.0.1/4010) 2>/dev/null && break
  sleep 0.2
done
.venv/bin/python -m app bus publish --lake "$lake" --endpoint http://127.0.0.1:4010 & pids+=($!)

echo "Verticals: http://127.0.0.1:$port"
# Loopback only: without a sign-in the dashboard serves this machine alone (docs/security.md).
.venv/bin/streamlit run dashboard/streamlit_app.py --server.address 127.0.0.1 --server.port "$port" \
  --server.headless true --server.fileWatcherType none --browser.gatherUsageStats false
