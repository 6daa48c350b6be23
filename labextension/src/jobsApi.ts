/** The server's templates and jobs endpoints: `/cosim/api/templates`, `/cosim/api/jobs/...`. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './api';

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

export type JobState =
  'queued' | 'running' | 'stopping' | 'stopped' | 'finished' | 'failed' | 'lost';

export const ACTIVE_STATES: ReadonlySet<string> = new Set(['queued', 'running', 'stopping']);

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

/** Messages of `/cosim/api/jobs/<id>/events`. */
export type JobEvent =
  | { type: 'snapshot'; job: IJob; metrics: IJobMetric[]; log: string[] }
  | { type: 'metrics'; metrics: IJobMetric[] }
  | { type: 'log'; lines: string[] }
  | { type: 'state'; job: IJob };

function post(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}

function jobPath(id: string, ...rest: string[]): string {
  return URLExt.join('jobs', encodeURIComponent(id), ...rest);
}

export async function listTemplates(): Promise<ITemplate[]> {
  return (await requestAPI<{ templates: ITemplate[] }>('templates')).templates;
}

export async function listJobs(): Promise<IJob[]> {
  return (await requestAPI<{ jobs: IJob[] }>('jobs')).jobs;
}

/** Make a project folder from `template` (default name: `<template>-N`) and start a job in it. */
export function startJob(
  template: string,
  params: Record<string, unknown>,
  folder?: string
): Promise<IJob> {
  const body: Record<string, unknown> = { template, params };
  if (folder) {
    body.folder = folder;
  }
  return requestAPI<IJob>('jobs', post(body));
}

export function stopJob(id: string): Promise<IJob> {
  return requestAPI<IJob>(jobPath(id, 'stop'), post({}));
}

export function resumeJob(id: string): Promise<IJob> {
  return requestAPI<IJob>(jobPath(id, 'resume'), post({}));
}

export function deleteJob(id: string): Promise<void> {
  return requestAPI<void>(jobPath(id), { method: 'DELETE' });
}

/** Start the job's TensorBoard; resolves to its URL, proxied behind Jupyter auth. */
export async function openTensorBoard(id: string): Promise<string> {
  const reply = await requestAPI<{ url: string }>(jobPath(id, 'tensorboard'), post({}));
  return URLExt.join(ServerConnection.makeSettings().baseUrl, reply.url);
}

/** Roll out the latest checkpoint in the live sim viewer; resolves to the viewer's sim id. */
export function watchPolicy(id: string): Promise<{ sim_id: string; checkpoint: string }> {
  return requestAPI<{ sim_id: string; checkpoint: string }>(jobPath(id, 'watch'), post({}));
}

export function eventsUrl(id: string): string {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.wsUrl, 'cosim/api', jobPath(id, 'events'));
  return settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}
