/**
 * Lab's mimeExtension for `application/vnd.cosim.viewer+json`: `cosim.viewer(...)` displays that
 * output, and every view of the notebook (collaborators' too, via RTC) shows the sim live.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { PanelLayout, Widget } from '@lumino/widgets';

import { IViewerOutputData, SIM_ID_PATTERN, VIEWER_MIME_TYPE } from './simApi';
import type { SimViewerWidget } from './viewerWidget';

export { VIEWER_MIME_TYPE };

function outputData(model: IRenderMime.IMimeModel): IViewerOutputData | null {
  const data = model.data[VIEWER_MIME_TYPE];
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return null;
  }
  const { sim_id, title, engine } = data as Record<string, unknown>;
  if (typeof sim_id !== 'string' || !SIM_ID_PATTERN.test(sim_id)) {
    return null;
  }
  return {
    sim_id,
    title: typeof title === 'string' ? title : undefined,
    engine: typeof engine === 'string' ? engine : undefined
  };
}

/** One output's viewer; re-rendering the same sim (RTC updates, trust changes) keeps it. */
export class ViewerRenderer extends Widget implements IRenderMime.IRenderer {
  constructor() {
    super();
    this.addClass('cosim-ViewerOutput');
    this.layout = new PanelLayout();
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = outputData(model);
    if (data && this._viewer?.simId === data.sim_id) {
      return;
    }
    const generation = ++this._generation;
    const layout = this.layout as PanelLayout;
    this._viewer?.dispose(); // removes it from the layout
    this._viewer = null;
    this.node.querySelector('.cosim-ViewerOutput-error')?.remove();
    if (!data) {
      const error = document.createElement('div');
      error.className = 'cosim-ViewerOutput-error';
      error.textContent = 'This CoSim viewer output has no valid sim id.';
      this.node.appendChild(error);
      return;
    }
    // three.js loads with the first viewer, not with Lab.
    const { SimViewerWidget } = await import('./viewerWidget');
    if (this.isDisposed || generation !== this._generation) {
      return; // disposed, or a newer renderModel came in meanwhile
    }
    this._viewer = new SimViewerWidget({
      simId: data.sim_id,
      title: data.title,
      engine: data.engine
    });
    layout.addWidget(this._viewer);
  }

  private _viewer: SimViewerWidget | null = null;
  private _generation = 0;
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  // Safe: the output holds only ids and labels. Nothing in it is run or inserted as HTML, and it
  // opens a socket to this same server, so untrusted notebooks (a collaborator's) show it too.
  safe: true,
  mimeTypes: [VIEWER_MIME_TYPE],
  defaultRank: 0,
  createRenderer: () => new ViewerRenderer()
};

const extension: IRenderMime.IExtension = {
  id: '@cosim/labextension:viewer-mime',
  description: 'Live CoSim sim views in notebook outputs.',
  rendererFactory,
  rank: 0,
  dataType: 'json'
};

export default extension;
