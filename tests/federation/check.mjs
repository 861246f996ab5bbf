// mandate behind Apollo's own libraries, as a router would run it:
//
//   1. the hub's federation SDL (`mandate sdl --federation`, the same text as
//      `_service { sdl }` on /subgraph) composes with a second subgraph built
//      with @apollo/subgraph (health-subgraph.mjs) through @apollo/composition;
//   2. @apollo/gateway, given that static supergraph, serves both, forwarding
//      each caller's credential, purpose and case to the hub;
//   3. the same queries, asked as two agencies (the public security bureau's
//      household-registration officer and the civil affairs bureau's caseworker
//      reviewing subsidies), answer exactly what each mandate allows, with entity
//      fetches in both directions (hub -> health for `vaccinations`, health ->
//      hub for a clinic's patients), and a reference to a resident outside the
//      caseworker's mandate nulls only that resident's hub fields.
//
// Run by ./check, which builds and starts the hub; it passes MANDATE_BIN,
// MANDATE_CONFIG, HUB_URL, HUB_SDL, HEALTH_PORT and GATEWAY_PORT.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { parse } from 'graphql';

import { startHealth, typeDefs as healthTypeDefs, vaccinationsOf } from './health-subgraph.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run tests/federation/check)`);
  return v;
};
const HUB_URL = env('HUB_URL');
const HEALTH_PORT = Number(env('HEALTH_PORT'));
const GATEWAY_PORT = Number(env('GATEWAY_PORT'));

const PS = { agency: 'D-PUBLIC_SECURITY', role: 'officer', purpose: 'household_registration' };
const CA = { agency: 'D-CIVIL_AFFAIRS', role: 'caseworker', purpose: 'subsidy_review' };

function token(who) {
  return execFileSync(
    env('MANDATE_BIN'),
    ['--config', env('MANDATE_CONFIG'), 'token', '--agency', who.agency, '--role', who.role,
      '--purpose', who.purpose, '--officer', `federation-check:${who.agency}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  ).trim();
}
for (const who of [PS, CA]) who.token = token(who);

const headers = (who) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${who.token}`,
  'x-mandate-purpose': who.purpose,
  'x-mandate-case': 'FED-CHECK-1',
});

async function post(url, who, query, variables = {}) {
  const resp = await fetch(url, { method: 'POST', headers: headers(who), body: JSON.stringify({ query, variables }) });
  const body = await resp.json();
  return { status: resp.status, body };
}

const codes = (body) => (body.errors ?? []).map((e) => e.extensions?.code);
let checks = 0;
const ok = (what) => {
  checks += 1;
  console.log(`  ok ${checks} - ${what}`);
};

// --- the hub's SDL ----------------------------------------------------------
const hubSdl = readFileSync(env('HUB_SDL'), 'utf8');
{
  const { body } = await post(`${HUB_URL}/subgraph`, CA, '{ _service { sdl } }');
  assert.equal(body.data?._service?.sdl?.trim(), hubSdl.trim(), 'the SDL /subgraph serves is `mandate sdl --federation`');
  const ps = await post(`${HUB_URL}/subgraph`, PS, '{ _service { sdl } }');
  assert.equal(ps.body.data._service.sdl, body.data._service.sdl, 'one SDL for every agency');
  ok('`_service { sdl }` on /subgraph is `mandate sdl --federation`, the same for every agency');
}

// --- residents inside and outside the caseworker's mandate, asked directly ---
const direct = async (who, query) => {
  const { body } = await post(`${HUB_URL}/graphql`, who, query);
  assert.equal(body.errors, undefined, JSON.stringify(body));
  return body.data;
};
const insideIds = (await direct(CA,
  '{ residents(first: 2, where: {elderlyLivingAlone: {eq: true}}, orderBy: [{field: ID}]) { edges { node { id } } } }'))
  .residents.edges.map((e) => e.node.id);
assert.equal(insideIds.length, 2);
let outsideId;
{
  const candidates = (await direct(PS,
    '{ residents(first: 50, orderBy: [{field: ID}]) { edges { node { id } } } }'))
    .residents.edges.map((e) => e.node.id);
  for (const id of candidates) {
    const seen = await direct(CA, `{ resident(id: "${id}") { id } }`);
    if (seen.resident === null) {
      outsideId = id;
      break;
    }
  }
  assert.ok(outsideId, 'a resident outside the caseworker\'s mandate');
}
const patients = [insideIds[0], outsideId, insideIds[1]];

// --- compose ----------------------------------------------------------------
const health = await startHealth(HEALTH_PORT, patients);
const composed = composeServices([
  { name: 'hub', typeDefs: parse(hubSdl), url: `${HUB_URL}/subgraph` },
  { name: 'health', typeDefs: healthTypeDefs, url: health.url },
]);
assert.deepEqual((composed.errors ?? []).map((e) => e.message), [], 'the supergraph composes');
ok('the federation SDL composes with an @apollo/subgraph service (@apollo/composition)');

// --- the gateway, forwarding who asks ----------------------------------------
const hubCalls = [];
const gateway = new ApolloGateway({
  supergraphSdl: composed.supergraphSdl,
  buildService({ name, url }) {
    return new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        if (name === 'hub') hubCalls.push(request.query);
        for (const h of ['authorization', 'x-mandate-purpose', 'x-mandate-case']) {
          const v = context.headers?.[h];
          if (v) request.http.headers.set(h, v);
        }
      },
    });
  },
});
const server = new ApolloServer({ gateway });
const { url: gatewayUrl } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: GATEWAY_PORT },
  context: async ({ req }) => ({ headers: req.headers }),
});

