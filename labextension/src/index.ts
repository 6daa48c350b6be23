import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { jobsPlugin } from './jobsPlugin';
import { launcherPlugin } from './launcher';
import { viewerPanelPlugin } from './panel';
import { snapshotsPanelPlugin } from './snapshotsPlugin';
import { statusPlugin } from './status';

export { ICoSimStatus } from './tokens';
export type { IStatusReply, RedisState } from './tokens';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  statusPlugin,
  launcherPlugin,
  viewerPanelPlugin,
  snapshotsPanelPlugin,
  jobsPlugin
];

export default plugins;
