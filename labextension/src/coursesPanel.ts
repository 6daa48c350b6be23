/**
 * The "CoSim Courses" side panel. Instructors and TAs release a folder as an assignment, collect
 * submissions and return feedback; students fetch, submit and read feedback. All of it goes
 * through this server's /cosim/api/courses, which talks to the hub's course exchange.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import {
  AssignmentAction,
  IActionReply,
  IAssignment,
  ICourse,
  listAssignments,
  listCourses,
  runAction
} from './coursesApi';
import { CommandIDs } from './commandIds';
import { coursesIcon } from './icons';
import { errorText } from './dom';
import { addSidePanel, PanelRank } from './sidePanel';

export const COURSES_PANEL_ID = 'cosim-courses-panel';

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
      return `Submitted ${assignment}.`;
    case 'collect':
      return `Collected ${reply.students?.length ?? 0} submissions of ${assignment} into ${reply.path}.`;
    case 'return':
      return `Returned feedback on ${assignment} to ${(reply.returned ?? []).join(', ')}.`;
    case 'feedback':
      return `Feedback on ${assignment} is in ${reply.path}.`;
  }
}

const STAFF_ACTIONS: [AssignmentAction, string, string][] = [
  ['collect', 'Collect', 'Copy every student’s latest submission into courses/<course>/collected/'],
  ['return', 'Return', 'Send courses/<course>/feedback/<assignment>/<student>/ to each student']
];
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
    this._list = document.createElement('div');
    this._list.className = 'cosim-Courses-list';
    this.node.append(header, this._status, this._list);
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const generation = ++this._generation;
    let courses: ICourse[];
    const assignments = new Map<string, IAssignment[]>();
    try {
      courses = await listCourses();
      for (const course of courses) {
        assignments.set(course.id, await listAssignments(course.id));
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
      ...courses.map(c => this._renderCourse(c, assignments.get(c.id) ?? []))
    );
    if (courses.length === 0) {
      this._say('You are not on the roster of any course.');
    }
  }

  private _renderCourse(course: ICourse, assignments: IAssignment[]): HTMLElement {
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
      item.append(name, facts);
      for (const [action, label, help] of staff ? STAFF_ACTIONS : STUDENT_ACTIONS) {
        const node = button(action, label, help);
        node.onclick = () => void this._run(course.id, assignment.name, action);
        item.appendChild(node);
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
    const release = button('release', 'Release', 'Release this folder to every student');
    release.type = 'submit';
    form.append(name, folder, release);
    form.onsubmit = event => {
      event.preventDefault();
      const assignment = name.value.trim();
      void this._run(course.id, assignment, 'release', folder.value.trim() || assignment);
    };
    return form;
  }

  private async _run(
    course: string,
    assignment: string,
    action: AssignmentAction,
    path?: string
  ): Promise<void> {
    this._say(`${action}: ${assignment} …`);
    let message: string;
    try {
      message = describeReply(assignment, await runAction(course, assignment, action, path));
    } catch (error) {
      this._say(errorText(error), true);
      return;
    }
    // Say what happened only once the list shows it, so the panel never reports ahead of itself.
    await this.refresh();
    this._say(message);
  }

  private _say(text: string, error = false): void {
    this._status.textContent = text;
    this._status.classList.toggle('cosim-mod-error', error);
  }

  private _generation = 0;
  private readonly _status: HTMLParagraphElement;
  private readonly _list: HTMLDivElement;
}

export const coursesPanelPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:courses-panel',
  description: 'The CoSim Courses side panel: release, collect and return assignments.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    addSidePanel(app, new CoursesPanel(), {
      rank: PanelRank.courses,
      command: CommandIDs.showCoursesPanel,
      label: 'Show CoSim Courses Panel',
      caption: 'Assignments of your courses: release, collect, return; fetch, submit',
      restoreName: COURSES_PANEL_ID,
      icon: coursesIcon,
      palette,
      restorer
    });
  }
};
