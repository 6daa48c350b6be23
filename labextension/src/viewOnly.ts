/**
 * A view-only visitor sees shared documents read-only (issue 18). Lab would let them type into
 * notebooks and files that the server then silently refuses (cosim_server.rtc_origin drops
 * their document updates), so while the server says they may not write (accessWatch.ts):
 * - notebook cells and file editors are read-only, and the notebook's own editing keys, cell
 *   drops, cuts and pastes do nothing (a local change would only diverge from the room);
 * - each document's toolbar shows "View only" with the server's reason;
 * - the model is marked read-only (Lab's save then says "Document is read-only");
 * - collapsing a cell or scrolling its output stays a local view (Lab would write it into the
 *   cell's metadata), and the toolbar's cell type list is disabled;
 * - Lab's commands that act are disabled (viewOnlyCommands.ts).
 * A share made editable undoes all of it without a reload; one made view-only applies it.
 *
 * Whatever change still reaches a visitor's copy of a shared document while view-only is dropped
 * by the server, but stays in that copy: when the share became editable, the room's resync
 * would send it again and the server would then apply it. So such a copy is thrown away at
 * once (the document reopens from the room) and the visitor is told why.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISessionContext, Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { AccessWatch, IAccess } from './accessWatch';
import { el } from './dom';
import { guardCommands } from './viewOnlyCommands';

/** Lab's document factories whose documents a visitor could edit. */
const FACTORIES = ['Notebook', 'Editor'];
const VIEW_ONLY_CLASS = 'cosim-mod-viewOnly';
const BADGE = 'cosim-view-only';
/** How long Lab's start waits for the server's answer (then documents open editable). */
const FIRST_ANSWER_MS = 5000;

/** Keys that only move or look, allowed in a read-only notebook (with Shift too). */
const NAVIGATION = new Set([
  'ArrowUp',
  'ArrowDown',
  'ArrowLeft',
  'ArrowRight',
  'PageUp',
  'PageDown',
  'Home',
  'End',
  'Escape',
  'Tab',
  'Shift',
  'Control',
  'Alt',
  'Meta'
]);
/** With Ctrl/Cmd: copy, select all, find. */
const LOOK_SHORTCUTS = new Set(['c', 'a', 'f', 'g']);

/** The parts of a notebook cell widget used here (no dependency on @jupyterlab/notebook). */
interface ICellLike {
  readOnly: boolean;
  syncEditable: boolean;
  syncCollapse: boolean;
  syncScrolled?: boolean; // code cells only
  model: { getMetadata(key: string): unknown };
}

/** The parts of a Y transaction (yjs) read here: was it made in this browser, what changed. */
interface IYTransaction {
  local: boolean;
  changed: Map<unknown, unknown>;
}

interface IYDocLike {
  on(event: 'afterTransaction', f: (tr: IYTransaction) => void): void;
  off(event: 'afterTransaction', f: (tr: IYTransaction) => void): void;
}

/** A shared model's Y document and its "state" map (Lab's own dirty/path flags, not content). */
function yDocOf(context: DocumentRegistry.Context): { ydoc: IYDocLike; state: unknown } | null {
  const shared = context.model.sharedModel as unknown as { ydoc?: IYDocLike; ystate?: unknown };
  return shared?.ydoc && typeof shared.ydoc.on === 'function'
    ? { ydoc: shared.ydoc, state: shared.ystate }
    : null;
}

/** Contexts whose copy is being thrown away (one reopen, however many widgets show it). */
const discarding = new WeakSet<DocumentRegistry.Context>();

interface INotebookLike extends Widget {
  readonly widgets: ReadonlyArray<ICellLike>;
  readonly model: { cells: { changed: { connect(f: () => void, o: unknown): void } } } | null;
}

interface IEditorLike {
  setOption(name: string, value: unknown): void;
}

function notebookOf(widget: Widget): INotebookLike | null {
  const content = (widget as { content?: unknown }).content as Partial<INotebookLike> | undefined;
  return content && Array.isArray(content.widgets) ? (content as INotebookLike) : null;
}

