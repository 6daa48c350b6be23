/**
 * SimConnection: the WebSocket to one sim. It decodes what the server sends and reconnects
 * after unexpected closes (exponential backoff from 0.5 s doubling to 15 s, full jitter) until
 * the sim ends. No Jupyter imports: the host gives it a URL factory and a REST presence check.
 */
import {
  decodeFrame,
  decodeScene,
  Frame,
  FRAME_MAGIC,
  IScene,
  magicOf,
  SCENE_MAGIC
} from './codec';
import { CLOSE_SIM_ENDED } from '../protocol/viewerSocket';

/** Close code the server uses when the sim is gone (4000-4999 are the application's). */
export { CLOSE_SIM_ENDED };
/** Close code when the user's access to the server was revoked: no reconnect. */
export const CLOSE_ACCESS_REVOKED = 4403;
/** Close code of `drop()`. */
export const CLOSE_DROPPED = 4000;
export const BASE_DELAY_MS = 500;
export const MAX_DELAY_MS = 15_000;
/** A socket that stayed open this long resets the backoff. */
const STABLE_MS = 2_000;
/** Open but silent this long: ask REST whether the sim is still there (a crashed kernel). */
export const STALL_MS = 15_000;
const OPEN = 1;

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'ended';

/** What REST says about the sim: running, ended but still kept, or unknown to the server. */
export type SimPresence = 'live' | 'ended' | 'missing';

export interface IConnectionHandlers {
  onState(state: ConnectionState, detail: string): void;
  onScene(scene: IScene): void;
  onFrame(frame: Frame): void;
  onHello?(meta: Record<string, unknown>): void;
  onError?(message: string): void;
  /** Any other JSON message (live control, presence), parsed. */
  onMessage?(message: Record<string, unknown>): void;
}

/** The parts of `WebSocket` used here, so tests can pass a fake. */
export interface IWebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketCtor = new (url: string, protocols?: string | string[]) => IWebSocketLike;

export interface IConnectionOptions {
  url: () => string;
  handlers: IConnectionHandlers;
  protocols?: string | string[];
  /** Asked before the first attempt and after each attempt that failed before opening. */
  presence?: () => Promise<SimPresence>;
  WebSocket?: WebSocketCtor;
  /** In [0, 1); Math.random by default (tests pin it). */
  random?: () => number;
}

