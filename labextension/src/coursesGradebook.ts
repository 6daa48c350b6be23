/**
 * The instructors' gradebook table: one row per student, one column per assignment, each cell
 * the student's status (fetched, submitted, late, grading, graded with score), and a CSV download
 * of nbgrader's export. Pure DOM from the gradebook reply; no requests of its own.
 */
import { el } from './dom';
import { IGradebook, IStudentStatus } from './coursesApi';

/** A due date as a short UTC text, or "no deadline". */
export function dueText(due: string | null | undefined): string {
  return due ? `due ${due.replace('T', ' ').replace(/:\d\dZ$/, ' UTC')}` : 'no deadline';
}

/** What one student's cell says, most advanced state first. */
export function statusText(row: IStudentStatus | undefined): string {
  if (!row) {
    return '—';
  }
  const late = row.late ? ' (late)' : '';
  if (row.graded && row.score !== undefined) {
    return `${row.score} / ${row.max_score}${late}`;
  }
  if (row.error) {
    return `grading failed${late}`;
  }
  if (row.grading) {
    return `grading…${late}`;
  }
  if (row.submitted) {
    return `submitted${late}`;
  }
  return row.fetched ? 'fetched' : 'not fetched';
}

/** Offer `text` as a file download named `name` (the browser's own download, no new request). */
export function downloadText(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

export function renderGradebook(book: IGradebook): HTMLElement {
  const box = el('div', 'cosim-Courses-gradebook');
  const header = el('div', 'cosim-Courses-gradebookHeader');
  header.appendChild(el('h4', '', 'Gradebook'));
  const download = el('button', 'cosim-Courses-button cosim-Courses-csv jp-mod-styled', 'CSV');
  download.type = 'button';
  download.title = 'Download the scores as CSV (nbgrader’s export layout)';
  download.disabled = book.rows.length === 0;
  download.onclick = () => downloadText(`${book.course}-grades.csv`, book.csv);
  header.appendChild(download);
  box.appendChild(header);

  const table = el('table', 'cosim-Courses-gradebookTable');
  const head = el('tr', '');
  head.appendChild(el('th', '', 'student'));
  for (const assignment of book.assignments) {
    const th = el('th', '', assignment.name);
    th.title = dueText(assignment.due);
    th.dataset.assignment = assignment.name;
    head.appendChild(th);
  }
  table.appendChild(el('thead', '')).appendChild(head);
  const body = table.appendChild(el('tbody', ''));
  for (const student of book.students) {
    const tr = el('tr', '');
    tr.dataset.student = student;
    tr.appendChild(el('th', '', student));
    for (const assignment of book.assignments) {
      const row = assignment.students.find(r => r.student === student);
      const td = el('td', 'cosim-Courses-cell', statusText(row));
      td.dataset.assignment = assignment.name;
      td.classList.toggle('cosim-mod-late', Boolean(row?.late));
      td.classList.toggle('cosim-mod-graded', Boolean(row?.graded));
      if (row?.error) {
        td.title = row.error;
      }
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  if (book.students.length === 0 || book.assignments.length === 0) {
    box.appendChild(el('p', 'cosim-Courses-gradebookEmpty', 'No students or assignments yet.'));
  } else {
    box.appendChild(table);
  }
  return box;
}
