// GraphiQL in a real headless Chromium, against a running demo hub.
//
//   MANDATE_DEMO_URL  the demo hub (config/demo.toml: development mode), e.g. http://127.0.0.1:8089
//   MANDATE_BIN       absolute path of the mandate binary   } to start a second hub, outside
//   MANDATE_CONFIG    absolute path of config/demo.toml     } development mode (API keys), on a
//   NEO4J_URI, NEO4J_PASSWORD  the demo Neo4j               } free loopback port
//   CHROMIUM          the browser (default: `chromium` on PATH)
//   --screenshot      also write docs/graphiql.png (the picker and a masked field's docs)
//
// Fails on any console error, on any request leaving 127.0.0.1, and on any HTTP
// answer of 400 or more (a 401 on load included).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const screenshot = process.argv.includes('--screenshot');
const demoUrl = (process.env.MANDATE_DEMO_URL || '').replace(/\/+$/, '');
if (!demoUrl) {
  console.error('MANDATE_DEMO_URL is not set (e.g. http://127.0.0.1:8089, a hub serving config/demo.toml)');
  process.exit(2);
}
for (const name of ['MANDATE_BIN', 'MANDATE_CONFIG', 'NEO4J_URI', 'NEO4J_PASSWORD']) {
  if (!process.env[name]) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
}

const CASE = 'GRAPHIQL-DEMO';
const MASKED_ID = 'Masked for your mandate: keep_start — only the first 6 characters are shown.';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(message) {
  console.log(`browser: ${message}`);
}

// --- a watched page -----------------------------------------------------------

/** A page whose console errors, outside requests and HTTP failures are recorded. */
async function watchedPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  const seen = { consoleErrors: [], outside: [], failures: [], graphql: [] };
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.hostname === '127.0.0.1') return route.continue();
    seen.outside.push(url.href);
    return route.abort();
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.consoleErrors.push(`${msg.text()} @ ${JSON.stringify(msg.location())}`);
  });
  page.on('pageerror', (err) => seen.consoleErrors.push(`uncaught: ${err.message}`));
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/graphql') {
      seen.graphql.push({ headers: req.headers(), body: req.postData() || '' });
    }
  });
  page.on('response', (resp) => {
    if (resp.status() >= 400) seen.failures.push(`${resp.status()} ${resp.request().method()} ${resp.url()}`);
  });
  return { context, page, seen };
}

function assertClean(seen, where) {
  assert.deepEqual(seen.outside, [], `${where}: requests left 127.0.0.1`);
  assert.deepEqual(seen.consoleErrors, [], `${where}: console errors`);
  assert.deepEqual(seen.failures, [], `${where}: HTTP failures`);
}

async function editorValue(page, selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    return el && el.CodeMirror ? el.CodeMirror.getValue() : null;
  }, selector);
}

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const RESPONSE = '.graphiql-response .CodeMirror';

/** Waits for an introspection request to answer 200; returns the request. */
async function introspection(page, action, wanted = () => true) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/graphql' &&
      (r.request().postData() || '').includes('__schema') && wanted(r.request().headers()), { timeout: 20000 }),
    action(),
  ]);
  assert.equal(resp.status(), 200, `introspection answered: ${await resp.text()} ${JSON.stringify(resp.request().headers())}`);
  const body = await resp.json();
  assert.ok(body.data && body.data.__schema, `introspection data: ${JSON.stringify(body).slice(0, 300)}`);
  return resp.request();
}

/** Runs the active tab's operation; returns the response pane's JSON. */
async function run(page) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/graphql' &&
      !(r.request().postData() || '').includes('__schema'), { timeout: 20000 }),
    page.click('button.graphiql-execute-button'),
  ]);
  assert.equal(resp.status(), 200, `operation answered: ${await resp.text()}\n${resp.request().postData()}`);
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && el.CodeMirror && el.CodeMirror.getValue().trim().startsWith('{');
  }, RESPONSE);
  return { request: resp.request(), body: JSON.parse(await editorValue(page, RESPONSE)) };
}

