#!/usr/bin/env python3
"""Launch a moto server with IAM enforcement ON and per-table DynamoDB IAM.

Used by scripts/localaws/localaws.sh, the demo, the Python proofs in tests/infra/
and the Rust integration tests.
- INITIAL_NO_AUTH_ACTION_COUNT (default 8) lets the first N requests through
  unauthenticated; `localaws.py bootstrap` uses them to create an admin user,
  then closes the allowance.
- moto evaluates DynamoDB policies against resource "*"; we give DynamoHandler a
  _determine_resource() returning arn:aws:dynamodb:{region}:{account}:table/{name}
  so table-scoped policies behave as in AWS.

Usage: moto_server.py --port N [--host 127.0.0.1] [--exit-with-parent]
"""
import argparse
import json
import os
import threading
import time

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# moto.settings reads this at import time: set it before importing moto.
os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "8")

from moto.dynamodb.responses import DynamoHandler  # noqa: E402
from moto.server import main as moto_main  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402


def _table_names(body):
    """Table names a DynamoDB request addresses (single-table ops, batch and transact ops)."""
    if body.get("TableName"):
        return [body["TableName"]]
    if body.get("ResourceArn"):  # TagResource, ListTagsOfResource, *ResourcePolicy
        return [body["ResourceArn"]]
    names = list((body.get("RequestItems") or {}).keys())  # BatchGetItem / BatchWriteItem
    for item in body.get("TransactItems") or []:  # TransactGetItems / TransactWriteItems
        for op in item.values():
            if isinstance(op, dict) and op.get("TableName"):
                names.append(op["TableName"])
    return sorted(set(names))


def _determine_resource(self):
    body = getattr(self, "body", None) or {}
    if not body:
        try:
            body = json.loads(self.raw_body or b"{}")
        except (ValueError, TypeError):
            body = {}
    names = _table_names(body) if isinstance(body, dict) else []
    # moto authorizes one resource per request: a multi-table batch stays "*".
    if len(names) != 1:
        return "*"
    name = names[0]
    if name.startswith("arn:"):
        return name
    return f"arn:{get_partition(self.region)}:dynamodb:{self.region}:{self.current_account}:table/{name}"


DynamoHandler._determine_resource = _determine_resource


def _exit_with_parent():
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args()
    if args.exit_with_parent:
        _exit_with_parent()
    moto_main(["--host", args.host, "--port", str(args.port)])
