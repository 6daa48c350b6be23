/** This server's course endpoints: `/cosim/api/courses[/<course>/assignments[/<a>/<action>]]`. */
import { URLExt } from '@jupyterlab/coreutils';

import { CoSimAPIError, requestAPI } from './api';
import { IGradeConflict, ISendConflict } from './protocol/formgrader';

export type { IGradeConflict } from './protocol/formgrader';

export type CourseRole = 'instructor' | 'ta' | 'student';

export interface ICourse {
  id: string;
  title: string;
  role: CourseRole;
}

/** One student's state on one assignment (a student only ever gets their own row). */
export interface IStudentStatus {
  student: string;
  fetched: boolean;
  submitted: boolean;
  /** Unix seconds of the latest submission. */
  submitted_at: number | null;
  late: boolean;
  /** Queued or running in the grading sandbox now. */
  grading: boolean;
  /** The latest submission has scores. */
  graded: boolean;
  returned: boolean;
  score?: number;
  max_score?: number;
  penalty?: number;
  /** Why grading failed, when it did. */
  error?: string;
  /** What the sandbox stopped, per notebook (a loop, a limit). */
  messages?: Record<string, string>;
}

export type LatePolicy = 'none' | 'flag' | 'penalty';

/** Deadline and late policy of an assignment, as the release and settings actions take them. */
export interface IAssignmentSettings {
  /** ISO 8601 (UTC when no zone is given); null or '' for no deadline. */
  due?: string | null;
  late_policy?: LatePolicy;
  penalty_per_hour?: number;
  instant_feedback?: boolean;
}

export interface IAssignment {
  name: string;
  /** Unix seconds. */
  released_at: number;
  released_by: string;
  files: string[];
  /** Students who submitted (staff see all; a student sees only themselves). */
  submitted: string[];
  returned: string[];
  /** Released in nbgrader's format: submissions are autograded. */
  autograded?: boolean;
  /** ISO 8601 UTC, or null. */
  due?: string | null;
  late_policy?: LatePolicy;
  instant_feedback?: boolean;
  /** Status rows: every student for staff, the caller's own for a student. */
  students?: IStudentStatus[];
}

/** A row of nbgrader's gradebook export. */
export interface IGradebookRow {
  assignment: string;
  duedate: string;
  timestamp: string;
  student_id: string;
  raw_score: number;
  late_submission_penalty: number;
  score: number;
  max_score: number;
}

export interface IGradebook {
  course: string;
  students: string[];
  assignments: (Pick<IAssignment, 'name' | 'due' | 'late_policy' | 'autograded'> & {
    students: IStudentStatus[];
  })[];
  rows: IGradebookRow[];
  /** The same rows as nbgrader's CSV export. */
  csv: string;
}

export type AssignmentAction =
  'release' | 'fetch' | 'submit' | 'collect' | 'return' | 'feedback' | 'grade' | 'settings';

/** What an action answers; which fields are present depends on the action. */
export interface IActionReply {
  action: AssignmentAction;
  path?: string;
  files?: string[];
  written?: string[];
  students?: string[];
  returned?: string[];
  /** Students whose submissions were queued for grading (grade, collect). */
  queued?: string[];
  /** submit: whether it came after the deadline, and whether it is being graded now. */
  late?: boolean;
  grading?: boolean;
  autograded?: boolean;
}

export async function listCourses(): Promise<ICourse[]> {
  const reply = await requestAPI<{ courses: ICourse[] }>('courses');
  return reply.courses;
}

export async function listAssignments(course: string): Promise<IAssignment[]> {
  const path = URLExt.join('courses', encodeURIComponent(course), 'assignments');
  const reply = await requestAPI<{ assignments: IAssignment[] }>(path);
  return reply.assignments;
}

/** Scores and status of every student (staff only: students get 403). */
export function getGradebook(course: string): Promise<IGradebook> {
  return requestAPI<IGradebook>(URLExt.join('courses', encodeURIComponent(course), 'gradebook'));
}

/**
 * Run an action on an assignment; `path` is a folder of the workspace where one is needed,
 * `settings` the deadline and late policy (release, settings).
 */
export function runAction(
  course: string,
  assignment: string,
  action: AssignmentAction,
  path?: string,
  settings: IAssignmentSettings = {}
): Promise<IActionReply> {
  const url = URLExt.join(
    'courses',
    encodeURIComponent(course),
    'assignments',
    encodeURIComponent(assignment),
    action
  );
  return requestAPI<IActionReply>(url, {
    method: 'POST',
    body: JSON.stringify(path ? { path, ...settings } : settings)
  });
}

/** What opening formgrader or sending its grades answers (cosim_protocol.formgrader). */
export interface IFormgraderReply {
  action: 'open' | 'send';
  /** open: formgrader's gradebook page of the assignment, on this server. */
  url?: string;
  /** send: how many manual changes the course's gradebook took. */
  applied?: number;
  version?: number;
}

/**
 * "Send grades" answered 409: the changes of `conflicts`' submissions were held back (each
 * submission's as a whole), `applied` others went in. The way out: a fresh copy (`discard`).
 */
export class FormgraderConflict extends Error {
  constructor(
    message: string,
    readonly conflicts: IGradeConflict[],
    readonly applied: number
  ) {
    super(message);
  }
}

/**
 * Manual grading with nbgrader's formgrader on a copy of the course's grading state (staff):
 * `open` fetches the assignment's snapshot and points formgrader at it (`discard`: throwing away
 * grades not sent yet); `send` sends the grades given in formgrader since then, and throws
 * {@link FormgraderConflict} for those the gradebook held back.
 */
export async function formgrader(
  course: string,
  assignment: string,
  action: 'open' | 'send',
  discard = false
): Promise<IFormgraderReply> {
  const url = URLExt.join(
    'courses',
    encodeURIComponent(course),
    'formgrader',
    encodeURIComponent(assignment),
    action
  );
  try {
    return await requestAPI<IFormgraderReply>(url, {
      method: 'POST',
      body: JSON.stringify({ discard })
    });
  } catch (error) {
    const body = error instanceof CoSimAPIError ? error.body : null;
    if (error instanceof CoSimAPIError && error.status === 409 && hasConflicts(body)) {
      throw new FormgraderConflict(error.message, body.conflicts, Number(body.applied ?? 0));
    }
    throw error;
  }
}

function hasConflicts(body: unknown): body is ISendConflict {
  return (
    typeof body === 'object' &&
    body !== null &&
    Array.isArray((body as { conflicts?: unknown }).conflicts)
  );
}
