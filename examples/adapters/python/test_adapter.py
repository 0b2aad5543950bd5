"""Tests of chatbot_perf.py against real child processes (python3 -m unittest here)."""

import json
import os
import subprocess
import sys
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def run_bot(source: str, lines: list, timeout: float = 20.0) -> list:
    """Starts a bot whose handler is `source`, sends `lines`, returns the parsed output lines."""
    program = "import asyncio\nfrom chatbot_perf import serve\n" + textwrap.dedent(source)
    proc = subprocess.run(
        [sys.executable, "-c", program],
        input="".join(l + "\n" for l in lines),
        capture_output=True,
        text=True,
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": HERE},
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"bot exited {proc.returncode}: {proc.stderr}")
    return [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]


def req(qid: str, query: str) -> str:
    return json.dumps({"id": qid, "query": query, "user_id": None, "channel": None})


class AdapterTests(unittest.TestCase):
    def test_queries_run_concurrently_and_answers_carry_their_ids(self):
        start = time.monotonic()
        out = run_bot(
            """
            async def handle(query):
                await asyncio.sleep(0.5)
                return "echo " + query
            serve(handle)
            """,
            [req(f"q{i}", f"hello {i}") for i in range(20)],
        )
        elapsed = time.monotonic() - start
        self.assertEqual(sorted(o["id"] for o in out), sorted(f"q{i}" for i in range(20)))
        for o in out:
            self.assertEqual(o["answer"], "echo hello " + o["id"][1:])
            self.assertIsNone(o["error"])
        # Twenty 0.5 s answers one after another would take 10 s.
        self.assertLess(elapsed, 8.0)

    def test_failures_are_errors_and_dicts_pass_agents_and_tokens(self):
        out = run_bot(
            """
            async def handle(query, request):
                if query == "boom":
                    raise RuntimeError("model down")
                if query == "bad":
                    return 42
                print("a stray print must not reach the protocol")
                return {"answer": "hi " + request["id"], "agent": "semantic_search", "tokens": 2}
            serve(handle)
            """,
            [req("a", "boom"), "not json", req("b", "fine"), req("c", "bad")],
        )
        by_id = {o["id"]: o for o in out}
        self.assertEqual(set(by_id), {"a", "b", "c"})
        self.assertEqual(by_id["a"]["error"], "RuntimeError: model down")
        self.assertEqual(by_id["b"]["answer"], "hi b")
        self.assertEqual(by_id["b"]["agent"], "semantic_search")
        self.assertEqual(by_id["b"]["tokens"], 2)
        self.assertIn("str or a dict", by_id["c"]["error"])

    def test_an_async_generator_streams_deltas_before_its_answer(self):
        out = run_bot(
            """
            async def handle(query):
                for word in ["one ", "two ", "three"]:
                    await asyncio.sleep(0.01)
                    yield word
                yield {"agent": "digest_generation"}
            serve(handle)
            """,
            [req("s", "stream please")],
        )
        self.assertEqual([o.get("delta") for o in out[:3]], ["one ", "two ", "three"])
        self.assertEqual(out[3]["answer"], "one two three")
        self.assertEqual(out[3]["agent"], "digest_generation")
        self.assertEqual(len(out), 4)

    def test_lone_surrogates_do_not_break_the_line(self):
        out = run_bot(
            """
            async def handle(query):
                return "bad \\ud800 text"
            serve(handle)
            """,
            [req("u", "x")],
        )
        self.assertEqual(out[0]["id"], "u")
        self.assertIn("bad", out[0]["answer"])


if __name__ == "__main__":
    unittest.main()
