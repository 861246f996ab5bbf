#!/usr/bin/env bash
# Asks as: agency D-CIVIL_AFFAIRS (民政局), role caseworker, purpose subsidy_review (低保审核).
# Why: a caseworker reviewing minimum-living-allowance (低保) applications lists the low-income
# residents the bureau may see, two pages of 20 following the cursor. The responsibility list
# grants their ID number masked to its region (keep_start: 340102************) and the phone
# masked (138****5678): enough to tell residents apart at the counter, not to identify them.
#
# Environment: MANDATE_DEMO_URL (the hub's base URL); MANDATE_TOKEN, or MANDATE_BIN and
# MANDATE_CONFIG (absolute paths) to mint one with `mandate token`.
# Needs curl and jq. Exits 1 on a GraphQL error (its extensions.code printed) or a wrong answer.
set -euo pipefail

AGENCY=D-CIVIL_AFFAIRS ROLE=caseworker PURPOSE=subsidy_review CASE=MZ-DB-2026-0117
: "${MANDATE_DEMO_URL:?set MANDATE_DEMO_URL}"
if [[ -z ${MANDATE_TOKEN:-} ]]; then
  : "${MANDATE_BIN:?set MANDATE_TOKEN, or MANDATE_BIN and MANDATE_CONFIG}" "${MANDATE_CONFIG:?set MANDATE_CONFIG}"
  MANDATE_TOKEN=$("$MANDATE_BIN" --config "$MANDATE_CONFIG" token \
    --agency "$AGENCY" --role "$ROLE" --purpose "$PURPOSE")
fi

QUERY='query LowIncome($after: String) {
  residents(first: 20, after: $after, where: { lowIncome: { eq: true } }, orderBy: [{ field: ID, direction: ASC }]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name idNumber phone } }
  }
}'

fail() { echo "curl client: $*" >&2; exit 1; }

# One page: $1 is the cursor to start after ("" for the first page). Prints the response body.
page() {
  local body
  body=$(jq -n --arg q "$QUERY" --arg after "$1" \
    '{query: $q, variables: {after: (if $after == "" then null else $after end)}}')
  curl --silent --show-error --max-time 30 "$MANDATE_DEMO_URL/graphql" \
    -H 'content-type: application/json' \
    -H 'accept: application/graphql-response+json' \
    -H "authorization: Bearer $MANDATE_TOKEN" \
    -H "x-mandate-purpose: $PURPOSE" \
    -H "x-mandate-case: $CASE" \
    --data "$body"
}

# A GraphQL error is reported by its code, whatever the HTTP status.
check_errors() {
  if jq -e '(.errors // []) | length > 0' <<<"$1" >/dev/null; then
    jq -r '.errors[] | "error \(.extensions.code // "NO_CODE"): \(.message)"' <<<"$1" >&2
    exit 1
  fi
}

first=$(page "")
check_errors "$first"
cursor=$(jq -r '.data.residents.pageInfo.endCursor // ""' <<<"$first")
[[ $(jq -r '.data.residents.pageInfo.hasNextPage' <<<"$first") == true && -n $cursor ]] ||
  fail "expected a second page (totalCount $(jq '.data.residents.totalCount' <<<"$first"))"
second=$(page "$cursor")
check_errors "$second"

rows=$(jq -s -c '[.[].data.residents.edges[].node]' <<<"$first$second")
n=$(jq 'length' <<<"$rows")
(( n > 20 )) || fail "expected more than one page of residents, got $n"
[[ $(jq '[.[].id] | unique | length' <<<"$rows") == "$n" ]] || fail "the pages overlap"
# keep_start: the six-digit region code, then twelve asterisks.
jq -e 'all(.[]; .idNumber | test("^[0-9]{6}\\*{12}$"))' <<<"$rows" >/dev/null ||
  fail "an ID number is not masked: $(jq -c '[.[].idNumber]' <<<"$rows")"
jq -e 'all(.[]; .phone == null or (.phone | test("^[0-9]{3}\\*{4}[0-9]{4}$")))' <<<"$rows" >/dev/null ||
  fail "a phone number is not masked"

jq -r '.[] | "\(.id)\t\(.name)\t\(.idNumber)\t\(.phone // "-")"' <<<"$rows" | head -5
echo "curl client: $n of $(jq '.data.residents.totalCount' <<<"$first") low-income residents over 2 pages, ID numbers masked"
