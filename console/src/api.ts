// Talking to the hub: officer sessions (/console/session) and the admin GraphQL
// API (/admin/graphql). Every admin call carries the session cookie (same origin)
// and the session's CSRF token in `X-CSRF-Token`; an expired or unknown session
// sends the console back to sign-in.
import type { DemoOfficer, Session } from './types';

const SESSION_KEY = 'mandate-console-session';

/** An error from the hub, with its stable code when it gave one. */
export class ApiError extends Error {
  code: string;
  status: number;
  constructor(message: string, code: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

type Listener = (s: Session | null, reason?: string) => void;
let current: Session | null = null;
const listeners = new Set<Listener>();

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const s = raw ? (JSON.parse(raw) as Session) : null;
    if (s && Date.parse(s.expiresAt) > Date.now()) {
      current = s;
      return s;
    }
  } catch {
    // an unreadable stored session is no session
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

function setSession(s: Session | null, reason?: string) {
  current = s;
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
  listeners.forEach((l) => l(s, reason));
}

/** Ends the session in the console (the hub's has ended or is being ended). */
export function expire(reason: string) {
  if (current) setSession(null, reason);
}

async function body(resp: Response): Promise<unknown> {
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

function errorOf(resp: Response, data: unknown): ApiError {
  const d = (data ?? {}) as {
    code?: string;
    message?: string;
    errors?: { message?: string; extensions?: { code?: string } }[];
  };
  const first = d.errors?.[0];
  const code = d.code ?? first?.extensions?.code ?? `HTTP_${resp.status}`;
  const message = d.message ?? first?.message ?? resp.statusText;
  return new ApiError(message, code, resp.status);
}

/** The demo officers, or `null` outside development mode (404). */
export async function demoOfficers(): Promise<DemoOfficer[] | null> {
  const resp = await fetch('/console/session/demo', { credentials: 'same-origin' });
  if (resp.status === 404) return null;
  if (!(resp.headers.get('content-type') ?? '').includes('json')) return null;
  const data = await body(resp);
  if (!resp.ok) throw errorOf(resp, data);
  return data as DemoOfficer[];
}

async function signIn(path: string, payload: object): Promise<Session> {
  const resp = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const data = await body(resp);
  if (!resp.ok) throw errorOf(resp, data);
  const s = data as Session;
  setSession(s);
  return s;
}

export const signInDemo = (officer: string) => signIn('/console/session/demo', { officer });
export const signInWithCredential = (credential: string) => signIn('/console/session', { credential });

export async function signOut(): Promise<void> {
  const s = current;
  setSession(null);
  if (!s) return;
  try {
    await fetch('/console/session', {
      method: 'DELETE',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': s.csrf },
    });
  } catch {
    // the console has left the session either way
  }
}

const SIGNED_OUT = new Set(['SESSION_EXPIRED', 'UNAUTHENTICATED']);

/** Runs one admin GraphQL operation; its `data`, or an ApiError with the first error's code. */
export async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const s = current;
  if (!s) throw new ApiError('not signed in', 'UNAUTHENTICATED', 401);
  const resp = await fetch('/admin/graphql', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
    body: JSON.stringify({ query, variables: variables ?? {} }),
  });
  const data = (await body(resp)) as { data?: T; errors?: unknown[] } | null;
  if (resp.status === 401) {
    const err = errorOf(resp, data);
    expire(err.code);
    throw err;
  }
  if (!resp.ok || !data || (data.errors && data.errors.length)) {
    const err = errorOf(resp, data);
    if (SIGNED_OUT.has(err.code)) expire(err.code);
    throw err;
  }
  return data.data as T;
}

/** The roles that may do each thing in the console (the hub decides; this only hides buttons). */
export function can(s: Session | null, ...roles: string[]): boolean {
  return !!s && s.roles.some((r) => roles.includes(r));
}
