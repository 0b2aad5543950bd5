"""An example bot behind the adapter: routes by keywords, "thinks" like a model call.

    orchestrator --target 'cmd:python3 examples/adapters/python/example_bot.py'
"""

import asyncio

from chatbot_perf import serve

ROUTES = [
    ("digest", "digest_generation"),
    ("summar", "digest_generation"),
    ("who ", "user_analysis"),
    ("user", "user_analysis"),
    ("how many", "server_analysis"),
    ("most active", "server_analysis"),
]


def route(query: str) -> str:
    q = query.lower()
    for word, agent in ROUTES:
        if word in q:
            return agent
    return "semantic_search"


async def handle(query: str) -> dict:
    if not query.strip():
        raise ValueError("empty query")
    agent = route(query)
    await asyncio.sleep(0.02)  # stands in for the model call
    return {"answer": f"[{agent}] I looked into: {query[:200]}", "agent": agent}


if __name__ == "__main__":
    serve(handle)