/** Full-jitter backoff: uniform in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, random: number): number {
  return random * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
}

export class SimConnection {
  constructor(private readonly _options: IConnectionOptions) {}

  get state(): ConnectionState {
    return this._state;
  }

  /** Successful reconnects: opens after the first one. */
  get reconnects(): number {
    return this._reconnects;
  }

  /** Start connecting; asks `presence` first so a long-gone sim costs no failed upgrade. */
  async start(): Promise<void> {
    if (this._started) {
      return;
    }
    this._started = true;
    if (this._options.presence) {
      let presence: SimPresence = 'live';
      try {
        presence = await this._options.presence();
      } catch {
        // the server may be restarting: try the socket anyway
      }
      if (presence === 'missing') {
        this._end('the server no longer has this sim');
        return;
      }
    }
    this._connect();
  }

  /** Send a command to the sim, e.g. `{type: 'stop'}`; false when not connected. */
  send(message: Record<string, unknown>): boolean {
    if (this._socket?.readyState !== OPEN) {
      return false;
    }
    this._socket.send(JSON.stringify(message));
    return true;
  }

  /** Close the socket as a network failure would: the reconnect path runs. */
  drop(): void {
    const opened = this._openedAt > 0;
    const socket = this._detach();
    if (!socket || this._state === 'ended') {
      return;
    }
    socket.close(CLOSE_DROPPED, 'dropped by the client');
    this._lost(opened);
  }

  /** Skip the backoff wait (e.g. when the browser comes back online). */
  retryNow(): void {
    if (this._timer !== undefined && !this._disposed) {
      clearTimeout(this._timer);
      this._timer = undefined;
      this._connect();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._timer);
    this._detach()?.close(1000, 'viewer closed');
  }

  private _connect(): void {
    this._timer = undefined;
    if (this._disposed || this._state === 'ended') {
      return;
    }
    const Ctor = this._options.WebSocket ?? (WebSocket as unknown as WebSocketCtor);
    let socket: IWebSocketLike;
    try {
      socket = new Ctor(this._options.url(), this._options.protocols);
    } catch (error) {
      this._options.handlers.onError?.(`cannot open the viewer socket: ${String(error)}`);
      this._lost(false);
      return;
    }
    socket.binaryType = 'arraybuffer';
    this._socket = socket;
    this._openedAt = 0;
    socket.onopen = () => {
      this._openedAt = this._lastMessageAt = Date.now();
      this._watchStalls();
      if (this._everOpened) {
        this._reconnects++;
      }
      this._everOpened = true;
      this._setState('live', '');
    };
    socket.onmessage = event => {
      this._lastMessageAt = Date.now();
      this._onMessage(event.data);
    };
    socket.onclose = event => {
      const opened = this._openedAt > 0;
      this._detach();
      if (this._state === 'ended') {
        return;
      }
      if (event.code === CLOSE_SIM_ENDED) {
        this._end(event.reason === 'sim ended' ? '' : event.reason);
      } else if (event.code === CLOSE_ACCESS_REVOKED) {
        this._end('your access to this server was revoked');
      } else {
        this._lost(opened);
      }
    };
  }

  /** The socket went away unexpectedly (or never opened). */
  private _lost(opened: boolean): void {
    if (opened && Date.now() - this._openedAt >= STABLE_MS) {
      this._attempt = 0;
    }
    if (opened || !this._options.presence) {
      this._schedule();
      return;
    }
    // A refused upgrade (404 for an unknown sim) looks like any failed connection: ask REST.
    this._options.presence().then(
      presence => {
        if (presence === 'live') {
          this._schedule();
        } else {
          this._end(presence === 'missing' ? 'the server no longer has this sim' : '');
        }
      },
      () => this._schedule()
    );
  }

  private _schedule(): void {
    if (this._disposed || this._state === 'ended') {
      return;
    }
    const delay = backoffDelay(this._attempt, (this._options.random ?? Math.random)());
    this._attempt++;
    const state = this._everOpened ? 'reconnecting' : 'connecting';
    this._setState(state, `attempt ${this._attempt} in ${(delay / 1000).toFixed(1)} s`);
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._connect(), delay);
  }

  private _onMessage(data: unknown): void {
    const handlers = this._options.handlers;
    if (typeof data === 'string') {
      let message: { type?: unknown; meta?: unknown; message?: unknown };
      try {
        message = JSON.parse(data);
      } catch {
        handlers.onError?.('the server sent text that is not JSON');
        return;
      }
      if (message?.type === 'hello' && message.meta && typeof message.meta === 'object') {
        handlers.onHello?.(message.meta as Record<string, unknown>);
      } else if (message?.type === 'ended') {
        this._end('');
      } else if (message?.type === 'error') {
        handlers.onError?.(String(message.message ?? 'error'));
      } else if (message && typeof message === 'object') {
        handlers.onMessage?.(message as Record<string, unknown>);
      }
      return;
    }
    if (!(data instanceof ArrayBuffer)) {
      return;
    }
    try {
      const magic = magicOf(data);
      if (magic === FRAME_MAGIC) {
        handlers.onFrame(decodeFrame(data));
      } else if (magic === SCENE_MAGIC) {
        handlers.onScene(decodeScene(data));
      } else {
        handlers.onError?.(`unknown binary message (magic ${JSON.stringify(magic)})`);
      }
    } catch (error) {
      handlers.onError?.(`bad message from the server: ${String(error)}`);
    }
  }

  private _end(detail: string): void {
    clearTimeout(this._timer);
    this._timer = undefined;
    this._setState('ended', detail);
  }

  /**
   * A sim whose kernel died never says "ended"; its keys expire on the server. While the socket
   * is open but silent, ask REST now and then, and end the view when the sim is gone.
   */
  private _watchStalls(): void {
    clearInterval(this._stallTimer);
    this._stallTimer = setInterval(() => {
      const presence = this._options.presence;
      if (!presence || this._checking || Date.now() - this._lastMessageAt < STALL_MS) {
        return;
      }
      this._checking = true;
      presence()
        .then(state => {
          if (state !== 'live' && this._socket && Date.now() - this._lastMessageAt >= STALL_MS) {
            this._end(state === 'missing' ? 'the server no longer has this sim' : '');
            this._detach()?.close(1000, 'sim ended');
          }
        })
        .catch(() => undefined) // unreachable server: the socket's close will tell
        .finally(() => (this._checking = false));
    }, STALL_MS / 3);
  }

  /** Forget the current socket and silence its handlers; returns it. */
  private _detach(): IWebSocketLike | null {
    clearInterval(this._stallTimer);
    this._stallTimer = undefined;
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }
    return socket;
  }

  private _setState(state: ConnectionState, detail: string): void {
    if (this._disposed) {
      return;
    }
    this._state = state;
    this._options.handlers.onState(state, detail);
  }

  private _socket: IWebSocketLike | null = null;
  private _state: ConnectionState = 'connecting';
  private _started = false;
  private _attempt = 0;
  private _reconnects = 0;
  private _openedAt = 0;
  private _everOpened = false;
  private _disposed = false;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _stallTimer: ReturnType<typeof setInterval> | undefined = undefined;
  private _lastMessageAt = 0;
  private _checking = false;
}
