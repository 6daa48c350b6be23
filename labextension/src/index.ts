import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { buildPlugin } from './buildPlugin';
import { costBannerPlugin } from './costBanner';
import { coursesPanelPlugin } from './coursesPlugin';
import { jobsPlugin } from './jobsPlugin';
import { launcherPlugin } from './launcher';
import { viewerPanelPlugin } from './panel';
import { recordingPlugin } from './recordingPlugin';
import { sharePlugin } from './shareDialog';
import { snapshotsPanelPlugin } from './snapshotsPlugin';
import { statusPlugin } from './status';

export { ICoSimStatus } from './tokens';
export type { IStatusReply, RedisState } from './tokens';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  statusPlugin,
  launcherPlugin,
  viewerPanelPlugin,
  snapshotsPanelPlugin,
  buildPlugin,
  jobsPlugin,
  costBannerPlugin,
  coursesPanelPlugin,
  recordingPlugin,
  sharePlugin
];

export default plugins;
