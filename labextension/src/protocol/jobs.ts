// Generated from kernels/cosim_protocol/schemas/jobs.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 1;

export type JobState = 'queued' | 'running' | 'stopping' | 'stopped' | 'finished' | 'failed' | 'lost';

export interface ITemplateParam {
  name: string;
  type: 'int' | 'float' | 'str' | 'bool';
  default: number | string | boolean;
  help: string;
  range?: [number, number];
  choices?: (string | number)[];
}

export interface ITemplate {
  name: string;
  title: string;
  description: string;
  kind: string;
  entry: string;
  params: ITemplateParam[];
}

/** One training record (a rollout): written by the job, read back by the panel. */
export interface IJobMetric {
  time: number;
  timesteps: number;
  total_timesteps: number;
  episode_reward: number | null;
  episode_length: number | null;
  steps_per_s: number;
  losses: Record<string, number>;
}

export interface IJob {
  id: string;
  template: string;
  title: string;
  project: string;
  params: Record<string, unknown>;
  state: JobState;
  message?: string;
  timesteps?: number;
  total_timesteps?: number;
  steps_per_s?: number;
  episode_reward?: number | null;
  checkpoint: string | null;
  created: number;
  resumes?: number;
  log_tail?: string[];
}

/** Messages of `/cosim/api/jobs/<id>/events`, and the job and template records of the jobs REST API. */
export type JobEvent = {
  type: 'snapshot';
  job: IJob;
  metrics: IJobMetric[];
  log: string[];
} | {
  type: 'metrics';
  metrics: IJobMetric[];
} | {
  type: 'log';
  lines: string[];
} | {
  type: 'state';
  job: IJob;
};
