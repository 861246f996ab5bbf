import { createContext, useContext } from 'react';
import type { Session } from './types';

/** The signed-in officer; the pages render only inside a session. */
export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}
