"""Extra servers beside the suite's PostgreSQL, for the tests of production settings: a streaming
replica of the test server and a PgBouncer in front of it. Each runs on a free loopback port in
a temporary directory and is stopped when its context ends.

They need the server binaries under /usr/lib/postgresql (and `pgbouncer` for the bouncer), which
`make test` installs; as root, PostgreSQL runs as the `postgres` user, as scripts/services.sh
does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.helpers import free_port


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"))
    return found[-1].parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _owned_tempdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    path.chmod(0o700)
    return path


def _conninfo(db: dict, **override) -> str:
    params = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "dbname": db["NAME"],
        "connect_timeout": 5,
    } | override
    return " ".join(f"{k}={v}" for k, v in params.items() if v not in (None, ""))


@contextlib.contextmanager
def pg_standby(primary: dict, *, log_statements_to: Path | None = None):
    """A hot standby of the server `primary` (a Django settings dict) made by
    `pg_basebackup -R`, streaming from it. Yields its port. With `log_statements_to`, every
    statement it runs is logged in that file (which the server's user must be able to write)."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    root = _owned_tempdir("colloquy-standby.")
    data, port = root / "data", free_port()
    log = log_statements_to or root / "server.log"
    try:
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_basebackup"), "-h", primary["HOST"] or "127.0.0.1"]
                + ["-p", str(primary["PORT"]), "-U", primary["USER"], "-D", str(data)]
                + ["-R", "-X", "stream", "--no-sync", "-c", "fast"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        started = subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log)]
                + ["-w", "-t", "60", "start", "-o"]
                # A standby needs at least the primary's max_connections (the suite's: 200).
                + [
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
                    " -c max_connections=200"
                    + (" -c log_statement=all" if log_statements_to else "")
                ]
            ),
            check=False,
            capture_output=True,
            timeout=90,
        )
        if started.returncode:
            raise RuntimeError(f"the standby did not start: {log.read_text()[-2000:]}")
        yield port
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def wait_for_replay(primary: dict, standby_port: int, timeout: float = 30) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(_conninfo(primary), autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(_conninfo(primary, port=standby_port), autocommit=True) as conn:
        while True:
            caught_up = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
            ).fetchone()[0]
            if caught_up:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the standby did not catch up")
            time.sleep(0.02)


def set_replay(primary: dict, standby_port: int, *, paused: bool) -> None:
    """Pause or resume WAL replay on the standby: a replica that lags on demand."""
    function = "pg_wal_replay_pause" if paused else "pg_wal_replay_resume"
    with psycopg.connect(_conninfo(primary, port=standby_port), autocommit=True) as conn:
        conn.execute(f"SELECT {function}()")
        # "pause requested" is enough: replay checks it before applying each next record.
        state = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0]
        assert (state != "not paused") if paused else (state == "not paused"), state


