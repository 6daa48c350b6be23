/** A main-area view of what changed since a snapshot: files, their patches, Python packages. */
import { Widget } from '@lumino/widgets';

import { diffSnapshot, IPackageChanges, ISnapshotDiff } from './snapshotsApi';
import { el, errorText } from './dom';

function section(title: string, count: number): HTMLElement {
  const node = el('section', 'cosim-SnapshotDiff-section');
  node.appendChild(el('h3', 'cosim-SnapshotDiff-heading', `${title} (${count})`));
  return node;
}

function fileList(kind: 'added' | 'removed' | 'changed', paths: string[]): HTMLElement {
  const title = { added: 'Added files', removed: 'Removed files', changed: 'Changed files' }[kind];
  const node = section(title, paths.length);
  const list = el('ul', `cosim-SnapshotDiff-files cosim-SnapshotDiff-${kind}`);
  for (const path of paths) {
    const item = el('li', 'cosim-SnapshotDiff-file', path);
    item.dataset.path = path;
    list.appendChild(item);
  }
  node.appendChild(list);
  return node;
}

/** One unified diff, a span per line so added and removed lines can be colored. */
function patch(path: string, text: string): HTMLElement {
  const details = el('details', 'cosim-SnapshotDiff-patchBox');
  details.open = true;
  details.appendChild(el('summary', 'cosim-SnapshotDiff-patchPath', path));
  const pre = el('pre', 'cosim-SnapshotDiff-patch');
  pre.dataset.path = path;
  for (const line of text.split(/(?<=\n)/)) {
    let kind = 'context';
    if (line.startsWith('+++') || line.startsWith('---')) {
      kind = 'header';
    } else if (line.startsWith('@@')) {
      kind = 'hunk';
    } else if (line.startsWith('+')) {
      kind = 'add';
    } else if (line.startsWith('-')) {
      kind = 'remove';
    }
    pre.appendChild(el('span', `cosim-SnapshotDiff-line cosim-SnapshotDiff-${kind}`, line));
  }
  details.appendChild(pre);
  return details;
}

function packages(changes: IPackageChanges, python: [string | null, string | null]): HTMLElement {
  const rows: [kind: string, name: string, version: string][] = [];
  for (const [name, version] of Object.entries(changes.added)) {
    rows.push(['added', name, version]);
  }
  for (const [name, version] of Object.entries(changes.removed)) {
    rows.push(['removed', name, version]);
  }
  for (const [name, [before, after]] of Object.entries(changes.changed)) {
    rows.push(['changed', name, `${before} → ${after}`]);
  }
  const node = section('Python packages', rows.length);
  node.classList.add('cosim-SnapshotDiff-packages');
  if (python[0] !== python[1]) {
    node.appendChild(
      el('p', 'cosim-SnapshotDiff-python', `Python ${python[0] ?? '?'} → ${python[1] ?? '?'}`)
    );
  }
  if (rows.length === 0) {
    node.appendChild(el('p', 'cosim-SnapshotDiff-none', 'No package changes.'));
    return node;
  }
  const table = el('table', 'cosim-SnapshotDiff-packageTable');
  for (const [kind, name, version] of rows) {
    const row = el('tr', `cosim-SnapshotDiff-package cosim-SnapshotDiff-${kind}`);
    row.append(el('td', '', kind), el('td', '', name), el('td', '', version));
    table.appendChild(row);
  }
  node.appendChild(table);
  return node;
}

export function renderDiff(diff: ISnapshotDiff): HTMLElement[] {
  const parts: HTMLElement[] = [el('h2', 'cosim-SnapshotDiff-title', `${diff.from} → ${diff.to}`)];
  const files = diff.added.length + diff.removed.length + diff.changed.length;
  if (files === 0) {
    parts.push(el('p', 'cosim-SnapshotDiff-none', 'No file changes.'));
  }
  if (diff.added.length > 0) {
    parts.push(fileList('added', diff.added));
  }
  if (diff.removed.length > 0) {
    parts.push(fileList('removed', diff.removed));
  }
  if (diff.changed.length > 0) {
    const changed = fileList('changed', diff.changed);
    for (const path of diff.changed) {
      changed.appendChild(patch(path, diff.patches[path] ?? ''));
    }
    parts.push(changed);
  }
  parts.push(packages(diff.python_packages, diff.python));
  return parts;
}

/** The diff of one snapshot against the working tree (or another snapshot); `load()` refreshes. */
export class SnapshotDiffWidget extends Widget {
  constructor(
    readonly snapshotId: string,
    readonly against = 'working'
  ) {
    super();
    this.addClass('cosim-SnapshotDiff');
    this.node.dataset.snapshotId = snapshotId;
    this.title.label = `Diff ${snapshotId.slice(0, 15)}`;
    this.title.caption = `Changes from snapshot ${snapshotId} to ${against}`;
  }

  async load(): Promise<void> {
    const generation = ++this._generation;
    this.node.dataset.state = 'loading';
    let parts: HTMLElement[];
    try {
      parts = renderDiff(await diffSnapshot(this.snapshotId, this.against));
    } catch (error) {
      parts = [el('p', 'cosim-SnapshotDiff-error', `Cannot diff: ${errorText(error)}`)];
    }
    if (this.isDisposed || generation !== this._generation) {
      return;
    }
    this.node.replaceChildren(...parts);
    this.node.dataset.state = 'loaded';
  }

  private _generation = 0;
}
