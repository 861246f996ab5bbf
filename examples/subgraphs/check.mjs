// Self-test of the two demo subgraphs, run by ./check: starts both on spare loopback
// ports and checks what the hub relies on: `_service { sdl }`, batched `_entities`
// answers (shapes, determinism, null for ids that are not theirs), the bearer credential
// (401), the call log of forwarded x-mandate-* headers, the fault knobs (503, delay),
// malformed requests (400, 405, 413), composition with a hub-like subgraph through
// @apollo/composition, and the `run` script. Prints `ok N - ...` / `not ok N - ...` and a
// closing `N passed, N failed`; exits 1 on any failure.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { composeServices } from '@apollo/composition';
import { Kind, parse, print } from 'graphql';

import { sdl as housingSdl } from './housing.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const TOKENS = { health: 'check-health-token', housing: 'check-housing-token' };

// --- reporting -------------------------------------------------------------------

let passed = 0;
let failed = 0;
async function check(what, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok ${passed + failed} - ${what}`);
  } catch (err) {
    failed += 1;
    console.log(`not ok ${passed + failed} - ${what}`);
    console.log(`  ${String(err?.stack ?? err).split('\n').slice(0, 6).join('\n  ')}`);
  }
}

// --- processes -------------------------------------------------------------------

const children = [];

/** Starts `<name>.mjs` on a spare port; resolves once it prints its URL. */
function startSubgraph(name, env = {}) {
  const child = spawn(process.execPath, [`${name}.mjs`], {
    cwd: here,
    env: { ...process.env, PORT: '0', SUBGRAPH_TOKEN: TOKENS[name], DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 15 s: ${stderr}`)), 15_000);
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (event.event === 'listening') {
        clearTimeout(timer);
        resolve({ name, url: event.url, token: TOKENS[name], stdout: lines, child });
      }
    });
  });
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}

/** True while `pid` runs (a zombie waiting for its new parent to reap it does not). */
function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function sparePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// --- HTTP --------------------------------------------------------------------------

/** POST /graphql; `headers` are added to (or, with null values, removed from) the defaults. */
async function gql(sg, query, variables, headers = {}) {
  const all = { 'content-type': 'application/json', authorization: `Bearer ${sg.token}`, ...headers };
  for (const [k, v] of Object.entries(all)) if (v === null) delete all[k];
  const started = performance.now();
  const resp = await fetch(`${sg.url}/graphql`, { method: 'POST', headers: all, body: JSON.stringify({ query, variables }) });
  const text = await resp.text();
  return { status: resp.status, body: JSON.parse(text), ms: performance.now() - started };
}

async function json(url, init) {
  const resp = await fetch(url, init);
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : undefined };
}

