#!/usr/bin/env python3
"""A JSON-lines bot whose true answer time is known: every query is answered after exactly
DELAY seconds (default 0.1), concurrently, however many are in flight.

    orchestrator --target "cmd:python3 examples/bots/fixed_delay.py 0.1" ...

It knows none of the generator's facts, so grounded checks fail; it is a ground-truth bot for
the timing figures (docs/load-modes.md).
"""
import asyncio
import json
import sys


async def main(delay: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout

    async def answer(req: dict) -> None:
        await asyncio.sleep(delay)
        out.write(json.dumps({"id": req["id"], "answer": "ok", "agent": "fixed", "error": None}) + "\n")
        out.flush()

    tasks = set()
    while line := await reader.readline():
        try:
            req = json.loads(line)
        except ValueError:
            continue
        task = asyncio.create_task(answer(req))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1))
