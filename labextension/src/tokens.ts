import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

/** `GET /cosim/api/status`, as the server extension answers it. */
export interface IStatusReply {
  version: string;
  redis: { reachable: boolean; url: string; error: string | null };
  features: string[];
}

/** Whether Redis is reachable: 'unknown' until the first answer or when the server is gone. */
export type RedisState = 'up' | 'down' | 'unknown';

/** The server extension's status, polled once for the whole Lab session. */
export interface ICoSimStatus {
  readonly reply: IStatusReply | null;
  readonly redis: RedisState;
  /** Last error talking to the server extension, or null. */
  readonly error: string | null;
  readonly changed: ISignal<ICoSimStatus, void>;
  refresh(): Promise<void>;
}

export const ICoSimStatus = new Token<ICoSimStatus>(
  '@cosim/labextension:ICoSimStatus',
  'CoSim server extension status (version, Redis, features).'
);
