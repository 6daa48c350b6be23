import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import { CommandIDs } from './commandIds';
import { StatusModel } from './statusModel';
import { ICoSimStatus } from './tokens';

const LABELS = { up: 'Redis up', down: 'Redis down', unknown: 'offline' } as const;

/** The status-bar item: `CoSim · Redis up|down|offline`, details in its tooltip; a click opens
 * the status page. */
export class StatusItem extends Widget {
  constructor(
    private readonly _model: ICoSimStatus,
    onClick: () => void = () => undefined
  ) {
    super();
    this.addClass('cosim-StatusItem');
    this.node.onclick = onClick;
    this.node.setAttribute('role', 'button');
    this._model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const state = this._model.redis;
    const reply = this._model.reply;
    this.node.dataset.redis = state;
    this.node.textContent = `CoSim · ${LABELS[state]}`;
    const details = reply
      ? [
          `CoSim ${reply.version}`,
          `Redis: ${reply.redis.reachable ? 'reachable' : (reply.redis.error ?? 'unreachable')}`,
          `Features: ${reply.features.join(', ')}`
        ]
      : [
          `CoSim server extension not reachable${this._model.error ? `: ${this._model.error}` : ''}`
        ];
    this.node.title = details.join('\n');
  }
}

export const statusPlugin: JupyterFrontEndPlugin<ICoSimStatus> = {
  id: '@cosim/labextension:status',
  description: 'Polls the CoSim server extension and shows its status in the status bar.',
  autoStart: true,
  provides: ICoSimStatus,
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, statusBar: IStatusBar | null): ICoSimStatus => {
    const model = new StatusModel();
    if (statusBar) {
      statusBar.registerStatusItem('@cosim/labextension:status', {
        // By id: the command lives in the launcher plugin, which needs this one's token.
        item: new StatusItem(model, () => void app.commands.execute(CommandIDs.showStatus)),
        align: 'left',
        rank: 50
      });
    }
    return model;
  }
};
