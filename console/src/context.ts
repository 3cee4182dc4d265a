/** What every page may know about the caller. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './api';

export interface AppState {
  /** The caller as `GET /api/v1/me` describes it (undefined while unknown or on servers without it). */
  me?: Me;
  /** Changes whenever the key changes: pages reload their data. */
  keyVersion: number;
}

export const AppContext = createContext<AppState>({ keyVersion: 0 });
export const useApp = (): AppState => useContext(AppContext);