/** Opens the docs at `Type.field` through the explorer's search. */
async function docsAt(page, type, field) {
  const docs = page.locator('button[aria-label="Show Documentation Explorer"]');
  if (await docs.count()) await docs.click();
  const search = page.locator('.graphiql-doc-explorer-search input');
  await search.click();
  await search.fill(field);
  const hit = page.locator('.graphiql-doc-explorer-search [role="option"]', { hasText: `${type}.${field}` }).first();
  await hit.waitFor({ timeout: 10000 });
  await hit.click();
  await page.locator('.graphiql-doc-explorer-title', { hasText: field }).waitFor();
  return (await page.locator('.graphiql-doc-explorer-content').innerText()).replace(/\s+/g, ' ');
}

// --- development mode: the picker ---------------------------------------------

async function developmentMode(browser) {
  const catalog = await (await fetch(`${demoUrl}/graphiql/mandates`)).json();
  assert.ok(catalog.mandates.length > 0, 'the lists name mandates');
  const { context, page, seen } = await watchedPage(browser);
  await page.goto(`${demoUrl}/graphiql`);
  await page.locator('#mandate-agency').waitFor();
  await sleep(1000);
  assert.equal(seen.graphql.length, 0, 'nothing is sent to /graphql before an agency is picked');
  assertClean(seen, 'development mode, on load');

  // Every agency with example operations: picking it opens them and fetches its schema.
  const agencies = [...new Set(catalog.examples.map((e) => e.agency).filter(Boolean))];
  for (const agency of agencies) {
    const request = await introspection(page, () => page.selectOption('#mandate-agency', agency));
    const headers = request.headers();
    assert.match(headers.authorization || '', /^Bearer \S+/, `${agency}: a demo token`);
    assert.equal(headers['x-mandate-case'], CASE);
    const purpose = headers['x-mandate-purpose'];
    const role = await page.inputValue('#mandate-role');
    assert.equal(await page.inputValue('#mandate-purpose'), purpose);
    const expected = catalog.examples.filter((e) => e.agency === agency &&
      (!e.role || e.role === role) && (!e.purpose || e.purpose === purpose));
    assert.ok(expected.length > 0, `${agency}: the picker opens with a mandate that has examples`);
    const tabs = await page.locator('.graphiql-tab').count();
    assert.equal(Math.max(tabs, 1), expected.length, `${agency}: one tab per example`);
    const query = await editorValue(page, QUERY_EDITOR);
    assert.ok(expected.some((e) => e.query === query), `${agency}: the editor holds an example:\n${query}`);
    const { request: sent, body } = await run(page);
    assert.match(sent.headers().authorization || '', /^Bearer \S+/);
    assert.equal(body.errors, undefined, `${agency}: its example runs:\n${JSON.stringify(body).slice(0, 500)}`);
    assert.ok(body.data, `${agency}: data`);
    log(`${agency} / ${role} / ${purpose}: ${expected.length} example(s), schema fetched, example ran`);
  }

  // Civil affairs reviewing subsidies reads ID numbers masked: the docs say so.
  await page.selectOption('#mandate-agency', 'D-CIVIL_AFFAIRS');
  await page.selectOption('#mandate-role', 'caseworker');
  const request = await introspection(page, () => page.selectOption('#mandate-purpose', 'subsidy_review'),
    (headers) => headers['x-mandate-purpose'] === 'subsidy_review');
  assert.equal(request.headers()['x-mandate-purpose'], 'subsidy_review');
  const text = await docsAt(page, 'Resident', 'idNumber');
  assert.ok(text.includes(MASKED_ID), `the docs of Resident.idNumber mark the mask: ${text}`);
  log('Resident.idNumber docs: masked for subsidy_review');
  if (screenshot) {
    const { body } = await run(page);
    assert.equal(body.errors, undefined, JSON.stringify(body).slice(0, 500));
    const path = join(repo, 'docs', 'graphiql.png');
    await page.screenshot({ path });
    log(`wrote ${path}`);
  }
  for (const path of seen.graphql) {
    const headers = path.headers;
    assert.match(headers.authorization || '', /^Bearer \S+/, 'every request carries the demo token');
  }
  assertClean(seen, 'development mode');
  await context.close();
}

// --- outside development mode: headers typed once -------------------------------

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

