/** This server's course endpoints: `/cosim/api/courses[/<course>/assignments[/<a>/<action>]]`. */
import { URLExt } from '@jupyterlab/coreutils';

import { requestAPI } from './api';

export type CourseRole = 'instructor' | 'ta' | 'student';

export interface ICourse {
  id: string;
  title: string;
  role: CourseRole;
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
}

export type AssignmentAction = 'release' | 'fetch' | 'submit' | 'collect' | 'return' | 'feedback';

/** What an action answers; which fields are present depends on the action. */
export interface IActionReply {
  action: AssignmentAction;
  path?: string;
  files?: string[];
  written?: string[];
  students?: string[];
  returned?: string[];
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

/** Run an action on an assignment; `path` is a folder of the workspace where one is needed. */
export function runAction(
  course: string,
  assignment: string,
  action: AssignmentAction,
  path?: string
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
    body: JSON.stringify(path ? { path } : {})
  });
}
