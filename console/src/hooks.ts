// Small helpers shared by the pages: loading an admin query, running a mutation
// with a message on success and the hub's error (code and message) on failure.
import { useCallback, useEffect, useState } from 'react';
import { App } from 'antd';
import { ApiError, gql } from './api';

export function useQuery<T>(query: string, variables: Record<string, unknown> | undefined, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    gql<T>(query, variables)
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!live) return;
        setError(e instanceof ApiError ? e : new ApiError(String(e), 'NETWORK', 0));
      })
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Runs `fn`; shows `ok` on success and the hub's error otherwise. Resolves to the result or null. */
export function useAction() {
  const { message } = App.useApp();
  return useCallback(
    async <T>(fn: () => Promise<T>, ok?: string | ((r: T) => string)): Promise<T | null> => {
      try {
        const r = await fn();
        if (ok) message.success(typeof ok === 'function' ? ok(r) : ok);
        return r;
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(String(e), 'NETWORK', 0);
        message.error(`${err.code}: ${err.message}`, 6);
        return null;
      }
    },
    [message],
  );
}

/** Local time in a short, fixed format (yyyy-mm-dd hh:mm). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
