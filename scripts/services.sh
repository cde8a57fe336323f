#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers on free loopback ports, for tests.
#
# As a command: start both, run CMD with the variables below exported, stop both, exit with
# CMD's status:
#
#   scripts/services.sh run CMD [ARGS...]     e.g. scripts/services.sh run bash
#   scripts/services.sh reap                  stop servers left by runs that were killed
#
# As a library (`source scripts/services.sh`): services_start starts both and exports
#   DATABASE_URL    postgres://postgres@127.0.0.1:PORT/colloquy   (role postgres: superuser)
#   REDIS_URL       redis://127.0.0.1:PORT/0                      (Django cache)
#   TEST_REDIS_URL  redis://127.0.0.1:PORT/1                      (Celery broker for integration
#                                                                  tests that start a worker)
# and services_stop stops them and deletes their files (it is safe to call more than once, so
# call it from an EXIT trap). Everything lives in a fresh `mktemp -d` directory; each server is
# stopped by the pid it recorded there. Nothing is written to disk durably (fsync off, no Redis
# persistence): the data is gone when the servers stop.
#
# Needs the Debian packages postgresql and redis-server (scripts/system-deps.sh installs them).
# As root, PostgreSQL runs as the `postgres` user; otherwise as the calling user.

_svc_state=""
_svc_pgbin=""

_svc_log() { echo "services: $*" >&2; }

# Python for the free-port trick: the venv's if there is one, any python3 otherwise.
_svc_python() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [[ -x $here/.venv/bin/python ]]; then echo "$here/.venv/bin/python"; else echo python3; fi
}

