/**
 * The "CoSim Courses" side panel. Instructors and TAs release a folder as an assignment (with a
 * deadline and late policy), collect and grade submissions, return feedback and see the
 * gradebook; students fetch, submit and see their own scores and feedback. All of it goes through
 * this server's /cosim/api/courses, which talks to the hub's course exchange.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import {
  AssignmentAction,
  formgrader,
  FormgraderConflict,
  getGradebook,
  IActionReply,
  IAssignment,
  IAssignmentSettings,
  ICourse,
  IGradebook,
  LatePolicy,
  listAssignments,
  listCourses,
  runAction
} from './coursesApi';
import { renderConflicts } from './coursesConflicts';
import { dueText, renderGradebook, statusText } from './coursesGradebook';
import { coursesIcon } from './icons';
import { el, errorText } from './dom';

export const COURSES_PANEL_ID = 'cosim-courses-panel';
/** How often the panel looks again while submissions are being graded. */
const GRADING_POLL_MS = 2000;

function button(action: string, label: string, title: string): HTMLButtonElement {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = `cosim-Courses-button cosim-Courses-${action} jp-mod-styled`;
  node.textContent = label;
  node.title = title;
  return node;
}

/** One line saying what an action did. */
export function describeReply(assignment: string, reply: IActionReply): string {
  switch (reply.action) {
    case 'release':
      return `Released ${assignment} (${reply.files?.length ?? 0} files) to every student.`;
    case 'fetch':
      return `Fetched ${assignment} into ${reply.path} (${reply.written?.length ?? 0} new files).`;
    case 'submit':
      return `Submitted ${assignment}${reply.late ? ' (late)' : ''}${reply.grading ? '; grading it now' : ''}.`;
    case 'collect': {
      const queued = reply.queued?.length ? `; grading ${reply.queued.length}` : '';
      return `Collected ${reply.students?.length ?? 0} submissions of ${assignment} into ${reply.path}${queued}.`;
    }
    case 'grade':
      return reply.autograded
        ? `Grading ${reply.queued?.length ?? 0} new submissions of ${assignment}.`
        : `${assignment} has no nbgrader cells: nothing to autograde.`;
    case 'settings':
      return `Saved the deadline and late policy of ${assignment}.`;
    case 'return':
      return `Returned feedback on ${assignment} to ${(reply.returned ?? []).join(', ')}.`;
    case 'feedback':
      return `Feedback on ${assignment} is in ${reply.path}.`;
  }
}

const STAFF_ACTIONS: [AssignmentAction, string, string][] = [
  ['collect', 'Collect', 'Copy every student’s latest submission into courses/<course>/collected/'],
  ['grade', 'Grade', 'Autograde every new submission in the grading sandbox (nbgrader)'],
  ['return', 'Return', 'Send courses/<course>/feedback/<assignment>/<student>/ to each student']
];
const FORMGRADER_HELP =
  'Grade by hand in nbgrader’s formgrader, on a copy of this assignment’s grades';
const SEND_HELP = 'Send the grades given in formgrader to the course’s gradebook';
const STUDENT_ACTIONS: [AssignmentAction, string, string][] = [
  ['fetch', 'Fetch', 'Copy the assignment into courses/<course>/<assignment>/ (keeps your edits)'],
  ['submit', 'Submit', 'Hand in courses/<course>/<assignment>/'],
  ['feedback', 'Feedback', 'Get your feedback into courses/<course>/<assignment>/feedback/']
];

