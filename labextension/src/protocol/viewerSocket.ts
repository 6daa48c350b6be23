// Generated from kernels/cosim_protocol/schemas/viewer-socket.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 1;

export const CLOSE_SIM_ENDED = 4404;
export const CLOSE_JOB_DELETED = 4404;

/** JSON messages on the viewer WebSocket, server to client (binary messages are scenes and frames), and its close codes (cosim_protocol/ws.py). */
export type ViewerSocketMessage = {
  type: 'ended';
} | {
  type: 'error';
  message: string;
};
