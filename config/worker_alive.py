"""A Celery worker's liveness probe: `python -m config.worker_alive FILE [--max-age SECONDS]`.

Exits 0 when FILE (the worker's CELERY_HEARTBEAT_FILE, touched every 10 s by its timer; see
config/celery.py) was touched within the last SECONDS (default 60), else 1 with the reason on
stderr. Plain Python: the probe starts no Django, connects to nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--max-age", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        age = time.time() - args.file.stat().st_mtime
    except OSError as exc:
        print(f"no heartbeat: {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"stale heartbeat: {args.file} is {age:.0f} s old", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
