// Smoke test of the running peer: every workload of queries.graphql once, answers
// printed and checked against hand-written Cypher over the same Neo4j.
//
//   node server.mjs &      # the peer
//   node smoke.mjs         # exits 1 on the first failed check
//
// Env: PEER_URL (default http://127.0.0.1:${PEER_PORT:-4000}/), NEO4J_URI, NEO4J_USER,
// NEO4J_PASSWORD, PEER_JWT_SECRET (as for server.mjs).
import { readFileSync } from "node:fs";
import { parse, print } from "graphql";
import neo4j from "neo4j-driver";
import { mintToken } from "./token.mjs";

const url = process.env.PEER_URL || `http://127.0.0.1:${process.env.PEER_PORT || 4000}/`;
const GRIDS = ["G00001"];
const AGENCY = "D-GRID_MANAGEMENT-T1";

// One document per named operation of queries.graphql.
const ops = Object.fromEntries(
  parse(readFileSync(new URL("./queries.graphql", import.meta.url), "utf8")).definitions.map((d) => [
    d.name.value,
    print(d),
  ]),
);

const driver = neo4j.driver(
  process.env.NEO4J_URI || "bolt://127.0.0.1:7687",
  neo4j.auth.basic(process.env.NEO4J_USER || "neo4j", process.env.NEO4J_PASSWORD || "mandate-dev-password"),
);
async function cypher(q, params = {}) {
  const s = driver.session({ defaultAccessMode: neo4j.session.READ });
  try {
    return (await s.run(q, params)).records.map((r) => r.toObject());
  } finally {
    await s.close();
  }
}
const str = (v) => (v == null ? v : neo4j.isInt(v) ? v.toNumber() : v.toString());

let failures = 0;
function check(ok, what) {
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function gql(query, variables, token) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}
function show(name, vars, body) {
  const trim = JSON.parse(JSON.stringify(body), (k, v) =>
    k === "edges" && Array.isArray(v) && v.length > 3 ? [...v.slice(0, 3), `… ${v.length - 3} more`] : v,
  );
  console.log(`\n== ${name} ${JSON.stringify(vars)}\n${JSON.stringify(trim)}`);
}
async function run(name, vars, token) {
  const { status, body } = await gql(ops[name], vars, token);
  show(name, vars, body);
  check(status === 200 && !body.errors, `${name}: HTTP 200, no errors`);
  return body.data;
}

// ---- ids from Neo4j ------------------------------------------------------------
const INSIDE = `EXISTS { (r)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid) WHERE g.id IN $grids }`;

const serves = (await cypher(`MATCH (:Department {id: $a})-[:SERVES]->(g:Grid) RETURN g.id AS id ORDER BY id`, { a: AGENCY })).map((r) => r.id);
console.log(`jurisdiction of ${AGENCY} in Neo4j: ${JSON.stringify(serves)}; token grids: ${JSON.stringify(GRIDS)}`);
if (!same(serves, GRIDS)) console.log("  warning: the token's grids differ from the SERVES relationships mandate reads");

const [inside] = await cypher(
  `MATCH (r:Resident)-[:MEMBER_OF]->(h:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid {id: $g})
   WHERE h.memberCount >= 3 RETURN r.id AS r, h.id AS h ORDER BY r.id LIMIT 1`,
  { g: GRIDS[0] },
);
const [outside] = await cypher(
  `MATCH (r:Resident)-[:MEMBER_OF]->(h:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid)
   WHERE NOT g.id IN $grids RETURN r.id AS r, h.id AS h ORDER BY r.id LIMIT 1`,
  { grids: GRIDS },
);
if (!inside || !outside) {
  console.error("no resident inside/outside the grids: is the city seeded?");
  process.exit(1);
}
console.log(`inside: resident ${inside.r}, household ${inside.h}; outside: resident ${outside.r}, household ${outside.h}`);

const token = await mintToken({ grids: GRIDS, sub: AGENCY });

// ---- authentication ----------------------------------------------------------
console.log("\n== authentication");
{
  const none = await gql(ops.Count, {}, null);
  check(!none.body.data && none.body.errors?.[0]?.message === "Unauthenticated", `no token refused (${JSON.stringify(none.body.errors?.[0]?.message)})`);
  const forged = await mintToken({ grids: GRIDS, secret: "not-the-secret-not-the-secret-not-the-secret" });
  const bad = await gql(ops.Count, {}, forged);
  check(!bad.body.data && bad.body.errors?.[0]?.message === "Unauthenticated", "token signed with another secret refused");
  const hidden = await gql(`{ residents(limit: 1) { ethnicity } }`, {}, token);
  check(hidden.body.errors?.[0]?.extensions?.code === "GRAPHQL_VALIDATION_FAILED", "ungranted field (ethnicity) refused by validation");
}

