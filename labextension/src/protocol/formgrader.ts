// Generated from kernels/cosim_protocol/schemas/formgrader.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 2;

export const REGRADED = 'regraded';
export const CHANGED = 'changed';

/** regraded: the submission was autograded again since the copy; changed: someone else graded the field. */
export type ConflictReason = 'regraded' | 'changed';

/** One manual change in conflict (every change of its student is held back). */
export interface IGradeConflict {
  student: string;
  notebook: string;
  cell: string;
  manual_score?: number | null;
  extra_credit?: number | null;
  manual_comment?: string | null;
  /** The value the copy held. */
  base: unknown;
  /** The value the gradebook holds now. */
  current: unknown;
  reason: ConflictReason;
  /** The submission's revision now. */
  revision: number;
}

/** The 409 answer to a send: the held-back changes; the other students' were applied. */
export interface ISendConflict {
  message: string;
  /** How many changes went in. */
  applied: number;
  version: number;
  conflicts: IGradeConflict[];
}