async function startCredentialsHub(dir) {
  const out = execFileSync(process.env.MANDATE_BIN, [
    '--config', process.env.MANDATE_CONFIG, 'apikey',
    '--agency', 'D-CIVIL_AFFAIRS', '--officer', 'browser-check', '--role', 'caseworker',
  ], { cwd: repo, encoding: 'utf8' });
  const key = (out.match(/^\s+(\S+)\s*$/m) || [])[1];
  const entry = out.slice(out.indexOf('[[key]]'));
  assert.ok(key && entry.startsWith('[[key]]'), `mandate apikey printed a key and an entry:\n${out}`);
  const keysFile = join(dir, 'keys.toml');
  writeFileSync(keysFile, entry);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.env.MANDATE_BIN, [
    '--config', process.env.MANDATE_CONFIG, 'serve', '--listen', `127.0.0.1:${port}`,
  ], {
    cwd: repo,
    env: {
      ...process.env,
      // Not development mode: no HS256 secret, API keys instead.
      MANDATE__AUTH__JWT__HS256_SECRET: '',
      MANDATE__AUTH__API_KEYS_FILE: keysFile,
      MANDATE__AUDIT__CHAIN: 'graphiql-browser-check',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`the second hub exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url, key };
    } catch { /* not up yet */ }
    await sleep(250);
  }
  child.kill('SIGTERM');
  throw new Error(`the second hub did not start: ${stderr}`);
}

async function setHeaders(page, text) {
  await page.click('button.graphiql-editor-tools-tabs button:has-text("Headers"), .graphiql-editor-tools button:has-text("Headers")');
  await page.waitForFunction(() => [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')]
    .some((el) => !el.classList.contains('hidden') && el.querySelector('.CodeMirror')));
  await page.evaluate((value) => {
    const editor = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')]
      .find((el) => !el.classList.contains('hidden'));
    editor.querySelector('.CodeMirror').CodeMirror.setValue(value);
  }, text);
}

async function credentialsMode(browser) {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-graphiql-'));
  const hub = await startCredentialsHub(dir);
  try {
    for (const path of ['/graphiql/mandates', '/graphiql/token']) {
      const resp = await fetch(`${hub.url}${path}`, { method: path.endsWith('token') ? 'POST' : 'GET' });
      assert.equal(resp.status, 404, `${path} does not exist outside development mode`);
    }
    const { context, page, seen } = await watchedPage(browser);
    await page.goto(`${hub.url}/graphiql`);
    await page.locator('.mandate-bar', { hasText: 'Nothing is sent until then' }).waitFor();
    await page.locator(QUERY_EDITOR).waitFor();
    await sleep(1500);
    assert.equal(seen.graphql.length, 0, 'no request before a credential is typed');
    assertClean(seen, 'credentials mode, on load');

    const headers = JSON.stringify({
      'x-api-key': hub.key,
      'x-mandate-purpose': 'subsidy_review',
      'x-mandate-case': 'CASE-BROWSER-1',
    }, null, 2);
    const request = await introspection(page, () => setHeaders(page, headers));
    assert.equal(request.headers()['x-api-key'], hub.key, 'the first schema fetch carries the typed key');
    assert.equal(request.headers()['x-mandate-purpose'], 'subsidy_review');
    const text = await docsAt(page, 'Resident', 'idNumber');
    assert.ok(text.includes(MASKED_ID), `the docs mark the mask: ${text}`);

    // A new tab with an empty headers editor still sends the session's headers.
    await page.click('button.graphiql-tab-add');
    await page.evaluate((sel) => document.querySelector(sel).CodeMirror.setValue('{ residents(first: 1) { totalCount } }'), QUERY_EDITOR);
    const { request: sent, body } = await run(page);
    assert.equal(sent.headers()['x-api-key'], hub.key, 'a new tab sends the session headers');
    assert.equal(body.errors, undefined, JSON.stringify(body));

    // Reloading keeps them for the session: the schema is fetched at once, with them.
    const again = await introspection(page, () => page.reload());
    assert.equal(again.headers()['x-api-key'], hub.key, 'headers kept for the session');
    for (const r of seen.graphql) {
      assert.equal(r.headers['x-api-key'], hub.key, 'no request without the credential');
    }
    assertClean(seen, 'credentials mode');
    log(`credentials mode: ${seen.graphql.length} requests, each with the key; none before it was typed`);
    await context.close();
  } finally {
    hub.child.kill('SIGTERM');
    await new Promise((r) => (hub.child.exitCode !== null ? r() : hub.child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- main -------------------------------------------------------------------------

const executablePath = process.env.CHROMIUM ||
  execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'], headless: true });
let failed = false;
try {
  await developmentMode(browser);
  await credentialsMode(browser);
  log('ok');
} catch (e) {
  failed = true;
  console.error(`browser: FAILED: ${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
