#!/usr/bin/env bash
# The restricted_sessions demo: bash example/demo.sh [--serve]
#
# Sets up example/.venv (this repository, gunicorn, httpx), migrates the example project's SQLite
# database, creates the user "demo", serves the project with gunicorn on 127.0.0.1:<free port> and
# drives it with demo_client.py over loopback. Exits non-zero when any step does not behave as expected.
# --serve  then keeps the server running for a browser (Ctrl-C stops it).
#
# Environment: PYTHON (default python3), DEMO_PORT (default: a free port), DEMO_WORKERS (default 2;
# 1 for a cache session engine without REDIS_URL),
# DEMO_PASSWORD (default: random), and every variable exampleproject/settings.py reads
# (DATABASE_URL, SESSION_ENGINE, REDIS_URL, RESTRICTEDSESSIONS_*, ...).
set -euo pipefail

serve=0
for arg in "$@"; do
    case "$arg" in
        --serve) serve=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="$here/.venv"
py="$venv/bin/python"
log="$here/.demo-server.log"
server_pid=""
tail_pid=""

say() { printf '\n### %s\n' "$*"; }

stop_server() {
    if [[ -n "$tail_pid" ]]; then kill "$tail_pid" 2>/dev/null || true; tail_pid=""; fi
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap stop_server EXIT
trap 'echo; echo "Stopping the server."; exit 130' INT TERM

say "Virtualenv $venv"
if [[ ! -x "$py" ]]; then
    "${PYTHON:-python3}" -m venv "$venv" || {
        echo "Could not create a virtualenv with ${PYTHON:-python3} (on Debian: apt-get install python3-venv)." >&2
        exit 1
    }
fi
# Reinstall only when the packaging metadata changed: the editable install picks up code changes by itself.
stamp="$venv/.demo-installed"
fingerprint="$({ cat "$repo"/setup.py "$repo"/pyproject.toml "$repo"/setup.cfg 2>/dev/null || true; } | "$py" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$fingerprint" ]]; then
    "$py" -m pip install --quiet --disable-pip-version-check -e "$repo[client]" gunicorn httpx
    echo "$fingerprint" > "$stamp"
fi
"$py" -c 'import django, gunicorn, httpx, restricted_sessions; print(f"Django {django.__version__}, gunicorn {gunicorn.__version__}, httpx {httpx.__version__}, restricted_sessions {restricted_sessions.__version__}")'

cd "$here"
export DJANGO_SETTINGS_MODULE=exampleproject.settings
export PYTHONDONTWRITEBYTECODE=1
say "Database and demo user"
"$py" manage.py check
"$py" manage.py migrate --noinput --verbosity 0
export DEMO_PASSWORD="${DEMO_PASSWORD:-$("$py" -c 'import secrets; print(secrets.token_urlsafe(12))')}"
"$py" manage.py demo_user --username demo --password "$DEMO_PASSWORD"

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Recent gunicorn opens a control socket at one path per user: several servers would fight over it.
gunicorn_extra=()
if "$venv/bin/gunicorn" --help | grep -q -- --no-control-socket; then gunicorn_extra+=(--no-control-socket); fi

# Start gunicorn and wait until it answers; a port taken between the probe and the bind is retried.
start_server() {
    local port="$1" url="http://127.0.0.1:$1"
    : > "$log"
    "$venv/bin/gunicorn" exampleproject.wsgi:application \
        --bind "127.0.0.1:$port" --workers "$workers" "${gunicorn_extra[@]}" \
        --access-logfile - --error-logfile - --capture-output >> "$log" 2>&1 &
    server_pid=$!
    "$py" - "$url/healthz/" "$server_pid" <<'PY' && return 0
import os, sys, time
import httpx

url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)  # the server exited (e.g. the port was taken)
    try:
        if httpx.get(url, timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        return 1
    fi
    echo "gunicorn did not answer on $url within 15 seconds." >&2
    stop_server
    return 1
}

say "Server"
workers="${DEMO_WORKERS:-2}"
engine="${SESSION_ENGINE:-django.contrib.sessions.backends.db}"
if [[ -z "${DEMO_WORKERS:-}" && "$engine" == *cache* && -z "${REDIS_URL:-}" ]]; then
    # Without REDIS_URL the cache is each worker's own memory: workers would not share sessions.
    workers=1
    echo "$engine without REDIS_URL: 1 worker (each worker's local-memory cache is its own)."
fi
started=0
for attempt in 1 2 3; do
    port="${DEMO_PORT:-$(free_port)}"
    if start_server "$port"; then started=1; break; fi
    [[ -n "${DEMO_PORT:-}" ]] && break
done
if [[ "$started" != 1 ]]; then
    echo "Could not start gunicorn; its log ($log):" >&2
    tail -n 30 "$log" >&2
    exit 1
fi
url="http://127.0.0.1:$port"
echo "gunicorn ($workers worker(s), pid $server_pid) serves $url; log: $log"

say "Demo"
status=0
"$py" demo_client.py "$url" --username demo --server-log "$log" || status=$?

if [[ "$serve" == 1 ]]; then
    say "Serving $url until Ctrl-C"
    echo "Log in as demo / $DEMO_PASSWORD, open $url/session/, then replay the sessionid cookie from another"
    echo "browser or with curl -A other-agent: the request gets a 400 and the session ends."
    echo "Server log follows."
    tail -n 0 -f "$log" &
    tail_pid=$!
    wait "$server_pid" || true
fi
exit "$status"
