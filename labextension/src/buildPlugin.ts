/** "Build C++ Folder": builds the file browser's folder (the launcher passes it as `cwd`)
 * through `/cosim/api/build` and shows the result in a main-area panel. */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';

import { BuildPanel } from './buildPanel';
import { cosimIcon } from './icons';

export const BuildCommandIDs = { buildFolder: 'cosim:build-cpp-folder' } as const;

export const buildPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:cpp-build',
  description: 'Build a folder of C++ sources with the CoSim build endpoint, then run it.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const panels = new Map<string, MainAreaWidget<BuildPanel>>();
    app.commands.addCommand(BuildCommandIDs.buildFolder, {
      label: args => (args.isLauncher ? 'Build C++ Folder' : 'Build C++ Folder (CoSim)'),
      caption: 'Compile the C++ sources of the file browser folder, show diagnostics, run it',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: async args => {
        let folder = typeof args.cwd === 'string' ? args.cwd : null;
        if (folder === null) {
          const answer = await InputDialog.getText({
            title: 'Build C++ folder',
            label: 'Folder (relative to the workspace)',
            text: ''
          });
          if (!answer.button.accept) {
            return;
          }
          folder = answer.value ?? '';
        }
        let widget = panels.get(folder);
        if (!widget || widget.isDisposed) {
          widget = new MainAreaWidget({ content: new BuildPanel(folder) });
          widget.id = `cosim-build-${panels.size}-${Date.now()}`;
          widget.title.icon = cosimIcon;
          widget.title.closable = true;
          const key = folder;
          widget.disposed.connect(() => panels.delete(key));
          panels.set(folder, widget);
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        await widget.content.build();
      }
    });
    launcher?.add({
      command: BuildCommandIDs.buildFolder,
      category: 'CoSim',
      rank: 5,
      args: { isLauncher: true }
    });
    palette?.addItem({ command: BuildCommandIDs.buildFolder, category: 'CoSim' });
  }
};