# A TCP port that is free on 127.0.0.1 right now (the OS picks it; we close it and hand it on).
_svc_free_port() {
  "$(_svc_python)" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

_svc_as_pg() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

_svc_find_pgbin() {
  local dir
  dir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [[ -z $dir || ! -x $dir/initdb ]]; then
    _svc_log "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
    return 1
  fi
  echo "$dir"
}

# _svc_pid_is PID NAME: is PID alive and running a program called NAME?
_svc_pid_is() {
  [[ $1 =~ ^[0-9]+$ ]] && [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

# _svc_alive PID: running, and not a zombie (daemons are reparented to PID 1, which may take a
# second or more to reap them; their ports are closed by then).
_svc_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# _svc_wait_gone PID SECONDS
_svc_wait_gone() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    _svc_alive "$1" || return 0
    sleep 0.05
  done
  return 1
}

# Stop whatever a state directory's servers are, by the pids they recorded, and remove it.
_svc_stop_dir() {
  local dir=$1 pid pgbin
  [[ -d $dir ]] || return 0
  if [[ -f $dir/redis.pid ]]; then
    pid=$(<"$dir/redis.pid")
    if _svc_pid_is "$pid" redis-server; then
      kill -TERM "$pid" 2>/dev/null || true
      if ! _svc_wait_gone "$pid" 10; then
        _svc_log "redis-server $pid did not stop in 10s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  if [[ -f $dir/pg/postmaster.pid ]]; then
    pid=$(head -n 1 "$dir/pg/postmaster.pid")
    pgbin=$(cat "$dir/pgbin" 2>/dev/null || true)
    if _svc_pid_is "$pid" postgres; then
      if [[ -x $pgbin/pg_ctl ]]; then
        _svc_as_pg "$pgbin/pg_ctl" -D "$dir/pg" -m fast -w -t 30 stop >/dev/null 2>&1 || true
      fi
      if _svc_alive "$pid"; then
        kill -INT "$pid" 2>/dev/null || true # "fast" shutdown
        if ! _svc_wait_gone "$pid" 15; then
          _svc_log "postgres $pid did not stop in 15s; sending SIGQUIT"
          kill -QUIT "$pid" 2>/dev/null || true
          _svc_wait_gone "$pid" 5 || true
        fi
      fi
    fi
  fi
  rm -rf "$dir"
}

# Stop servers of earlier runs whose owning process is gone (killed with SIGKILL, say).
services_reap() {
  local owner dir
  for owner in "${TMPDIR:-/tmp}"/colloquy-services.*/owner.pid; do
    [[ -f $owner ]] || continue
    dir=$(dirname "$owner")
    [[ $dir == "$_svc_state" ]] && continue
    if ! kill -0 "$(<"$owner")" 2>/dev/null; then
      _svc_log "stopping servers left by an earlier run ($dir)"
      _svc_stop_dir "$dir"
    fi
  done
}

_svc_start_pg() {
  local port try dir=$_svc_state/pg
  mkdir "$dir"
  if ((EUID == 0)); then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  if ! _svc_as_pg "$_svc_pgbin/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 \
    --locale=C.UTF-8 >"$_svc_state/initdb.log" 2>&1; then
    _svc_log "initdb failed:"
    cat "$_svc_state/initdb.log" >&2
    return 1
  fi
  # The port is free when picked but could be taken before the server binds it: retry.
  for try in 1 2 3; do
    port=$(_svc_free_port)
    if _svc_as_pg "$_svc_pgbin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "-p $port \
-k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
-c full_page_writes=off -c max_connections=200" start >/dev/null; then
      _svc_pg_port=$port
      break
    fi
    _svc_log "PostgreSQL did not start on port $port (try $try of 3):"
    tail -n 20 "$dir/server.log" >&2 || true
    if ((try == 3)); then return 1; fi
  done
  "$_svc_pgbin/createdb" -h 127.0.0.1 -p "$_svc_pg_port" -U postgres colloquy
}

_svc_start_redis() {
  local port try i
  for try in 1 2 3; do
    port=$(_svc_free_port)
    rm -f "$_svc_state/redis.pid"
    if redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save '' \
      --appendonly no --dir "$_svc_state" --pidfile "$_svc_state/redis.pid" \
      --logfile "$_svc_state/redis.log"; then
      for ((i = 0; i < 100; i++)); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] \
          && [[ -s $_svc_state/redis.pid ]]; then
          _svc_redis_port=$port
          return 0
        fi
        sleep 0.1
      done
    fi
    _svc_log "Redis did not start on port $port (try $try of 3):"
    tail -n 20 "$_svc_state/redis.log" >&2 || true
    # A server that came up late must not linger.
    _svc_stop_dir_redis_only
  done
  return 1
}

_svc_stop_dir_redis_only() {
  local pid
  if [[ -f $_svc_state/redis.pid ]]; then
    pid=$(<"$_svc_state/redis.pid")
    if _svc_pid_is "$pid" redis-server; then
      kill -TERM "$pid" 2>/dev/null || true
      _svc_wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$_svc_state/redis.pid"
  fi
}

services_start() {
  local t0=$SECONDS pgversion redisversion
  services_reap
  _svc_pgbin=$(_svc_find_pgbin)
  command -v redis-server >/dev/null || {
    _svc_log "redis-server not found (apt-get install redis-server)"
    return 1
  }
  _svc_state=$(mktemp -d "${TMPDIR:-/tmp}/colloquy-services.XXXXXX")
  chmod 755 "$_svc_state" # the postgres user must reach its data directory inside
  echo "$$" >"$_svc_state/owner.pid"
  echo "$_svc_pgbin" >"$_svc_state/pgbin"

  _svc_start_pg
  _svc_start_redis

  export DATABASE_URL="postgres://postgres@127.0.0.1:$_svc_pg_port/colloquy"
  export REDIS_URL="redis://127.0.0.1:$_svc_redis_port/0"
  export TEST_REDIS_URL="redis://127.0.0.1:$_svc_redis_port/1"
  pgversion=$("$_svc_pgbin/postgres" --version | awk '{print $3}')
  redisversion=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
  _svc_log "PostgreSQL $pgversion on 127.0.0.1:$_svc_pg_port, Redis $redisversion on" \
    "127.0.0.1:$_svc_redis_port (files in $_svc_state); up in $((SECONDS - t0))s"
}

services_stop() {
  if [[ -n $_svc_state ]]; then
    _svc_stop_dir "$_svc_state"
    _svc_log "stopped PostgreSQL and Redis"
    _svc_state=""
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    run)
      shift
      (($# > 0)) || {
        echo "usage: $0 run CMD [ARGS...]" >&2
        exit 2
      }
      trap services_stop EXIT
      trap 'exit 130' INT
      trap 'exit 143' TERM
      services_start
      set +e
      "$@"
      status=$?
      set -e
      exit "$status"
      ;;
    reap) services_reap ;;
    *)
      echo "usage: $0 run CMD [ARGS...] | $0 reap" >&2
      exit 2
      ;;
  esac
fi