@contextlib.contextmanager
def pgbouncer(primary: dict, *, pool_size: int = 2):
    """PgBouncer in transaction pooling mode in front of the server `primary`; yields its port.
    A small pool, so that consecutive transactions of one client do land on different server
    connections."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise RuntimeError("no pgbouncer (apt-get install pgbouncer)")
    root = _owned_tempdir("colloquy-pgbouncer.")
    port = free_port()
    ini = root / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={primary['HOST'] or '127.0.0.1'} port={primary['PORT']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir = {root}\n"
        "auth_type = trust\n"
        f"auth_file = {root / 'users.txt'}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmax_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        # After a failed login to the server PgBouncer waits this long before the next try
        # (15 s by default): after a primary restart, every client would wait it out.
        "server_login_retry = 1\n"
        f"logfile = {root / 'pgbouncer.log'}\n"
    )
    (root / "users.txt").write_text(f'"{primary["USER"]}" ""\n')
    if os.geteuid() == 0:
        for path in root.iterdir():
            shutil.chown(path, "postgres", "postgres")
    # PgBouncer refuses to run as root.
    process = subprocess.Popen(
        _as_postgres([binary, str(ini)]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(
                    _conninfo(primary, port=port), autocommit=True, prepare_threshold=None
                ) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = root / "pgbouncer.log"
                    text = log.read_text()[-2000:] if log.exists() else ""
                    raise RuntimeError(f"pgbouncer did not start: {text}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


# port -> (bin directory, data directory, socket directory, server options) of pg_primary's.
_servers: dict[int, tuple[Path, Path, Path, str]] = {}


def pg_start(db: dict) -> None:
    """Start (again) a server made by pg_primary."""
    bindir, data, root, options = _servers[db["PORT"]]
    started = subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log")]
            + ["-w", "-t", "60", "start", "-o", options]
        ),
        check=False,
        capture_output=True,
        timeout=90,
    )
    if started.returncode:
        raise RuntimeError(f"PostgreSQL did not start: {(root / 'server.log').read_text()}")


def pg_stop(db: dict, mode: str = "fast") -> None:
    """Stop a server made by pg_primary (`fast`: clients are disconnected, as in a restart)."""
    bindir, data, _, _ = _servers[db["PORT"]]
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]),
        capture_output=True,
        check=False,
        timeout=60,
    )


@contextlib.contextmanager
def pg_primary():
    """A throwaway PostgreSQL server (fsync off) that a standby can stream from, with a database
    `colloquy`; yields its settings as a Django settings dict."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    root = _owned_tempdir("colloquy-primary.")
    data, port = root / "data", free_port()
    try:
        subprocess.run(
            _as_postgres(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
                + ["--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        db = {"HOST": "127.0.0.1", "PORT": port, "USER": "postgres", "NAME": "colloquy"}
        _servers[port] = (
            bindir,
            data,
            root,
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200 -c wal_level=replica -c max_wal_senders=5",
        )
        pg_start(db)
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE colloquy")
        yield db
    finally:
        if port in _servers:
            pg_stop(db)
            del _servers[port]
        shutil.rmtree(root, ignore_errors=True)


# --- Redis: TLS, replicas, Sentinel -------------------------------------------------------


def _redis_ping(port: int, *extra: str) -> bool:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *extra, "ping"], capture_output=True, text=True, timeout=5
    )
    return done.stdout.strip() == "PONG"


@contextlib.contextmanager
def redis_server(*args: str, port: int | None = None, ping: tuple[str, ...] = ()):
    """A throwaway redis-server on loopback (no persistence); yields its port. `args` are
    extra options (`--replicaof 127.0.0.1 P`, TLS…); `ping` are redis-cli's options to reach it."""
    if shutil.which("redis-server") is None:
        import pytest

        pytest.skip("needs redis-server (make test installs it)")
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="colloquy-redis-"))
    listen = (
        ["--port", "0", "--tls-port", str(port)]
        if "--tls-cert-file" in args
        else [
            "--port",
            str(port),
        ]
    )
    server = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            *listen,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while not _redis_ping(port, *ping):
            assert server.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)
        yield port
    finally:
        _stop(server, workdir)


def _stop(server: subprocess.Popen, workdir: Path) -> None:
    server.terminate()
    server.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def tls_certificate():
    """A self-signed certificate for 127.0.0.1: yields (certificate, key) paths."""
    workdir = Path(tempfile.mkdtemp(prefix="colloquy-tls-"))
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield cert, key
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def redis_role(port: int) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), "role"], capture_output=True, text=True, timeout=5
    )
    return done.stdout.split("\n", 1)[0].strip()


@contextlib.contextmanager
def redis_sentinel(master_port: int, replicas: int, name: str = "mymaster"):
    """A Redis Sentinel monitoring the master on `master_port`, once it has seen `replicas`
    replicas in sync (so that a failover can pick one); yields its port."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="colloquy-sentinel-"))
    conf = workdir / "sentinel.conf"
    conf.write_text(
        f"bind 127.0.0.1\nport {port}\ndir {workdir}\n"
        f"sentinel monitor {name} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {name} 1000\n"
        f"sentinel failover-timeout {name} 5000\n"
    )
    server = subprocess.Popen(
        ["redis-server", str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "redis-sentinel exited"
            assert time.monotonic() < deadline, "the sentinel did not see the replicas"
            done = subprocess.run(
                ["redis-cli", "-p", str(port), "sentinel", "replicas", name],
                capture_output=True,
                text=True,
                timeout=5,
            )
            lines = done.stdout.split("\n")
            seen = [i for i, line in enumerate(lines) if line == "flags"]
            if len(seen) >= replicas and all(lines[i + 1] == "slave" for i in seen):
                break
            time.sleep(0.2)
        yield port
    finally:
        _stop(server, workdir)
