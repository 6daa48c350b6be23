/**
 * What this Lab's user may do on this server, as the server says (issue 18): `writable` false
 * for a visitor whose share is view-only. Only the UI follows it (documents read-only, sim
 * controls disabled); the server refuses a view-only visitor's edits whatever the UI does.
 *
 * The answer comes over `/cosim/api/access/ws`, which the server closes when the access
 * changes (4409: the share became view-only or editable; reopened at once, and the new answer
 * read) or ends (4403: revoked; not reopened). Other closes reopen with backoff.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { CLOSE_ACCESS_REVOKED } from './viewer/connection';

export interface IAccess {
  /** Whether the server lets this user change documents, run code and press sim controls. */
  writable: boolean;
  /** The hub user, and the server's owner (null outside a hub). */
  user: string;
  owner: string | null;
  /** Why not writable, for the user. */
  reason: string | null;
}

/** Close code for "your access to this server changed" (cosim_protocol.sharing). */
export const CLOSE_ACCESS_CHANGED = 4409;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 15_000;

export class AccessWatch {
  /** The server's last answer; null until the first one. */
  get access(): IAccess | null {
    return this._access;
  }

  /** False only once the server said so (until then documents stay as Lab opened them). */
  get writable(): boolean {
    return this._access?.writable !== false;
  }

  get changed(): ISignal<this, IAccess> {
    return this._changed;
  }

  /** Connect; resolves at the server's first answer, or after `waitMs` without one. */
  start(waitMs = 0): Promise<void> {
    this._connect();
    return new Promise(resolve => {
      if (this._access !== null) {
        resolve();
        return;
      }
      const timer = window.setTimeout(resolve, waitMs);
      this._changed.connect(() => {
        window.clearTimeout(timer);
        resolve();
      });
    });
  }

  private _connect(): void {
    const settings = ServerConnection.makeSettings();
    let url = URLExt.join(settings.wsUrl, 'cosim/api/access/ws');
    if (settings.appendToken && settings.token) {
      url += `?token=${encodeURIComponent(settings.token)}`;
    }
    const socket = new settings.WebSocket(url);
    socket.onmessage = event => {
      try {
        const message = JSON.parse(String(event.data)) as Partial<IAccess> & { type?: string };
        if (message.type === 'access' && typeof message.writable === 'boolean') {
          this._retryMs = RETRY_MIN_MS;
          this._set({
            writable: message.writable,
            user: String(message.user ?? ''),
            owner: message.owner ?? null,
            reason: message.reason ?? null
          });
        }
      } catch {
        // not ours: ignored
      }
    };
    socket.onclose = event => {
      if (event.code === CLOSE_ACCESS_REVOKED) {
        this._set({
          writable: false,
          user: this._access?.user ?? '',
          owner: this._access?.owner ?? null,
          reason: 'Your access to this server was revoked.'
        });
        return;
      }
      // "access changed": at once; anything else (server restarting): with backoff.
      const delay = event.code === CLOSE_ACCESS_CHANGED ? 0 : this._retryMs;
      this._retryMs = Math.min(this._retryMs * 2, RETRY_MAX_MS);
      window.setTimeout(() => this._connect(), delay);
    };
  }

  private _set(access: IAccess): void {
    const before = this._access;
    this._access = access;
    if (before?.writable !== access.writable || before?.reason !== access.reason) {
      this._changed.emit(access);
    }
  }

  private _access: IAccess | null = null;
  private _retryMs = RETRY_MIN_MS;
  private _changed = new Signal<this, IAccess>(this);
}
