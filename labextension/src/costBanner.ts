import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';

/** `GET /cosim/api/costguard`: this server's spend and the cost guard's notice, if any. */
export interface ICostGuardStatus {
  available: boolean;
  message?: string;
  profile?: string;
  gpus?: number;
  price_per_hour?: number | null;
  month?: string;
  spend?: number;
  cap?: number | null;
  notice?: { kind: string; message: string; stop_at: number | null } | null;
}

const POLL_MS = 5000;

function money(value: number | null | undefined): string {
  return value === null || value === undefined ? 'no cap' : `$${value.toFixed(2)}`;
}

/** The text of the banner, or null when there is nothing to show (a CPU server, no notice). */
export function bannerText(status: ICostGuardStatus): string | null {
  if (!status.available) {
    return null;
  }
  const parts: string[] = [];
  if ((status.gpus ?? 0) > 0) {
    const price = status.price_per_hour ? ` at $${status.price_per_hour.toFixed(2)}/h` : '';
    parts.push(
      `GPU server (${status.profile}${price}): ${money(status.spend)} of ${money(status.cap)} ` +
        `spent this month.`
    );
  }
  if (status.notice) {
    parts.push(status.notice.message);
  }
  return parts.length ? parts.join(' ') : null;
}

/** A one-line banner above Lab's main area, refreshed by polling. */
export class CostBanner extends Widget {
  private _timer = 0;

  constructor() {
    super();
    this.id = 'cosim-cost-banner';
    this.addClass('cosim-CostBanner');
    this.hide();
  }

  start(): void {
    void this.refresh();
    this._timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  dispose(): void {
    window.clearInterval(this._timer);
    super.dispose();
  }

  async refresh(): Promise<void> {
    let status: ICostGuardStatus;
    try {
      status = await requestAPI<ICostGuardStatus>('costguard');
    } catch {
      return; // server away: keep the last banner; the status item reports the outage
    }
    const text = bannerText(status);
    this.node.textContent = text ?? '';
    this.node.title = text ?? '';
    this.node.dataset.kind = status.notice?.kind ?? 'spend';
    this.node.classList.toggle('cosim-mod-warning', Boolean(status.notice));
    if (text) {
      this.show();
    } else {
      this.hide();
    }
  }
}

export const costBannerPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:cost-banner',
  description: 'Shows GPU spend against the monthly cap, and cost-guard warnings, above Lab.',
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    const banner = new CostBanner();
    app.shell.add(banner, 'top', { rank: 1000 });
    banner.start();
  }
};
