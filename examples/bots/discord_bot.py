"""A discord.py bot written the way its users write them, for the suite's discord target.

It answers every message that mentions it: "typing..." while it works, a reply to the
message, then the answer streamed as edits of that reply, the way LLM bots show their
answers. It knows nothing of the suite and names no agents.

Run it against the suite's fake Discord, unchanged:

    pip install 'examples/adapters/python[discord]'
    orchestrator --target "discord:python3 -m chatbot_perf.discord examples/bots/discord_bot.py"

Knobs (environment): BOT_THINK_MS before the first message (default 50), BOT_EDIT_MS
between edits (default 30), BOT_EDITS edits (default 2). A message with the word "block"
makes the handler call time.sleep(BOT_BLOCK_MS / 1000) (default 400): a synchronous call
that blocks the event loop, the bug the suite's event-loop check catches. BOT_EXIT_AFTER=N
makes the process exit on its Nth question (an unhandled crash; the suite restarts it).
"""

import asyncio
import os
import time

import discord

THINK_MS = int(os.environ.get("BOT_THINK_MS", "50"))
EDIT_MS = int(os.environ.get("BOT_EDIT_MS", "30"))
EDITS = int(os.environ.get("BOT_EDITS", "2"))
BLOCK_MS = int(os.environ.get("BOT_BLOCK_MS", "400"))
EXIT_AFTER = int(os.environ.get("BOT_EXIT_AFTER", "0"))
questions = 0

intents = discord.Intents.default()
intents.message_content = True
client = discord.Client(intents=intents)


@client.event
async def on_ready():
    print(f"logged in as {client.user} in {len(client.guilds)} guild(s)", flush=True)


@client.event
async def on_message(message: discord.Message):
    if message.author == client.user or not client.user.mentioned_in(message):
        return
    global questions
    questions += 1
    if EXIT_AFTER and questions >= EXIT_AFTER:
        print(f"exiting on question {questions} (BOT_EXIT_AFTER)", flush=True)
        os._exit(3)
    question = message.content.replace(client.user.mention, "").strip()
    async with message.channel.typing():
        if "block" in question.lower():
            time.sleep(BLOCK_MS / 1000)  # the bug: a synchronous call in a handler
        await asyncio.sleep(THINK_MS / 1000)
        # The answer names the question's size, not its text: echoing what a user typed
        # would repeat their markup and mentions (the suite's robustness checks catch it).
        words = f"You asked a question of {len(question.split())} words; here is what I found in this server.".split()
        step = max(1, len(words) // (EDITS + 1))
        reply = await message.reply(" ".join(words[:step]) or "...")
        for i in range(1, EDITS + 1):
            await asyncio.sleep(EDIT_MS / 1000)
            upto = len(words) if i == EDITS else step * (i + 1)
            await reply.edit(content=" ".join(words[:upto]))


client.run(os.environ["DISCORD_TOKEN"], log_handler=None)
