/** "Build C++ Folder": builds the file browser's folder (the launcher passes it as `cwd`)
 * through `/cosim/api/build` and shows the result in a main-area panel. */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';

import { CommandIDs } from './commandIds';
import { BuildPanel } from './buildPanel';
import { buildIcon } from './icons';

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
    /** Open a source in Lab's editor with the cursor on the diagnostic's line. */
    const openAt = async (path: string, line: number, column: number) => {
      const widget = await app.commands.execute('docmanager:open', { path });
      await widget?.context?.ready; // the text arrives after the widget: place the cursor then
      const editor = widget?.content?.editor;
      if (editor && line > 0) {
        const position = { line: line - 1, column: Math.max(column - 1, 0) };
        editor.setCursorPosition(position);
        editor.revealPosition?.(position);
        editor.focus();
      }
    };
    app.commands.addCommand(CommandIDs.buildCppFolder, {
      label: args => (args.isLauncher ? 'Build C++ Folder' : 'Build C++ Folder (CoSim)'),
      caption: 'Compile the C++ sources of the file browser folder, show diagnostics, run it',
      icon: args => (args.isPalette ? undefined : buildIcon),
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
          widget = new MainAreaWidget({
            content: new BuildPanel(folder, (p, l, c) => void openAt(p, l, c))
          });
          widget.id = `cosim-build-${panels.size}-${Date.now()}`;
          widget.title.icon = buildIcon;
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
      command: CommandIDs.buildCppFolder,
      category: 'CoSim',
      rank: 5,
      args: { isLauncher: true }
    });
    palette?.addItem({ command: CommandIDs.buildCppFolder, category: 'CoSim' });
  }
};
