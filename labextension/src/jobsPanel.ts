/** The "CoSim Jobs" side panel: every job of this server, live while it runs. */
import { Notification } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { jobsIcon } from './icons';
import {
  ACTIVE_STATES,
  deleteJob,
  eventsUrl,
  IJob,
  IJobMetric,
  JobEvent,
  listJobs,
  resumeJob,
  stopJob
} from './jobsApi';
import { errorText } from './dom';

export const JOBS_PANEL_ID = 'cosim-jobs-panel';
const LIST_INTERVAL_MS = 3000;
const LOG_LINES = 8;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  const s = Math.round(seconds);
  if (s < 90) {
    return `${s} s`;
  }
  if (s < 5400) {
    return `${Math.round(s / 60)} min`;
  }
  return `${(s / 3600).toFixed(1)} h`;
}

/** Axis numbers short enough for a side panel: 1.2k, 200k, 1.5M. */
function tick(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) {
    return `${(value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  }
  if (abs >= 1e3) {
    return `${(value / 1e3).toFixed(abs >= 1e4 ? 0 : 1)}k`;
  }
  return abs >= 100 || value === Math.round(value) ? value.toFixed(0) : value.toFixed(1);
}

/**
 * Episode reward over environment steps: the line in an SVG that stretches to the panel's
 * width, the axes' ranges and names in HTML around it (SVG text would stretch with it).
 */
function rewardCurve(metrics: IJobMetric[]): HTMLDivElement {
  const chart = document.createElement('div');
  chart.className = 'cosim-Jobs-chart';
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'cosim-Jobs-curve');
  svg.setAttribute('viewBox', '0 0 200 50');
  svg.setAttribute('preserveAspectRatio', 'none');
  const points = metrics.filter(m => m.episode_reward !== null);
  chart.dataset.points = String(points.length);
  const label = (cls: string, text: string) => {
    const node = document.createElement('span');
    node.className = `cosim-Jobs-axis ${cls}`;
    node.textContent = text;
    chart.appendChild(node);
  };
  const xs = points.map(m => m.timesteps);
  const ys = points.map(m => m.episode_reward as number);
  const [x0, x1] = points.length ? [Math.min(...xs), Math.max(...xs)] : [0, 0];
  const [y0, y1] = points.length ? [Math.min(...ys), Math.max(...ys)] : [0, 0];
  label('cosim-Jobs-yMax', points.length ? tick(y1) : '');
  label('cosim-Jobs-yName', 'episode reward');
  label('cosim-Jobs-yMin', points.length ? tick(y0) : '');
  chart.appendChild(svg);
  label('cosim-Jobs-xMin', points.length ? tick(x0) : '');
  label('cosim-Jobs-xName', 'env steps');
  label('cosim-Jobs-xMax', points.length ? tick(x1) : '');
  if (points.length < 2) {
    return chart;
  }
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute(
    'points',
    points
      .map((_, i) => {
        const x = ((xs[i] - x0) / Math.max(x1 - x0, 1)) * 200;
        const y = 48 - ((ys[i] - y0) / Math.max(y1 - y0, 1e-9)) * 46;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ')
  );
  svg.appendChild(line);
  const title = document.createElementNS(ns, 'title');
  title.textContent = `episode reward ${ys[ys.length - 1].toFixed(2)} (min ${y0.toFixed(2)}, max ${y1.toFixed(2)})`;
  svg.appendChild(title);
  return chart;
}

export interface IJobsPanelOptions {
  openTensorBoard: (jobId: string) => void;
  /** Run the latest checkpoint in the live viewer and show it. */
  watchPolicy: (jobId: string) => Promise<void>;
}

/** One job's card; while the job runs it follows the job's events socket. */
class JobCard {
  readonly node = document.createElement('li');

  constructor(
    private _job: IJob,
    private readonly _options: IJobsPanelOptions,
    private readonly _changed: () => void
  ) {
    this.node.className = 'cosim-Jobs-item';
    this.node.dataset.jobId = _job.id;
    const head = document.createElement('div');
    head.className = 'cosim-Jobs-title';
    this._title.className = 'cosim-Jobs-name';
    this._state.className = 'cosim-Jobs-state';
    head.append(this._title, this._state);
    this._progress.className = 'cosim-Jobs-progress';
    this._progress.max = 1;
    this._stats.className = 'cosim-Jobs-stats';
    this._message.className = 'cosim-Jobs-message';
    this._log.className = 'cosim-Jobs-log';
    this._buttons.className = 'cosim-Jobs-buttons';
    this.node.append(
      head,
      this._progress,
      this._stats,
      this._curve,
      this._message,
      this._log,
      this._buttons
    );
    this._button('stop', 'Stop', 'Stop after saving a checkpoint', () => stopJob(this._job.id));
    this._button('resume', 'Resume', 'Continue from the latest checkpoint', () =>
      resumeJob(this._job.id)
    );
    this._button('tensorboard', 'TensorBoard', 'Open TensorBoard in a tab', async () =>
      this._options.openTensorBoard(this._job.id)
    );
    this._button('watch', 'Watch', 'Watch the latest checkpoint in the live viewer', () =>
      this._options.watchPolicy(this._job.id)
    );
    this._button('delete', 'Delete', 'Delete the job and its checkpoints', () =>
      deleteJob(this._job.id)
    );
    this.update(_job);
    this._connect();
  }

  get job(): IJob {
    return this._job;
  }

  update(job: IJob): void {
    const wasActive = ACTIVE_STATES.has(this._job.state);
    this._job = { ...this._job, ...job };
    const j = this._job;
    this.node.dataset.state = j.state;
    this._title.textContent = `${j.title || j.template} · ${j.project.split('/').pop()}`;
    this._title.title = `${j.id}\n${j.project}`;
    this._state.textContent = j.state;
    this._state.dataset.state = j.state;
    this._message.textContent = j.state === 'failed' || j.state === 'lost' ? (j.message ?? '') : '';
    this._showProgress();
    // An ended job's state carries its final log lines: newer than what the socket last sent.
    if (j.log_tail && (this._lines.length === 0 || !ACTIVE_STATES.has(j.state))) {
      this._lines = j.log_tail.slice(-LOG_LINES);
      this._log.textContent = this._lines.join('\n');
    }
    const active = ACTIVE_STATES.has(j.state);
    this._setEnabled('stop', active && j.state !== 'stopping');
    this._setEnabled('resume', !active && j.checkpoint !== null && j.state !== 'finished');
    this._setEnabled('watch', j.checkpoint !== null);
    this._setEnabled('delete', !active);
    if (active && !wasActive) {
      this._connect();
    }
  }

  dispose(): void {
    this._socket?.close();
    this._socket = null;
    this.node.remove();
  }

  private _showProgress(): void {
    const j = this._job;
    const last = this._metrics[this._metrics.length - 1];
    const steps = last?.timesteps ?? j.timesteps ?? 0;
    const total = last?.total_timesteps ?? j.total_timesteps ?? 0;
    const rate = last?.steps_per_s ?? j.steps_per_s ?? 0;
    this._progress.value = total > 0 ? Math.min(steps / total, 1) : 0;
    this.node.dataset.timesteps = String(steps);
    // SB3 finishes its last rollout past the total (200,706 of 200,000): show the goal reached,
    // the exact count in the tooltip.
    const shown = total > 0 ? Math.min(steps, total) : steps;
    const parts = [`${shown.toLocaleString()} / ${total.toLocaleString()} steps`];
    this._stats.title = `${steps.toLocaleString()} environment steps taken`;
    if (rate > 0) {
      parts.push(`${Math.round(rate).toLocaleString()} steps/s`);
      if (ACTIVE_STATES.has(j.state) && total > steps) {
        parts.push(`ETA ${duration((total - steps) / rate)}`);
      }
    }
    const reward = last?.episode_reward ?? j.episode_reward;
    if (reward !== null && reward !== undefined) {
      parts.push(`reward ${reward.toFixed(2)}`);
    }
    this._stats.textContent = parts.join(' · ');
  }

  /** Follow the events socket while the job is active; the snapshot fills curve and log. */
  private _connect(): void {
    if (this._socket || !ACTIVE_STATES.has(this._job.state)) {
      if (this._metrics.length === 0 && !this._socket) {
        this._loadOnce();
      }
      return;
    }
    const socket = new WebSocket(eventsUrl(this._job.id));
    this._socket = socket;
    socket.onmessage = event => this._onEvent(JSON.parse(String(event.data)) as JobEvent);
    socket.onclose = () => {
      if (this._socket === socket) {
        this._socket = null;
      }
    };
  }

  /** A finished job's curve and log: one snapshot from the socket, then close it. */
  private _loadOnce(): void {
    const socket = new WebSocket(eventsUrl(this._job.id));
    socket.onmessage = event => {
      this._onEvent(JSON.parse(String(event.data)) as JobEvent);
      socket.close();
    };
  }

  private _onEvent(event: JobEvent): void {
    switch (event.type) {
      case 'snapshot':
        this._metrics = event.metrics;
        this._lines = event.log.slice(-LOG_LINES);
        this.update(event.job);
        break;
      case 'metrics':
        this._metrics = this._metrics.concat(event.metrics);
        break;
      case 'log':
        this._lines = this._lines.concat(event.lines).slice(-LOG_LINES);
        break;
      case 'state':
        this.update(event.job);
        this._changed();
        if (!ACTIVE_STATES.has(event.job.state)) {
          this._socket?.close();
        }
        break;
    }
    this._log.textContent = this._lines.join('\n');
    this._curve.replaceWith((this._curve = rewardCurve(this._metrics)));
    this._showProgress();
  }

  private _button(
    name: string,
    label: string,
    title: string,
    action: () => Promise<unknown>
  ): void {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `cosim-Jobs-button cosim-Jobs-${name} jp-mod-styled`;
    button.textContent = label;
    button.title = title;
    button.onclick = async () => {
      button.disabled = true;
      try {
        await action();
      } catch (error) {
        Notification.error(`${label} failed: ${errorText(error)}`, { autoClose: 10_000 });
      } finally {
        button.disabled = false;
        this._changed();
      }
    };
    this._buttons.appendChild(button);
    this._named.set(name, button);
  }

  private _setEnabled(name: string, enabled: boolean): void {
    const button = this._named.get(name);
    if (button) {
      button.hidden = !enabled;
    }
  }

  private _title = document.createElement('span');
  private _state = document.createElement('span');
  private _progress = document.createElement('progress');
  private _stats = document.createElement('div');
  private _curve: HTMLDivElement = rewardCurve([]);
  private _message = document.createElement('div');
  private _log = document.createElement('pre');
  private _buttons = document.createElement('div');
  private _named = new Map<string, HTMLButtonElement>();
  private _metrics: IJobMetric[] = [];
  private _lines: string[] = [];
  private _socket: WebSocket | null = null;
}

/** The left panel listing this server's jobs, newest first. */
export class JobsPanel extends Widget {
  constructor(private readonly _options: IJobsPanelOptions) {
    super();
    this.id = JOBS_PANEL_ID;
    this.addClass('cosim-Jobs');
    this.title.icon = jobsIcon;
    this.title.caption = 'CoSim Jobs';
    const header = document.createElement('div');
    header.className = 'cosim-Jobs-header';
    const heading = document.createElement('h2');
    heading.textContent = 'Jobs';
    const refresh = document.createElement('button');
    refresh.type = 'button';
    refresh.className = 'cosim-Jobs-refresh cosim-Jobs-button';
    refresh.title = 'Refresh the list';
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    refresh.onclick = () => void this.refresh();
    header.append(heading, refresh);
    this._status.className = 'cosim-Jobs-status';
    this._list.className = 'cosim-Jobs-list';
    this.node.append(header, this._status, this._list);
  }

  /** Reload the list; cards of known jobs are updated in place (their sockets stay open). */
  async refresh(): Promise<void> {
    let jobs: IJob[];
    try {
      jobs = await listJobs();
    } catch (error) {
      this._status.textContent = `Cannot list jobs: ${errorText(error)}`;
      return;
    }
    if (this.isDisposed) {
      return;
    }
    const seen = new Set<string>();
    const newest = [...jobs].sort((a, b) => b.created - a.created);
    for (const job of newest) {
      seen.add(job.id);
      const card = this._cards.get(job.id);
      if (card) {
        card.update(job);
      } else {
        this._cards.set(job.id, new JobCard(job, this._options, () => void this.refresh()));
      }
    }
    for (const [id, card] of this._cards) {
      if (!seen.has(id)) {
        card.dispose();
        this._cards.delete(id);
      }
    }
    this._list.replaceChildren(...newest.map(j => this._cards.get(j.id)!.node));
    this._status.textContent =
      newest.length > 0 ? '' : 'No jobs yet. Start one from a CoSim template in the launcher.';
  }

  protected onAfterShow(): void {
    void this.refresh();
    if (this._timer === null) {
      this._timer = window.setInterval(() => void this.refresh(), LIST_INTERVAL_MS);
    }
  }

  protected onAfterHide(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  dispose(): void {
    this.onAfterHide();
    this._cards.forEach(card => card.dispose());
    super.dispose();
  }

  private _cards = new Map<string, JobCard>();
  private _list = document.createElement('ul');
  private _status = document.createElement('p');
  private _timer: number | null = null;
}
