import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showDialog, Dialog } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { Widget } from '@lumino/widgets';

import { cosimIcon } from './icons';
import { ICoSimStatus } from './tokens';

const CATEGORY = 'CoSim';

export const CommandIDs = {
  newSimNotebook: 'cosim:new-sim-notebook',
  showStatus: 'cosim:show-status'
} as const;

const STARTER_CELL = `import cosim

cosim.__version__`;

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

    commands.addCommand(CommandIDs.newSimNotebook, {
      label: 'New Sim Notebook',
      caption: 'New Python notebook with a CoSim starter cell',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: async args => {
        const cwd = typeof args.cwd === 'string' ? args.cwd : '';
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
        const cell = panel?.content?.model?.cells?.get(0);
        if (cell) {
          cell.sharedModel.setSource(STARTER_CELL);
        }
        return panel;
      }
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
      launcher.add({ command: CommandIDs.showStatus, category: CATEGORY, rank: 1 });
    }
    if (palette) {
      palette.addItem({ command: CommandIDs.newSimNotebook, category: CATEGORY });
      palette.addItem({ command: CommandIDs.showStatus, category: CATEGORY });
    }
  }
};
