#!/usr/bin/env python3
"""A health commission's home-visit list, asked of the mandate hub with the standard library.

Asks as: agency D-HEALTH (卫生健康委员会), role health_officer, purpose
elderly_health_service (老年人和残疾人健康管理).
Why: a community health centre plans home visits (上门服务) to residents with a registered
disability. It needs who they are, where they live and a way to tell them apart; the
responsibility list grants the ID number masked to its region (340102************) and the
phone masked (138****5678). It pages through the list with the cursor, up to three pages.

Environment: MANDATE_DEMO_URL (the hub's base URL); MANDATE_TOKEN, or MANDATE_BIN and
MANDATE_CONFIG (absolute paths) to mint one with `mandate token`.
Exits 1 on a GraphQL error (its extensions.code printed) or a wrong answer.
"""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

AGENCY = "D-HEALTH"
ROLE = "health_officer"
PURPOSE = "elderly_health_service"
CASE = "WJ-JKGL-2026-0388"

QUERY = """
query HomeVisits($after: String) {
  residents(
    first: 25
    after: $after
    where: { NOT: { disabilityStatus: { eq: NONE } } }
    orderBy: [{ field: ID, direction: ASC }]
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id name birthDate disabilityStatus idNumber phone
        household { unit building { address } }
      }
    }
  }
}
"""

MASKED_ID = re.compile(r"^[0-9]{6}\*{12}$")
MASKED_PHONE = re.compile(r"^[0-9]{3}\*{4}[0-9]{4}$")


class GraphQLError(Exception):
    """The hub answered with errors; each carries a stable extensions.code."""


class WrongAnswer(Exception):
    """The answer does not have the shape the mandate promises."""


def check(condition: bool, message: str) -> None:
    # Not `assert`: `python -O` would drop the checks.
    if not condition:
        raise WrongAnswer(message)


def token() -> str:
    if os.environ.get("MANDATE_TOKEN"):
        return os.environ["MANDATE_TOKEN"].strip()
    binary, config = os.environ.get("MANDATE_BIN"), os.environ.get("MANDATE_CONFIG")
    if not binary or not config:
        sys.exit("python client: set MANDATE_TOKEN, or MANDATE_BIN and MANDATE_CONFIG")
    return subprocess.run(
        [binary, "--config", config, "token", "--agency", AGENCY, "--role", ROLE, "--purpose", PURPOSE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def ask(url: str, bearer: str, query: str, variables: dict) -> dict:
    """POSTs one GraphQL request; returns `data`, or raises GraphQLError."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/graphql-response+json",
            "authorization": f"Bearer {bearer}",
            "x-mandate-purpose": PURPOSE,
            "x-mandate-case": CASE,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
    except urllib.error.HTTPError as e:
        # A refusal (401, 403, 400, 429 ...) still carries a GraphQL body with the code.
        try:
            body = json.load(e)
        except ValueError:
            raise GraphQLError(f"HTTP {e.code} without a GraphQL body") from e
    if body.get("errors"):
        raise GraphQLError(
            "; ".join(
                f"{(err.get('extensions') or {}).get('code', 'NO_CODE')}: {err.get('message')}"
                for err in body["errors"]
            )
        )
    return body["data"]


def main() -> int:
    base = os.environ.get("MANDATE_DEMO_URL")
    if not base:
        sys.exit("python client: set MANDATE_DEMO_URL")
    url = base.rstrip("/") + "/graphql"
    bearer = token()

    rows, after, total = [], None, 0
    for _ in range(3):
        page = ask(url, bearer, QUERY, {"after": after})["residents"]
        total = page["totalCount"]
        rows += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    check(bool(rows), "no resident with a registered disability")
    check(len({r["id"] for r in rows}) == len(rows), "the pages overlap")
    for r in rows:
        check(r["disabilityStatus"] != "NONE", f"not disabled: {r}")
        check(bool(MASKED_ID.match(r["idNumber"] or "")), f"ID number not masked: {r['idNumber']}")
        check(r["phone"] is None or bool(MASKED_PHONE.match(r["phone"])), f"phone not masked: {r['phone']}")
        check(r["household"] is None or bool(r["household"]["building"]["address"]), f"no address: {r}")

    for r in rows[:5]:
        home = r["household"] and f"{r['household']['building']['address']} {r['household']['unit']}"
        print(f"{r['id']}\t{r['name']}\t{r['disabilityStatus']}\t{r['idNumber']}\t{home or '-'}")
    print(f"python client: {len(rows)} of {total} residents with a disability, ID numbers masked")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GraphQLError as e:
        print(f"python client: error {e}", file=sys.stderr)
        sys.exit(1)
    except urllib.error.URLError as e:
        print(f"python client: cannot reach the hub: {e.reason}", file=sys.stderr)
        sys.exit(1)
    except WrongAnswer as e:
        print(f"python client: wrong answer: {e}", file=sys.stderr)
        sys.exit(1)