const ask = async (who, query) => {
  hubCalls.length = 0;
  health.calls.length = 0;
  const { status, body } = await post(gatewayUrl, who, query);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
};

try {
  // 1. hub -> health: a hub resident, extended with the health subgraph's field.
  const one = `{ resident(id: "${insideIds[0]}") { id name idNumber ethnicity vaccinations { vaccine date } } }`;
  const ps1 = await ask(PS, one);
  assert.equal(ps1.errors, undefined, JSON.stringify(ps1));
  assert.match(ps1.data.resident.idNumber, /^[0-9]{17}[0-9X]$/);
  assert.equal(typeof ps1.data.resident.ethnicity, 'string');
  assert.deepEqual(ps1.data.resident.vaccinations, vaccinationsOf(insideIds[0]));
  assert.ok(health.calls.some((q) => q.includes('_entities')), 'the gateway fetched Resident entities from health');
  ok('public security: a resident in full, extended with health\'s vaccinations (hub -> health entity fetch)');

  const ca1 = await ask(CA, one);
  assert.equal(ca1.data.resident.id, insideIds[0]);
  assert.equal(ca1.data.resident.name, ps1.data.resident.name);
  assert.match(ca1.data.resident.idNumber, /^[0-9]{6}\*{12}$/, 'masked keep_start');
  assert.equal(ca1.data.resident.ethnicity, null);
  assert.deepEqual(ca1.data.resident.vaccinations, vaccinationsOf(insideIds[0]));
  assert.deepEqual(codes(ca1), ['FIELD_NOT_GRANTED'], JSON.stringify(ca1));
  ok('civil affairs: the same resident masked, `ethnicity` null with FIELD_NOT_GRANTED, vaccinations intact');

  // 2. health -> hub: the clinic's patients are references the hub resolves.
  const clinics = '{ clinics { id name patients { id name birthDate idNumber vaccinations { vaccine } } } }';
  const ps2 = await ask(PS, clinics);
  assert.equal(ps2.errors, undefined, JSON.stringify(ps2));
  const psPatients = ps2.data.clinics[0].patients;
  assert.deepEqual(psPatients.map((p) => p.id), patients);
  assert.ok(psPatients.every((p) => typeof p.name === 'string' && typeof p.birthDate === 'string'));
  assert.ok(hubCalls.some((q) => q.includes('_entities')), 'the gateway fetched Resident entities from the hub');
  ok('public security: every patient of the clinic resolved by the hub (health -> hub entity fetch)');

  const ca2 = await ask(CA, clinics);
  assert.notEqual(ca2.data, null, 'one out-of-mandate reference does not null the answer');
  const caPatients = ca2.data.clinics[0].patients;
  assert.equal(ca2.data.clinics[0].name, ps2.data.clinics[0].name);
  assert.deepEqual(caPatients.map((p) => p.id), patients);
  for (const i of [0, 2]) {
    assert.equal(caPatients[i].name, psPatients[i].name);
    assert.equal(caPatients[i].birthDate, psPatients[i].birthDate);
    assert.match(caPatients[i].idNumber, /^[0-9]{6}\*{12}$/);
  }
  assert.equal(caPatients[1].name, null, 'outside the mandate: null, as a missing resident');
  assert.equal(caPatients[1].birthDate, null);
  assert.equal(caPatients[1].idNumber, null);
  assert.deepEqual(caPatients[1].vaccinations, vaccinationsOf(outsideId).map(({ vaccine }) => ({ vaccine })),
    'health\'s own fields stay');
  assert.deepEqual(codes(ca2), [], JSON.stringify(ca2.errors));
  ok('civil affairs: the patient outside its mandate has null hub fields; the other patients and the clinic are intact');

  // 3. A list from the hub, each row extended by health; and a filter on a
  // field outside the plan, refused with the code through the gateway.
  const list = '{ residents(first: 3, orderBy: [{field: ID}]) { totalCount edges { node { id phone vaccinations { vaccine } } } } }';
  const ps3 = await ask(PS, list);
  const ca3 = await ask(CA, list);
  assert.equal(ps3.errors, undefined, JSON.stringify(ps3));
  assert.equal(ca3.errors, undefined, JSON.stringify(ca3));
  assert.ok(ps3.data.residents.totalCount >= ca3.data.residents.totalCount);
  for (const e of ca3.data.residents.edges) {
    assert.ok(e.node.phone === null || /^\d{3}\*{4}\d{4}$/.test(e.node.phone), e.node.phone);
    assert.deepEqual(e.node.vaccinations.map((v) => v.vaccine), vaccinationsOf(e.node.id).map((v) => v.vaccine));
  }
  ok('a hub list through the gateway: each agency its own rows and masks, each row extended by health');

  const filtered = await ask(CA, '{ residents(where: {ethnicity: {eq: \"汉族\"}}) { totalCount } }');
  assert.equal(filtered.data?.residents ?? null, null);
  assert.deepEqual(codes(filtered), ['FIELD_NOT_GRANTED'], JSON.stringify(filtered));
  const allowed = await ask(PS, '{ residents(where: {ethnicity: {eq: \"汉族\"}}) { totalCount } }');
  assert.equal(allowed.errors, undefined, JSON.stringify(allowed));
  assert.ok(allowed.data.residents.totalCount > 0);
  ok('filtering on a field outside the mandate: FIELD_NOT_GRANTED through the gateway; allowed for public security');

  console.log(`federation check: ${checks} checks passed`);
} finally {
  await server.stop();
  await health.server.stop();
}