const control = (sg, update) =>
  json(`${sg.url}/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(update) });
const calls = async (sg) => (await json(`${sg.url}/calls`)).body;
const clearCalls = (sg) => fetch(`${sg.url}/calls`, { method: 'DELETE' });
const codeOf = (body) => body.errors?.[0]?.extensions?.code;

const SERVICE = '{ _service { sdl } }';
const RESIDENTS = `query Residents($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Resident { id vaccinations { vaccine dose date clinic } familyDoctor }
  }
}`;
const BUILDINGS = `query Buildings($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Building { id inspections { date inspector result note } }
  }
}`;
const residents = (...ids) => ids.map((id) => ({ __typename: 'Resident', id }));
const buildings = (...ids) => ids.map((id) => ({ __typename: 'Building', id }));
const range = (prefix, width, from, to) =>
  Array.from({ length: to - from + 1 }, (_, i) => prefix + String(from + i).padStart(width, '0'));

// --- SDL shapes ----------------------------------------------------------------------

/** The user-defined types of an SDL as {Type: {field: "Type!"}} / {Enum: [values]}, federation machinery left out. */
function shapeOf(sdl) {
  const shape = {};
  const typeText = (t) => print(t);
  for (const def of parse(sdl).definitions) {
    const name = def.name?.value;
    if (!name || name.startsWith('_') || name.startsWith('link__') || name.startsWith('federation__') || name === 'Query') continue;
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION) {
      shape[name] = Object.fromEntries(def.fields.map((f) => [f.name.value, typeText(f.type)]));
      const key = def.directives.find((d) => d.name.value === 'key');
      if (key) shape[name]['@key'] = print(key.arguments[0].value);
    } else if (def.kind === Kind.ENUM_TYPE_DEFINITION) {
      shape[name] = def.values.map((v) => v.name.value);
    } else if (def.kind === Kind.SCALAR_TYPE_DEFINITION) {
      shape[name] = 'scalar';
    }
  }
  return shape;
}

const linksFederation23 = (sdl) =>
  /@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.3", import: \["@key"\]\)/.test(sdl);

// --- the checks ------------------------------------------------------------------------

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const inYears = (date) => date >= '2015-01-01' && date <= '2026-12-31';
const HAN = /^[\u4e00-\u9fff]{2,4}$/;

function assertResident(entity, id) {
  assert.equal(entity.__typename, 'Resident');
  assert.equal(entity.id, id);
  assert.ok(Array.isArray(entity.vaccinations) && entity.vaccinations.length <= 4, `0-4 vaccinations for ${id}`);
  const doses = {};
  for (const v of entity.vaccinations) {
    assert.match(v.vaccine, /疫苗$/);
    doses[v.vaccine] = (doses[v.vaccine] ?? 0) + 1;
    assert.equal(v.dose, doses[v.vaccine], 'doses count up per vaccine');
    assert.match(v.date, DATE);
    assert.ok(inYears(v.date), `${v.date} in 2015-2026`);
    assert.match(v.clinic, /社区卫生服务中心$/);
  }
  const dates = entity.vaccinations.map((v) => v.date);
  assert.deepEqual(dates, [...dates].sort(), 'vaccinations oldest first');
  assert.ok(entity.familyDoctor === null || HAN.test(entity.familyDoctor), `family doctor ${entity.familyDoctor}`);
}

function assertBuilding(entity, id) {
  assert.equal(entity.__typename, 'Building');
  assert.equal(entity.id, id);
  assert.ok(Array.isArray(entity.inspections) && entity.inspections.length <= 3, `0-3 inspections for ${id}`);
  for (const i of entity.inspections) {
    assert.match(i.date, DATE);
    assert.ok(inYears(i.date));
    assert.match(i.inspector, HAN);
    assert.ok(['PASSED', 'REMEDIATION_REQUIRED', 'UNSAFE'].includes(i.result));
    assert.ok(i.note === null || (typeof i.note === 'string' && i.note.length > 0));
  }
  const dates = entity.inspections.map((i) => i.date);
  assert.deepEqual(dates, [...new Set(dates)].sort().reverse(), 'inspections newest first');
}

async function main() {
  const [health, housing] = await Promise.all([startSubgraph('health'), startSubgraph('housing')]);
  const both = [health, housing];
  console.log(`# health ${health.url}, housing ${housing.url}`);

  await check('GET /healthz answers 200 on both', async () => {
    for (const sg of both) assert.equal((await fetch(`${sg.url}/healthz`)).status, 200);
  });

  let healthSdl;
  await check('health: `_service { sdl }` is the health commission SDL (printed by @apollo/subgraph)', async () => {
    const { status, body } = await gql(health, SERVICE);
    assert.equal(status, 200);
    healthSdl = body.data._service.sdl;
    assert.ok(linksFederation23(healthSdl), 'links federation v2.3 importing @key');
    assert.deepEqual(shapeOf(healthSdl), {
      Date: 'scalar',
      Resident: { id: 'ID!', vaccinations: '[Vaccination!]', familyDoctor: 'String', '@key': '"id"' },
      Vaccination: { vaccine: 'String!', dose: 'Int!', date: 'Date!', clinic: 'String!' },
    });
  });

  await check('housing: `_service { sdl }` is the housing bureau SDL (written by hand)', async () => {
    const { status, body } = await gql(housing, SERVICE);
    assert.equal(status, 200);
    const sdl = body.data._service.sdl;
    assert.equal(sdl, housingSdl);
    assert.ok(linksFederation23(sdl), 'links federation v2.3 importing @key');
    assert.deepEqual(shapeOf(sdl), {
      Date: 'scalar',
      Building: { id: 'ID!', inspections: '[Inspection!]', '@key': '"id"' },
      Inspection: { date: 'Date!', inspector: 'String!', result: 'InspectionResult!', note: 'String' },
      InspectionResult: ['PASSED', 'REMEDIATION_REQUIRED', 'UNSAFE'],
    });
  });

  await check('health: `_entities` for 3 residents answers 3 residents in order, the same twice', async () => {
    const ids = ['R00000042', 'R00000001', 'R00100000'];
    const first = await gql(health, RESIDENTS, { representations: residents(...ids) });
    assert.equal(first.status, 200);
    assert.equal(first.body.errors, undefined);
    assert.equal(first.body.data._entities.length, 3);
    first.body.data._entities.forEach((e, i) => assertResident(e, ids[i]));
    const second = await gql(health, RESIDENTS, { representations: residents(...ids) });
    assert.deepEqual(second.body, first.body);
  });

  await check('health: over 500 residents the data vary as described (0-4 vaccinations, ~60% with a family doctor)', async () => {
    const ids = range('R', 8, 1, 500);
    const { body } = await gql(health, RESIDENTS, { representations: residents(...ids) });
    const all = body.data._entities;
    all.forEach((e, i) => assertResident(e, ids[i]));
    const counts = new Set(all.map((e) => e.vaccinations.length));
    assert.deepEqual([...counts].sort(), [0, 1, 2, 3, 4]);
    const withDoctor = all.filter((e) => e.familyDoctor !== null).length / all.length;
    assert.ok(withDoctor > 0.5 && withDoctor < 0.7, `${withDoctor} have a family doctor`);
    assert.ok(new Set(all.flatMap((e) => e.vaccinations.map((v) => v.vaccine))).size >= 5, 'several vaccines');
  });

  await check('health: ids that are no resident ids resolve to null, beside one that is', async () => {
    const reps = [...residents('R123', 'X00000001', 'R000000001', 'r00000001'), { __typename: 'Resident', id: 42 }, ...residents('R00000007')];
    const { status, body } = await gql(health, RESIDENTS, { representations: reps });
    assert.equal(status, 200);
    assert.equal(body.errors, undefined);
    assert.deepEqual(body.data._entities.slice(0, 5), [null, null, null, null, null]);
    assertResident(body.data._entities[5], 'R00000007');
  });

  await check('housing: `_entities` for 3 buildings answers 3 buildings in order, newest inspection first, the same twice', async () => {
    const ids = ['B000001', 'B000417', 'B999999'];
    const first = await gql(housing, BUILDINGS, { representations: buildings(...ids) });
    assert.equal(first.status, 200);
    assert.equal(first.body.errors, undefined);
    assert.equal(first.body.data._entities.length, 3);
    first.body.data._entities.forEach((e, i) => assertBuilding(e, ids[i]));
    const second = await gql(housing, BUILDINGS, { representations: buildings(...ids) });
    assert.deepEqual(second.body, first.body);
  });

  await check('housing: over 500 buildings the data vary as described (0-3 inspections, every result)', async () => {
    const ids = range('B', 6, 1, 500);
    const { body } = await gql(housing, BUILDINGS, { representations: buildings(...ids) });
    const all = body.data._entities;
    all.forEach((e, i) => assertBuilding(e, ids[i]));
    assert.deepEqual([...new Set(all.map((e) => e.inspections.length))].sort(), [0, 1, 2, 3]);
    const results = new Set(all.flatMap((e) => e.inspections.map((i) => i.result)));
    assert.deepEqual([...results].sort(), ['PASSED', 'REMEDIATION_REQUIRED', 'UNSAFE']);
  });

  await check('housing: ids that are no building ids resolve to null, beside one that is', async () => {
    const reps = [...buildings('B1', 'R00000001', 'B0000001'), { __typename: 'Building', id: 5 }, ...buildings('B000002')];
    const { status, body } = await gql(housing, BUILDINGS, { representations: reps });
    assert.equal(status, 200);
    assert.equal(body.errors, undefined);
    assert.deepEqual(body.data._entities.slice(0, 4), [null, null, null, null]);
    assertBuilding(body.data._entities[4], 'B000002');
  });

  await check('an entity type a subgraph does not have fails that `_entities` with an error (as @apollo/subgraph does)', async () => {
    const h = await gql(health, RESIDENTS, { representations: buildings('B000001') });
    const b = await gql(housing, BUILDINGS, { representations: residents('R00000001') });
    for (const { status, body } of [h, b]) {
      assert.equal(status, 200);
      assert.equal(body.data, null);
      assert.match(body.errors[0].message, /_entities resolver tried to load an entity for type/);
      assert.deepEqual(body.errors[0].path, ['_entities']);
    }
  });

  await check('401 UNAUTHENTICATED without a token, with a wrong token, with another scheme, with the other subgraph\'s token', async () => {
    for (const sg of both) {
      const other = sg === health ? housing.token : health.token;
      for (const authorization of [null, 'Bearer wrong-token', `Basic ${sg.token}`, `Bearer ${other}`, 'Bearer']) {
        const { status, body } = await gql(sg, SERVICE, undefined, { authorization });
        assert.equal(status, 401, `${sg.name} with ${authorization}`);
        assert.deepEqual(Object.keys(body), ['errors']);
        assert.equal(codeOf(body), 'UNAUTHENTICATED');
        assert.equal(typeof body.errors[0].message, 'string');
      }
      assert.equal((await gql(sg, SERVICE, undefined, { authorization: `bearer ${sg.token}` })).status, 200, 'the scheme is case-insensitive');
    }
  });

  await check('/calls records the forwarded x-mandate-* headers, the operation, the representation counts and the credential', async () => {
    for (const sg of both) {
      assert.equal((await clearCalls(sg)).status, 204);
      assert.deepEqual(await calls(sg), []);
    }
    const forwarded = {
      'x-mandate-agency': 'D-CIVIL_AFFAIRS',
      // An officer's name as UTF-8 bytes on the wire (fetch takes header values as latin1).
      'x-mandate-officer': Buffer.from('民政局:李秀英', 'utf8').toString('latin1'),
      'x-mandate-purpose': 'subsidy_review',
      'x-mandate-case': 'CASE-2026-0042',
      'x-mandate-request-id': 'req-check-1',
    };
    await gql(health, RESIDENTS, { representations: residents('R00000001', 'R00000002', 'bogus') }, forwarded);
    await gql(health, SERVICE, undefined, { ...forwarded, 'x-mandate-request-id': 'req-check-2' });
    await gql(health, SERVICE, undefined, { authorization: null });
    await gql(health, SERVICE, undefined, { authorization: 'Bearer nope' });
    // Literal representations are counted too, and so is a representation without __typename.
    await gql(housing, '{ _entities(representations: [{__typename: "Building", id: "B000001"}, {id: "B000002"}]) { __typename } }', undefined, forwarded);
    await gql(housing, '{ __typename }');
    const h = await calls(health);
    assert.equal(h.length, 4);
    assert.ok(!Number.isNaN(Date.parse(h[0].at)) && h[0].at.endsWith('Z'), 'at is an ISO time');
    const { at, ...first } = h[0];
    assert.deepEqual(first, {
      agency: 'D-CIVIL_AFFAIRS', officer: '民政局:李秀英', purpose: 'subsidy_review', case: 'CASE-2026-0042', requestId: 'req-check-1',
      operation: '_entities', representations: 3, types: { Resident: 3 }, authorization: 'valid', status: 200,
    });
    assert.deepEqual([h[1].operation, h[1].requestId, h[1].representations, h[1].types, h[1].authorization], ['_service', 'req-check-2', 0, {}, 'valid']);
    assert.deepEqual([h[2].authorization, h[2].status, h[2].agency, h[2].operation], ['missing', 401, null, '_service']);
    assert.deepEqual([h[3].authorization, h[3].status], ['invalid', 401]);
    const g = await calls(housing);
    assert.deepEqual(g.map((c) => [c.operation, c.representations, c.types, c.agency]), [
      ['_entities', 2, { Building: 1, '?': 1 }, 'D-CIVIL_AFFAIRS'],
      ['__typename', 0, {}, null],
    ]);
  });

  await check('every call is one JSON line on stdout, and no line holds a token', async () => {
    for (const sg of both) {
      const lines = sg.stdout.map((l) => JSON.parse(l));
      const logged = lines.filter((l) => l.event === 'call');
      assert.ok(logged.length > 10);
      assert.ok(logged.every((l) => l.subgraph === sg.name && typeof l.authorization === 'string'));
      for (const line of sg.stdout) {
        for (const token of Object.values(TOKENS)) assert.ok(!line.includes(token), `a token in: ${line}`);
      }
    }
    const last = (await calls(health)).at(-1);
    const lastLine = health.stdout.map((l) => JSON.parse(l)).filter((l) => l.event === 'call').at(-1);
    assert.deepEqual(lastLine, { event: 'call', subgraph: 'health', ...last });
  });

  await check('/calls keeps the last 1000 calls', async () => {
    await clearCalls(housing);
    for (let batch = 0; batch < 21; batch += 1) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => gql(housing, SERVICE, undefined, { 'x-mandate-request-id': `n${batch * 50 + i}` })));
    }
    const log = await calls(housing);
    assert.equal(log.length, 1000);
    const seen = new Set(log.map((c) => c.requestId));
    assert.equal(seen.size, 1000);
    // 1050 calls in batches of 50: exactly the first batch fell out.
    for (let i = 0; i < 1050; i += 1) assert.equal(seen.has(`n${i}`), i >= 50, `n${i}`);
  });

  await check('POST /control {"fail": true} makes every /graphql answer 503 with a GraphQL error; false restores', async () => {
    for (const sg of both) {
      const set = await control(sg, { fail: true });
      assert.deepEqual([set.status, set.body], [200, { delayMs: 0, fail: true }]);
      assert.deepEqual((await json(`${sg.url}/control`)).body, { delayMs: 0, fail: true });
      for (const authorization of [undefined, null]) {
        const { status, body } = await gql(sg, SERVICE, undefined, authorization === undefined ? {} : { authorization });
        assert.equal(status, 503);
        assert.equal(codeOf(body), 'SERVICE_UNAVAILABLE');
      }
      assert.equal((await fetch(`${sg.url}/healthz`)).status, 200, '/healthz is not failed');
      await control(sg, { fail: false });
      assert.equal((await gql(sg, SERVICE)).status, 200);
    }
  });

  await check('POST /control {"delayMs": 400} delays /graphql answers; 0 removes the delay', async () => {
    for (const sg of both) {
      await control(sg, { delayMs: 400 });
      const slow = await gql(sg, SERVICE);
      assert.equal(slow.status, 200);
      assert.ok(slow.ms >= 390, `${sg.name} answered in ${slow.ms} ms`);
      const slow401 = await gql(sg, SERVICE, undefined, { authorization: null });
      assert.ok(slow401.status === 401 && slow401.ms >= 390, 'a 401 is delayed too');
      await control(sg, { delayMs: 0 });
      const fast = await gql(sg, SERVICE);
      assert.ok(fast.ms < 300, `${sg.name} answered in ${fast.ms} ms`);
    }
  });

  await check('POST /control refuses what it does not know (400) and keeps its settings', async () => {
    for (const body of ['{"delayMs": -1}', '{"delayMs": 1.5}', '{"fail": "yes"}', '{"slow": true}', '[]', 'nope']) {
      const r = await json(`${health.url}/control`, { method: 'POST', body });
      assert.equal(r.status, 400, body);
    }
    assert.deepEqual((await json(`${health.url}/control`)).body, { delayMs: 0, fail: false });
  });

  await check('malformed requests: bad JSON 400, a body over 1 MB 413, GET /graphql 405, unknown path 404, bad GraphQL 400', async () => {
    for (const sg of both) {
      const post = (body, headers = {}) =>
        fetch(`${sg.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${sg.token}`, ...headers }, body });
      let r = await post('{"query": ');
      assert.equal(r.status, 400);
      assert.equal(codeOf(await r.json()), 'BAD_REQUEST');
      for (const body of ['null', '7', '"x"', '{}', '{"query": 1}', '{"query": "{ __typename }", "variables": [1]}', '{"query": "{ __typename }", "operationName": 3}']) {
        r = await post(body);
        assert.equal(r.status, 400, body);
        assert.ok(codeOf(await r.json()));
      }
      r = await post(JSON.stringify({ query: `{ __typename }${' '.repeat(1024 * 1024)}` }));
      assert.equal(r.status, 413);
      assert.equal(codeOf(await r.json()), 'PAYLOAD_TOO_LARGE');
      r = await post(JSON.stringify({ query: '{ _service { sdl ' }));
      assert.equal(r.status, 400);
      assert.equal(codeOf(await r.json()), 'GRAPHQL_PARSE_FAILED');
      r = await post(JSON.stringify({ query: '{ nothing }' }));
      assert.equal(r.status, 400);
      assert.equal(codeOf(await r.json()), 'GRAPHQL_VALIDATION_FAILED');
      r = await post(JSON.stringify({ query: RESIDENTS, variables: { representations: null } }));
      assert.equal(r.status, 400);
      r = await post(JSON.stringify({ query: 'mutation { x }' }));
      assert.equal(r.status, 400);
      r = await fetch(`${sg.url}/graphql?query=%7B__typename%7D`);
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'POST');
      assert.equal((await fetch(`${sg.url}/nowhere`)).status, 404);
      assert.equal((await fetch(`${sg.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${sg.token}` }, body: '\u0000\uffff' })).status, 400);
      assert.equal((await fetch(`${sg.url}/healthz`)).status, 200, `${sg.name} is still up`);
      assert.equal(sg.child.exitCode, null);
    }
  });

  // Composition with a hub-like subgraph, as a router (and mandate's gateway) would compose them.
  const hubLike = parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
    type Query {
      resident(id: ID!): Resident
      building(id: ID!): Building
    }
    type Resident @key(fields: "id") { id: ID! name: String }
    type Building @key(fields: "id") { id: ID! address: String }
  `);
  const compose = (...services) => composeServices([{ name: 'hub', typeDefs: hubLike, url: 'http://127.0.0.1:1/hub' }, ...services]);
  const healthService = () => ({ name: 'health', typeDefs: parse(healthSdl), url: `${health.url}/graphql` });
  const housingService = { name: 'housing', typeDefs: parse(housingSdl), url: `${housing.url}/graphql` };
  const fieldsOf = (supergraph, type) =>
    parse(supergraph).definitions.find((d) => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === type).fields.map((f) => f.name.value);

  await check('@apollo/composition composes the health SDL with a hub-like subgraph (Resident gains vaccinations, familyDoctor)', async () => {
    const result = compose(healthService());
    assert.equal(result.errors, undefined, result.errors?.map((e) => e.message).join('\n'));
    assert.deepEqual(fieldsOf(result.supergraphSdl, 'Resident').sort(), ['familyDoctor', 'id', 'name', 'vaccinations']);
  });

  await check('@apollo/composition composes the housing SDL with a hub-like subgraph (Building gains inspections)', async () => {
    const result = compose(housingService);
    assert.equal(result.errors, undefined, result.errors?.map((e) => e.message).join('\n'));
    assert.deepEqual(fieldsOf(result.supergraphSdl, 'Building').sort(), ['address', 'id', 'inspections']);
  });

  await check('@apollo/composition composes all three together', async () => {
    const result = compose(healthService(), housingService);
    assert.equal(result.errors, undefined, result.errors?.map((e) => e.message).join('\n'));
    assert.match(result.supergraphSdl, /@join__graph\(name: "health"/);
    assert.match(result.supergraphSdl, /@join__graph\(name: "housing"/);
  });

  stopAll();

  // The run script, as a developer uses it.
  const run = promisify(execFile);
  const work = mkdtempSync(join(tmpdir(), 'mandate-subgraphs-check-'));
  try {
    const [hp, gp] = [await sparePort(), await sparePort()];
    const env = {
      ...process.env,
      MANDATE_HEALTH_PORT: String(hp),
      MANDATE_HOUSING_PORT: String(gp),
      MANDATE_SUBGRAPHS_PIDS: join(work, 'pids'),
      MANDATE_SUBGRAPHS_LOGS: work,
      DELAY_MS: '150',
    };
    delete env.SUBGRAPH_TOKEN;
    delete env.MANDATE_HEALTH_TOKEN;
    delete env.MANDATE_HOUSING_TOKEN;
    await check('./run starts both on the given ports with the demo tokens and DELAY_MS, and writes the pid file', async () => {
      const { stdout } = await run(join(here, 'run'), [], { env });
      assert.match(stdout, new RegExp(`http://127\\.0\\.0\\.1:${hp}/graphql`));
      assert.match(stdout, new RegExp(`http://127\\.0\\.0\\.1:${gp}/graphql`));
      const demo = [
        { name: 'health', url: `http://127.0.0.1:${hp}`, token: 'health-demo-token' },
        { name: 'housing', url: `http://127.0.0.1:${gp}`, token: 'housing-demo-token' },
      ];
      for (const sg of demo) {
        assert.deepEqual((await json(`${sg.url}/control`)).body, { delayMs: 150, fail: false });
        const r = await gql(sg, SERVICE);
        assert.equal(r.status, 200);
        assert.ok(r.ms >= 140, `DELAY_MS applies (${r.ms} ms)`);
      }
      assert.equal(readFileSync(join(work, 'pids'), 'utf8').trim().split('\n').length, 2);
    });
    await check('./run refuses to start twice', async () => {
      await assert.rejects(run(join(here, 'run'), [], { env }), (err) => err.code === 1 && /already running/.test(err.stderr));
    });
    await check('./run stop stops both and removes the pid file', async () => {
      const pids = readFileSync(join(work, 'pids'), 'utf8').trim().split('\n').map(Number);
      await run(join(here, 'run'), ['stop'], { env });
      assert.ok(!existsSync(join(work, 'pids')));
      for (const pid of pids) assert.ok(!running(pid), `pid ${pid} is gone`);
      await assert.rejects(fetch(`http://127.0.0.1:${hp}/healthz`));
    });
    await check('./run fails, and leaves nothing running, when a port is taken', async () => {
      const blocker = createServer((socket) => socket.destroy());
      await new Promise((resolve) => blocker.listen(gp, '127.0.0.1', resolve));
      try {
        await assert.rejects(run(join(here, 'run'), [], { env }), (err) => err.code === 1 && /housing did not come up/.test(err.stderr));
        assert.ok(!existsSync(join(work, 'pids')));
        await assert.rejects(fetch(`http://127.0.0.1:${hp}/healthz`), 'health was stopped again');
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });
  } finally {
    await run(join(here, 'run'), ['stop'], { env: { ...process.env, MANDATE_SUBGRAPHS_PIDS: join(work, 'pids') } }).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  failed += 1;
  console.log(`not ok - the check itself failed: ${err?.stack ?? err}`);
} finally {
  stopAll();
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