// ---- workloads ---------------------------------------------------------------
{
  const d = await run("Point", { id: inside.r }, token);
  const [e] = await cypher(`MATCH (r:Resident {id: $id}) RETURN r.id AS id, r.name AS name, r.birthDate AS b, r.sex AS sex, r.phone AS phone`, { id: inside.r });
  check(same(d.residents, [{ id: e.id, name: e.name, birthDate: str(e.b), sex: e.sex, phone: e.phone }]), "Point inside: same as Cypher");
  const o = await run("Point", { id: outside.r }, token);
  check(same(o.residents, []), "Point outside: invisible");
}
{
  const d = await run("Nested", { id: inside.r }, token);
  const [e] = await cypher(
    `MATCH (r:Resident {id: $id})-[:MEMBER_OF]->(h)-[:RESIDES_IN]->(b)-[:IN_GRID]->(g) RETURN r.name AS n, h.unit AS u, b.address AS a, g.name AS g`,
    { id: inside.r },
  );
  check(same(d.residents, [{ name: e.n, household: { unit: e.u, building: { address: e.a, grid: { name: e.g } } } }]), "Nested inside: same as Cypher");
  const o = await run("Nested", { id: outside.r }, token);
  check(same(o.residents, []), "Nested outside: invisible");
}
for (const [name, extra, order] of [
  ["ScopedList", "", "r.birthDate, r.id"],
  ["FilteredList", "AND r.sex = 'FEMALE' AND r.birthDate < date('1970-01-01')", "r.birthDate DESC, r.id"],
]) {
  const d = await run(name, {}, token);
  const rows = await cypher(
    `MATCH (r:Resident) WHERE ${INSIDE} ${extra} RETURN r.id AS id, r.name AS name, r.birthDate AS b ORDER BY ${order} LIMIT 50`,
    { grids: GRIDS },
  );
  const [{ c }] = await cypher(`MATCH (r:Resident) WHERE ${INSIDE} ${extra} RETURN count(r) AS c`, { grids: GRIDS });
  const c1 = d.residentsConnection;
  check(c1.totalCount === c.toNumber(), `${name}: totalCount ${c1.totalCount} = Cypher ${c.toNumber()}`);
  check(
    same(c1.edges.map((e) => e.node), rows.map((r) => ({ id: r.id, name: r.name, birthDate: str(r.b) }))),
    `${name}: same ${rows.length} rows in the same order as Cypher`,
  );
}
{
  const d = await run("Members", { id: inside.h }, token);
  const rows = await cypher(
    `MATCH (h:Household {id: $h})<-[m:MEMBER_OF]-(r:Resident) RETURN r.name AS name, r.idNumber AS idn, m.relationToHead AS rel ORDER BY r.id LIMIT 10`,
    { h: inside.h },
  );
  const mask = (s) => s.slice(0, 6) + "********" + s.slice(-4);
  const edges = d.households[0]?.membersConnection.edges ?? [];
  check(edges.length >= 1 && edges.every((e) => /^.{6}\*{8}.{4}$/.test(e.node.idNumber)), "Members: every idNumber masked (6 + ******** + 4)");
  check(
    same(edges, rows.map((r) => ({ properties: { relationToHead: r.rel }, node: { name: r.name, idNumber: mask(r.idn) } }))),
    `Members: same ${rows.length} edges as Cypher (masked)`,
  );
  check(!edges.some((e) => rows.some((r) => r.idn === e.node.idNumber)), "Members: no raw idNumber sent");
  const o = await run("Members", { id: outside.h }, token);
  check(same(o.households, []), "Members outside household: invisible");
}
{
  const d = await run("Count", {}, token);
  const [{ c }] = await cypher(`MATCH (r:Resident) WHERE ${INSIDE} RETURN count(r) AS c`, { grids: GRIDS });
  check(d.residentsConnection.totalCount === c.toNumber(), `Count: ${d.residentsConnection.totalCount} = Cypher ${c.toNumber()}`);
}
{
  const d = await run("DenyHeavy", { id: inside.r }, token);
  check(same(d.residents, [{ id: inside.r, household: { id: inside.h } }]), "DenyHeavy inside: id and household id");
  const o = await run("DenyHeavy", { id: outside.r }, token);
  check(same(o.residents, []), "DenyHeavy outside: invisible");
}

// ---- row scope of the other types (not a workload) ------------------------------
console.log("\n== row scope on every type");
{
  const { body } = await gql(
    `{ householdsConnection { totalCount } buildingsConnection { totalCount } gridsConnection { totalCount edges { node { id } } }
       communitiesConnection { totalCount edges { node { id grids(limit: 100) { id } } } } }`,
    {},
    token,
  );
  const [e] = await cypher(
    `MATCH (g:Grid) WHERE g.id IN $grids
     OPTIONAL MATCH (g)<-[:IN_GRID]-(b:Building) OPTIONAL MATCH (b)<-[:RESIDES_IN]-(h:Household)
     RETURN count(DISTINCT h) AS h, count(DISTINCT b) AS b, [(g)-[:PART_OF]->(c:Community) | c.id] AS c`,
    { grids: GRIDS },
  );
  const d = body.data;
  check(d.householdsConnection.totalCount === e.h.toNumber(), `households: ${d.householdsConnection.totalCount} = Cypher ${e.h}`);
  check(d.buildingsConnection.totalCount === e.b.toNumber(), `buildings: ${d.buildingsConnection.totalCount} = Cypher ${e.b}`);
  check(same(d.gridsConnection.edges.map((x) => x.node.id), GRIDS), `grids: only ${GRIDS}`);
  check(
    same(d.communitiesConnection.edges.map((x) => x.node.id), e.c) &&
      same(d.communitiesConnection.edges[0].node.grids.map((g) => g.id), GRIDS),
    `communities: only ${e.c}, and inside it only the grids in scope`,
  );
}

await driver.close();
console.log(`\n${failures === 0 ? "smoke passed" : `smoke FAILED: ${failures} check(s)`}`);
process.exit(failures === 0 ? 0 : 1);
