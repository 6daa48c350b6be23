/** The server's sim endpoints: `GET /cosim/api/sims`, `GET .../sims/<id>`, `WS .../sims/<id>/ws`. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { CoSimAPIError, requestAPI } from './api';
import { SimPresence } from './viewer/connection';

export const VIEWER_MIME_TYPE = 'application/vnd.cosim.viewer+json';

/** A sim id: 32 lowercase hex characters (a uuid4 without dashes). */
export const SIM_ID_PATTERN = /^[0-9a-f]{32}$/;

/** What a sim's `meta` key holds (kernels/cosim/live_viewer.py). */
export interface ISimMeta {
  sim_id: string;
  engine: string;
  title: string;
  /** Content hash of the scene. */
  scene: string;
  /** Unix seconds. */
  started: number;
  /** Unix seconds, or null while running. */
  ended: number | null;
  /** Number of moving bodies. */
  bodies: number;
  mode?: string;
}

/** The `application/vnd.cosim.viewer+json` output data. */
export interface IViewerOutputData {
  sim_id: string;
  title?: string;
  user?: string;
  engine?: string;
}

export async function listSims(): Promise<ISimMeta[]> {
  const reply = await requestAPI<{ sims: ISimMeta[] }>('sims');
  return reply.sims.filter(sim => sim.ended === null || sim.ended === undefined);
}

/** REST's view of a sim: 404 means the server no longer has it. Other errors throw. */
export async function simPresence(simId: string): Promise<SimPresence> {
  try {
    const meta = await requestAPI<ISimMeta>(`sims/${simId}`);
    return meta.ended === null || meta.ended === undefined ? 'live' : 'ended';
  } catch (error) {
    if (error instanceof CoSimAPIError && error.status === 404) {
      return 'missing';
    }
    throw error;
  }
}

/** The viewer socket's URL; the token is added the way Lab adds it to kernel sockets. */
export function viewerSocketUrl(simId: string): string {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.wsUrl, 'cosim/api/sims', simId, 'ws');
  return settings.appendToken && settings.token
    ? `${url}?token=${encodeURIComponent(settings.token)}`
    : url;
}
