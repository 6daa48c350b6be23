/** A main-area view of one folder's C++ build: status, diagnostics, compiler output, and a
 * Run button that streams the program's output from the sandbox. */
import { Widget } from '@lumino/widgets';

import { buildStatus, IBuildStatus, IRunMessage, runSocketUrl, startBuild } from './buildApi';
import { el, errorText } from './dom';

const POLL_MS = 300;

/** Opens a workspace file at a line (1-based) and column (1-based; 0 = none). */
export type OpenLocation = (path: string, line: number, column: number) => void;

export class BuildPanel extends Widget {
  constructor(
    readonly folder: string,
    private readonly _open: OpenLocation = () => undefined
  ) {
    super();
    this.addClass('cosim-BuildPanel');
    this.title.label = `C++ build: ${folder || '/'}`;
    this._state = el('div', 'cosim-BuildPanel-state', 'starting…');
    this._buildButton = el('button', 'jp-mod-styled cosim-BuildPanel-build', 'Build again');
    this._runButton = el('button', 'jp-mod-styled jp-mod-accept cosim-BuildPanel-run', 'Run');
    this._runButton.disabled = true;
    this._buildButton.onclick = () => void this.build();
    this._runButton.onclick = () => this.run();
    const bar = el('div', 'cosim-BuildPanel-bar');
    bar.append(this._state, this._buildButton, this._runButton);
    this._diagnostics = el('ul', 'cosim-BuildPanel-diagnostics');
    this._compilerOutput = el('pre', 'cosim-BuildPanel-compilerOutput');
    this._runOutput = el('pre', 'cosim-BuildPanel-runOutput');
    this.node.append(bar, this._diagnostics, this._compilerOutput, this._runOutput);
  }

  /** Start a build of the folder and follow it until it ends. */
  async build(): Promise<void> {
    this._socket?.close();
    this._runButton.disabled = true;
    this._buildButton.disabled = true;
    this._diagnostics.replaceChildren();
    this._compilerOutput.textContent = '';
    this._runOutput.textContent = '';
    this._setState('building', 'building…');
    try {
      const { id } = await startBuild(this.folder);
      let status = await buildStatus(id);
      while (status.status === 'building' && !this.isDisposed) {
        await new Promise(resolve => setTimeout(resolve, POLL_MS));
        status = await buildStatus(id);
      }
      this._show(status);
    } catch (error) {
      this._setState('error', errorText(error));
    } finally {
      this._buildButton.disabled = false;
    }
  }

  /** Run the last successful build; output streams in as the program prints it. */
  run(): void {
    const id = this._buildId;
    if (!id) {
      return;
    }
    this._socket?.close();
    this._runOutput.textContent = '';
    this._runButton.disabled = true;
    this._setState('running', 'running…');
    const socket = new WebSocket(runSocketUrl(id));
    this._socket = socket;
    socket.onmessage = event => {
      const message = JSON.parse(String(event.data)) as IRunMessage;
      if (message.text !== undefined) {
        const span = el('span', `cosim-BuildPanel-${message.stream ?? 'stdout'}`, message.text);
        this._runOutput.appendChild(span);
      } else if (message.ok !== undefined) {
        const text = message.ok ? 'finished (exit code 0)' : `stopped: ${message.message}`;
        this._setState(message.ok ? 'finished' : 'stopped', text);
      }
    };
    socket.onclose = () => {
      this._runButton.disabled = false;
      if (this._socket === socket) {
        this._socket = null;
      }
    };
  }

  dispose(): void {
    this._socket?.close(); // the server kills the program when its socket closes
    super.dispose();
  }

  private _show(status: IBuildStatus): void {
    this._buildId = status.status === 'succeeded' ? status.id : null;
    const counts = `${status.compiled?.length ?? 0} compiled, ${status.cached?.length ?? 0} cached`;
    const text = {
      building: 'building…',
      succeeded: `succeeded: ${status.binary} (${counts}, ${status.seconds?.toFixed(2)} s)`,
      failed: `failed: ${(status.diagnostics ?? []).filter(d => d.severity === 'error').length} error(s)`,
      error: `could not build: ${status.error ?? 'unknown error'}`
    }[status.status];
    this._setState(status.status, text);
    for (const d of status.diagnostics ?? []) {
      const where = d.line ? `${d.file}:${d.line}:${d.column}` : d.file;
      const item = el('li', `cosim-BuildPanel-diagnostic cosim-BuildPanel-${d.severity}`);
      const path = d.path;
      if (path) {
        const link = el('a', 'cosim-BuildPanel-where', where);
        link.href = '#';
        link.title = `Open ${path} at line ${d.line}`;
        link.onclick = event => {
          event.preventDefault();
          this._open(path, d.line, d.column);
        };
        item.append(link, ` ${d.severity}: ${d.message}`);
      } else {
        item.append(el('span', 'cosim-BuildPanel-where', where), ` ${d.severity}: ${d.message}`);
      }
      this._diagnostics.appendChild(item);
    }
    this._compilerOutput.textContent = status.output ?? '';
    this._runButton.disabled = this._buildId === null;
  }

  private _setState(state: string, text: string): void {
    this._state.dataset.state = state;
    this._state.textContent = text;
  }

  private _buildId: string | null = null;
  private _socket: WebSocket | null = null;
  private _state: HTMLDivElement;
  private _buildButton: HTMLButtonElement;
  private _runButton: HTMLButtonElement;
  private _diagnostics: HTMLUListElement;
  private _compilerOutput: HTMLPreElement;
  private _runOutput: HTMLPreElement;
}
