import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';

import { requestAPI } from './api';
import { ICoSimStatus, IStatusReply, RedisState } from './tokens';

const POLL_MS = 10_000;

/** Polls the status endpoint; backs off while the server is unreachable (Poll's own backoff). */
export class StatusModel implements ICoSimStatus, IDisposable {
  constructor() {
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: POLL_MS, backoff: true, max: 6 * POLL_MS },
      name: '@cosim/labextension:status',
      standby: 'when-hidden'
    });
  }

  get reply(): IStatusReply | null {
    return this._reply;
  }

  get redis(): RedisState {
    if (this._reply === null || this._error !== null) {
      return 'unknown';
    }
    return this._reply.redis.reachable ? 'up' : 'down';
  }

  get error(): string | null {
    return this._error;
  }

  get changed(): ISignal<ICoSimStatus, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  async refresh(): Promise<void> {
    try {
      this._reply = await requestAPI<IStatusReply>('status');
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
      this._changed.emit();
      throw error; // lets the Poll back off
    }
    this._changed.emit();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _poll: Poll;
  private _reply: IStatusReply | null = null;
  private _error: string | null = null;
  private _changed = new Signal<ICoSimStatus, void>(this);
}
