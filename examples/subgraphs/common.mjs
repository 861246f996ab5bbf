// The HTTP edge both demo subgraphs share, and the deterministic data helpers.
//
// `serveSubgraph` serves a GraphQL schema the way a departmental system behind mandate
// is reached: POST /graphql on 127.0.0.1 with a bearer credential of its own, the
// caller's identity forwarded by the hub in x-mandate-* headers and kept in an
// in-memory call log (GET/DELETE /calls, one JSON line per call on stdout), and fault
// knobs for tests (DELAY_MS, POST /control). The schemas themselves live in
// health.mjs (built with @apollo/subgraph) and housing.mjs (plain graphql-js).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import {
  GraphQLError,
  GraphQLScalarType,
  Kind,
  execute,
  getOperationAST,
  parse,
  validate,
  valueFromASTUntyped,
} from 'graphql';

/** Largest request body accepted, in bytes (1 MB); larger ones answer 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How many recent calls GET /calls keeps. */
export const CALL_LOG_SIZE = 1000;
/** Largest delay POST /control or DELAY_MS accepts, in milliseconds. */
const MAX_DELAY_MS = 600_000;
/** Headers in which the hub forwards its caller's identity, and their names in the call log. */
const FORWARDED = {
  agency: 'x-mandate-agency',
  officer: 'x-mandate-officer',
  purpose: 'x-mandate-purpose',
  case: 'x-mandate-case',
  requestId: 'x-mandate-request-id',
};

// --- deterministic data ----------------------------------------------------

/**
 * A deterministic source of numbers for `key`: SHA-256 of `key#0`, `key#1`, ... read as
 * 32-bit words. The same key always yields the same sequence, on any machine.
 */
export function seeded(key) {
  let block = 0;
  let words = [];
  const next = () => {
    if (words.length === 0) {
      const digest = createHash('sha256').update(`${key}#${block}`).digest();
      block += 1;
      for (let i = 0; i < digest.length; i += 4) words.push(digest.readUInt32BE(i));
    }
    return words.shift();
  };
  return {
    /** An integer in [0, n). */
    int: (n) => next() % n,
    /** One element of `items`. */
    pick: (items) => items[next() % items.length],
    /** True with probability `p`. */
    chance: (p) => next() / 2 ** 32 < p,
    /** An index into `weights`, drawn in proportion to them. */
    weighted: (weights) => {
      const total = weights.reduce((a, b) => a + b, 0);
      let r = next() % total;
      for (let i = 0; i < weights.length; i += 1) {
        if (r < weights[i]) return i;
        r -= weights[i];
      }
      return weights.length - 1;
    },
  };
}

const DAY_MS = 86_400_000;

/** `n` distinct dates (YYYY-MM-DD) between `from` and `to` inclusive, oldest first. */
export function distinctDates(rng, n, from, to) {
  const start = Date.parse(`${from}T00:00:00Z`);
  const days = Math.round((Date.parse(`${to}T00:00:00Z`) - start) / DAY_MS) + 1;
  const picked = new Set();
  while (picked.size < n) picked.add(rng.int(days));
  return [...picked]
    .sort((a, b) => a - b)
    .map((d) => new Date(start + d * DAY_MS).toISOString().slice(0, 10));
}

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '胡', '朱', '高', '林', '何', '郭', '马', '罗'];
const GIVEN_NAMES = ['建国', '秀英', '丽华', '志强', '海燕', '晓明', '文静', '国平', '桂兰', '俊杰', '慧敏', '永红', '子涵', '思远', '雪梅', '德明', '春燕', '伟', '芳', '磊'];