function editorOf(widget: Widget): IEditorLike | null {
  const content = (widget as { content?: { editor?: IEditorLike } }).content;
  return content?.editor && typeof content.editor.setOption === 'function' ? content.editor : null;
}

async function joinOrStartKernel(session: ISessionContext): Promise<void> {
  try {
    await session.sessionManager.refreshRunning();
    for (const model of session.sessionManager.running()) {
      if (model.path === session.path && model.kernel) {
        await session.changeKernel({ id: model.kernel.id });
        return;
      }
    }
    await session.startKernel();
  } catch {
    // Lab's kernel indicator shows "No Kernel"; the user may pick one.
  }
}

/** One document widget under the view-only rule. */
class DocumentGuard implements IDisposable {
  constructor(
    private readonly _widget: IDocumentWidget,
    private readonly _context: DocumentRegistry.Context,
    private readonly _access: AccessWatch,
    private readonly _app: JupyterFrontEnd
  ) {
    _access.changed.connect(this._apply, this);
    const notebook = notebookOf(_widget);
    notebook?.node.addEventListener('keydown', this._onKey, true);
    for (const type of ['lm-drop', 'drop', 'paste', 'cut']) {
      notebook?.node.addEventListener(type, this._block, true);
    }
    void _context.ready.then(() => {
      notebook?.model?.cells.changed.connect(this._apply, this); // cells added by others
      this._apply();
    });
    this._ydoc = yDocOf(_context);
    this._ydoc?.ydoc.on('afterTransaction', this._onTransaction);
    this._apply();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    this._access.changed.disconnect(this._apply, this);
    this._ydoc?.ydoc.off('afterTransaction', this._onTransaction);
  }

  private _apply(): void {
    if (this._disposed || this._widget.isDisposed) {
      return;
    }
    const access = this._access.access;
    const readOnly = !this._access.writable;
    this._widget.toggleClass(VIEW_ONLY_CLASS, readOnly);
    this._context.model.readOnly = readOnly;
    this._setBadge(readOnly ? access : null);
    for (const cell of notebookOf(this._widget)?.widgets ?? []) {
      if (readOnly) {
        // Not through the cell's metadata ("editable"): that would be a change to the shared
        // document, which the server refuses from a view-only visitor. Collapsing a cell or
        // scrolling its output would write metadata too: kept local instead.
        cell.syncEditable = false;
        cell.readOnly = true;
        cell.syncCollapse = false;
        if (cell.syncScrolled !== undefined) {
          cell.syncScrolled = false;
        }
      } else if (!cell.syncEditable) {
        cell.readOnly = cell.model.getMetadata('editable') === false;
        cell.syncEditable = true;
        cell.syncCollapse = true; // shown as the document says again
        if (cell.syncScrolled !== undefined) {
          cell.syncScrolled = true;
        }
      }
    }
    const cellType = this._widget.toolbar?.node.querySelector('[data-jp-item-name="cellType"]');
    cellType?.querySelector('select')?.toggleAttribute('disabled', readOnly);
    editorOf(this._widget)?.setOption('readOnly', readOnly);
    if (notebookOf(this._widget)) {
      this._kernel(readOnly);
    }
  }

  /**
   * A view-only visitor may not start or use a kernel (the server refuses it): Lab would show
   * "Error Starting Kernel" on opening the notebook, or keep retrying the kernel socket the
   * server closed when the share became view-only. Made an editor, the notebook joins the
   * kernel already running for it (the owner's), else starts one as Lab would have.
   */
  private _kernel(readOnly: boolean): void {
    const session = this._context.sessionContext;
    if (readOnly && this._kernelPreference === null) {
      this._kernelPreference = session.kernelPreference;
      session.kernelPreference = {
        ...session.kernelPreference,
        shouldStart: false,
        canStart: false,
        shouldReuse: false
      };
      session.session?.dispose(); // the connection only: the kernel runs on
    } else if (!readOnly && this._kernelPreference !== null) {
      const { shouldStart, canStart, shouldReuse } = this._kernelPreference;
      session.kernelPreference = {
        ...session.kernelPreference,
        shouldStart,
        canStart,
        shouldReuse
      };
      this._kernelPreference = null;
      if (session.isReady && !session.session) {
        void joinOrStartKernel(session);
      }
    }
  }

