/**
 * A view-only visitor's Lab offers no command that would act on the owner's server (issue 18):
 * menus, context menus, the command palette, toolbar buttons and keyboard shortcuts all ask
 * Lab's command registry whether a command is enabled, so the registry says "no" for every
 * command that changes a document or file, runs code or starts a kernel, console or terminal,
 * while the server says this user may not write (accessWatch.ts); and the registry refuses to
 * run them if something calls them anyway. A share made editable enables them again at once
 * (no reload). The server refuses all of it regardless: this only stops Lab from offering it.
 *
 * The file browser's upload button and file drops are not commands: they are stopped here too.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IDisposable } from '@lumino/disposable';

import { AccessWatch } from './accessWatch';
import { CommandIDs } from './commandIds';

/** Whole families that act: kernels, running code, consoles, terminals, debugging. */
const ACTING_PREFIXES = [
  'kernelmenu:',
  'runmenu:',
  'console:',
  'scratchpad-console:',
  'debugger:',
  'cell-toolbar:',
  'workspace-ui:',
  'shortcuts:'
];

/** Families where only some commands are safe to offer (the rest change something). */
const LOOK_ONLY: Record<string, ReadonlySet<string>> = {
  'notebook:': new Set([
    'notebook:copy-cell',
    'notebook:copy-selected-text',
    'notebook:select-all',
    'notebook:deselect-all',
    'notebook:enter-command-mode',
    'notebook:enter-edit-mode',
    'notebook:move-cursor-down',
    'notebook:move-cursor-up',
    'notebook:extend-marked-cells-above',
    'notebook:extend-marked-cells-below',
    'notebook:extend-marked-cells-top',
    'notebook:extend-marked-cells-bottom',
    'notebook:render-all-markdown',
    'notebook:toggle-full-width',
    'notebook:open-tree-tab'
  ]),
  'fileeditor:': new Set([
    'fileeditor:copy',
    'fileeditor:select-all',
    'fileeditor:change-font-size',
    'fileeditor:change-tabs',
    'fileeditor:markdown-preview',
    'fileeditor:toggle-autoclosing-brackets-universal'
  ]),
  'docmanager:': new Set([
    'docmanager:open',
    'docmanager:open-browser-tab',
    'docmanager:open-direct',
    'docmanager:clone',
    'docmanager:download',
    'docmanager:show-in-file-browser',
    'docmanager:toggle-autosave'
  ]),
  'filebrowser:': new Set([
    'filebrowser:open',
    'filebrowser:open-path',
    'filebrowser:open-browser-tab',
    'filebrowser:go-up',
    'filebrowser:go-to-path',
    'filebrowser:goto-path',
    'filebrowser:refresh',
    'filebrowser:select-all',
    'filebrowser:copy',
    'filebrowser:copy-path',
    'filebrowser:copy-download-link',
    'filebrowser:download',
    'filebrowser:share-main',
    'filebrowser:activate',
    'filebrowser:hide-main',
    'filebrowser:toggle-main',
    'filebrowser:search'
  ])
};

/** Single commands elsewhere that change documents or files, or start or stop kernels. */
const ACTING = new Set<string>([
  'editmenu:undo',
  'editmenu:redo',
  'editmenu:clear-current',
  'editmenu:clear-all',
  'editmenu:find-and-replace',
  'documentsearch:startWithReplace',
  'documentsearch:replace',
  'documentsearch:replaceAll',
  'filemenu:create-console',
  'filemenu:close-and-cleanup',
  'filemenu:shutdown',
  'launcher:create',
  'terminal:create-new',
  'terminal:open-folder-in-terminal',
  'running:kernel-new-console',
  'running:kernel-new-notebook',
  'running:kernel-shut-down',
  'toc:run-cells',
  'codemirror:delete-line',
  'codemirror:toggle-comment',
  'codemirror:toggle-block-comment',
  'codemirror:markdown-toggle-bold',
  'settingeditor:save',
  'extensionmanager:toggle',
  'tooltip:launch-notebook',
  'tooltip:launch-console',
  'tooltip:launch-file',
  CommandIDs.newSimNotebook,
  CommandIDs.openStarter,
  CommandIDs.newJob,
  CommandIDs.buildCppFolder
]);