export class CoursesPanel extends Widget {
  constructor() {
    super();
    this.id = COURSES_PANEL_ID;
    this.addClass('cosim-Courses');
    this.title.icon = coursesIcon;
    this.title.caption = 'CoSim Courses';

    const header = document.createElement('div');
    header.className = 'cosim-Courses-header';
    const heading = document.createElement('h2');
    heading.textContent = 'Courses';
    const refresh = button('refresh', '', 'Refresh');
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    refresh.onclick = () => void this.refresh();
    header.append(heading, refresh);
    this._status = document.createElement('p');
    this._status.className = 'cosim-Courses-status';
    this._status.setAttribute('aria-live', 'polite');
    this._conflicts = document.createElement('div');
    this._list = document.createElement('div');
    this._list.className = 'cosim-Courses-list';
    this.node.append(header, this._status, this._conflicts, this._list);
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const generation = ++this._generation;
    let courses: ICourse[];
    const assignments = new Map<string, IAssignment[]>();
    const books = new Map<string, IGradebook>();
    try {
      courses = await listCourses();
      for (const course of courses) {
        assignments.set(course.id, await listAssignments(course.id));
        if (course.role !== 'student') {
          books.set(course.id, await getGradebook(course.id));
        }
      }
    } catch (error) {
      if (generation === this._generation) {
        this._say(errorText(error), true);
      }
      return;
    }
    if (generation !== this._generation) {
      return;
    }
    this._list.replaceChildren(
      ...courses.map(c => this._renderCourse(c, assignments.get(c.id) ?? [], books.get(c.id)))
    );
    if (courses.length === 0) {
      this._say('You are not on the roster of any course.');
    }
    // While the sandbox grades something shown here, look again shortly (scores appear by
    // themselves); a newer refresh or a hidden panel stops it.
    const grading = [...assignments.values()].some(list =>
      list.some(a => a.students?.some(r => r.grading))
    );
    if (grading) {
      window.setTimeout(() => {
        if (generation === this._generation && this.isVisible && !this.isDisposed) {
          void this.refresh();
        }
      }, GRADING_POLL_MS);
    }
  }

  private _renderCourse(
    course: ICourse,
    assignments: IAssignment[],
    book?: IGradebook
  ): HTMLElement {
    const staff = course.role !== 'student';
    const section = document.createElement('section');
    section.className = 'cosim-Courses-course';
    section.dataset.course = course.id;
    section.dataset.role = course.role;
    const title = document.createElement('h3');
    title.textContent = `${course.title || course.id} · ${course.role}`;
    section.appendChild(title);
    if (staff) {
      section.appendChild(this._releaseForm(course));
    }
    const list = document.createElement('ul');
    list.className = 'cosim-Courses-assignments';
    for (const assignment of assignments) {
      const item = document.createElement('li');
      item.dataset.assignment = assignment.name;
      const name = document.createElement('span');
      name.className = 'cosim-Courses-name';
      name.textContent = assignment.name;
      const facts = document.createElement('span');
      facts.className = 'cosim-Courses-facts';
      facts.textContent = staff
        ? `${assignment.submitted.length} submitted, ${assignment.returned.length} returned`
        : assignment.submitted.length > 0
          ? 'submitted'
          : 'not submitted';
      const due = el('span', 'cosim-Courses-due', dueText(assignment.due));
      if (assignment.late_policy && assignment.due) {
        due.title = `late policy: ${assignment.late_policy}`;
      }
      item.append(name, facts, due);
      if (!staff) {
        // The student's own status and score (the exchange sends nobody else's).
        const mine = assignment.students?.find(r => r.student !== undefined);
        const grade = el('span', 'cosim-Courses-myGrade', statusText(mine));
        grade.classList.toggle('cosim-mod-late', Boolean(mine?.late));
        item.appendChild(grade);
      }
      for (const [action, label, help] of staff ? STAFF_ACTIONS : STUDENT_ACTIONS) {
        const node = button(action, label, help);
        node.onclick = () => void this._run(course.id, assignment.name, action);
        item.appendChild(node);
      }
      if (staff && assignment.autograded) {
        const open = button('formgrader', 'Formgrader', FORMGRADER_HELP);
        open.onclick = () => void this._formgrader(course.id, assignment.name, 'open');
        const send = button('sendGrades', 'Send grades', SEND_HELP);
        send.onclick = () => void this._formgrader(course.id, assignment.name, 'send');
        item.append(open, send);
      }
      list.appendChild(item);
    }
    if (assignments.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'cosim-Courses-empty';
      empty.textContent = 'No assignment released yet.';
      list.appendChild(empty);
    }
    section.appendChild(list);
    if (book) {
      section.appendChild(renderGradebook(book));
    }
    return section;
  }

