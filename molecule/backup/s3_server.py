"""The backup scenario's S3 endpoint: moto's in-memory S3 behind TLS.

pgBackRest talks to S3 over TLS only. moto's own TLS (Werkzeug) ends each session without a
close_notify, which OpenSSL 3 in pgBackRest reports as an error; so moto serves plain HTTP on
loopback and this process terminates TLS with asyncio, which closes sessions properly.

    python s3_server.py ADDRESS PORT CERT KEY      (moto itself listens on 127.0.0.1:PORT+1)
"""

from __future__ import annotations

import asyncio
import ssl
import sys

from moto.server import ThreadedMotoServer


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def serve(address: str, port: int, upstream: int, context: ssl.SSLContext) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, address, port, ssl=context)
    async with server:
        await server.serve_forever()


def main() -> None:
    address, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port + 1, verbose=False)
    moto.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    asyncio.run(serve(address, port, port + 1, context))


if __name__ == "__main__":
    main()
