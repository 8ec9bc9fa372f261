#!/usr/bin/env python3
"""A local CloudTrail for the tests and the demo: LookupEvents answered from seeded events.

  cloudtrail.py [--host 127.0.0.1] [--port 0] [--exit-with-parent]

moto's CloudTrail does not record the calls made against it, so "what changed" is tested
against this. It speaks CloudTrail's wire protocol (awsJson1_1, X-Amz-Target
CloudTrail_20131101.LookupEvents) as docs/what-changed.md describes it, with AWS's rules:
one lookup attribute per call (EventId, EventName, ReadOnly, Username, ResourceType,
ResourceName, EventSource, AccessKeyId), StartTime/EndTime (seconds since the epoch,
StartTime after EndTime is an error), newest first, MaxResults 1 to 50 (default 50), and
NextToken pages that must be asked for with the same parameters.

Control (plain JSON, for tests and the demo; not part of AWS's API):
  POST /_seed   {"events": [RECORD, ...]}   add CloudTrail records (the CloudTrailEvent JSON:
                eventID, eventName, eventTime ISO-8601, eventSource, readOnly, userIdentity,
                requestParameters, ...). Their lookup resources are "lookupResources" when
                given, else derived from requestParameters (roleName, userName, policyArn,
                tableName, resourceArn's table, keyId) as CloudTrail's event history lists them.
  POST /_mode   {"mode": "ok"} | {"mode": "refuse"} | {"mode": "throttle", "count": N}
                (the next N calls throttled) | {"mode": "silent"} (accept, never answer)
  GET  /_calls  the LookupEvents requests received, in order
  POST /_reset  forget events, calls and mode
With --port 0 the chosen port is printed first as "PORT <n>".
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "CloudTrail_20131101.LookupEvents"
KEYS = {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
        "EventSource", "AccessKeyId"}

STATE = {"events": [], "calls": [], "mode": "ok", "throttle": 0}
LOCK = threading.Lock()


def epoch(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def resources(record):
    """The (type, name) pairs CloudTrail's event history lists for a record."""
    if "lookupResources" in record:
        return [(r["ResourceType"], r["ResourceName"]) for r in record["lookupResources"]]
    p = record.get("requestParameters") or {}
    out = []
    if p.get("roleName"):
        out.append(("AWS::IAM::Role", p["roleName"]))
    if p.get("userName"):
        out.append(("AWS::IAM::User", p["userName"]))
    if p.get("policyArn"):
        out.append(("AWS::IAM::Policy", p["policyArn"]))
    if p.get("tableName"):
        out.append(("AWS::DynamoDB::Table", p["tableName"].split(":table/")[-1]))
    if p.get("resourceArn") and ":table/" in p["resourceArn"]:
        out.append(("AWS::DynamoDB::Table", p["resourceArn"].split(":table/")[-1].split("/")[0]))
    if p.get("keyId"):
        out.append(("AWS::KMS::Key", p["keyId"]))
    return out


def as_event(record):
    """The LookupEvents answer's Event for a record."""
    ident = record.get("userIdentity") or {}
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record.get("readOnly") else "false",
        "AccessKeyId": ident.get("accessKeyId", ""),
        "EventTime": epoch(record["eventTime"]),
        "EventSource": record.get("eventSource", ""),
        "Username": ident.get("userName") or (ident.get("arn", "").rsplit("/", 1)[-1]),
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in resources(record)],
        "CloudTrailEvent": json.dumps(record),
    }


def matches(record, key, value):
    ev = as_event(record)
    if key == "ResourceName":
        return any(r["ResourceName"] == value for r in ev["Resources"])
    if key == "ResourceType":
        return any(r["ResourceType"] == value for r in ev["Resources"])
    return str(ev.get(key, "")) == value


class Error(Exception):
    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def token_for(body, offset):
    basis = json.dumps({k: body.get(k) for k in ("LookupAttributes", "StartTime", "EndTime")},
                       sort_keys=True)
    digest = hashlib.sha256(basis.encode()).hexdigest()[:16]
    return base64.b64encode(f"{offset}:{digest}".encode()).decode()


