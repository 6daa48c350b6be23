/** The "CoSim Snapshots" side panel: take, diff, restore and export workspace snapshots. */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { snapshotsIcon } from './icons';
import {
  createSnapshot,
  exportUrl,
  IRestoreReply,
  ISnapshotSummary,
  listSnapshots,
  restoreSnapshot
} from './snapshotsApi';
import { errorText } from './dom';

export const SNAPSHOTS_PANEL_ID = 'cosim-snapshots-panel';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function snapshotLabel(snapshot: ISnapshotSummary): string {
  return snapshot.message ? `“${snapshot.message}” (${snapshot.id})` : snapshot.id;
}

function restoreMessage(reply: IRestoreReply): string {
  const safety = reply.safety_snapshot
    ? `Your previous files are in safety snapshot ${reply.safety_snapshot}.`
    : 'Nothing had changed since the latest snapshot, so no safety snapshot was needed.';
  const data =
    reply.data.length > 0
      ? ` ${plural(reply.data.length, 'data file')} (referenced, not stored) differ: ` +
        reply.data.map(d => `${d.path} (${d.status})`).join(', ')
      : '';
  return `Restored snapshot ${reply.restored}. ${safety}${data}`;
}

function actionButton(cls: string, label: string, title: string): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = `cosim-Snapshots-button ${cls}`;
  button.textContent = label;
  button.title = title;
  return button;
}

export interface ISnapshotsPanelOptions {
  /** Show what changed since a snapshot (in the main area). */
  openDiff: (snapshotId: string) => void;
  /** After a restore changed the workspace (open diffs are out of date). */
  restored?: (reply: IRestoreReply) => void;
}

/** The left panel listing this workspace's snapshots, newest first. */
export class SnapshotsPanel extends Widget {
  constructor(private readonly _options: ISnapshotsPanelOptions) {
    super();
    this.id = SNAPSHOTS_PANEL_ID;
    this.addClass('cosim-Snapshots');
    this.title.icon = snapshotsIcon;
    this.title.caption = 'CoSim Snapshots';

    const header = document.createElement('div');
    header.className = 'cosim-Snapshots-header';
    const heading = document.createElement('h2');
    heading.textContent = 'Snapshots';
    const refresh = actionButton('cosim-Snapshots-refresh', '', 'Refresh the list');
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    refresh.onclick = () => void this.refresh();
    header.append(heading, refresh);

    const form = document.createElement('form');
    form.className = 'cosim-Snapshots-form';
    this._message = document.createElement('input');
    this._message.type = 'text';
    this._message.className = 'cosim-Snapshots-message jp-mod-styled';
    this._message.placeholder = 'What is this snapshot?';
    this._message.maxLength = 2000;
    this._create = actionButton(
      'cosim-Snapshots-create jp-mod-styled jp-mod-accept',
      'Snapshot',
      'Snapshot the workspace now (files are stored once, by content)'
    );
    this._create.type = 'submit';
    form.append(this._message, this._create);
    form.onsubmit = event => {
      event.preventDefault();
      void this.create();
    };

    this._list = document.createElement('ul');
    this._list.className = 'cosim-Snapshots-list';
    this._note = document.createElement('p');
    this._note.className = 'cosim-Snapshots-note';
    this._note.setAttribute('aria-live', 'polite');
    this._status = document.createElement('p');
    this._status.className = 'cosim-Snapshots-status';
    this.node.append(header, form, this._note, this._status, this._list);
  }

