import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { buildPlugin } from './buildPlugin';
import { controlDocumentPlugin } from './controlDocument';
import { costBannerPlugin } from './costBanner';
import { coursesPanelPlugin } from './coursesPlugin';
import { jobsPlugin } from './jobsPlugin';
import { launcherPlugin } from './launcher';
import { recordingPlugin } from './recordingPlugin';
import { sharePlugin } from './shareDialog';
import { snapshotsPanelPlugin } from './snapshotsPlugin';
import { statusPlugin } from './status';
import { viewerPanelPlugin } from './viewerPlugin';
import { viewOnlyPlugin } from './viewOnly';

export { CommandIDs } from './commandIds';
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
  sharePlugin,
  controlDocumentPlugin,
  viewOnlyPlugin
];

export default plugins;
