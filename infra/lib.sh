# Shared helpers for infra/*.sh (sourced, not run). Everything lives under <repo>/var/ (git-ignored).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${INFRA_VAR:-$ROOT/var}"  # INFRA_VAR: another place, for tests of these scripts
INFRA_VENV="$VAR/infra-venv"
RABBITMQ_PORT="${RABBITMQ_PORT:-5672}"
MONGODB_PORT="${MONGODB_PORT:-27017}"
S3_PORT="${S3_PORT:-9000}"
IDP_PORT="${IDP_PORT:-9400}"
MQTT_PORT="${MQTT_PORT:-1883}"
RABBITMQ_NODENAME="${RABBITMQ_NODENAME:-rabbit@localhost}"
RABBITMQ_MANAGEMENT_PORT="${RABBITMQ_MANAGEMENT_PORT:-15672}"
mkdir -p "$VAR/log"

say() { printf '%-12s %s\n' "$1:" "$2"; }
die() { say "$1" "$2" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:<port> (bash's /dev/tcp, no extra tools).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for <seconds> <command...>: retry the command every 0.25 s until it succeeds or time runs out.
# Time runs out only when the clock says so *and* the retries have slept that long: a VM's clock can
# jump forward (a paused or restored machine), which alone would cut the wait short.
wait_for() {
  local deadline=$((SECONDS + $1)) naps=$(($1 * 4)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || [ "$naps" -gt 0 ] || return 1
    naps=$((naps - 1))
    sleep 0.25
  done
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install <package...>: install from Debian, refreshing the package lists only when needed.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local pkg need_update=
  for pkg in "$@"; do apt-cache show "$pkg" >/dev/null 2>&1 || need_update=1; done
  [ -z "$need_update" ] || as_root apt-get update -qq
  if ! as_root apt-get install -y -qq --no-install-recommends "$@" >"$VAR/log/apt.log" 2>&1; then
    # Stale package lists give 404s: refresh once and retry.
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "$@" >"$VAR/log/apt.log" 2>&1 \
      || { tail -n 20 "$VAR/log/apt.log" >&2; die apt "installing $* failed (log: var/log/apt.log)"; }
  fi
}

# The servers' Python environment: created once, reinstalled only when infra/requirements.lock changes
# (the pins of infra/requirements.txt with their hashes; make lock re-resolves it).
ensure_infra_venv() {
  local stamp want
  stamp="$INFRA_VENV/.requirements.sha256"
  want="$(sha256sum "$ROOT/infra/requirements.lock" | cut -d' ' -f1)"
  [ -x "$INFRA_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  if [ ! -x "$INFRA_VENV/bin/python" ]; then
    # Debian's own python3 needs python3-venv for ensurepip.
    if ! python3 -m venv "$INFRA_VENV" >/dev/null 2>&1; then
      rm -rf "$INFRA_VENV"
      apt_install python3-venv
      python3 -m venv "$INFRA_VENV"
    fi
  fi
  "$INFRA_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
    -r "$ROOT/infra/requirements.lock" \
    >"$VAR/log/infra-venv.log" 2>&1 \
    || { tail -n 20 "$VAR/log/infra-venv.log" >&2; die infra-venv "pip install failed (log: var/log/infra-venv.log)"; }
  echo "$want" >"$stamp"
  say infra-venv "installed infra/requirements.lock into var/infra-venv"
}

# pid_alive <pidfile> <name>: the pidfile names a live process whose command line contains <name>
# (guards against a recycled pid).
pid_alive() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# stop_pid <pid> <seconds>: SIGTERM, wait, SIGKILL as a last resort.
stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_for "$2" eval "! kill -0 $pid 2>/dev/null" || { kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; }
}
