import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showDialog, Dialog } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { Widget } from '@lumino/widgets';

import { cosimIcon } from './icons';
import { STARTERS } from './starters';
import { ICoSimStatus } from './tokens';

const CATEGORY = 'CoSim';

export const CommandIDs = {
  newSimNotebook: 'cosim:new-sim-notebook',
  openStarter: 'cosim:open-starter',
  showStatus: 'cosim:show-status'
} as const;

function statusBody(status: ICoSimStatus): Widget {
  const pre = document.createElement('pre');
  pre.className = 'cosim-StatusDialog';
  pre.textContent = status.reply
    ? JSON.stringify(status.reply, null, 2)
    : `The CoSim server extension is not reachable.\n${status.error ?? ''}`;
  return new Widget({ node: pre });
}

export const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:launcher',
  description: 'CoSim section in the launcher and CoSim commands in the palette.',
  autoStart: true,
  requires: [ICoSimStatus],
  optional: [ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    status: ICoSimStatus,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands } = app;

    const starterById = new Map(STARTERS.map(starter => [starter.id, starter]));

    /** A new notebook in `cwd` holding the starter's cells, on a Python kernel. */
    const openStarter = async (id: string, cwd: string) => {
      const starter = starterById.get(id) ?? STARTERS[0];
      const model = await commands.execute('docmanager:new-untitled', {
        path: cwd,
        type: 'notebook'
      });
      const panel = await commands.execute('docmanager:open', {
        path: model.path,
        factory: 'Notebook',
        kernel: { name: 'python3' }
      });
      await panel?.context?.ready;
      const shared = panel?.content?.model?.sharedModel;
      if (shared) {
        shared.transact(() => {
          shared.deleteCellRange(0, shared.cells.length);
          shared.insertCells(
            0,
            starter.cells.map(cell => ({ cell_type: cell.type, source: cell.source }))
          );
        });
      }
      return panel;
    };
    const cwdOf = (args: Record<string, unknown>) => (typeof args.cwd === 'string' ? args.cwd : '');

    commands.addCommand(CommandIDs.newSimNotebook, {
      label: 'New Sim Notebook',
      caption: 'New Python notebook with a MuJoCo humanoid streaming live',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: args => openStarter(STARTERS[0].id, cwdOf(args))
    });

    commands.addCommand(CommandIDs.openStarter, {
      label: args => {
        const starter = starterById.get(String(args.starter));
        return args.isPalette ? `New Starter: ${starter?.label}` : (starter?.label ?? 'Starter');
      },
      caption: args => starterById.get(String(args.starter))?.caption ?? '',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: args => openStarter(String(args.starter), cwdOf(args))
    });

    commands.addCommand(CommandIDs.showStatus, {
      label: 'CoSim Status',
      caption: 'Version, Redis and features of the CoSim server extension',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: async () => {
        await status.refresh().catch(() => undefined);
        await showDialog({
          title: 'CoSim Status',
          body: statusBody(status),
          buttons: [Dialog.okButton()]
        });
      }
    });

    if (launcher) {
      launcher.add({ command: CommandIDs.newSimNotebook, category: CATEGORY, rank: 0 });
      STARTERS.slice(1).forEach((starter, i) =>
        launcher.add({
          command: CommandIDs.openStarter,
          args: { starter: starter.id },
          category: CATEGORY,
          rank: 0.1 + i / 10
        })
      );
      launcher.add({ command: CommandIDs.showStatus, category: CATEGORY, rank: 1 });
    }
    if (palette) {
      palette.addItem({ command: CommandIDs.newSimNotebook, category: CATEGORY });
      for (const starter of STARTERS.slice(1)) {
        palette.addItem({
          command: CommandIDs.openStarter,
          args: { starter: starter.id, isPalette: true },
          category: CATEGORY
        });
      }
      palette.addItem({ command: CommandIDs.showStatus, category: CATEGORY });
    }
  }
};