def lookup(body):
    attrs = body.get("LookupAttributes") or []
    if len(attrs) > 1:
        raise Error(400, "InvalidLookupAttributesException",
                    "You cannot specify more than one lookup attribute.")
    for a in attrs:
        if a.get("AttributeKey") not in KEYS or not a.get("AttributeValue"):
            raise Error(400, "InvalidLookupAttributesException",
                        f"Invalid lookup attribute: {a.get('AttributeKey')}")
    start, end = body.get("StartTime"), body.get("EndTime")
    if start is not None and end is not None and start > end:
        raise Error(400, "InvalidTimeRangeException",
                    "The start time must be before the end time.")
    n = body.get("MaxResults", 50)
    if not isinstance(n, int) or not 1 <= n <= 50:
        raise Error(400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    with LOCK:
        events = list(STATE["events"])
    hits = [e for e in events
            if (start is None or epoch(e["eventTime"]) >= start)
            and (end is None or epoch(e["eventTime"]) <= end)
            and all(matches(e, a["AttributeKey"], a["AttributeValue"]) for a in attrs)]
    hits.sort(key=lambda e: epoch(e["eventTime"]), reverse=True)
    offset = 0
    if body.get("NextToken"):
        try:
            raw, digest = base64.b64decode(body["NextToken"]).decode().split(":", 1)
            offset = int(raw)
        except Exception:
            raise Error(400, "InvalidNextTokenException", "Invalid NextToken.")
        if token_for(body, offset) != body["NextToken"]:
            raise Error(400, "InvalidNextTokenException",
                        "The NextToken was issued for other parameters.")
    page = hits[offset:offset + n]
    out = {"Events": [as_event(e) for e in page]}
    if offset + n < len(hits):
        out["NextToken"] = token_for(body, offset + n)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def send(self, status, obj, content_type="application/x-amz-json-1.1"):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "ct-" + hashlib.md5(data).hexdigest()[:12])
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw or b"{}")

    def do_GET(self):
        if self.path == "/_calls":
            with LOCK:
                return self.send(200, STATE["calls"], "application/json")
        self.send(404, {"message": "not found"}, "application/json")

    def do_POST(self):
        if self.path == "/_seed":
            events = self.body().get("events", [])
            with LOCK:
                STATE["events"].extend(events)
            return self.send(200, {"seeded": len(events)}, "application/json")
        if self.path == "/_mode":
            b = self.body()
            with LOCK:
                STATE["mode"] = b.get("mode", "ok")
                STATE["throttle"] = int(b.get("count", 0))
            return self.send(200, {"mode": STATE["mode"]}, "application/json")
        if self.path == "/_reset":
            with LOCK:
                STATE.update(events=[], calls=[], mode="ok", throttle=0)
            return self.send(200, {}, "application/json")
        target = self.headers.get("X-Amz-Target", "")
        body = self.body()
        with LOCK:
            STATE["calls"].append({"target": target, "body": body,
                                   "signed": bool(self.headers.get("Authorization"))})
            mode = STATE["mode"]
            throttled = mode == "throttle" and STATE["throttle"] > 0
            if throttled:
                STATE["throttle"] -= 1
        if target != TARGET:
            return self.send(400, {"__type": "UnknownOperationException",
                                   "message": f"unknown operation {target}"})
        if mode == "silent":
            time.sleep(120)
            return
        if mode == "refuse":
            return self.send(400, {"__type": "AccessDeniedException", "Message":
                                   "User: arn:aws:iam::123456789012:user/canary is not authorized "
                                   "to perform: cloudtrail:LookupEvents because no identity-based "
                                   "policy allows the cloudtrail:LookupEvents action"})
        if throttled:
            return self.send(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
        try:
            return self.send(200, lookup(body))
        except Error as e:
            return self.send(e.status, {"__type": e.kind, "message": e.message})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--exit-with-parent", action="store_true")
    a = ap.parse_args()
    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    if a.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.3)
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
