/**
 * The viewer keeps the mouse and keyboard it is given: no JupyterLab context menu on right-drag
 * (that pans), no notebook shortcut from a key pressed over the view (`r` would turn the cell
 * into Raw and drop the live viewer), double-click resets the view, `?` shows the bindings.
 */

export interface IInputActions {
  resetView(): void;
}

const HELP_LINES = [
  ['Left-drag', 'orbit'],
  ['Right-drag or Shift+drag', 'pan'],
  ['Wheel', 'zoom'],
  ['Double-click', 'reset view'],
  ['?', 'show or hide this help']
];

export interface IInputCapture {
  toggleHelp(show?: boolean): void;
  dispose(): void;
}

/** Wire `stage` (the view's box) and `canvas`. */
export function captureInput(
  stage: HTMLElement,
  canvas: HTMLElement,
  actions: IInputActions
): IInputCapture {
  // Lumino skips shortcuts for keys from inside an element with this attribute; JupyterLab
  // skips its context menu likewise. Both look at the event target's ancestors. Plain keys
  // (the notebook's one-letter commands) stay here; chords (Ctrl+S, Ctrl+Shift+L) still reach
  // Lab: decided per key in the capture phase at the window, before Lab's own listener runs.
  const suppress = 'data-lm-suppress-shortcuts';
  stage.setAttribute('data-jp-suppress-context-menu', 'true');
  const sortKeys = (event: KeyboardEvent) => {
    if (event.target instanceof Node && stage.contains(event.target)) {
      stage.toggleAttribute(suppress, !(event.ctrlKey || event.metaKey || event.altKey));
    }
  };
  window.addEventListener('keydown', sortKeys, true);
  canvas.tabIndex = 0;
  canvas.setAttribute('aria-label', '3D view: drag to orbit, right-drag to pan, wheel to zoom');

  const help = document.createElement('div');
  help.className = 'cosim-Viewer-help';
  help.hidden = true;
  const title = document.createElement('div');
  title.className = 'cosim-Viewer-helpTitle';
  title.textContent = 'Viewer controls';
  help.appendChild(title);
  for (const [keys, what] of HELP_LINES) {
    const row = document.createElement('div');
    const key = document.createElement('kbd');
    key.textContent = keys;
    row.append(key, ` ${what}`);
    help.appendChild(row);
  }
  stage.appendChild(help);
  const toggleHelp = (show?: boolean) => {
    help.hidden = !(show ?? help.hidden);
  };

  stage.addEventListener('contextmenu', event => event.preventDefault());
  // The notebook takes focus on mousedown anywhere in a cell; keep it on the canvas instead.
  stage.addEventListener('mousedown', event => {
    event.stopPropagation();
    if (event.target === canvas) {
      canvas.focus({ preventScroll: true });
    }
  });
  canvas.addEventListener('dblclick', event => {
    event.preventDefault();
    actions.resetView();
  });
  stage.addEventListener('keydown', event => {
    if (stage.hasAttribute(suppress)) {
      event.stopPropagation();
    }
    if (event.key === '?') {
      toggleHelp();
      event.preventDefault();
    } else if (event.key === 'Escape') {
      toggleHelp(false);
    }
  });
  return {
    toggleHelp,
    dispose: () => window.removeEventListener('keydown', sortKeys, true)
  };
}
