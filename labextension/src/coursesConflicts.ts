/**
 * What the Courses panel shows when "Send grades" comes back with conflicts: which students'
 * notebooks were held back and why, how many grades went in, and a button that opens formgrader
 * on a fresh copy (throwing away the held-back grades, which were given on a stale copy).
 */
import { el } from './dom';
import { FormgraderConflict, IGradeConflict } from './coursesApi';

const WHY: Record<IGradeConflict['reason'], string> = {
  regraded: 'handed in again and autograded since your copy',
  changed: 'graded by someone else since your copy'
};

/** One line per (student, notebook), a regrade named over a changed cell, cells listed. */
export function conflictLines(conflicts: IGradeConflict[]): [string, string, string][] {
  const held = new Map<string, { reason: IGradeConflict['reason']; cells: Set<string> }>();
  for (const c of conflicts) {
    const key = JSON.stringify([c.student, c.notebook]);
    const entry = held.get(key) ?? { reason: c.reason, cells: new Set<string>() };
    entry.reason = entry.reason === 'regraded' ? 'regraded' : c.reason;
    entry.cells.add(c.cell);
    held.set(key, entry);
  }
  return [...held.entries()].sort().map(([key, { reason, cells }]) => {
    const [student, notebook] = JSON.parse(key) as [string, string];
    return [student, notebook, `${WHY[reason] ?? reason} (${[...cells].sort().join(', ')})`];
  });
}

export function renderConflicts(
  assignment: string,
  conflict: FormgraderConflict,
  openFresh: () => void
): HTMLElement {
  const box = el('div', 'cosim-Courses-conflicts');
  box.setAttribute('role', 'alert');
  const lines = conflictLines(conflict.conflicts);
  box.appendChild(
    el(
      'p',
      'cosim-Courses-conflictsSummary',
      `Sent ${conflict.applied} manual grades of ${assignment}; held back the grades of ` +
        `${lines.length} submission${lines.length === 1 ? '' : 's'}:`
    )
  );
  const list = el('ul', 'cosim-Courses-conflictList');
  for (const [student, notebook, why] of lines) {
    const item = el('li', '', `${student} · ${notebook}: ${why}`);
    item.dataset.student = student;
    item.dataset.notebook = notebook;
    list.appendChild(item);
  }
  box.appendChild(list);
  box.appendChild(
    el(
      'p',
      'cosim-Courses-conflictsHelp',
      'Open formgrader on a fresh copy (it has the new submissions and the grades just sent; ' +
        'the held-back grades are dropped) and grade those again.'
    )
  );
  const fresh = document.createElement('button');
  fresh.type = 'button';
  fresh.className = 'cosim-Courses-button cosim-Courses-freshCopy jp-mod-styled';
  fresh.textContent = 'Open a fresh copy';
  fresh.title = `Open formgrader on a fresh copy of ${assignment}`;
  fresh.onclick = openFresh;
  box.appendChild(fresh);
  return box;
}
