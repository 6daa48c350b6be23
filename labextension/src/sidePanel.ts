/** One way to put a CoSim panel in Lab's left area: the panel, its "Show" command, the palette
 * entry and layout restoration. */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { LabIcon } from '@jupyterlab/ui-components';

/** Left-area order of the CoSim panels. */
export const PanelRank = { viewer: 600, snapshots: 610, jobs: 620, courses: 630 } as const;

export interface ISidePanelOptions {
  rank: number;
  command: string;
  label: string;
  caption: string;
  /** The name the layout restorer keeps the panel under (usually the panel's id). */
  restoreName: string;
  /** The feature's icon: the panel's tab and the Show command. */
  icon: LabIcon;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
}

export function addSidePanel(
  app: JupyterFrontEnd,
  panel: Widget,
  options: ISidePanelOptions
): void {
  panel.title.icon = options.icon;
  app.shell.add(panel, 'left', { rank: options.rank });
  app.commands.addCommand(options.command, {
    label: options.label,
    caption: options.caption,
    icon: args => (args.isPalette ? undefined : options.icon),
    execute: () => app.shell.activateById(panel.id)
  });
  options.palette?.addItem({ command: options.command, category: 'CoSim' });
  options.restorer?.add(panel, options.restoreName);
}
