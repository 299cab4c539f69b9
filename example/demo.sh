#!/usr/bin/env bash
# The restricted_sessions demo: bash example/demo.sh [--serve]
#
# Sets up example/.venv (this repository, gunicorn, httpx), migrates the example project's SQLite
# database, creates the user "demo", serves the project with gunicorn on 127.0.0.1:<free port> and
# drives it with demo_client.py over loopback (steps a-f). Step g, DBSC in a real browser: a second
# gunicorn serves the project over HTTPS (a self-signed loopback certificate) with 5-second bound
# cookies, and demo_dbsc.py drives Debian's headless Chromium (/usr/bin/chromium) through Playwright,
# which is installed into example/.venv only then. Exits non-zero when any step does not behave as expected.
# --serve  then keeps the servers running for a browser (Ctrl-C stops them).
#
# Environment: PYTHON (default python3), DEMO_PORT (default: a free port), DEMO_WORKERS (default 2;
# 1 for a cache session engine without REDIS_URL),
# DEMO_PASSWORD (default: random), and every variable exampleproject/settings.py reads
# (DATABASE_URL, SESSION_ENGINE, REDIS_URL, RESTRICTEDSESSIONS_*, ...).
# DEMO_DBSC: auto (default) runs step g when it can: Chromium missing is installed with apt-get when
#   running as root on Debian (tests/provision.py), else step g is skipped with the reason and the
#   exit status is that of steps a-f; on: step g must run (exit non-zero when it cannot); off: skip it.
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
tls_log="$here/.demo-server-tls.log"
tls_dir="$here/.demo-tls"
dbsc_cookie_age=5
server_pid=""
tls_pid=""
tail_pid=""
dbsc_mode="${DEMO_DBSC:-auto}"
case "$dbsc_mode" in
    auto|on|off) ;;
    *) echo "demo.sh: DEMO_DBSC must be auto, on or off, not '$dbsc_mode'" >&2; exit 2 ;;
esac

say() { printf '\n### %s\n' "$*"; }

