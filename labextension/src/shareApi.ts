/** The Share dialog's REST calls (server_extension/cosim_server/shares.py). */
import { requestAPI } from './api';

export interface IShare {
  kind: 'user' | 'group';
  name: string;
  view_only: boolean;
  created_at: string | null;
}

export interface IShareCode {
  id: string;
  expires_at: string | null;
  exchange_count: number;
}

export interface ISharing {
  owner: string;
  users: string[];
  groups: string[];
  shares: IShare[];
  codes: IShareCode[];
}

export function listSharing(): Promise<ISharing> {
  return requestAPI<ISharing>('shares');
}

export function share(kind: 'user' | 'group', name: string, viewOnly: boolean): Promise<unknown> {
  return requestAPI('shares', {
    method: 'POST',
    body: JSON.stringify({ [kind]: name, view_only: viewOnly })
  });
}

export function revoke(kind: 'user' | 'group', name: string): Promise<unknown> {
  return requestAPI(`shares?${kind}=${encodeURIComponent(name)}`, { method: 'DELETE' });
}

export function createLink(
  expiresIn: number,
  viewOnly: boolean
): Promise<{ id: string; accept_url: string; expires_at: string }> {
  return requestAPI('share-codes', {
    method: 'POST',
    body: JSON.stringify({ expires_in: expiresIn, view_only: viewOnly })
  });
}

export function revokeLinks(): Promise<unknown> {
  return requestAPI('share-codes', { method: 'DELETE' });
}