/** Whether a view-only visitor must not be offered command `id`. */
export function isActingCommand(id: string): boolean {
  if (ACTING.has(id) || ACTING_PREFIXES.some(prefix => id.startsWith(prefix))) {
    return true;
  }
  for (const [prefix, allowed] of Object.entries(LOOK_ONLY)) {
    if (id.startsWith(prefix)) {
      return !allowed.has(id) && !id.startsWith('filebrowser:toggle-');
    }
  }
  return false;
}

/** The file browser's upload button (a toolbar item, not a command) and its file drops. */
const UPLOAD_BUTTON = '.jp-FileBrowser [data-jp-item-name="uploader"]';
const FILE_LISTING = '.jp-FileBrowser .jp-DirListing';

function inside(event: Event, selector: string): boolean {
  const target = event.target;
  return target instanceof Element && target.closest(selector) !== null;
}

/**
 * Put the view-only rule on `app`'s command registry and file browser for as long as `access`
 * says this user may not write. Returns a handle that takes it off.
 */
export function guardCommands(app: JupyterFrontEnd, access: AccessWatch): IDisposable {
  const commands = app.commands;
  const isEnabled = commands.isEnabled.bind(commands);
  const execute = commands.execute.bind(commands);
  const refused = (id: string): boolean => !access.writable && isActingCommand(id);
  commands.isEnabled = (id, args) => !refused(id) && isEnabled(id, args);
  commands.execute = (id, args) =>
    refused(id)
      ? Promise.reject(new Error(`View only: "${id}" would change this server`))
      : execute(id, args);

  const stop = (event: Event): void => {
    if (access.writable) {
      return;
    }
    if (
      inside(event, UPLOAD_BUTTON) ||
      (event.type.endsWith('drop') && inside(event, FILE_LISTING))
    ) {
      event.preventDefault();
      event.stopPropagation();
    }
  };
  const events = ['mousedown', 'click', 'keydown', 'drop', 'lm-drop'];
  for (const type of events) {
    document.addEventListener(type, stop, true);
  }
  // The upload button is a toolkit web component rendered by React whenever Lab likes: it is
  // disabled here (and marked, so that only our own disabling is undone), and watched while
  // view-only so that a re-render cannot enable it again. Editors and owners are not watched.
  const MARK = 'data-cosim-view-only';
  const markUpload = (): void => {
    const selector = `${UPLOAD_BUTTON} jp-button, ${UPLOAD_BUTTON} button`;
    for (const node of Array.from(document.querySelectorAll(selector))) {
      if (!access.writable && !node.hasAttribute('disabled')) {
        node.setAttribute('disabled', '');
        node.setAttribute(MARK, '');
      } else if (access.writable && node.hasAttribute(MARK)) {
        node.removeAttribute('disabled');
        node.removeAttribute(MARK);
      }
    }
  };
  const watcher = new MutationObserver(markUpload);
  const changed = (): void => {
    commands.notifyCommandChanged(); // menus, palette and toolbars re-ask isEnabled
    if (access.writable) {
      watcher.disconnect();
    } else {
      watcher.observe(document.body, {
        childList: true,
        subtree: true,
        attributes: true,
        attributeFilter: ['disabled']
      });
    }
    markUpload();
  };
  access.changed.connect(changed);
  changed();

  let disposed = false;
  return {
    get isDisposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
      commands.isEnabled = isEnabled;
      commands.execute = execute;
      for (const type of events) {
        document.removeEventListener(type, stop, true);
      }
      access.changed.disconnect(changed);
      watcher.disconnect();
      changed();
    }
  };
}
