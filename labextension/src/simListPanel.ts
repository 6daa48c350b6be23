/** The "CoSim Viewer" side panel: this server's live sims, polled. */
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { viewerIcon } from './icons';
import { ISimMeta, listSims } from './simApi';

export const SIM_LIST_PANEL_ID = 'cosim-viewer-panel';
const POLL_MS = 3_000;

export function age(startedSeconds: number, nowMs = Date.now()): string {
  const s = Math.max(0, Math.round(nowMs / 1000 - startedSeconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min`;
  }
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function simItem(sim: ISimMeta, open: (sim: ISimMeta) => void): HTMLLIElement {
  const item = document.createElement('li');
  item.className = 'cosim-SimList-item';
  item.dataset.simId = sim.sim_id;
  item.tabIndex = 0;
  item.title = `Open sim ${sim.sim_id}`;
  const title = document.createElement('div');
  title.className = 'cosim-SimList-title';
  title.textContent = sim.title || sim.sim_id;
  const details = document.createElement('div');
  details.className = 'cosim-SimList-details';
  const bodies = typeof sim.bodies === 'number' ? ` · ${sim.bodies} moving bodies` : '';
  details.textContent = `${sim.engine} · ${age(sim.started)}${bodies}`;
  item.append(title, details);
  item.onclick = () => open(sim);
  item.onkeydown = event => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open(sim);
    }
  };
  return item;
}

/** The left panel listing this server's live sims; a click opens one in the main area. */
export class SimListPanel extends Widget {
  constructor(private readonly _open: (sim: ISimMeta) => void) {
    super();
    this.id = SIM_LIST_PANEL_ID;
    this.addClass('cosim-SimList');
    this.title.icon = viewerIcon;
    this.title.caption = 'CoSim Viewer';
    const header = document.createElement('h2');
    header.className = 'cosim-SimList-header';
    header.textContent = 'Live sims';
    this._list = document.createElement('ul');
    this._status = document.createElement('p');
    this._status.className = 'cosim-SimList-status';
    this.node.append(header, this._list, this._status);
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: POLL_MS, backoff: true, max: 10 * POLL_MS },
      name: '@cosim/labextension:sims',
      standby: () => !this.isVisible || 'when-hidden'
    });
  }

  async refresh(): Promise<void> {
    let sims: ISimMeta[];
    try {
      sims = await listSims();
    } catch (error) {
      this._status.textContent = `Cannot list sims: ${error instanceof Error ? error.message : error}`;
      throw error; // the poll backs off
    }
    sims.sort((a, b) => b.started - a.started);
    this._list.replaceChildren(...sims.map(sim => simItem(sim, this._open)));
    this._status.textContent =
      sims.length > 0 ? '' : 'No live sims. Run a cell with cosim.viewer(...) to start one.';
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    void this._poll.refresh();
  }

  private _list: HTMLUListElement;
  private _status: HTMLParagraphElement;
  private _poll: Poll;
}
