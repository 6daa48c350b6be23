/** Registers the CoSim Snapshots side panel and the commands around it. */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';

import { CommandIDs } from './commandIds';
import { snapshotsIcon } from './icons';
import { SnapshotDiffWidget } from './snapshotDiff';
import { SNAPSHOTS_PANEL_ID, SnapshotsPanel } from './snapshotsPanel';
import { addSidePanel, PanelRank } from './sidePanel';

export const snapshotsPanelPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:snapshots-panel',
  description: 'The CoSim Snapshots side panel: take, diff, restore and export snapshots.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const { commands, shell } = app;
    const diffs = new Map<string, MainAreaWidget<SnapshotDiffWidget>>();

    commands.addCommand(CommandIDs.snapshotDiff, {
      label: 'Diff CoSim Snapshot Against Working Tree',
      caption: 'What changed since a snapshot: files, patches, Python packages',
      icon: args => (args.isPalette ? undefined : snapshotsIcon),
      isEnabled: args => typeof args.id === 'string' && args.id.length > 0,
      execute: args => {
        const id = String(args.id ?? '');
        let widget = diffs.get(id);
        if (!widget || widget.isDisposed) {
          widget = new MainAreaWidget({ content: new SnapshotDiffWidget(id) });
          widget.id = `cosim-snapshot-diff-${id}`;
          widget.title.icon = snapshotsIcon;
          widget.title.closable = true;
          widget.disposed.connect(() => diffs.delete(id));
          diffs.set(id, widget);
          shell.add(widget, 'main');
        }
        shell.activateById(widget.id);
        return widget.content.load(); // again on each open: the working tree moves on
      }
    });

    const panel = new SnapshotsPanel({
      openDiff: id => void commands.execute(CommandIDs.snapshotDiff, { id }),
      restored: () => diffs.forEach(widget => void widget.content.load())
    });
    addSidePanel(app, panel, {
      rank: PanelRank.snapshots,
      command: CommandIDs.showSnapshotsPanel,
      label: 'Show CoSim Snapshots Panel',
      caption: 'Snapshots of this workspace: take, diff, restore, export',
      restoreName: SNAPSHOTS_PANEL_ID,
      icon: snapshotsIcon,
      palette,
      restorer
    });
  }
};