stop_pid() {
    local pid="$1"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
stop_servers() {
    if [[ -n "$tail_pid" ]]; then kill "$tail_pid" 2>/dev/null || true; tail_pid=""; fi
    stop_pid "$server_pid"; server_pid=""
    stop_pid "$tls_pid"; tls_pid=""
}
trap stop_servers EXIT
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
# start_server PORT LOG URL CAFILE [VAR=value...] [-- gunicorn arguments...]: sets started_pid.
# CAFILE (or "") is the certificate an https URL is checked against.
started_pid=""
start_server() {
    local port="$1" server_log="$2" url="$3" cafile="$4"
    shift 4
    local env_args=() extra=()
    while [[ $# -gt 0 && "$1" != "--" ]]; do env_args+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift
    extra=("$@")
    : > "$server_log"
    env "${env_args[@]}" "$venv/bin/gunicorn" exampleproject.wsgi:application \
        --bind "127.0.0.1:$port" --workers "$workers" "${gunicorn_extra[@]}" "${extra[@]}" \
        --access-logfile - --error-logfile - --capture-output >> "$server_log" 2>&1 &
    started_pid=$!
    "$py" - "$url/healthz/" "$started_pid" "$cafile" <<'PY' && return 0
import os, ssl, sys, time
import httpx

url, pid, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
verify = ssl.create_default_context(cafile=cafile) if cafile else True
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)  # the server exited (e.g. the port was taken)
    try:
        if httpx.get(url, timeout=1, verify=verify).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
    if ! kill -0 "$started_pid" 2>/dev/null; then
        wait "$started_pid" 2>/dev/null || true
        started_pid=""
        return 1
    fi
    echo "gunicorn did not answer on $url within 15 seconds." >&2
    stop_pid "$started_pid"
    started_pid=""
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
    if start_server "$port" "$log" "http://127.0.0.1:$port" ""; then server_pid="$started_pid"; started=1; break; fi
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

# Step g ------------------------------------------------------------------------------------------
say "Step g: DBSC in a real browser (DEMO_DBSC=$dbsc_mode)"
tls_url=""
# Why step g cannot run: an error with DEMO_DBSC=on, else the reason and how to enable it.
dbsc_unavailable() {
    if [[ "$dbsc_mode" == on ]]; then
        echo "Step g cannot run: $1" >&2
        echo "$2" >&2
        status=1
    else
        echo "Step g skipped: $1"
        echo "$2 (DEMO_DBSC=on makes this an error; DEMO_DBSC=off silences it.)"
    fi
}
run_step_g() {
    if [[ "$dbsc_mode" == off ]]; then
        echo "Step g skipped: DEMO_DBSC=off."
        return 0
    fi
    if [[ "$engine" == *signed_cookies* ]]; then
        dbsc_unavailable "DBSC needs a session store; $engine cannot forget a used challenge (docs/dbsc.rst)." \
            "Run the demo with the default SESSION_ENGINE, or db, cached_db or cache."
        return 0
    fi
    if [[ ! -x /usr/bin/chromium ]]; then
        echo "Debian's Chromium (/usr/bin/chromium) is missing; installing it when running as root with apt-get."
        "$py" "$repo/tests/provision.py" browser || true
    fi
    if [[ ! -x /usr/bin/chromium ]]; then
        dbsc_unavailable "step g needs Debian's Chromium at /usr/bin/chromium, which is not installed." \
            "Install it as root (apt-get install chromium), or run this demo as root on Debian."
        return 0
    fi
    if ! "$py" -c 'import playwright' 2>/dev/null; then
        echo "Installing Playwright into $venv (it drives /usr/bin/chromium; no browser is downloaded)."
        if ! "$py" -m pip install --quiet --disable-pip-version-check "playwright>=1.45"; then
            dbsc_unavailable "Playwright could not be installed into $venv." \
                "Install it by hand: $py -m pip install playwright"
            return 0
        fi
    fi
    local spki attempt tls_port
    spki="$("$py" dbsc_chromium.py certificate "$tls_dir")"
    for attempt in 1 2 3; do
        tls_port="$(free_port)"
        if start_server "$tls_port" "$tls_log" "https://localhost:$tls_port" "$tls_dir/cert.pem" \
            SESSION_COOKIE_SECURE=true "RESTRICTEDSESSIONS_DBSC_COOKIE_AGE=$dbsc_cookie_age" \
            -- --certfile "$tls_dir/cert.pem" --keyfile "$tls_dir/key.pem" \
            --access-logformat "$("$py" -c 'import demo_dbsc; print(demo_dbsc.ACCESS_FORMAT)')"; then
            tls_pid="$started_pid"
            break
        fi
    done
    if [[ -z "$tls_pid" ]]; then
        echo "Could not start gunicorn with TLS; its log ($tls_log):" >&2
        tail -n 30 "$tls_log" >&2
        status=1
        return 0
    fi
    tls_url="https://localhost:$tls_port"
    echo "gunicorn with TLS ($workers worker(s), pid $tls_pid) serves $tls_url; log: $tls_log"
    echo "Bound cookies live $dbsc_cookie_age s; certificate $tls_dir/cert.pem, SPKI sha256 $spki"
    "$py" demo_dbsc.py "$tls_url" --username demo --spki "$spki" --cert "$tls_dir/cert.pem" \
        --cookie-age "$dbsc_cookie_age" --server-log "$tls_log" || status=1
}
run_step_g

if [[ "$serve" == 1 ]]; then
    say "Serving $url until Ctrl-C"
    echo "Log in as demo / $DEMO_PASSWORD, open $url/session/, then replay the sessionid cookie from another"
    echo "browser or with curl -A other-agent: the request gets a 400 and the session ends."
    if [[ -n "$tls_url" ]]; then
        echo "DBSC: $tls_url, for a Chromium started with the switches of example/dbsc_chromium.py."
    fi
    echo "Server log follows."
    tail -n 0 -f "$log" &
    tail_pid=$!
    wait "$server_pid" || true
fi
exit "$status"
