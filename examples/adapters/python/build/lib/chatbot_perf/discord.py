"""Run an unmodified discord.py bot against the fake Discord of the load tester.

    python -m chatbot_perf.discord bot.py [args...]

The discord target (``orchestrator --target "discord:python3 -m chatbot_perf.discord
bot.py"``) starts this with three environment variables, the contract of the target:

- ``DISCORD_TOKEN``: the token the fake Discord accepts (the bot reads it as usual);
- ``DISCORD_API_BASE``: the REST base, ``http://127.0.0.1:PORT/api/v10``;
- ``DISCORD_GATEWAY_URL``: the gateway, ``ws://127.0.0.1:PORT/gateway``.

It points discord.py's REST routes (``discord.http.Route.BASE``) and its gateway
(``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``) at them, then runs the bot file as
``__main__``, unchanged. A plain ``discord.Client`` or ``commands.Bot`` never asks Discord
for the gateway URL (only ``AutoShardedClient`` does, and the fake Discord answers that
too), and resumes go to READY's ``resume_gateway_url``, which the fake Discord sets to
itself.
"""

import os
import runpy
import sys

VARIABLES = ("DISCORD_TOKEN", "DISCORD_API_BASE", "DISCORD_GATEWAY_URL")


def redirect() -> None:
    """Points discord.py at the fake Discord named by the environment."""
    missing = [v for v in VARIABLES if not os.environ.get(v)]
    if missing:
        sys.exit(
            "chatbot_perf.discord: %s not set. The discord target sets all three; to run by "
            "hand, export DISCORD_TOKEN, DISCORD_API_BASE and DISCORD_GATEWAY_URL (docs/discord.md)."
            % ", ".join(missing)
        )
    try:
        import discord.gateway
        import discord.http
        import yarl
    except ImportError as e:  # pragma: no cover - depends on the environment
        print(
            "chatbot_perf.discord: discord.py is not installed (%s): pip install 'discord.py>=2.3' "
            "or pip install 'chatbot-perf[discord]'" % e,
            file=sys.stderr,
        )
        sys.exit(2)
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"].rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])


def main(argv: list) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    path = argv[0]
    if not os.path.isfile(path):
        sys.exit("chatbot_perf.discord: no bot file %s" % path)
    redirect()
    sys.argv = list(argv)
    # The bot's own directory first on the path, as `python bot.py` would have it.
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
