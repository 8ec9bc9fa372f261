#!/usr/bin/env python3
"""A fast fake AWS for the benchmark: canned STS, DynamoDB and CloudWatch answers.

Usage: fake_aws.py [--listen-port 0] [--delay-ms D] [--exit-with-parent]

An asyncio HTTP/1.1 server (stdlib only, keep-alive, pipelining-safe, many
concurrent connections) on the loopback address. It prints `PORT <n>` on
stdout once listening, then answers every request instantly or after exactly
D ms. Any region and any credentials are accepted: signatures are never
checked (the region in the `Authorization` credential scope only names the
table ARN). moto is a real emulator and its own service time (milliseconds
per request, one Python thread) dominates a benchmark; this server's is tens
of microseconds.

  STS GetCallerIdentity   query protocol, form body `Action=GetCallerIdentity`
                          -> the XML of tests/it/support.rs `sts_ok()`
  DynamoDB DescribeTable  JSON 1.0, `x-amz-target: DynamoDB_20120810.DescribeTable`
                          -> an ACTIVE table, key schema pk:S, echoing TableName
  CloudWatch PutMetricData
      rpc-v2-cbor (Rust SDK, botocore >= 1.39): POST
      /service/GraniteServiceVersion20100801/operation/PutMetricData -> 200, body 0xa0 ({})
      JSON 1.0 (`x-amz-target: GraniteServiceVersion20100801.PutMetricData`) -> {}
      query (`Action=PutMetricData`) -> <PutMetricDataResponse> with a RequestId
  GET /__fake/stats       request counts per operation (JSON, never delayed)
  anything else           400 UnknownOperationException (JSON 1.0)
"""
import argparse
import asyncio
import email.utils
import json
import os
import re
import sys
import threading
import time
import urllib.parse

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
ACCOUNT = "123456789012"

STS_OK = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/fixed</Arn>"
    b"<UserId>AIDAFIXED</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)
PMD_QUERY_OK = (
    '<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
    "<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></PutMetricDataResponse>"
)
CREDENTIAL_REGION = re.compile(rb"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")

STATS = {}
_date = [0, b""]


def http_date():
    now = int(time.time())
    if _date[0] != now:
        _date[0] = now
        _date[1] = email.utils.formatdate(now, usegmt=True).encode()
    return _date[1]


_rid = [0]


def request_id():
    _rid[0] += 1
    return f"fake-{_rid[0]:08d}"


def response(status, reason, ctype, body, extra=b"", close=False):
    rid = request_id().encode()
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\ndate: %s\r\n"
            b"x-amzn-requestid: %s\r\n%s%s\r\n") % (
        status, reason, ctype, len(body), http_date(), rid, extra,
        b"connection: close\r\n" if close else b"")
    return head + body


def count(op):
    STATS[op] = STATS.get(op, 0) + 1


def answer(method, path, headers, body, close):
    """Return (response bytes, delayed?) for one request."""
    target = headers.get(b"x-amz-target", b"")
    if target == b"DynamoDB_20120810.DescribeTable":
        count("DescribeTable")
        try:
            name = json.loads(body)["TableName"]
        except (ValueError, KeyError, TypeError):
            return response(400, b"Bad Request", b"application/x-amz-json-1.0",
                            b'{"__type":"com.amazon.coral.validate#ValidationException",'
                            b'"message":"TableName is required"}', close=close), True
        m = CREDENTIAL_REGION.search(headers.get(b"authorization", b""))
        region = m.group(1).decode() if m else "us-east-1"
        table = {"Table": {
            "TableName": name, "TableStatus": "ACTIVE",
            "TableArn": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "CreationDateTime": 1700000000.0, "ItemCount": 0, "TableSizeBytes": 0,
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}}
        return response(200, b"OK", b"application/x-amz-json-1.0", json.dumps(table).encode(),
                        close=close), True
    if path.endswith(b"/operation/PutMetricData"):
        count("PutMetricData")
        return response(200, b"OK", b"application/cbor", b"\xa0", b"smithy-protocol: rpc-v2-cbor\r\n",
                        close=close), True
    if target == b"GraniteServiceVersion20100801.PutMetricData":
        count("PutMetricData")
        return response(200, b"OK", b"application/x-amz-json-1.0", b"{}", close=close), True
    if method == b"POST" and b"Action=" in body:
        action = urllib.parse.parse_qs(body.decode("latin-1")).get("Action", [""])[0]
        if action == "GetCallerIdentity":
            count("GetCallerIdentity")
            return response(200, b"OK", b"text/xml", STS_OK, close=close), True
        if action == "PutMetricData":
            count("PutMetricData")
            return response(200, b"OK", b"text/xml", PMD_QUERY_OK.format(rid=f"fake-{_rid[0] + 1:08d}").encode(),
                            close=close), True
    if method == b"GET" and path == b"/__fake/stats":
        return response(200, b"OK", b"application/json", json.dumps(STATS).encode(), close=close), False
    count("unknown")
    return response(400, b"Bad Request", b"application/x-amz-json-1.0",
                    b'{"__type":"com.amazon.coral.service#UnknownOperationException",'
                    b'"message":"fake_aws: unknown operation"}', close=close), True


