/**
 * What the Jobs panel shows for a SLAM job: frames / total, frames/s and the running ATE while
 * it runs; the trajectory plot, the error over time and a metrics table when it has finished.
 * Records and files come from the slam-baseline template (cosim.slam.run).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The fields of a SLAM job's metrics records (progress records, then one `final`). */
export interface ISlamMetric {
  frames?: number;
  total_frames?: number;
  fps?: number | null;
  ate_running_m?: number | null;
  final?: boolean;
  ate_rmse_m?: number;
  ate_mean_m?: number;
  ate_median_m?: number;
  ate_max_m?: number;
  rpe_trans_rmse_m?: number;
  rpe_rot_rmse_deg?: number;
  scale?: number | null;
}

export function isSlamMetric(metric: unknown): metric is ISlamMetric {
  return typeof metric === 'object' && metric !== null && 'frames' in metric;
}

const cm = (m: number | null | undefined): string =>
  m === null || m === undefined ? '–' : `${(m * 100).toFixed(2)} cm`;

/** "450 / 600 frames · 31 frames/s · ATE 2.31 cm" */
export function slamStats(last: ISlamMetric): string {
  const parts = [`${last.frames ?? 0} / ${last.total_frames ?? 0} frames`];
  if (last.fps) {
    parts.push(`${last.fps.toFixed(1)} frames/s`);
  }
  const ate = last.final ? last.ate_rmse_m : last.ate_running_m;
  if (ate !== null && ate !== undefined) {
    parts.push(`ATE ${cm(ate)}`);
  }
  return parts.join(' · ');
}

async function fetchImage(jobId: string, name: string): Promise<string> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'cosim/api/jobs', jobId, 'results', name);
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    throw new Error(`${name}: ${response.status}`);
  }
  return URL.createObjectURL(await response.blob());
}

/** Plots and a metrics table of a finished SLAM job. */
export function slamResults(jobId: string, final: ISlamMetric): HTMLElement {
  const node = document.createElement('div');
  node.className = 'cosim-Slam-results';
  const table = document.createElement('table');
  table.className = 'cosim-Slam-metrics';
  const rows: [string, string][] = [
    ['ATE RMSE', cm(final.ate_rmse_m)],
    ['ATE mean', cm(final.ate_mean_m)],
    ['ATE median', cm(final.ate_median_m)],
    ['ATE max', cm(final.ate_max_m)],
    ['RPE translation (RMSE, per frame)', cm(final.rpe_trans_rmse_m)],
    ['RPE rotation (RMSE, per frame)', `${(final.rpe_rot_rmse_deg ?? 0).toFixed(3)}°`]
  ];
  if (final.scale) {
    rows.push(['scale (Sim(3) alignment)', final.scale.toFixed(4)]);
  }
  for (const [name, value] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = value;
  }
  node.appendChild(table);
  for (const [name, alt] of [
    ['trajectory.png', 'Top view: estimate after alignment vs ground truth'],
    ['error.png', 'Absolute trajectory error over time']
  ]) {
    const img = document.createElement('img');
    img.className = `cosim-Slam-plot cosim-Slam-${name.split('.')[0]}`;
    img.alt = alt;
    img.title = alt;
    node.appendChild(img);
    fetchImage(jobId, name)
      .then(src => {
        img.src = src;
      })
      .catch(error => {
        img.replaceWith(document.createTextNode(`${alt}: not available (${error})`));
      });
  }
  return node;
}
