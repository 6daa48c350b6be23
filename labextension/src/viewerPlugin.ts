/** The viewer plugin: the "CoSim Viewer" side panel and the command opening a sim in a tab. */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { CommandIDs } from './commandIds';
import { viewerIcon } from './icons';
import { SIM_ID_PATTERN } from './simApi';
import { SimListPanel, SIM_LIST_PANEL_ID } from './simListPanel';
import { addSidePanel, PanelRank } from './sidePanel';
import type { SimViewerWidget } from './viewerWidget';

export const viewerPanelPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:viewer-panel',
  description: 'The CoSim Viewer side panel and the command that opens a sim in the main area.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const { commands, shell } = app;
    const tracker = new WidgetTracker<MainAreaWidget<SimViewerWidget>>({ namespace: 'cosim-sim' });
    const pending = new Map<string, Promise<MainAreaWidget<SimViewerWidget>>>();

    const openViewer = async (simId: string, title?: string) => {
      const { SimViewerWidget } = await import('./viewerWidget'); // three.js comes with it
      const content = new SimViewerWidget({ simId, title });
      const widget = new MainAreaWidget({ content });
      widget.id = `cosim-sim-${simId}`;
      widget.title.icon = viewerIcon;
      widget.title.closable = true;
      shell.add(widget, 'main');
      await tracker.add(widget);
      shell.activateById(widget.id);
      return widget;
    };

    commands.addCommand(CommandIDs.openViewer, {
      label: args =>
        args.simId ? `Open CoSim Sim ${String(args.title ?? args.simId)}` : 'Open CoSim Sim',
      caption: 'Show a live sim in a main-area tab',
      icon: args => (args.isPalette ? undefined : viewerIcon),
      isEnabled: args => SIM_ID_PATTERN.test(String(args.simId ?? '')),
      execute: args => {
        const simId = String(args.simId ?? '');
        if (!SIM_ID_PATTERN.test(simId)) {
          throw new Error(`cosim:open-viewer needs a simId (32 hex characters), not "${simId}"`);
        }
        const existing = tracker.find(w => w.content.simId === simId);
        if (existing) {
          shell.activateById(existing.id);
          return existing;
        }
        const title = typeof args.title === 'string' ? args.title : undefined;
        let opening = pending.get(simId);
        if (!opening) {
          opening = openViewer(simId, title).finally(() => pending.delete(simId));
          pending.set(simId, opening);
        }
        return opening;
      }
    });

    const panel = new SimListPanel(sim =>
      commands.execute(CommandIDs.openViewer, { simId: sim.sim_id, title: sim.title })
    );
    addSidePanel(app, panel, {
      rank: PanelRank.viewer,
      command: CommandIDs.showViewerPanel,
      label: 'Show CoSim Viewer Panel',
      caption: 'The live sims of this server',
      restoreName: SIM_LIST_PANEL_ID,
      icon: viewerIcon,
      palette,
      restorer
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openViewer,
        args: widget => ({ simId: widget.content.simId, title: widget.title.label }),
        name: widget => widget.content.simId
      });
    }
  }
};
