#!/usr/bin/env python3
"""HTTP/1.1 forwarding proxy that can break AWS auth or add latency (tests, benchmarks).

  proxy.py --upstream http://127.0.0.1:M [--listen-port N] [--listen-host H]
           [--mode pass|strip-auth|mangle-auth|delay] [--delay-ms D] [--exit-with-parent]

The client talks to the proxy as if it were the service (endpoint URL = proxy);
the Host header is forwarded untouched so SigV4 signatures still verify upstream.
  pass         forward as is
  strip-auth   drop the Authorization header  -> MissingAuthenticationTokenException
  mangle-auth  keep only "AWS4-HMAC-SHA256 Credential=..." -> IncompleteSignatureException
  delay        sleep --delay-ms before forwarding each request (also honoured in other modes)
Keep-alive: each client connection gets its own upstream connection, requests are
relayed one at a time; bodies by Content-Length or chunked. With --listen-port 0 the
chosen port is printed first as "PORT <n>".
"""
import argparse
import asyncio
import os
import sys
import threading
import time

MAX_HEAD = 64 * 1024


async def read_head(reader):
    """Start line + headers, or None on a clean EOF before any byte."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise
    lines = raw[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def get(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


async def relay_body(reader, writer, headers, until_eof=False):
    """Copy a message body from reader to writer, framed as the headers say."""
    if (get(headers, "transfer-encoding") or "").lower().endswith("chunked"):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            writer.write(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:  # trailers, then the blank line
                while True:
                    line = await reader.readuntil(b"\r\n")
                    writer.write(line)
                    if line == b"\r\n":
                        return
            writer.write(await reader.readexactly(size + 2))
    length = get(headers, "content-length")
    if length is not None:
        remaining = int(length)
        while remaining:
            chunk = await reader.read(min(remaining, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", remaining)
            writer.write(chunk)
            remaining -= len(chunk)
    elif until_eof:
        while chunk := await reader.read(65536):
            writer.write(chunk)


def rewrite(headers, mode):
    if mode == "strip-auth":
        return [(k, v) for k, v in headers if k.lower() != "authorization"]
    if mode == "mangle-auth":
        out = []
        for k, v in headers:
            if k.lower() == "authorization":
                scheme, _, params = v.partition(" ")
                cred = next((p.strip() for p in params.split(",") if p.strip().startswith("Credential=")), "")
                v = f"{scheme} {cred}".strip()
            out.append((k, v))
        return out
    return headers


def serialize(start, headers):
    return (start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("latin-1")


def wants_close(version, headers):
    conn = (get(headers, "connection") or "").lower()
    return "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)


async def handle(client_r, client_w, args):
    up_r = up_w = None
    try:
        while True:
            head = await read_head(client_r)
            if head is None:
                return
            start, headers = head
            method, _, version = start.split(" ", 2)
            headers = rewrite(headers, args.mode)
            if args.delay_ms:
                await asyncio.sleep(args.delay_ms / 1000)
            if up_w is None:
                try:
                    up_r, up_w = await asyncio.open_connection(args.up_host, args.up_port, limit=MAX_HEAD)
                except OSError as e:
                    body = f"proxy: upstream unreachable: {e}\n".encode()
                    client_w.write(serialize("HTTP/1.1 502 Bad Gateway", [
                        ("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("Connection", "close")]) + body)
                    await client_w.drain()
                    return
            up_w.write(serialize(start, headers))
            await relay_body(client_r, up_w, headers)
            await up_w.drain()

            resp_head = await read_head(up_r)
            if resp_head is None:
                return
            status_line, resp_headers = resp_head
            client_w.write(serialize(status_line, resp_headers))
            status = int(status_line.split(" ", 2)[1])
            no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
            framed = get(resp_headers, "content-length") is not None or get(resp_headers, "transfer-encoding")
            if not no_body:
                await relay_body(up_r, client_w, resp_headers, until_eof=True)
            await client_w.drain()
            if wants_close(version, headers) or wants_close("HTTP/1.1", resp_headers) or (not framed and not no_body):
                return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        return
    finally:
        for w in (up_w, client_w):
            if w is not None:
                w.close()


def exit_with_parent():
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--upstream", required=True, help="http://host:port")
    ap.add_argument("--mode", choices=["pass", "strip-auth", "mangle-auth", "delay"], default="pass")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args()
    hostport = args.upstream.split("://", 1)[-1].rstrip("/")
    args.up_host, _, port = hostport.rpartition(":")
    args.up_port = int(port)
    if args.exit_with_parent:
        exit_with_parent()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), args.listen_host, args.listen_port,
                                        limit=MAX_HEAD, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