class Conn(asyncio.Protocol):
    """One connection: parses requests as bytes arrive, answers them in order."""

    def __init__(self, delay):
        self.delay = delay
        self.buf = bytearray()
        self.transport = None
        self.pending = []  # [response bytes or None (not ready yet), close after]
        self.closing = False
        self.cont = False  # sent `100 Continue` for the request being read

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.transport = None

    def data_received(self, data):
        self.buf += data
        while not self.closing:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.fail(b"431 Request Header Fields Too Large")
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            try:
                method, path, version = lines[0].split(b" ", 2)
            except ValueError:
                self.fail(b"400 Bad Request")
                return
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip()
            start = end + 4
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                body, used = self.dechunk(start)
                if body is None:
                    return  # wait for more data
                consumed = used
            else:
                try:
                    n = int(headers.get(b"content-length", b"0"))
                except ValueError:
                    self.fail(b"400 Bad Request")
                    return
                if n > MAX_BODY:
                    self.fail(b"413 Payload Too Large")
                    return
                if len(self.buf) < start + n:
                    if headers.get(b"expect", b"").lower() == b"100-continue" and not self.cont:
                        self.cont = True
                        self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    return
                body = bytes(self.buf[start:start + n])
                consumed = start + n
            self.cont = False
            del self.buf[:consumed]
            conn = headers.get(b"connection", b"").lower()
            close = conn == b"close" or (version == b"HTTP/1.0" and conn != b"keep-alive")
            resp, delayed = answer(method, path, headers, body, close)
            slot = [None, close]
            self.pending.append(slot)
            if close:
                self.closing = True
            if delayed and self.delay > 0:
                asyncio.get_running_loop().call_later(self.delay, self.ready, slot, resp)
            else:
                self.ready(slot, resp)

    def dechunk(self, pos):
        out = bytearray()
        while True:
            eol = self.buf.find(b"\r\n", pos)
            if eol < 0:
                return None, 0
            size = int(bytes(self.buf[pos:eol]).split(b";")[0], 16)
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", eol)
                if trailer_end < 0:
                    return None, 0
                return bytes(out), trailer_end + 4
            if len(self.buf) < eol + 2 + size + 2:
                return None, 0
            out += self.buf[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2

    def ready(self, slot, resp):
        slot[0] = resp
        # answers go out in request order, whatever order their timers fire in
        while self.pending and self.pending[0][0] is not None:
            resp, close = self.pending.pop(0)
            if self.transport is None:
                return
            self.transport.write(resp)
            if close:
                self.transport.close()
                return

    def fail(self, status):
        self.closing = True
        if self.transport is not None:
            self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()


def exit_with_parent():
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="fixed delay before every AWS answer")
    ap.add_argument("--exit-with-parent", action="store_true", help="exit when the parent process dies")
    a = ap.parse_args()
    if a.exit_with_parent:
        exit_with_parent()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(a.delay_ms / 1000.0), "127.0.0.1", a.listen_port,
                                      backlog=4096, reuse_address=True)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
