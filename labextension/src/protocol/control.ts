/**
 * sim-control.json (kernels/cosim_protocol/schemas/control.schema.json, schema version 1).
 * Written by hand until the schema-to-TypeScript generator (issue 14) lands on main.
 */
export const CONTROL_SCHEMA_VERSION = 1;

export type ControlState = 'running' | 'paused';

export interface IControlParam {
  value: number;
  min: number;
  max: number;
}

export interface IControlEvent {
  who: string;
  what: string;
  sim_time: number | null;
  wall_time: number;
}

export interface IControlDocument {
  schema_version: number;
  sim_id: string | null;
  state: ControlState;
  step: number;
  reset: number;
  seed: number;
  speed: number;
  params: Record<string, IControlParam>;
  events: IControlEvent[];
}

/** A change a viewer sends: fields to set, and `step` / `reset` as increments. */
export interface IControlChange {
  state?: ControlState;
  step?: number;
  reset?: number;
  seed?: number;
  speed?: number;
  params?: Record<string, number>;
}
