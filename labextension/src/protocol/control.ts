// Generated from kernels/cosim_protocol/schemas/control.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 1;

export const FILE_NAME = 'sim-control.json';
export const SEED_MAX = 2147483647;
export const SPEED_MAX = 100;
export const MAX_INCREMENT = 1000;
export const MAX_EVENTS = 50;
export const MAX_PARAMS = 64;
export const PRESSES = 'cosim:presses';
export const ROOM_STATE = 'cosim:control';
export const ROOM_SERVER_KEY = 'server';

export type ControlState = 'running' | 'paused';

export interface IControlParam {
  value: number;
  min: number;
  max: number;
}

/** Who changed what (written by the server). */
export interface IControlEvent {
  who: string;
  what: string;
  sim_time?: number | null;
  wall_time: number;
  /** The road the change took: the RTC room, a viewer socket, REST, an outside write. */
  via?: 'document' | 'socket' | 'rest' | 'file';
}

/** A change a viewer sends: fields to set, and `step` / `reset` as increments. */
export interface IControlChange {
  state?: ControlState;
  step?: number;
  reset?: number;
  seed?: number;
  speed?: number;
  /** Param name -> new value (within its declared range). */
  params?: Record<string, number>;
}

/** sim-control.json: the shared control state of one live sim (cosim_protocol/control.py). */
export interface IControlDocument {
  schema_version: 1;
  /** The sim the file drives now (written by the server). */
  sim_id?: string | null;
  state: ControlState;
  /** Counter: each +1 lets one sync() through while paused. */
  step: number;
  /** Counter: each +1 is one reset. */
  reset: number;
  seed: number;
  /** Real-time factor; 0 = as fast as possible. */
  speed: number;
  /** Declared by v.param() in the kernel. */
  params: Record<string, IControlParam>;
  events: IControlEvent[];
}
