"""The bad-input table served by one process, as a web worker would serve it; run by
test_bad_input_memory.py as `python -m tests.security.bad_input_worker`.

It migrates a fresh SQLite database (DATABASE_URL), builds the world, notes its peak memory,
sends every request of the table and prints one JSON line: each request's status and what it
expected, and the peak resident memory before and after (MB).
"""

from __future__ import annotations

import json
import resource


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from tests.security.authorization import build_world, outcome, send_as
    from tests.security.bad_inputs import (
        BODY_INPUTS,
        ENDPOINTS,
        MULTIPART_ENDPOINTS,
        MULTIPART_INPUTS,
        QUERY_INPUTS,
        body_request,
        bomb_requests,
        expected_status,
        multipart_request,
        query_request,
    )

    world = build_world()
    bombs = bomb_requests(world)
    requests = []
    for endpoint, persona, field, base in ENDPOINTS:
        for case in BODY_INPUTS:
            send = body_request(world, endpoint, case, base, field)
            requests.append(
                (f"{endpoint} {case.name}", persona, send, expected_status(endpoint, case))
            )
    for endpoint, persona, field, base in MULTIPART_ENDPOINTS:
        for name, raw_value in MULTIPART_INPUTS:
            send = multipart_request(world, endpoint, base, field, raw_value)
            requests.append((f"{endpoint} multipart {name}", persona, send, "400"))
    for endpoint, persona, query in QUERY_INPUTS:
        requests.append(
            (f"{endpoint}{query[:40]}", persona, query_request(world, endpoint, query), "400")
        )
    for name, persona, send, _message in bombs:
        requests.append((name, persona, send, "400"))

    before = peak_mb()
    results = []
    for name, persona, send, expected in requests:
        response, wrote = send_as(world, persona, send)
        results.append(
            {"name": name, "got": outcome(response), "expected": expected, "wrote": wrote}
        )
    print(json.dumps({"before_mb": before, "after_mb": peak_mb(), "results": results}))


if __name__ == "__main__":
    main()
