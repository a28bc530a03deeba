"""The ``q`` filter with the real bundled all-MiniLM-L6-v2 (the other tests use a keyword matcher)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(120)


@pytest.mark.slow
def test_text_query_with_the_real_minilm_model(serve, make_events, sse_reader):
    server = serve(text_matcher=None)  # the default: the bundled all-MiniLM-L6-v2
    texts = ["the dog is barking loudly", "welcome to the quarterly earnings call", "a puppy barks at the door",
             "please pass the salt"]
    events = make_events(8, texts=texts)

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events", params={"q": "a dog barking"}) as r:
                for e in events:
                    server.emit(e)
                got = await sse_reader(r, 4, timeout=90)
                more = await sse_reader(r, 1, timeout=1)
                return got + more

    got = asyncio.run(main())
    assert [json.loads(d)["data"]["text"] for _, _, d in got] == [texts[0], texts[2]] * 2