/** A plausible Chinese personal name. */
export function chineseName(rng) {
  return rng.pick(SURNAMES) + rng.pick(GIVEN_NAMES);
}

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const isDate = (v) => typeof v === 'string' && DATE_PATTERN.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`));

/** The `Date` scalar: a calendar date written YYYY-MM-DD. */
export const DateScalar = new GraphQLScalarType({
  name: 'Date',
  description: 'A calendar date, YYYY-MM-DD.',
  serialize(value) {
    if (!isDate(value)) throw new GraphQLError('Date cannot represent a value that is not YYYY-MM-DD');
    return value;
  },
  parseValue(value) {
    if (!isDate(value)) throw new GraphQLError('Date must be a string YYYY-MM-DD');
    return value;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || !isDate(ast.value)) throw new GraphQLError('Date must be a string YYYY-MM-DD', { nodes: ast });
    return ast.value;
  },
});

// --- the HTTP edge -------------------------------------------------------------

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const graphqlError = (message, code) => ({ errors: [{ message, extensions: { code } }] });

/** Reads a non-negative integer of milliseconds from the environment. */
function envDelay(name) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_DELAY_MS) {
    throw new Error(`${name} must be an integer number of milliseconds in [0, ${MAX_DELAY_MS}], not ${JSON.stringify(raw)}`);
  }
  return n;
}

function envPort(defaultPort) {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return defaultPort;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`PORT must be a TCP port, not ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Past this many bytes a too-large body is no longer read to its end before the 413 is
 * sent (the connection is closed on the sender instead).
 */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Reads the body up to `limit` bytes. A larger one is read on to its end without being
 * kept (so the sender is not cut off mid-write and reads the 413), up to DRAIN_LIMIT_BYTES,
 * and then rejected with a 413 HttpError.
 */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the request body is over ${limit} bytes`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks = [];
    let size = 0;
    let settled = false;
    const settle = (fn, value) => {
      if (!settled) {
        settled = true;
        fn(value);
      }
    };
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > DRAIN_LIMIT_BYTES) settle(reject, tooLarge());
    });
    req.on('end', () => settle((v) => (size > limit ? reject(tooLarge()) : resolve(v)), Buffer.concat(chunks)));
    req.on('error', (err) => settle(reject, err));
  });
}

/** A header the hub may send as UTF-8 (an officer's name): Node reads header bytes as latin1. */
function headerText(value) {
  if (value === undefined) return null;
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (!/[^\x00-\x7f]/.test(text)) return text;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'latin1'));
  } catch {
    return text;
  }
}

/** "valid", "invalid" or "missing": the request's bearer credential against `token`. */
function authorization(header, tokenDigest) {
  if (header === undefined) return 'missing';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(Array.isArray(header) ? header[0] : header);
  if (!match) return 'invalid';
  const given = createHash('sha256').update(match[1]).digest();
  return timingSafeEqual(given, tokenDigest) ? 'valid' : 'invalid';
}

/**
 * What a request asks, for the call log: the root field that names the operation
 * ("_entities", "_service", or the first other root field) and, for `_entities`, how
 * many representations of which __typename.
 */
function describe(document, operationName, variables) {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName
    ? operations.find((o) => o.name?.value === operationName)
    : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return { operation: null, representations: 0, types: {} };
  const fragments = new Map(
    document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const fields = [];
  const seen = new Set();
  const collect = (selectionSet) => {
    for (const s of selectionSet.selections) {
      if (s.kind === Kind.FIELD) fields.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT) collect(s.selectionSet);
      else if (s.kind === Kind.FRAGMENT_SPREAD && !seen.has(s.name.value) && fragments.has(s.name.value)) {
        seen.add(s.name.value);
        collect(fragments.get(s.name.value).selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  const names = fields.map((f) => f.name.value);
  const name = names.includes('_entities') ? '_entities' : names.includes('_service') ? '_service' : names[0] ?? null;
  let representations = 0;
  const types = {};
  for (const field of fields.filter((f) => f.name.value === '_entities')) {
    const arg = field.arguments?.find((a) => a.name.value === 'representations');
    if (!arg) continue;
    let value;
    try {
      value = valueFromASTUntyped(arg.value, variables ?? undefined);
    } catch {
      value = undefined;
    }
    if (!Array.isArray(value)) continue;
    representations += value.length;
    for (const rep of value) {
      const type = typeof rep?.__typename === 'string' ? rep.__typename : '?';
      types[type] = (types[type] ?? 0) + 1;
    }
  }
  return { operation: name, representations, types };
}

/** The GraphQL request in a POST body; throws a 400 HttpError for anything malformed. */
function readRequest(raw) {
  let request;
  try {
    request = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the body is not JSON');
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new HttpError(400, 'BAD_REQUEST', 'the body must be a JSON object {"query", "variables", "operationName"}');
  }
  const { query, variables = null, operationName = null } = request;
  if (typeof query !== 'string') throw new HttpError(400, 'BAD_REQUEST', '"query" must be a string');
  if (variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
    throw new HttpError(400, 'BAD_REQUEST', '"variables" must be an object');
  }
  if (operationName !== null && typeof operationName !== 'string') {
    throw new HttpError(400, 'BAD_REQUEST', '"operationName" must be a string');
  }
  let document;
  try {
    document = parse(query, { maxTokens: 100_000 });
  } catch (err) {
    throw new HttpError(400, 'GRAPHQL_PARSE_FAILED', err.message);
  }
  return { document, variables, operationName };
}

/** Errors as the response carries them; a resolver's plain Error gets the code INTERNAL_SERVER_ERROR. */
function formatErrors(errors, name) {
  return errors.map((error) => {
    const original = error.originalError;
    if (original && !(original instanceof GraphQLError)) {
      // As Apollo Server answers a resolver's plain Error: its message, no stack.
      process.stderr.write(`${JSON.stringify({ event: 'resolver_error', subgraph: name, message: original.message, stack: original.stack })}\n`);
      return { ...error.toJSON(), extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    return error.toJSON();
  });
}

/**
 * Serves `schema` (resolving root fields on `rootValue`, if given) as the subgraph `name` on 127.0.0.1:$PORT (default `defaultPort`;
 * 0 picks a spare port) and prints `{"event":"listening","url":...}` once it listens.
 * The bearer token is $SUBGRAPH_TOKEN (default `defaultToken`).
 */
export function serveSubgraph({ name, schema, rootValue, defaultPort, defaultToken }) {
  const port = envPort(defaultPort);
  const token = process.env.SUBGRAPH_TOKEN || defaultToken;
  const tokenDigest = createHash('sha256').update(token).digest();
  const control = { delayMs: envDelay('DELAY_MS'), fail: false };
  let calls = [];

  const send = (res, status, body, headers = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }),
      ...headers,
    });
    res.end(text);
  };

  const record = (entry) => {
    calls.push(entry);
    if (calls.length > CALL_LOG_SIZE) calls = calls.slice(calls.length - CALL_LOG_SIZE);
    process.stdout.write(`${JSON.stringify({ event: 'call', subgraph: name, ...entry })}\n`);
  };

  async function graphqlEndpoint(req, res) {
    const at = new Date().toISOString();
    const auth = authorization(req.headers.authorization, tokenDigest);
    const entry = { at };
    for (const [key, header] of Object.entries(FORWARDED)) entry[key] = headerText(req.headers[header]);
    Object.assign(entry, { operation: null, representations: 0, types: {}, authorization: auth });

    // Work out the answer, then wait out the delay, then send it.
    let status;
    let body;
    let headers = {};
    try {
      const raw = await readBody(req, MAX_BODY_BYTES);
      // What was asked is worked out first, for the call log; a malformed request is
      // answered only after the fault knob and the credential had their say.
      let asked;
      let malformed = null;
      try {
        asked = readRequest(raw);
        Object.assign(entry, describe(asked.document, asked.operationName, asked.variables));
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        malformed = err;
      }
      if (control.fail) throw new HttpError(503, 'SERVICE_UNAVAILABLE', `the ${name} subgraph is failing on purpose (POST /control)`);
      if (auth !== 'valid') throw new HttpError(401, 'UNAUTHENTICATED', `a valid bearer credential for the ${name} subgraph is required`);
      if (malformed) throw malformed;
      const { document, variables, operationName } = asked;
      const invalid = validate(schema, document, undefined, { maxErrors: 20 });
      if (invalid.length > 0) {
        status = 400;
        body = { errors: invalid.map((e) => ({ ...e.toJSON(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })) };
      } else {
        const operation = getOperationAST(document, operationName);
        if (operation && operation.operation !== 'query') {
          throw new HttpError(400, 'BAD_REQUEST', `the ${name} subgraph answers queries only, not a ${operation.operation}`);
        }
        const result = await execute({ schema, document, rootValue, variableValues: variables, operationName, contextValue: {} });
        if (!('data' in result)) {
          // The request never ran (an unknown operation name, variables that do not coerce).
          status = 400;
          body = { errors: result.errors.map((e) => ({ ...e.toJSON(), extensions: { code: 'BAD_USER_INPUT' } })) };
        } else {
          status = 200;
          body = result.errors ? { errors: formatErrors(result.errors, name), data: result.data } : { data: result.data };
        }
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      // A failing subgraph fails every call, whatever it was sent.
      const failing = control.fail && err.status !== 503 ? new HttpError(503, 'SERVICE_UNAVAILABLE', `the ${name} subgraph is failing on purpose (POST /control)`) : err;
      status = failing.status;
      body = graphqlError(failing.message, failing.code);
      if (failing.status === 401) headers = { 'www-authenticate': `Bearer realm="${name}"` };
      if (failing.status === 413) headers = { connection: 'close' };
    }
    if (control.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, control.delayMs));
    entry.status = status;
    record(entry);
    send(res, status, body, headers);
  }

  async function controlEndpoint(req, res) {
    if (req.method === 'GET') {
      send(res, 200, control);
      return;
    }
    let update;
    try {
      update = JSON.parse((await readBody(req, MAX_BODY_BYTES)).toString('utf8'));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'BAD_REQUEST', 'the body is not JSON');
    }
    if (update === null || typeof update !== 'object' || Array.isArray(update)) {
      throw new HttpError(400, 'BAD_REQUEST', 'the body must be a JSON object {"delayMs", "fail"}');
    }
    for (const key of Object.keys(update)) {
      if (key !== 'delayMs' && key !== 'fail') throw new HttpError(400, 'BAD_REQUEST', `unknown control "${key}" (delayMs, fail)`);
    }
    if ('delayMs' in update && !(Number.isInteger(update.delayMs) && update.delayMs >= 0 && update.delayMs <= MAX_DELAY_MS)) {
      throw new HttpError(400, 'BAD_REQUEST', `"delayMs" must be an integer in [0, ${MAX_DELAY_MS}]`);
    }
    if ('fail' in update && typeof update.fail !== 'boolean') throw new HttpError(400, 'BAD_REQUEST', '"fail" must be true or false');
    Object.assign(control, update);
    process.stdout.write(`${JSON.stringify({ event: 'control', subgraph: name, ...control })}\n`);
    send(res, 200, control);
  }

  const routes = {
    '/graphql': { POST: graphqlEndpoint },
    '/healthz': { GET: (req, res) => send(res, 200, { status: 'ok', subgraph: name }) },
    '/calls': {
      GET: (req, res) => send(res, 200, calls),
      DELETE: (req, res) => {
        calls = [];
        send(res, 204);
      },
    },
    '/control': { GET: controlEndpoint, POST: controlEndpoint },
  };

  const server = createServer(async (req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    try {
      const path = new URL(req.url ?? '/', 'http://subgraph').pathname;
      const route = routes[path];
      if (!route) {
        send(res, 404, { error: `no ${path} here (POST /graphql, GET /healthz, GET|DELETE /calls, GET|POST /control)` });
        return;
      }
      const handler = route[req.method];
      if (!handler) {
        const allow = Object.keys(route).join(', ');
        const body = path === '/graphql' ? graphqlError(`use POST for ${path}`, 'METHOD_NOT_ALLOWED') : { error: `use ${allow} for ${path}` };
        send(res, 405, body, { allow });
        return;
      }
      await handler(req, res);
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, { error: err.message }, err.status === 413 ? { connection: 'close' } : {});
        return;
      }
      process.stderr.write(`${JSON.stringify({ event: 'internal_error', subgraph: name, message: err?.message, stack: err?.stack })}\n`);
      send(res, 500, graphqlError('Internal server error', 'INTERNAL_SERVER_ERROR'));
    }
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('error', (err) => {
    process.stderr.write(`${name}: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    const url = `http://127.0.0.1:${server.address().port}`;
    process.stdout.write(`${JSON.stringify({ event: 'listening', subgraph: name, url, graphql: `${url}/graphql`, delayMs: control.delayMs })}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
