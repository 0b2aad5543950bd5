"""Turn an async Python chat bot into a target of the chatbot-perf suite.

Copy this one file next to your bot and hand it your handler:

    import asyncio
    from chatbot_perf import serve

    async def handle(query: str) -> str | dict:
        return await my_bot.answer(query)

    if __name__ == "__main__":
        serve(handle)

then run `orchestrator --target 'cmd:python3 my_bot_perf.py'` (or `ci-gate --target ...`).

It speaks the suite's JSON-lines protocol (docs/targets.md) on stdin/stdout:

* every request line `{"id", "query", "user_id", "channel"}` is handled in a task of its own,
  so queries run concurrently, and each answer line carries its query's id;
* the handler gets the query text, or with a second parameter the whole request as well
  (`async def handle(query, request)`);
* it may return a string (the answer) or a dict with `answer` and any of `agent`, `agents`,
  `tokens` (output tokens) and `metadata`;
* it may instead be an async generator that yields pieces of the answer: each piece is
  sent at once as a streamed delta (`{"id", "delta"}`), so the suite measures time to first
  token and inter-token latency; the answer is the pieces joined (a final dict may be
  yielded last to give `agent`, `tokens` or `metadata`);
* an exception becomes that query's `error` (kind `bot` in the report); the bot goes on;
* `print()` inside the handler would corrupt the protocol, so stdout is redirected to
  stderr while the handler runs (stderr lands in the run's `bot-stderr.log`).

Only the standard library is used. Python 3.8 or later.
"""

import asyncio
import inspect
import json
import sys
from typing import Any, Awaitable, Callable, Optional

__all__ = ["serve", "run"]

_PROTOCOL_OUT = sys.stdout


def _clean(text: str) -> str:
    """Replaces lone surrogates, which are not UTF-8 and would break the line."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _write(obj: dict) -> None:
    _PROTOCOL_OUT.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _PROTOCOL_OUT.flush()


def _answer_line(qid: Any, result: Any) -> dict:
    if isinstance(result, str):
        return {"id": qid, "answer": _clean(result), "error": None}
    if isinstance(result, dict):
        line = {"id": qid, "error": None}
        answer = result.get("answer")
        if not isinstance(answer, str):
            return {"id": qid, "error": "the handler returned a dict without a string `answer`"}
        line["answer"] = _clean(answer)
        for key in ("agent", "agents", "tokens", "metadata"):
            if key in result:
                line[key] = result[key]
        return line
    return {
        "id": qid,
        "error": f"the handler returned {type(result).__name__}; return a str or a dict with `answer`",
    }


async def _handle_one(handler: Callable[..., Any], two_args: bool, req: dict) -> None:
    qid = req.get("id")
    query = req.get("query", "")
    args = (query, req) if two_args else (query,)
    try:
        if inspect.isasyncgenfunction(handler):
            pieces = []
            final: dict = {}
            async for piece in handler(*args):
                if isinstance(piece, dict):
                    final = piece
                    continue
                text = _clean(str(piece))
                pieces.append(text)
                _write({"id": qid, "delta": text})
            result = dict(final)
            result.setdefault("answer", "".join(pieces))
        else:
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
        _write(_answer_line(qid, result))
    except asyncio.CancelledError:
        raise
    except Exception as e:  # the bot's failure is this query's answer, not ours
        _write({"id": qid, "error": _clean(f"{type(e).__name__}: {e}")})


async def run(handler: Callable[..., Awaitable[Any]], max_concurrency: Optional[int] = None) -> None:
    """Serves requests from stdin until it closes, then waits for the queries in flight."""
    params = [
        p
        for p in inspect.signature(handler).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    two_args = len(params) >= 2
    limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def guarded(req: dict) -> None:
        if limit is None:
            await _handle_one(handler, two_args, req)
        else:
            async with limit:
                await _handle_one(handler, two_args, req)

    tasks = set()
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # a line longer than the limit: skip it
            continue
        if not line:
            break
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if not isinstance(req, dict) or "id" not in req:
            continue
        task = asyncio.ensure_future(guarded(req))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


def serve(handler: Callable[..., Awaitable[Any]], max_concurrency: Optional[int] = None) -> None:
    """Runs `handler` as a chatbot-perf JSON-lines bot (see the module docs)."""
    # Anything the bot prints goes to stderr; the protocol keeps the real stdout.
    sys.stdout = sys.stderr
    asyncio.run(run(handler, max_concurrency))
