/** The server's templates and jobs endpoints: `/cosim/api/templates`, `/cosim/api/jobs/...`. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './api';

import type { IJob, ITemplate } from './protocol/jobs';

export type {
  IJob,
  IJobMetric,
  ITemplate,
  ITemplateParam,
  JobEvent,
  JobState
} from './protocol/jobs';

export const ACTIVE_STATES: ReadonlySet<string> = new Set(['queued', 'running', 'stopping']);

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
