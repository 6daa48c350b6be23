/** The C++ build endpoint (`/cosim/api/build`): start a folder's build, poll it, run the result. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './api';

export interface IDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning' | 'note';
  message: string;
  /** The file as a workspace path Lab can open; null for system headers and the linker. */
  path?: string | null;
}

export type BuildState = 'building' | 'succeeded' | 'failed' | 'error';

export interface IBuildStatus {
  id: string;
  status: BuildState;
  path: string;
  compiler: string;
  flags: string[];
  binary?: string | null;
  diagnostics?: IDiagnostic[];
  output?: string;
  compiled?: string[];
  cached?: string[];
  seconds?: number;
  error?: string | null;
}

/** One message of a run's socket: output, then the end of the run. */
export interface IRunMessage {
  stream?: 'stdout' | 'stderr';
  text?: string;
  exit?: number | null;
  ok?: boolean;
  message?: string;
}

export async function startBuild(path: string): Promise<{ id: string }> {
  return requestAPI<{ id: string }>('build', {
    method: 'POST',
    body: JSON.stringify({ path })
  });
}

export async function buildStatus(id: string): Promise<IBuildStatus> {
  return requestAPI<IBuildStatus>(`build/${encodeURIComponent(id)}`);
}

/** The run socket's URL; the token is added the way Lab adds it to kernel sockets. */
export function runSocketUrl(id: string): string {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.wsUrl, 'cosim/api/build', encodeURIComponent(id), 'run');
  return settings.appendToken && settings.token
    ? `${url}?token=${encodeURIComponent(settings.token)}`
    : url;
}