  private _releaseForm(course: ICourse): HTMLFormElement {
    const form = document.createElement('form');
    form.className = 'cosim-Courses-releaseForm';
    const name = document.createElement('input');
    name.className = 'cosim-Courses-assignmentName jp-mod-styled';
    name.placeholder = 'assignment (e.g. hw1)';
    name.required = true;
    const folder = document.createElement('input');
    folder.className = 'cosim-Courses-folder jp-mod-styled';
    folder.placeholder = 'folder (default: same name)';
    const due = document.createElement('input');
    due.type = 'datetime-local';
    due.className = 'cosim-Courses-dueInput jp-mod-styled';
    due.title = 'Deadline (your local time; empty: none)';
    const late = document.createElement('select');
    late.className = 'cosim-Courses-latePolicy jp-mod-styled';
    late.title = 'After the deadline';
    for (const [value, label] of [
      ['none', 'no late resubmission'],
      ['flag', 'late: flag'],
      ['penalty', 'late: 1 point off per hour']
    ]) {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = label;
      late.appendChild(option);
    }
    const instantLabel = el('label', 'cosim-Courses-instant', ' instant feedback');
    const instant = document.createElement('input');
    instant.type = 'checkbox';
    instant.title = 'Autograde each submission as it arrives and return its feedback';
    instantLabel.prepend(instant);
    const release = button('release', 'Release', 'Release this folder to every student');
    release.type = 'submit';
    form.append(name, folder, due, late, instantLabel, release);
    form.onsubmit = event => {
      event.preventDefault();
      const assignment = name.value.trim();
      const policy = late.value as LatePolicy;
      const settings: IAssignmentSettings = {
        due: due.value ? new Date(due.value).toISOString() : null,
        late_policy: policy,
        instant_feedback: instant.checked,
        ...(policy === 'penalty' ? { penalty_per_hour: 1 } : {})
      };
      void this._run(course.id, assignment, 'release', folder.value.trim() || assignment, settings);
    };
    return form;
  }

  private async _run(
    course: string,
    assignment: string,
    action: AssignmentAction,
    path?: string,
    settings?: IAssignmentSettings
  ): Promise<void> {
    this._say(`${action}: ${assignment} …`);
    let message: string;
    try {
      const reply = await runAction(course, assignment, action, path, settings);
      message = describeReply(assignment, reply);
    } catch (error) {
      this._say(errorText(error), true);
      return;
    }
    // Say what happened only once the list shows it, so the panel never reports ahead of itself.
    await this.refresh();
    this._say(message);
  }

  /**
   * formgrader on a copy: open it in a new tab (`discard`: on a fresh copy, dropping grades not
   * sent), or send the grades given there; held-back grades are listed with a way out.
   */
  private async _formgrader(
    course: string,
    assignment: string,
    action: 'open' | 'send',
    discard = false
  ): Promise<void> {
    this._say(`${action === 'open' ? 'formgrader' : 'sending grades'}: ${assignment} …`);
    // Opened now, while the click still counts as the user's: browsers block later pop-ups.
    const tab = action === 'open' ? window.open('', '_blank') : null;
    try {
      const reply = await formgrader(course, assignment, action, discard);
      if (action === 'open') {
        if (tab && reply.url) {
          tab.location.href = reply.url;
        }
        this._say(`formgrader shows a copy of ${assignment}: grade there, then Send grades.`);
        return;
      }
      await this.refresh();
      this._say(`Sent ${reply.applied ?? 0} manual grades of ${assignment}.`);
    } catch (error) {
      tab?.close();
      if (error instanceof FormgraderConflict) {
        // Some grades went in: the table shows them; then say which were held back, and why.
        await this.refresh();
        this._say('Some grades were held back: see below.', true);
        this._conflicts.replaceChildren(
          renderConflicts(assignment, error, () => {
            void this._formgrader(course, assignment, 'open', true);
          })
        );
        return;
      }
      this._say(errorText(error), true);
    }
  }

  private _say(text: string, error = false): void {
    this._status.textContent = text;
    this._status.classList.toggle('cosim-mod-error', error);
    this._conflicts.replaceChildren();
  }

  private _generation = 0;
  private readonly _status: HTMLParagraphElement;
  /** Grades "Send grades" held back, until the next message. */
  private readonly _conflicts: HTMLDivElement;
  private readonly _list: HTMLDivElement;
}
