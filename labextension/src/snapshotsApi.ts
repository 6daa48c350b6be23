/** The server's workspace snapshot endpoints: `/cosim/api/snapshots[/<id>[/diff|restore|export]]`. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './api';

/** One entry of `GET snapshots` (oldest first). */
export interface ISnapshotSummary {
  id: string;
  /** Unix seconds. */
  created: number;
  message: string;
  files: number;
  bytes: number;
  /** Large data files the snapshot references (by hash) but does not store. */
  data_refs: number;
  /** A safety snapshot, taken by a restore. */
  auto: boolean;
}

export interface ICreateReply {
  id: string;
  message: string;
  files: number;
  stored_bytes: number;
}

export interface IPackageChanges {
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, [string, string]>;
}

export interface ISnapshotDiff {
  from: string;
  to: string;
  added: string[];
  removed: string[];
  changed: string[];
  /** Unified diff text by path (changed files only). */
  patches: Record<string, string>;
  python_packages: IPackageChanges;
  python: [string | null, string | null];
}

export interface IRestoreReply {
  restored: string;
  target: string;
  safety_snapshot: string | null;
  /** Referenced data files that are missing or differ from the snapshot's. */
  data: { path: string; status: string }[];
}

function snapshotPath(id: string, ...rest: string[]): string {
  return URLExt.join('snapshots', encodeURIComponent(id), ...rest);
}

function post(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}

export async function listSnapshots(): Promise<ISnapshotSummary[]> {
  const reply = await requestAPI<{ snapshots: ISnapshotSummary[] }>('snapshots');
  return reply.snapshots;
}

export function createSnapshot(message: string): Promise<ICreateReply> {
  return requestAPI<ICreateReply>('snapshots', post({ message }));
}

/** What changed from snapshot `id` to `against` (another id, or the working tree). */
export function diffSnapshot(id: string, against = 'working'): Promise<ISnapshotDiff> {
  const query = URLExt.objectToQueryString({ against });
  return requestAPI<ISnapshotDiff>(snapshotPath(id, 'diff') + query);
}

/** Restore in place (`target` null) or into a new folder relative to the workspace. */
export function restoreSnapshot(
  id: string,
  options: { force: boolean; target?: string | null }
): Promise<IRestoreReply> {
  return requestAPI<IRestoreReply>(
    snapshotPath(id, 'restore'),
    post({ force: options.force, target: options.target ?? null })
  );
}

/** The tar download's URL; a plain link fetches it, so the token is added as for sockets. */
export function exportUrl(id: string): string {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'cosim/api', snapshotPath(id, 'export'));
  return settings.appendToken && settings.token
    ? `${url}?token=${encodeURIComponent(settings.token)}`
    : url;
}
