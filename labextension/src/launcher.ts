import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showDialog, Dialog } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { Widget } from '@lumino/widgets';

import { CommandIDs } from './commandIds';
import { requestAPI } from './api';
import { ICostGuardStatus } from './costBanner';
import { createHelpWidget, HelpPage } from './help';
import { cosimIcon, viewerIcon } from './icons';
import { STARTERS } from './starters';
import { ICoSimStatus } from './tokens';

const CATEGORY = 'CoSim';

function money(value: number | null | undefined): string {
  return value === null || value === undefined ? 'no cap' : `$${value.toFixed(2)}`;
}

/** The status page: one row per fact a user asks about (is the bus up, what do I run, spend). */
export function statusRows(
  status: ICoSimStatus,
  guard: ICostGuardStatus | null
): [string, string][] {
  const reply = status.reply;
  if (!reply) {
    return [['CoSim server extension', `not reachable ${status.error ?? ''}`.trim()]];
  }
  const redis = reply.redis;
  const rows: [string, string][] = [
    ['CoSim', reply.version],
    ['Redis (the sims\u2019 bus)', redis.reachable ? `up at ${redis.url}` : `down: ${redis.error}`],
    ['Features', reply.features.join(', ')]
  ];
  if (guard?.available) {
    const price = guard.price_per_hour ? ` at $${guard.price_per_hour.toFixed(2)}/h` : ', free';
    rows.push(['Profile', `${guard.profile ?? 'default'}${price}`]);
    rows.push(['Spend this month', `${money(guard.spend)} of ${money(guard.cap)}`]);
    if (guard.notice) {
      rows.push(['Cost guard', guard.notice.message]);
    }
  } else if (guard) {
    rows.push(['Cost guard', guard.message ?? 'not running']);
  }
  return rows;
}

function statusBody(rows: [string, string][]): Widget {
  const table = document.createElement('table');
  table.className = 'cosim-StatusTable';
  for (const [key, value] of rows) {
    const row = table.insertRow();
    const head = document.createElement('th');
    head.textContent = key;
    row.appendChild(head);
    row.insertCell().textContent = value;
  }
  return new Widget({ node: table });
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
      icon: args => (args.isPalette ? undefined : viewerIcon),
      execute: args => openStarter(STARTERS[0].id, cwdOf(args))
    });

    commands.addCommand(CommandIDs.openStarter, {
      label: args => {
        const starter = starterById.get(String(args.starter));
        return args.isPalette ? `New Starter: ${starter?.label}` : (starter?.label ?? 'Starter');
      },
      caption: args => starterById.get(String(args.starter))?.caption ?? '',
      icon: args => (args.isPalette ? undefined : viewerIcon),
      execute: args => openStarter(String(args.starter), cwdOf(args))
    });

    commands.addCommand(CommandIDs.showStatus, {
      label: 'CoSim Status',
      caption: 'Version, Redis and features of the CoSim server extension',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: async () => {
        await status.refresh().catch(() => undefined);
        const guard = await requestAPI<ICostGuardStatus>('costguard').catch(() => null);
        await showDialog({
          title: 'CoSim Status',
          body: statusBody(statusRows(status, guard)),
          buttons: [Dialog.okButton()]
        });
      }
    });

    let help: MainAreaWidget<HelpPage> | null = null;
    commands.addCommand(CommandIDs.help, {
      label: 'CoSim Help',
      caption: 'What CoSim adds to Lab and how to use it',
      icon: args => (args.isPalette ? undefined : cosimIcon),
      execute: args => {
        if (!help || help.isDisposed) {
          help = createHelpWidget();
          app.shell.add(help, 'main');
        }
        app.shell.activateById(help.id);
        if (typeof args.section === 'string') {
          help.content.showSection(args.section);
        }
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
      palette.addItem({ command: CommandIDs.help, category: CATEGORY });
    }
  }
};