  private _setBadge(access: IAccess | null): void {
    const toolbar = this._widget.toolbar;
    if (access === null) {
      this._badge?.dispose();
      this._badge = null;
      return;
    }
    const text = access.reason ?? 'You may not edit this document.';
    if (this._badge === null) {
      this._badge = new Widget({ node: el('div', 'cosim-ViewOnly-badge', 'View only') });
      toolbar?.insertItem(0, BADGE, this._badge);
    }
    this._badge.node.title = text;
    this._badge.node.setAttribute('aria-label', `View only: ${text}`);
  }

  /** Capture-phase: a read-only notebook's own editing shortcuts (a, b, d d, x, v, m, y,
   * Shift+Enter's new cell...) and cuts, pastes and cell drops go nowhere. */
  private _onKey = (event: KeyboardEvent): void => {
    if (this._access.writable || NAVIGATION.has(event.key)) {
      return;
    }
    const mod = event.ctrlKey || event.metaKey;
    if (mod && LOOK_SHORTCUTS.has(event.key.toLowerCase())) {
      return;
    }
    if (event.key === 'Enter' && !mod && !event.shiftKey && !event.altKey) {
      return; // into the (read-only) editor; Shift/Ctrl/Alt+Enter would run or add cells
    }
    event.preventDefault();
    event.stopPropagation();
  };

  /** A change made in this browser to a document the visitor may only view: the server has
   * dropped it, and this copy must not keep it (see the top of this file). */
  private _onTransaction = (tr: IYTransaction): void => {
    if (!tr.local || this._access.writable || this._disposed) {
      return;
    }
    const content = [...tr.changed.keys()].some(type => type !== this._ydoc?.state);
    if (!content || discarding.has(this._context)) {
      return;
    }
    discarding.add(this._context);
    const path = this._context.path;
    const factory = notebookOf(this._widget) ? 'Notebook' : 'Editor';
    console.warn(`CoSim: view only, a local change to ${path} was dropped; reopening it`);
    // Closed without Lab's "save changes?" question: the room has the document.
    window.setTimeout(() => {
      this._widget.dispose();
      void this._app.commands.execute('docmanager:open', { path, factory }).catch(() => undefined);
      Notification.warning(
        `View only: your change to ${path} was not kept (you may not edit it); it was reopened.`,
        { autoClose: 8000 }
      );
    }, 0);
  };

  private _block = (event: Event): void => {
    if (!this._access.writable) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  private _badge: Widget | null = null;
  private _ydoc: { ydoc: IYDocLike; state: unknown } | null = null;
  private _kernelPreference: ISessionContext.IKernelPreference | null = null;
  private _disposed = false;
}

export const viewOnlyPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:view-only',
  description: "Shows a view-only visitor's documents read-only, as the server says.",
  autoStart: true,
  activate: async (app: JupyterFrontEnd) => {
    const access = new AccessWatch();
    // Lab opens documents once every plugin has started: waiting here for the server's first
    // answer (a moment) lets a visitor's notebooks open read-only, not start a kernel first.
    // The server's owner (the hub's page config says who is who) may always write, and Lab's
    // first paint does not wait for them.
    const me = PageConfig.getOption('hubUser');
    const owner = me !== '' && me === PageConfig.getOption('hubServerUser');
    const first = access.start(FIRST_ANSWER_MS);
    if (!owner) {
      await first;
    }
    const extension: DocumentRegistry.IWidgetExtension<Widget, DocumentRegistry.IModel> = {
      createNew: (widget, context) =>
        new DocumentGuard(widget as IDocumentWidget, context, access, app)
    };
    for (const factory of FACTORIES) {
      app.docRegistry.addWidgetExtension(factory, extension);
    }
    guardCommands(app, access);
  }
};
