"""`make demo`: create a demo organisation on the running local stack and print its API key.

    .venv/bin/python -m local.demo [--name "Demo GmbH"]

Talks HTTP only (POST /v1/orgs with the admin key), exactly as any client would; the stack itself never seeds
anything. Environment: PORT (3000) or POSTAL_URL, POSTAL_ADMIN_KEY (local-admin-key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from local.provision import DEFAULT_ADMIN_KEY


def create_org(base_url: str, admin_key: str, name: str) -> dict[str, Any]:
    """POST /v1/orgs; returns the decoded response (the org and its API key, shown once)."""
    request = urllib.request.Request(
        f"{base_url}/v1/orgs",
        data=json.dumps({"name": name}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def main(argv: list[str] | None = None) -> int:
    """Create the org and print how to use it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="Demo Org", help="organisation name")
    args = parser.parse_args(argv)
    base_url = os.environ.get("POSTAL_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '3000')}"
    admin_key = os.environ.get("POSTAL_ADMIN_KEY") or DEFAULT_ADMIN_KEY
    try:
        created = create_org(base_url, admin_key, args.name)
    except urllib.error.HTTPError as exc:
        print(f"POST {base_url}/v1/orgs answered {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"cannot reach {base_url} ({exc.reason}); is `make run` running?", file=sys.stderr)
        return 1
    org = created.get("org", created)
    org_id, api_key = org.get("org_id"), created.get("api_key")
    print(f"org_id   {org_id}")
    print(f"api_key  {api_key}")
    print(f'try      curl -H "Authorization: Bearer {api_key}" {base_url}/v1/orgs/{org_id}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