  /** Reload the list from the server; overlapping calls show the newest answer only. */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    let snapshots: ISnapshotSummary[];
    try {
      snapshots = await listSnapshots();
    } catch (error) {
      if (generation === this._generation) {
        this._status.textContent = `Cannot list snapshots: ${errorText(error)}`;
      }
      return;
    }
    if (generation !== this._generation || this.isDisposed) {
      return;
    }
    const newest = [...snapshots].sort((a, b) => b.created - a.created);
    this._list.replaceChildren(...newest.map(s => this._item(s)));
    this._status.textContent =
      newest.length > 0 ? '' : 'No snapshots yet. Describe the current state and press Snapshot.';
  }

  async create(): Promise<void> {
    if (this._busy) {
      return;
    }
    this._setBusy(true);
    this._note.textContent = 'Taking a snapshot…';
    try {
      const reply = await createSnapshot(this._message.value.trim());
      this._message.value = '';
      const stored = formatBytes(reply.stored_bytes);
      this._note.textContent = `Snapshot ${reply.id}: ${plural(reply.files, 'file')}, ${stored} newly stored.`;
    } catch (error) {
      this._note.textContent = '';
      Notification.error(`Snapshot failed: ${errorText(error)}`, { autoClose: false });
    } finally {
      this._setBusy(false);
    }
    await this.refresh();
  }

  /** Ask, then restore in place (forced: a safety snapshot keeps the current files). */
  async restore(snapshot: ISnapshotSummary): Promise<void> {
    if (this._busy) {
      return;
    }
    const answer = await showDialog({
      title: `Restore snapshot ${snapshotLabel(snapshot)}?`,
      body: 'Your current files are replaced; a safety snapshot is taken first.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Restore' })]
    });
    if (!answer.button.accept) {
      return;
    }
    this._setBusy(true);
    this._note.textContent = `Restoring ${snapshot.id}…`;
    try {
      const reply = await restoreSnapshot(snapshot.id, { force: true });
      this._note.textContent = `Restored ${reply.restored}.`;
      Notification.success(restoreMessage(reply), { autoClose: 10_000 });
      this._options.restored?.(reply);
    } catch (error) {
      this._note.textContent = '';
      Notification.error(`Restore failed: ${errorText(error)}`, { autoClose: false });
    } finally {
      this._setBusy(false);
    }
    await this.refresh();
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  private _item(snapshot: ISnapshotSummary): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'cosim-Snapshots-item';
    item.dataset.snapshotId = snapshot.id;
    item.dataset.auto = String(snapshot.auto);

    const title = document.createElement('div');
    title.className = 'cosim-Snapshots-title';
    if (snapshot.auto) {
      const badge = document.createElement('span');
      badge.className = 'cosim-Snapshots-badge';
      badge.textContent = 'auto';
      badge.title = 'Safety snapshot, taken before a restore';
      title.appendChild(badge);
    }
    const message = document.createElement('span');
    message.className = 'cosim-Snapshots-text';
    message.textContent = snapshot.message || '(no message)';
    title.appendChild(message);
    title.title = snapshot.id;

    const created = new Date(snapshot.created * 1000);
    const details = document.createElement('div');
    details.className = 'cosim-Snapshots-details';
    const data = snapshot.data_refs > 0 ? ` · ${plural(snapshot.data_refs, 'data ref')}` : '';
    details.textContent = `${created.toLocaleString()} · ${plural(snapshot.files, 'file')} · ${formatBytes(snapshot.bytes)}${data}`;
    details.title = created.toISOString();

    const actions = document.createElement('div');
    actions.className = 'cosim-Snapshots-actions';
    const diff = actionButton('cosim-Snapshots-diff', 'Diff', 'What changed since this snapshot');
    diff.onclick = () => this._options.openDiff(snapshot.id);
    const restore = actionButton(
      'cosim-Snapshots-restore',
      'Restore',
      'Put the workspace back to this snapshot (a safety snapshot is taken first)'
    );
    restore.onclick = () => void this.restore(snapshot);
    restore.disabled = this._busy;
    const exportLink = document.createElement('a');
    exportLink.className = 'cosim-Snapshots-button cosim-Snapshots-export';
    exportLink.textContent = 'Export';
    exportLink.title = 'Download this snapshot as a tar archive';
    exportLink.href = exportUrl(snapshot.id);
    exportLink.download = `cosim-snapshot-${snapshot.id}.tar`;
    actions.append(diff, restore, exportLink);

    item.append(title, details, actions);
    return item;
  }

  private _setBusy(busy: boolean): void {
    this._busy = busy;
    this._create.disabled = busy;
    this.node.classList.toggle('cosim-mod-busy', busy);
    this._list
      .querySelectorAll<HTMLButtonElement>('.cosim-Snapshots-restore')
      .forEach(button => (button.disabled = busy));
  }

  private _message: HTMLInputElement;
  private _create: HTMLButtonElement;
  private _list: HTMLUListElement;
  private _note: HTMLParagraphElement;
  private _status: HTMLParagraphElement;
  private _generation = 0;
  private _busy = false;
}
