"""Wait until a Kafka broker answers a metadata request.

Used by scripts/kafka.sh: an open TCP port is not enough, the broker must
answer a metadata request (an admin client listing topics).

Exit status: 0 when the broker answered, 1 when it did not within the
timeout, 2 when the process given with --pid exited first.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

RETRY_INTERVAL_S = 0.5
REQUEST_TIMEOUT_MS = 5000


async def answers_metadata(bootstrap: str) -> bool:
    client = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        await client.start()
        await client.list_topics()
    except (KafkaError, OSError):  # OSError covers TimeoutError
        return False
    finally:
        await client.close()
    return True


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def wait(bootstrap: str, timeout_s: float, pid: int | None) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        if await answers_metadata(bootstrap):
            return 0
        if pid is not None and not process_alive(pid):
            print(f"kafka process {pid} exited before answering", file=sys.stderr)
            return 2
        if time.monotonic() >= deadline:
            if timeout_s > 0:
                print(
                    f"no metadata answer from {bootstrap} within {timeout_s:g}s",
                    file=sys.stderr,
                )
            return 1
        await asyncio.sleep(RETRY_INTERVAL_S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument(
        "--timeout",
        type=float,
        default=90.0,
        help="seconds to keep trying; 0 tries once (default: 90)",
    )
    parser.add_argument(
        "--pid",
        type=int,
        help="give up early if this process exits (the broker being started)",
    )
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(wait(args.bootstrap, args.timeout, args.pid))


if __name__ == "__main__":
    sys.exit(main())
