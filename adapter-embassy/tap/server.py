#!/usr/bin/env python3
"""The aiosmtpd servers of e2e/servers.py, listening on the address in SMTP_BIND
instead of 127.0.0.1 (for the TAP run: the peer address inside the network namespace).

Same arguments and output files as e2e/servers.py; only the listening address differs.
"""

import asyncio
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))

import servers  # noqa: E402  (e2e/servers.py)

BIND = os.environ["SMTP_BIND"]


async def main():
    loop = asyncio.get_running_loop()
    create_server = loop.create_server

    async def create_server_on_bind(protocol_factory, host=None, port=None, **kwargs):
        if host != "127.0.0.1":
            raise RuntimeError(f"servers.py asked for {host!r}; this wrapper expects 127.0.0.1")
        return await create_server(protocol_factory, host=BIND, port=port, **kwargs)

    loop.create_server = create_server_on_bind
    await servers.main()


if __name__ == "__main__":
    asyncio.run(main())
